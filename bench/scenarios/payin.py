"""Pay-ins through the full stack: orders created per second by 32 partners, and provider callbacks
processed per second, each against a bare baseline doing the same I/O, measured in the same run.

Processes (each its own): PostgreSQL; `gerbang serve` under test; the sandbox PSP, a second
`gerbang serve` with the sandbox on, which the provider account's base URL points at; the baseline
(bare FastAPI); the stub PSP the baseline calls (bare FastAPI answering a small JSON); the load
generator (`bench.payin_load`). The PSP's CPU, the server's and PostgreSQL's are measured per request
separately. gerbang is also measured against the stub PSP (its provider account switched over), which
separates our own cost from the sandbox's.

Set `BENCH_CALLBACKS` (callbacks per run per side, default 2000) to size the callback runs, and
`BENCH_PROFILE_DIR` to add one unrecorded run of each kind with py-spy attached to the servers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop

from bench import payin_seed
from bench.context import BenchContext
from bench.harness import (
    REPO_ROOT,
    RESULTS_DIR,
    HttpTarget,
    Load,
    RunningServer,
    free_port,
    machine,
    start_servers,
    summarize,
    tree_cpu_seconds,
)
from bench.profile import summarize as summarize_profile

DESCRIPTION = (
    "Pay-ins by 32 signed partners: POST /api/v1/payments (qris, routed to a sandbox provider account, the "
    "sandbox PSP a second gerbang process) vs bare FastAPI making one HTTP call to a stub PSP and one raw "
    "asyncpg insert; then signed sandbox PAID callbacks, each order once, vs bare FastAPI doing one HMAC "
    "check, one UPDATE and one INSERT"
)
TARGET = {"throughput_min": 500, "p99_max_ms": 100, "ratio_min": 0.50, "callbacks_min": 800}
PAYMENTS = "/api/v1/payments"
CALLBACK = "/api/v1/transaction/callback/sandbox"
RUN_WARMUP_S = 1.0
"""Unrecorded seconds at the start of each measured orders run, as the harness does."""
GERBANG_SERVE = [sys.executable, "-m", "gerbang", "serve"]
LOG_DIR = RESULTS_DIR


@dataclass
class Side:
    key: str
    name: str
    server: RunningServer
    psp: RunningServer
    url: str
    account_id: str | None = None
    """gerbang's sides: the provider account that takes the orders."""
    runs: list[dict[str, Any]] = field(default_factory=list)
    warmups: list[dict[str, Any]] = field(default_factory=list)

    def warm(self, result: dict[str, Any]) -> None:
        """Warm-up figures are not results, but what went wrong in them is kept."""
        errors = {k: v for part in ("warmup_errors", "errors") for k, v in result.get(part, {}).items()}
        self.warmups.append({"target": self.name, "requests": result["sent_total"], "errors": errors,
                             "retried": result["retried"], "retry_failures": result["retry_failures"]})  # fmt: skip


def _callbacks_per_run() -> int:
    return int(os.environ.get("BENCH_CALLBACKS", "2000"))


def _load(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.payin_load", *command], capture_output=True, text=True, check=True,
        cwd=REPO_ROOT, env=env,
    ).stdout  # fmt: skip
    result: dict[str, Any] = json.loads(output)
    return result


class Measure:
    """One load run with the CPU time of the server, its PSP and PostgreSQL over it."""

    def __init__(self, database_url: str, env: dict[str, str], load: Load, postgres_pid: int) -> None:
        self.database_url = database_url
        self.env = env
        self.load = load
        self.postgres_pid = postgres_pid

    def __call__(self, side: Side, command: list[str], wrap: Callable[[], ExitStack] | None = None) -> dict[str, Any]:
        if side.account_id is not None:
            uvloop.run(payin_seed.use_account(self.database_url, side.account_id))
        pids = {"server": side.server.process.pid, "psp": side.psp.process.pid, "postgres": self.postgres_pid}
        with wrap() if wrap else ExitStack():
            before = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
            started = time.perf_counter()
            result = _load([*command, "--concurrency", str(self.load.concurrency)], self.env)
            wall = time.perf_counter() - started
            after = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
        sent = max(1, result["sent_total"])
        result["cpu_ms_per_request"] = {name: round(1000 * (after[name] - before[name]) / sent, 3) for name in pids}
        result["cpu_pct"] = {name: round(100 * (after[name] - before[name]) / wall, 1) for name in pids}
        return result


