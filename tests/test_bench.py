"""The benchmark harness measures what it claims: a load generator against a real server, a report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report
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
