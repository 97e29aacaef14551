"""The benchmark harness measures what it claims: a load generator against a real server, a report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import payin_seed, report
from bench.loadgen import _percentile
from tests.helpers import GERBANG, clean_env, free_port, wait_until_ready


def test_percentile_picks_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert _percentile(values, 0.5) == 51.0
    assert _percentile(values, 0.99) == 99.0
    assert _percentile([], 0.5) == 0.0


def test_loadgen_drives_a_real_server(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    server = subprocess.Popen(
        [*GERBANG, "serve"], env=clean_env(GERBANG_DATABASE_URL=database_url, GERBANG_PORT=str(port)), cwd=tmp_path
    )
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/readyz", timeout_s=30)
        command = [sys.executable, "-m", "bench.loadgen", "--url", f"http://127.0.0.1:{port}/healthz"]
        output = subprocess.run(
            [*command, "--concurrency", "4", "--duration", "1", "--warmup", "0.2"],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip
        missing_url = f"http://127.0.0.1:{port}/nope"
        missing = subprocess.run(
            [sys.executable, "-m", "bench.loadgen", "--url", missing_url, "--duration", "0.5", "--warmup", "0"],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=15)
    result = json.loads(output)
    assert result["requests"] > 50
    assert result["errors"] == {}
    assert result["throughput_per_s"] > 0
    assert 0 < result["p50_ms"] <= result["p99_ms"]
    assert json.loads(missing)["errors"]["404"] > 0  # an unexpected status is an error, not a result


def test_report_regenerates_only_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    results.mkdir()
    side = {"name": "x", "throughput_per_s": 1000.0, "p50_ms": 1.0, "p99_ms": 2.0, "peak_rss_mb": 80.0}
    (results / "insert.json").write_text(
        json.dumps(
            {
                "scenario": "insert",
                "gerbang": side | {"loadgen_cpu_pct": 20.0},
                "baseline": side | {"throughput_per_s": 2000.0, "loadgen_cpu_pct": 30.0},
                "ratio": 0.5,
                "target": {"ratio_min": 0.4},
                "load": {"runs": 3, "duration_s": 8, "concurrency": 32},
                "machine": {"cpus": 2, "memory_gb": 24, "python": "3.11", "load_average_1m": 0.5},
                "measured_at": "2026-11-25T00:00:00Z",
            }
        )
    )
    doc = tmp_path / "PERFORMANCE.md"
    doc.write_text(f"# Title\n\n{report.BEGIN}\nold table\n{report.END}\n\n## Method\nkept\n")
    monkeypatch.setattr(report, "RESULTS_DIR", results)
    monkeypatch.setattr(report, "DOC", doc)
    report.write_performance_doc()
    text = doc.read_text()
    assert "old table" not in text
    assert "| insert | gerbang | x | 1,000 |" in text
    assert "met (>= 40%)" in text
    assert text.startswith("# Title")
    assert text.endswith("## Method\nkept\n")


def test_report_shows_every_side_of_a_result_and_its_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    results.mkdir()
    side = {"throughput_per_s": 300.0, "p50_ms": 50.0, "p99_ms": 150.0, "peak_rss_mb": 140.0, "loadgen_cpu_pct": 5.0}
    result = {
        "scenario": "payin",
        **{key: side | {"name": key} for key in ("gerbang", "gerbang_stub", "baseline", "gerbang_callbacks")},
        "baseline_callbacks": side | {"name": "baseline_callbacks", "throughput_per_s": 1000.0},
        "ratio": 0.3, "stub_ratio": 0.35, "callbacks_ratio": 0.3, "checks_passed": False,
        "target": {"throughput_min": 500, "p99_max_ms": 100, "ratio_min": 0.5, "callbacks_min": 200},
        "load": {"runs": 3, "duration_s": 8, "concurrency": 32, "callbacks_per_run": 2000},
        "machine": {"cpus": 2, "memory_gb": 24, "python": "3.11", "load_average_1m": 0.5},
        "measured_at": "2026-12-01T00:00:00Z",
    }  # fmt: skip
    (results / "payin.json").write_text(json.dumps(result))
    doc = tmp_path / "PERFORMANCE.md"
    doc.write_text(f"{report.BEGIN}\n{report.END}\n")
    monkeypatch.setattr(report, "RESULTS_DIR", results)
    monkeypatch.setattr(report, "DOC", doc)
    report.write_performance_doc()
    rows = [line for line in doc.read_text().splitlines() if line.startswith("| payin")]
    assert [row.split(" | ")[2] for row in rows] == [
        "gerbang", "gerbang_stub", "baseline", "gerbang_callbacks", "baseline_callbacks"
    ]  # fmt: skip
    assert "MISSED (>= 50%), MISSED (>= 500/s), MISSED (<= 100 ms p99)" in rows[0]
    assert "**0.35**" in rows[1]
    assert "met (>= 200/s), CHECKS FAILED" in rows[3]
    assert "2,000 callbacks per run per side" in doc.read_text()


def test_payin_scenario_runs_end_to_end(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tiny pay-in run (four servers, both loads, the checks): keeps the scenario from rotting."""
    from bench.context import BenchContext
    from bench.harness import Load
    from bench.scenarios import payin

    monkeypatch.setattr(payin, "LOG_DIR", tmp_path)
    monkeypatch.setattr(payin, "RUN_WARMUP_S", 0.2)
    monkeypatch.setattr(payin_seed, "HISTORY", 200)
    monkeypatch.setenv("BENCH_CALLBACKS", "40")
    monkeypatch.delenv("BENCH_PROFILE_DIR", raising=False)
    env = clean_env(GERBANG_DATABASE_URL=database_url, GERBANG_LOG_FORMAT="json")
    load = Load(concurrency=4, duration_s=0.5, runs=1, warmup_s=0)
    result = payin.run(BenchContext(database_url=database_url, env=env, load=load))
    for side in ("gerbang", "gerbang_stub", "baseline", "gerbang_callbacks", "baseline_callbacks"):
        assert result[side]["throughput_per_s"] > 0, side
        assert set(result[side]["cpu_ms_per_request"]) == {"server", "psp", "postgres"}
    assert result["gerbang"]["errors"] == 0  # every order answered 201
    assert result["baseline"]["errors"] == 0
    assert result["gerbang"]["cpu_ms_per_request"]["psp"] > 0  # the sandbox PSP did the charging
    checks = result["checks"]
    assert checks["orders"] == 40 + 10  # the warm-up's orders and the run's
    assert result["checks_passed"], checks  # every order PAID once, one posting each, the ledger reconciled
    assert result["ratio"] > 0


