"""Ledger postings per second, on many distinct accounts and on one hot account, against raw
single-row INSERT + COMMIT transactions on the same database, measured in the same run."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.context import BenchContext
from bench.harness import REPO_ROOT, machine

DESCRIPTION = (
    "Ledger postings (lock accounts in id order, check funds, write transaction + 2 entries + 2 balances, "
    "commit) by 32 concurrent connections, vs raw single-row INSERT + COMMIT"
)
TARGET = {"throughput_min": 1_500, "hot_account_min": 500}
ACCOUNTS = 10_000


def _load(ctx: BenchContext, mode: str, duration_s: float) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "bench.ledger_load", ctx.database_url, mode,
        "--accounts", str(ACCOUNTS), "--concurrency", str(ctx.load.concurrency), "--duration", str(duration_s),
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO_ROOT, env=ctx.env).stdout
    result: dict[str, Any] = json.loads(output)
    return result


def _summary(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "throughput_per_s": round(statistics.median(r["throughput_per_s"] for r in runs), 1),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 2),
        "errors": 0,
        "loadgen_cpu_pct": round(statistics.median(r["loadgen_cpu_pct"] for r in runs), 1),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
    }


def run(ctx: BenchContext) -> dict[str, Any]:
    funding = _load(ctx, "fund", 0)
    print(f"  ledger     funded {funding['accounts']} accounts at {funding['postings_per_s']}/s")
    for mode in ("baseline", "distinct", "hot"):
        _load(ctx, mode, ctx.load.warmup_s)
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "distinct": [], "hot": []}
    for _ in range(ctx.load.runs):
        for mode in runs:
            result = _load(ctx, mode, ctx.load.duration_s)
            runs[mode].append(result)
            print(
                f"  ledger     {mode:34} {result['throughput_per_s']:>9.1f}/s "
                f"p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms"
            )
    baseline = _summary("raw INSERT + COMMIT (asyncpg)", runs["baseline"])
    distinct = _summary("postings, distinct accounts", runs["distinct"])
    hot = _summary("postings, one hot account", runs["hot"])
    gerbang = distinct | {
        "hot_account_per_s": hot["throughput_per_s"],
        "hot_p50_ms": hot["p50_ms"],
        "hot_p99_ms": hot["p99_ms"],
    }
    return {
        "scenario": "ledger",
        "description": DESCRIPTION,
        "machine": machine(),
        "load": {"concurrency": ctx.load.concurrency, "duration_s": ctx.load.duration_s, "runs": ctx.load.runs},
        "funding": funding,
        "runs": [r | {"target": mode} for mode, results in runs.items() for r in results],
        "gerbang": gerbang,
        "gerbang_hot": hot,
        "baseline": baseline,
        "ratio": round(distinct["throughput_per_s"] / baseline["throughput_per_s"], 3),
        "hot_ratio": round(hot["throughput_per_s"] / baseline["throughput_per_s"], 3),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