def _print(scenario: str, side: Side, result: dict[str, Any]) -> None:
    cpu = result["cpu_ms_per_request"]
    print(
        f"  {scenario:10} {side.name:46} {result['throughput_per_s']:>8.1f}/s p50 {result['p50_ms']:6.2f} ms "
        f"p99 {result['p99_ms']:6.2f} ms  errors {result['errors']}  CPU ms/req server {cpu['server']:.2f} "
        f"psp {cpu['psp']:.2f} pg {cpu['postgres']:.2f}"
    )


def _side_summary(side: Side, rss: dict[int, float]) -> dict[str, Any]:
    summary = summarize(side.name, side.runs, rss[side.server.process.pid])
    for figure in ("cpu_ms_per_request", "cpu_pct"):
        summary[figure] = {
            name: round(statistics.median(run[figure][name] for run in side.runs), 3) for name in side.runs[0][figure]
        }
    summary["psp_peak_rss_mb"] = rss[side.psp.process.pid]
    return summary


def _py_spy(directory: Path, name: str, pids: dict[str, int]) -> Callable[[], ExitStack]:
    """py-spy attached to each process for the length of the run; folded stacks written on SIGINT."""
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")

    def attach() -> ExitStack:
        stack = ExitStack()
        for label, pid in pids.items():
            output = directory / f"payin-{name}-{label}.folded"
            process = subprocess.Popen(
                [binary, "record", "--pid", str(pid), "--rate", "200", "--format", "raw", "--output", str(output)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip

            def stop(process: subprocess.Popen[bytes] = process) -> None:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=60)

            stack.callback(stop)
        time.sleep(1.0)  # let py-spy attach before the load starts
        return stack

    return attach


def _profiled(measure: Measure, side: Side, command: list[str], directory: Path, name: str) -> dict[str, Any]:
    """One more run, not among the results, with py-spy on the server (and its PSP when it has work)."""
    pids = {"gerbang": side.server.process.pid}
    if side.key == "gerbang":
        pids["psp"] = side.psp.process.pid
    result = measure(side, command, _py_spy(directory, name, pids))
    _print("profiled", side, result)
    return {label: summarize_profile(directory / f"payin-{name}-{label}.folded") for label in pids} | {
        "run": {key: result[key] for key in ("throughput_per_s", "p50_ms", "p99_ms", "cpu_ms_per_request")}
    }


def _orders(
    measure: Measure, sides: list[Side], partners_file: Path, profile_dir: Path | None, profiles: dict[str, Any]
) -> None:
    load = measure.load

    def command(side: Side, duration_s: float, warmup_s: float) -> list[str]:
        return ["orders", side.url, "--partners", str(partners_file), "--duration", str(duration_s),
                "--warmup", str(warmup_s)]  # fmt: skip

    for side in sides if load.warmup_s > 0 else ():
        side.warm(measure(side, command(side, load.warmup_s, 0)))
    uvloop.run(payin_seed.analyze(measure.database_url))
    for _ in range(load.runs):
        for side in sides:
            result = measure(side, command(side, load.duration_s, RUN_WARMUP_S))
            side.runs.append(result | {"target": side.name})
            _print("payin", side, result)
    if profile_dir is not None:
        profiles["orders"] = _profiled(
            measure, sides[1], command(sides[1], load.duration_s, RUN_WARMUP_S), profile_dir, "orders"
        )


def _write_events(path: Path, key: str, events: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"key": key, "events": events}))
    return path


