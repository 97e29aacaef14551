"""Webhook deliveries per second by one `gerbang worker` process to a local receiver that answers 200 at
once, every attempt recorded, against a bare aiohttp client posting the same signed payloads at the same
concurrency with no database, in the same run; then the delivery lag at 500 events/s offered."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.context import BenchContext
from bench.harness import REPO_ROOT, RssSampler, free_port, machine
from bench.payin_seed import BENCH_SECRET_KEY
from bench.webhook_load import CONCURRENCY

DESCRIPTION = (
    "Webhook deliveries by one worker (claim by lease, sign, POST, record every attempt in batches) to a "
    "receiver answering 200 at once, vs a bare aiohttp client posting the same signed payloads, no database"
)
TARGET = {"throughput_min": 1_500, "lag_max_s": 2.0}
EVENTS_PER_RUN = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "20000"))
OFFERED_PER_S = 500
OFFERED_FOR_S = float(os.environ.get("BENCH_WEBHOOK_OFFER_S", "10"))


def _tool(ctx: BenchContext, *args: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.webhook_load", *args]
    output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO_ROOT, env=ctx.env).stdout
    result: dict[str, Any] = json.loads(output)
    return result


@contextmanager
def _process(ctx: BenchContext, command: list[str], extra: dict[str, str] | None = None) -> Iterator[RssSampler]:
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=ctx.env | (extra or {}), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    sampler = RssSampler(process.pid)
    try:
        yield sampler
    finally:
        process.terminate()
        process.wait(timeout=30)


def _worker(ctx: BenchContext) -> list[str]:
    return [sys.executable, "-m", "gerbang", "worker"]


def run(ctx: BenchContext) -> dict[str, Any]:
    port = free_port()
    receiver = f"http://127.0.0.1:{port}/hooks"
    worker_env = {
        "GERBANG_SECRET_KEY": BENCH_SECRET_KEY, "GERBANG_WEBHOOK_CONCURRENCY": str(CONCURRENCY),
        "GERBANG_LOG_LEVEL": "WARNING",
    }  # fmt: skip
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "gerbang": []}
    peak_rss_mb = 0.0
    with _process(ctx, [sys.executable, "-m", "bench.webhook_load", "receive", str(port)]):
        time.sleep(1.0)  # the receiver binds
        _tool(ctx, "partners", ctx.database_url, receiver)
        for index in range(ctx.load.runs + 1):  # the first pair warms up
            baseline = _tool(ctx, "baseline", receiver, str(EVENTS_PER_RUN))
            written = _tool(ctx, "events", ctx.database_url, str(EVENTS_PER_RUN))
            with _process(ctx, _worker(ctx), worker_env) as rss:
                drained = _tool(ctx, "drain", ctx.database_url, str(EVENTS_PER_RUN))
                peak_rss_mb = max(peak_rss_mb, rss.stop())
            print(
                f"  webhooks   baseline {baseline['throughput_per_s']:>9.1f}/s   gerbang "
                f"{drained['throughput_per_s']:>9.1f}/s ({drained['attempts_recorded']} attempts recorded; "
                f"events written at {EVENTS_PER_RUN / written['write_s']:.0f}/s)"
            )
            if index:
                runs["baseline"].append(baseline)
                runs["gerbang"].append(drained)
        with _process(ctx, _worker(ctx), worker_env):
            time.sleep(2.0)  # the worker is up and listening before the load starts
            lag = _tool(ctx, "offer", ctx.database_url, str(OFFERED_PER_S), str(OFFERED_FOR_S))
        print(
            f"  webhooks   at {lag['offered_per_s']:.0f} events/s offered: oldest pending age max "
            f"{lag['oldest_pending_age_max_s']:.3f} s, p99 {lag['oldest_pending_age_p99_s']:.3f} s"
        )

    def side(name: str, key: str) -> dict[str, Any]:
        results = runs[key]
        return {
            "name": name,
            "throughput_per_s": round(statistics.median(r["throughput_per_s"] for r in results), 1),
            "p50_ms": round(statistics.median(r["p50_ms"] for r in results), 2),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in results), 2),
            "errors": sum(EVENTS_PER_RUN - r.get("attempts_recorded", EVENTS_PER_RUN) for r in results),
            "loadgen_cpu_pct": 0.0,
            "peak_rss_mb": round(peak_rss_mb, 1) if key == "gerbang" else 0.0,
        }

    gerbang = side("gerbang worker (every attempt recorded)", "gerbang") | {
        "oldest_pending_age_max_s": lag["oldest_pending_age_max_s"],
        "oldest_pending_age_p99_s": lag["oldest_pending_age_p99_s"],
    }
    baseline_side = side("bare aiohttp client, no database", "baseline")
    return {
        "scenario": "webhooks",
        "description": DESCRIPTION,
        "machine": machine(),
        "load": {"concurrency": CONCURRENCY, "events_per_run": EVENTS_PER_RUN, "runs": ctx.load.runs},
        "runs": [r | {"target": key} for key, results in runs.items() for r in results],
        "lag": lag,
        "gerbang": gerbang,
        "baseline": baseline_side,
        "ratio": round(gerbang["throughput_per_s"] / baseline_side["throughput_per_s"], 3),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
