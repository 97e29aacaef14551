"""HTTP load generator, run as its own process so its CPU is not the server's.

Closed loop: `concurrency` workers on keep-alive connections, each sending its next request when the
last one answered. Prints one JSON object: throughput, latency percentiles, errors and its own CPU use.

    python -m bench.loadgen --url http://127.0.0.1:8000/healthz --concurrency 32 --duration 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time

import aiohttp
import uvloop


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


async def _load(args: argparse.Namespace) -> dict[str, object]:
    body = args.body.encode() if args.body else None
    headers = {"content-type": "application/json"} if body else {}
    connector = aiohttp.TCPConnector(limit=args.concurrency, force_close=False)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    recording = False
    stop_at = 0.0

    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                try:
                    async with session.request(args.method, args.url, data=body, headers=headers) as response:
                        await response.read()
                        ok = response.status == args.expect_status
                        key = str(response.status)
                except aiohttp.ClientError as exc:
                    ok, key = False, type(exc).__name__
                if recording:
                    if ok:
                        latencies.append(time.perf_counter() - started)
                    else:
                        errors[key] = errors.get(key, 0) + 1

        stop_at = time.perf_counter() + args.warmup
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        recording = True
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        stop_at = started + args.duration
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)

    cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "duration_s": round(elapsed, 3),
        "throughput_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "loadgen_cpu_pct": round(100 * cpu_s / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default="")
    parser.add_argument("--expect-status", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()
    result = uvloop.run(_load(args))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