def test_withdrawals_scenario_runs_end_to_end(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tiny withdrawal run (four servers, three sides, the sandbox's callbacks, the checks)."""
    from bench.context import BenchContext
    from bench.harness import Load
    from bench.scenarios import withdrawals

    monkeypatch.setattr(withdrawals, "LOG_DIR", tmp_path)
    monkeypatch.setattr(withdrawals, "RUN_WARMUP_S", 0.2)
    monkeypatch.setattr(payin_seed, "HISTORY", 200)
    env = clean_env(GERBANG_DATABASE_URL=database_url, GERBANG_LOG_FORMAT="json")
    load = Load(concurrency=4, duration_s=0.5, runs=1, warmup_s=0)
    result = withdrawals.run(BenchContext(database_url=database_url, env=env, load=load))
    for side in ("gerbang", "gerbang_stub", "baseline"):
        assert result[side]["throughput_per_s"] > 0, side
        assert result[side]["errors"] == 0, side  # every withdrawal answered 201
    assert result["gerbang"]["cpu_ms_per_request"]["psp"] > 0  # the sandbox PSP paid out
    checks = result["checks"]
    assert checks["by_account"]["sandbox"].get("COMPLETED", 0) > 0  # the sandbox called back
    assert checks["by_account"]["stub"].keys() == {"PROCESSING"}  # the stub never does
    assert result["checks_passed"], checks  # each answered once, held once, completed once; reconciled
    assert result["ratio"] > 0
