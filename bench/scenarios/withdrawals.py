"""S2S withdrawals through the full stack: withdrawals created per second by 32 partners, paid out by the
sandbox PSP, against a bare baseline doing the same I/O, measured in the same run.

Processes (each its own): PostgreSQL; `gerbang serve` under test; the sandbox PSP, a second `gerbang
serve` with the sandbox on, which the payout account's base URL points at; the baseline (bare FastAPI);
the stub PSP the baseline calls (bare FastAPI answering the inquiry and the disbursement at once); the
load generator (`bench.withdrawal_load`). Per request gerbang asks the PSP about the account, holds the
amount and writes the withdrawal, sends the disbursement and records the answer; about 2 s later the
sandbox's own timer completes the disbursement and calls gerbang back, which posts the completion to the
ledger. Those callbacks land during the run that caused them (part of the load); after each gerbang run
the scenario waits until the last of them arrived ("drain"), so they do not land on the next side's
run, and the CPU per withdrawal counts them. gerbang is also measured against the stub PSP (the payout
account switched over), which separates our own cost from the sandbox's; the stub never calls back.

After the runs: every withdrawal answered 201 exists once, COMPLETED or PROCESSING, with its hold and,
if COMPLETED, its completion posting; `gerbang reconcile` exits 0.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

from bench import payin_seed, withdrawal_seed
from bench.context import BenchContext
from bench.harness import (
    REPO_ROOT,
    RESULTS_DIR,
    HttpTarget,
    Load,
    free_port,
    machine,
    start_servers,
    tree_cpu_seconds,
)
from bench.scenarios.payin import Side, _print, _side_summary
from bench.withdrawal_load import AMOUNT

DESCRIPTION = (
    "S2S withdrawals by 32 signed partners: POST /api/v1/withdrawals/s2s/withdrawals (1,000,000 to a bank "
    "account, fee 0.5% + 2,500; account inquiry and disbursement at a sandbox provider account, the sandbox "
    "PSP a second gerbang process that completes each payout ~2 s later and calls back) vs bare FastAPI "
    "making two HTTP calls to a stub PSP and one raw asyncpg transaction (UPDATE balance + INSERT)"
)
TARGET = {"throughput_min": 300, "p99_max_ms": 150}
CREATE = "/api/v1/withdrawals/s2s/withdrawals"
RUN_WARMUP_S = 1.0
"""Unrecorded seconds at the start of each measured run, as the harness does."""
DRAIN_TIMEOUT_S = 30.0
"""How long to wait after a sandbox run for its last callbacks (the sandbox completes 2 s after accepting)."""
GERBANG_SERVE = [sys.executable, "-m", "gerbang", "serve"]
LOG_DIR = RESULTS_DIR


def _created(result: dict[str, Any]) -> int:
    """Requests answered 201, in the run and its unrecorded warm-up."""
    failed: int = sum(result["errors"].values()) + sum(result["warmup_errors"].values())
    return int(result["sent_total"]) - failed


class Measure:
    """One load run with the CPU time of the server, its PSP and PostgreSQL over it and its callbacks."""

    def __init__(
        self, database_url: str, env: dict[str, str], load: Load, postgres_pid: int, partners_file: Path,
        sandbox_account_id: str,
    ) -> None:  # fmt: skip
        self.database_url = database_url
        self.env = env
        self.load = load
        self.postgres_pid = postgres_pid
        self.partners_file = partners_file
        self.sandbox_account_id = sandbox_account_id
        self.created = {"gerbang": 0, "baseline": 0}

    def _drain(self) -> tuple[float, int]:
        """Seconds until no sandbox withdrawal is open any more (or the timeout), and how many still are."""
        started = time.perf_counter()
        deadline = started + DRAIN_TIMEOUT_S
        while (left := uvloop.run(withdrawal_seed.open_count(self.database_url, self.sandbox_account_id))) > 0:
            if time.perf_counter() > deadline:
                break
            time.sleep(0.2)
        return round(time.perf_counter() - started, 2), left

    def __call__(self, side: Side, duration_s: float, warmup_s: float) -> dict[str, Any]:
        if side.account_id is not None:
            uvloop.run(payin_seed.use_account(self.database_url, side.account_id))
        pids = {"server": side.server.process.pid, "psp": side.psp.process.pid, "postgres": self.postgres_pid}
        command = [
            sys.executable, "-m", "bench.withdrawal_load", side.url, "--partners", str(self.partners_file),
            "--concurrency", str(self.load.concurrency), "--duration", str(duration_s), "--warmup", str(warmup_s),
        ]  # fmt: skip
        before = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
        started = time.perf_counter()
        output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO_ROOT, env=self.env)
        wall = time.perf_counter() - started
        loaded = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
        result: dict[str, Any] = json.loads(output.stdout)
        drain_s, left_open = self._drain() if side.account_id == self.sandbox_account_id else (0.0, 0)
        after = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
        sent = max(1, result["sent_total"])
        result["cpu_ms_per_request"] = {name: round(1000 * (after[name] - before[name]) / sent, 3) for name in pids}
        result["cpu_pct"] = {name: round(100 * (loaded[name] - before[name]) / wall, 1) for name in pids}
        result["drain_s"], result["left_open"] = drain_s, left_open
        self.created["gerbang" if side.key.startswith("gerbang") else "baseline"] += _created(result)
        return result


def _start_reconcile(env: dict[str, str]) -> subprocess.Popen[str]:
    """`gerbang reconcile`, started while the servers stop (it only reads; nothing is moving by then)."""
    return subprocess.Popen(
        [*GERBANG_SERVE[:3], "reconcile", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env=env,
    )


def _reconciled(process: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, _ = process.communicate(timeout=120)
    report = json.loads(stdout) if stdout.strip() else {}
    return {
        "reconcile_exit_status": process.returncode,
        "reconcile_accounts": report.get("accounts_checked", 0),
        "reconcile_transactions": report.get("transactions_checked", 0),
    }


def _passed(checks: dict[str, Any]) -> bool:
    statuses = checks["statuses"]
    return (
        checks["withdrawals"] == checks["created_201"]
        and set(statuses) <= {"COMPLETED", "PROCESSING"}
        and checks["holds"] == checks["withdrawals"]
        and checks["completions"] == statuses.get("COMPLETED", 0) == checks["callbacks_applied"]
        and checks["releases"] == 0
        and checks["baseline_rows"] == checks["baseline_created_201"]
        and checks["baseline_held_matches"]
        and checks["reconcile_exit_status"] == 0
    )


def _targets(database_url: str, ports: dict[str, int], stub_url: str) -> list[HttpTarget]:
    bench_apps = [sys.executable, "-m", "bench.apps.withdrawal_baseline"]
    return [
        HttpTarget("sandbox PSP (gerbang serve)", GERBANG_SERVE, "/sandbox/api/disbursements", ready_path="/readyz",
                   env={"GERBANG_SANDBOX": "true"}, port=ports["psp"]),
        HttpTarget("stub PSP", [*bench_apps, "stub", "{port}"], "/api/disbursements", ready_path="/hello",
                   port=ports["stub"]),
        HttpTarget("gerbang serve", GERBANG_SERVE, CREATE, ready_path="/readyz", port=ports["gerbang"],
                   env={"GERBANG_SANDBOX": "false", "GERBANG_PUBLIC_URL": "http://127.0.0.1:{port}"}),
        HttpTarget("bare FastAPI", [*bench_apps, "app", "{port}", database_url, stub_url], "/withdrawals",
                   ready_path="/hello", port=ports["baseline"]),
    ]  # fmt: skip


def run(ctx: BenchContext) -> dict[str, Any]:
    url, load, host = ctx.database_url, ctx.load, machine()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    env = ctx.env | {
        "GERBANG_SECRET_KEY": payin_seed.BENCH_SECRET_KEY,
        "GERBANG_RATE_LIMIT_PER_IP": "0",
        "GERBANG_RATE_LIMIT_PER_API_KEY": "0",
    }
    ports = {name: free_port() for name in ("psp", "stub", "gerbang", "baseline")}
    psp_url, stub_url = (f"http://127.0.0.1:{ports[name]}" for name in ("psp", "stub"))
    if payin_seed.HISTORY:
        uvloop.run(payin_seed.seed_history(url, payin_seed.HISTORY))
    # Seeded before the servers start (it needs only their addresses), so that all four boot at once.
    seeded = uvloop.run(
        withdrawal_seed.seed(url, psp_url=psp_url, stub_url=stub_url, merchant_key=payin_seed.new_merchant_key())
    )
    logs = [LOG_DIR / f"withdrawals-{name}.log" for name in ports]
    servers = list(zip(_targets(url, ports, stub_url), logs, strict=True))
    workdir = Path(tempfile.mkdtemp(prefix="gerbang-withdrawals-"))
    try:
        partners_file = workdir / "partners.json"
        partners_file.write_text(json.dumps(seeded.partners))
        measure = Measure(
            url, env, load, uvloop.run(payin_seed.postgres_pid(url)), partners_file, seeded.sandbox_account_id
        )
        with start_servers(servers, env) as (psp, stub, gerbang, baseline):
            sides = [
                Side("baseline", "bare FastAPI + 2 HTTP calls (stub) + 1 transaction", baseline, stub,
                     f"{baseline.base_url}/withdrawals"),
                Side("gerbang", "gerbang, sandbox PSP (and its callbacks)", gerbang, psp, gerbang.base_url + CREATE,
                     seeded.sandbox_account_id),
                Side("gerbang_stub", "gerbang, stub PSP (no callbacks)", gerbang, stub, gerbang.base_url + CREATE,
                     seeded.stub_account_id),
            ]  # fmt: skip
            for side in sides if load.warmup_s > 0 else ():
                side.warm(measure(side, load.warmup_s, 0))
            uvloop.run(payin_seed.analyze(url))
            for _ in range(load.runs):
                for side in sides:
                    result = measure(side, load.duration_s, RUN_WARMUP_S)
                    side.runs.append(result | {"target": side.name})
                    _print("withdrawals", side, result)
                    if result["left_open"]:
                        print(f"  {result['left_open']} sandbox withdrawals still open after {result['drain_s']} s")
            rss = {server.process.pid: server.rss.stop() for server in (psp, stub, gerbang, baseline)}
            reconcile = _start_reconcile(env)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    checks = uvloop.run(withdrawal_seed.check(url, seeded, measure.created["gerbang"], measure.created["baseline"]))
    checks |= _reconciled(reconcile)
    passed = _passed(checks)
    if not passed:
        print(f"  withdrawals CHECKS FAILED: {checks}")
    summaries = {side.key: _side_summary(side, rss) for side in sides}
    for side in sides:
        summaries[side.key]["drain_s_max"] = max(run["drain_s"] for run in side.runs)
    throughput = {key: summary["throughput_per_s"] for key, summary in summaries.items()}
    return {
        "scenario": "withdrawals",
        "description": DESCRIPTION,
        "machine": host,
        "load": {
            "concurrency": load.concurrency,
            "duration_s": load.duration_s,
            "runs": load.runs,
            "partners": len(seeded.partners),
            "amount": AMOUNT,
        },
        "runs": [run for side in sides for run in side.runs],
        "warmups": [warmup for side in sides for warmup in side.warmups],
        **summaries,
        "ratio": round(throughput["gerbang"] / throughput["baseline"], 3),
        "stub_ratio": round(throughput["gerbang_stub"] / throughput["baseline"], 3),
        "checks": checks,
        "checks_passed": passed,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