def _callbacks(
    measure: Measure, sides: list[Side], seeded: payin_seed.Seeded, workdir: Path, profile_dir: Path | None,
    profiles: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """Callbacks for fresh PENDING orders, each order once; then the checks that each was paid once."""
    load, per_run = measure.load, _callbacks_per_run()
    warm = max(1, per_run // 4)
    slices = [(0, warm)] + [(warm + i * per_run, warm + (i + 1) * per_run) for i in range(load.runs)]
    total = slices[-1][1] + (per_run if profile_dir is not None else 0)  # the profiled run is gerbang's only
    events = {
        "gerbang": uvloop.run(payin_seed.create_pending_orders(measure.database_url, seeded, total)),
        "baseline": uvloop.run(payin_seed.create_baseline_orders(measure.database_url, slices[-1][1])),
    }
    uvloop.run(payin_seed.analyze(measure.database_url))

    def command(side: Side, index: int, start: int, stop: int) -> list[str]:
        kind = "gerbang" if side.key.startswith("gerbang") else "baseline"
        path = _write_events(workdir / f"callbacks-{kind}-{index}.json", seeded.merchant_key, events[kind][start:stop])
        return ["callbacks", side.url, "--events", str(path)]

    for side in sides:
        side.warm(measure(side, command(side, 0, *slices[0])))
    for index, (start, stop) in enumerate(slices[1:], start=1):
        for side in sides:
            result = measure(side, command(side, index, start, stop))
            side.runs.append(result | {"target": side.name})
            _print("callbacks", side, result)
    if profile_dir is not None:
        profiles["callbacks"] = _profiled(
            measure, sides[1], command(sides[1], len(slices), slices[-1][1], total), profile_dir, "callbacks"
        )
    checks = uvloop.run(
        payin_seed.check_paid(
            measure.database_url,
            [event["order_id"] for event in events["gerbang"]],
            [event["order_id"] for event in events["baseline"]],
        )
    )
    reconcile = subprocess.run(
        [*GERBANG_SERVE[:3], "reconcile", "--json"], capture_output=True, text=True, cwd=REPO_ROOT, env=measure.env
    )
    report = json.loads(reconcile.stdout) if reconcile.stdout.strip() else {}
    checks["reconcile_exit_status"] = reconcile.returncode
    checks["reconcile_accounts"] = report.get("accounts_checked", 0)
    checks["reconcile_transactions"] = report.get("transactions_checked", 0)
    return checks


def _passed(checks: dict[str, Any]) -> bool:
    orders, baseline = checks["orders"], checks["baseline_orders"]
    gerbang_counts = ("paid", "ledger_postings", "callbacks_stored", "callbacks_applied", "outbox_events")
    return (
        all(checks[name] == orders for name in gerbang_counts)
        and checks["baseline_paid"] == baseline
        and checks["reconcile_exit_status"] == 0
    )


def _targets(database_url: str, ports: dict[str, int], stub_url: str, merchant_key: str) -> list[HttpTarget]:
    bench_apps = [sys.executable, "-m", "bench.apps.payin_baseline"]
    return [
        HttpTarget("sandbox PSP (gerbang serve)", GERBANG_SERVE, "/sandbox/api/charges", ready_path="/readyz",
                   env={"GERBANG_SANDBOX": "true"}, port=ports["psp"]),
        HttpTarget("stub PSP", [*bench_apps, "stub", "{port}"], "/api/charges", ready_path="/hello",
                   port=ports["stub"]),
        HttpTarget("gerbang serve", GERBANG_SERVE, PAYMENTS, ready_path="/readyz", port=ports["gerbang"],
                   env={"GERBANG_SANDBOX": "false", "GERBANG_PUBLIC_URL": "http://127.0.0.1:{port}"}),
        HttpTarget("bare FastAPI", [*bench_apps, "app", "{port}", database_url, stub_url, merchant_key], "/payments",
                   ready_path="/hello", port=ports["baseline"]),
    ]  # fmt: skip


def run(ctx: BenchContext) -> dict[str, Any]:
    url, load, host = ctx.database_url, ctx.load, machine()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    profile_dir = Path(os.environ["BENCH_PROFILE_DIR"]) if os.environ.get("BENCH_PROFILE_DIR") else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    uvloop.run(payin_seed.create_tables(url))
    if payin_seed.HISTORY:
        uvloop.run(payin_seed.seed_history(url, payin_seed.HISTORY))
    measure = Measure(
        url,
        ctx.env | {
            "GERBANG_SECRET_KEY": payin_seed.BENCH_SECRET_KEY,
            "GERBANG_RATE_LIMIT_PER_IP": "0",
            "GERBANG_RATE_LIMIT_PER_API_KEY": "0",
        },
        load,
        uvloop.run(payin_seed.postgres_pid(url)),
    )  # fmt: skip
    ports = {name: free_port() for name in ("psp", "stub", "gerbang", "baseline")}
    psp_url, stub_url = (f"http://127.0.0.1:{ports[name]}" for name in ("psp", "stub"))
    # Seeded before the servers start (it needs only their addresses), so that all four boot at once.
    key = payin_seed.new_merchant_key()
    seeded = uvloop.run(payin_seed.seed(url, psp_url=psp_url, stub_url=stub_url, merchant_key=key))
    logs = [LOG_DIR / f"payin-{name}.log" for name in ports]
    servers = list(zip(_targets(url, ports, stub_url, key), logs, strict=True))
    workdir = Path(tempfile.mkdtemp(prefix="gerbang-payin-"))
    profiles: dict[str, Any] = {}
    try:
        partners_file = workdir / "partners.json"
        partners_file.write_text(json.dumps(seeded.partners))
        with start_servers(servers, measure.env) as (psp, stub, gerbang, baseline):
            orders = [
                Side("baseline", "orders: bare FastAPI + 1 HTTP call (stub) + 1 insert", baseline, stub,
                     f"{baseline.base_url}/payments"),
                Side("gerbang", "orders: gerbang, sandbox PSP", gerbang, psp, gerbang.base_url + PAYMENTS,
                     seeded.sandbox_account_id),
                Side("gerbang_stub", "orders: gerbang, stub PSP", gerbang, stub, gerbang.base_url + PAYMENTS,
                     seeded.stub_account_id),
            ]  # fmt: skip
            _orders(measure, orders, partners_file, profile_dir, profiles)
            callbacks = [
                Side("baseline_callbacks", "callbacks: bare FastAPI, HMAC + UPDATE + INSERT", baseline, stub,
                     f"{baseline.base_url}/callbacks/sandbox"),
                Side("gerbang_callbacks", "callbacks: gerbang, sandbox PAID", gerbang, psp,
                     gerbang.base_url + CALLBACK),
            ]  # fmt: skip
            checks = _callbacks(measure, callbacks, seeded, workdir, profile_dir, profiles)
            rss = {server.process.pid: server.rss.stop() for server in (psp, stub, gerbang, baseline)}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summaries = {side.key: _side_summary(side, rss) for side in (*orders, *callbacks)}
    passed = _passed(checks)
    if not passed:
        print(f"  callbacks  CHECKS FAILED: {checks}")
    throughput = {key: summary["throughput_per_s"] for key, summary in summaries.items()}
    return {
        "scenario": "payin",
        "description": DESCRIPTION,
        "machine": host,
        "load": {
            "concurrency": load.concurrency,
            "duration_s": load.duration_s,
            "runs": load.runs,
            "partners": len(seeded.partners),
            "callbacks_per_run": _callbacks_per_run(),
        },
        "runs": [run for side in (*orders, *callbacks) for run in side.runs],
        "warmups": [warmup for side in (*orders, *callbacks) for warmup in side.warmups],
        **summaries,
        "ratio": round(throughput["gerbang"] / throughput["baseline"], 3),
        "stub_ratio": round(throughput["gerbang_stub"] / throughput["baseline"], 3),
        "callbacks_ratio": round(throughput["gerbang_callbacks"] / throughput["baseline_callbacks"], 3),
        "checks": checks,
        "checks_passed": passed,
        **({"profile": profiles} if profiles else {}),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
