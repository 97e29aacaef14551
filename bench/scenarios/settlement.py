"""The settlement checker settling a million PAID orders, against one set-based UPDATE of the same rows.

Seeded in bulk (not measured; `bench/settlement_seed.py`): 100 partners, one provider account settling D+1,
`BENCH_SETTLEMENT_ORDERS` (default 1,000,000) orders paid 10 to 20 days ago, each with its PAID posting. Then,
each in a process of its own (`bench/settlement_run.py`): the baseline, one `UPDATE ... SET status =
'SETTLED' WHERE status = 'PAID'` over a copy of those orders (same columns, indexes and checks); and the job
`settlement.check` as the worker runs it, which settles them all. Afterwards every order must be SETTLED
with one settlement posting, in one batch row, the partners' pending balances zero and available equal to
the nets, and the ledger reconciled.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

from bench import settlement_seed
from bench.context import BenchContext
from bench.harness import REPO_ROOT, machine
from gerbang.settlement.service import BATCH_SIZE, LANES

DESCRIPTION = (
    "settlement.check settling PAID orders (claim with SKIP LOCKED, CAS PAID -> SETTLED, batch rows, webhook "
    "and outbox rows, set-based ledger posting) vs one UPDATE orders SET status = 'SETTLED' over a copy"
)
TARGET = {"throughput_min": 8_334}
"""1,000,000 orders in 120 s."""
ORDERS = int(os.environ.get("BENCH_SETTLEMENT_ORDERS", "1000000"))
PARTNERS = 100


def _side(ctx: BenchContext, mode: str, account_id: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.settlement_run", ctx.database_url, mode, "--account", account_id]
    output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO_ROOT, env=ctx.env).stdout
    result: dict[str, Any] = json.loads(output.splitlines()[-1])
    return result


def _figures(name: str, side: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name, "throughput_per_s": side["throughput_per_s"], "p50_ms": side["p50_ms"],
        "p99_ms": side["p99_ms"], "errors": 0, "loadgen_cpu_pct": side["cpu_pct"], "peak_rss_mb": side["peak_rss_mb"],
        "seconds": side["seconds"], "orders": side["settled"],
        "postgres_cpu_ms_per_order": round(1000 * side["postgres_cpu_s"] / max(side["settled"], 1), 3),
    }  # fmt: skip


def run(ctx: BenchContext) -> dict[str, Any]:
    started = time.perf_counter()
    seeded = asyncio.run(settlement_seed.seed(ctx.database_url, orders=ORDERS, partners=PARTNERS))
    seconds = round(time.perf_counter() - started, 1)
    print(f"  settlement seeded {ORDERS:,} PAID orders of {PARTNERS} partners in {seconds} s")
    baseline = _side(ctx, "baseline", seeded["account_id"])
    print(f"  settlement baseline {baseline['settled']:,} in {baseline['seconds']} s")
    job = _side(ctx, "job", seeded["account_id"])
    print(f"  settlement job      {job['settled']:,} in {job['seconds']} s, peak RSS {job['peak_rss_mb']} MB")
    checks = asyncio.run(settlement_seed.check(ctx.database_url, seeded))
    gerbang = _figures(f"settlement.check, {LANES} lanes of {BATCH_SIZE:,}-order batches", job)
    return {
        "scenario": "settlement",
        "description": DESCRIPTION,
        "machine": machine(),
        "load": {"runs": 1, "events_per_run": ORDERS, "concurrency": LANES},
        "seed": seeded | {"seconds": seconds},
        "gerbang": gerbang | {"job_counts": job["counts"], "job_amounts": job["amounts"]},
        "baseline": _figures("one UPDATE orders SET status = 'SETTLED' (a copy)", baseline),
        "ratio": round(job["throughput_per_s"] / baseline["throughput_per_s"], 3),
        "checks": checks,
        "checks_passed": checks["passed"],
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
