"""Outbox events relayed to Kafka per second by one `gerbang worker` process, from a backlog of 100,000 rows
to a tansu broker, against a bare confluent-kafka idempotent producer sending the same messages from memory
to the same broker, in the same run. Each run starts a fresh broker (in memory) and a fresh backlog."""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.context import BenchContext
from bench.events_load import PARTITIONS
from bench.harness import REPO_ROOT, RssSampler, free_port, machine
from bench.payin_seed import BENCH_SECRET_KEY

DESCRIPTION = (
    "Outbox rows relayed by one worker (read a batch in outbox order, produce with the idempotent producer, "
    "mark published once acknowledged) to tansu, vs a bare idempotent producer sending the same envelopes "
    "from memory"
)
TARGET = {"ratio_min": 0.25, "throughput_min": 10_000}
EVENTS_PER_RUN = int(os.environ.get("BENCH_EVENTS", "100000"))


def _tool(ctx: BenchContext, *args: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.events_load", *args]
    output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO_ROOT, env=ctx.env).stdout
    result: dict[str, Any] = json.loads(output)
    return result


@contextmanager
def _process(
    ctx: BenchContext, command: list[str], extra: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[RssSampler]:
    with log.open("wb") if log is not None else open(os.devnull, "wb") as output:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=ctx.env | (extra or {}), stdout=subprocess.DEVNULL, stderr=output
        )
    sampler = RssSampler(process.pid)
    try:
        yield sampler
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def _broker(ctx: BenchContext) -> Iterator[str]:
    port = free_port()
    with _process(ctx, [sys.executable, "-m", "bench.events_load", "broker", str(port)]):
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "tansu did not start"
            time.sleep(0.02)
        yield f"127.0.0.1:{port}"


def _relay_rate(log: Path, drained: dict[str, Any]) -> dict[str, Any]:
    """From the moment the worker became the relay (its log line) to the last row marked published: the
    worker's start-up is not relay time, the producer's and the topics' set-up are."""
    lines = [json.loads(line) for line in log.read_text().splitlines() if "outbox.relay_leading" in line]
    leading = datetime.fromisoformat(lines[0]["timestamp"])
    relayed_s = (datetime.fromisoformat(drained["last_marked_at"]) - leading).total_seconds()
    return {"relayed_s": round(relayed_s, 3), "throughput_per_s": round(drained["rows"] / relayed_s, 1)}


def run(ctx: BenchContext) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "gerbang": []}
    peak_rss_mb = 0.0
    for index in range(ctx.load.runs + 1):  # the first pair warms up
        with _broker(ctx) as bootstrap:
            seeded = _tool(ctx, "seed", ctx.database_url, str(EVENTS_PER_RUN))
            baseline = _tool(ctx, "baseline", ctx.database_url, bootstrap)
            worker_env = {
                "GERBANG_SECRET_KEY": BENCH_SECRET_KEY, "GERBANG_LOG_LEVEL": "INFO", "GERBANG_ACCESS_LOG": "false",
                "GERBANG_KAFKA_BOOTSTRAP_SERVERS": bootstrap, "GERBANG_KAFKA_TOPIC_PARTITIONS": str(PARTITIONS),
            }  # fmt: skip
            log = Path(tempfile.mkdtemp(prefix="gerbang-bench-events-")) / "worker.log"
            with _process(ctx, [sys.executable, "-m", "gerbang", "worker"], worker_env, log) as rss:
                drained = _tool(ctx, "drain", ctx.database_url, str(EVENTS_PER_RUN))
                peak_rss_mb = max(peak_rss_mb, rss.stop())
            drained |= _relay_rate(log, drained)
            shutil.rmtree(log.parent, ignore_errors=True)
        print(
            f"  events     baseline {baseline['throughput_per_s']:>9.1f}/s   gerbang "
            f"{drained['throughput_per_s']:>9.1f}/s ({drained['marks']} marking UPDATEs; {seeded['rows']} rows "
            f"seeded in {seeded['seed_s']} s)"
        )
        if index:
            runs["baseline"].append(baseline)
            runs["gerbang"].append(drained)

    with _broker(ctx) as bootstrap:
        _tool(ctx, "seed", ctx.database_url, str(EVENTS_PER_RUN))
        loop = _tool(ctx, "loop", ctx.database_url, bootstrap, str(EVENTS_PER_RUN))
    print(
        f"  events     relay in-process {loop['throughput_per_s']:.1f}/s; event loop lag p50 "
        f"{loop['loop_lag_p50_ms']} ms, p99 {loop['loop_lag_p99_ms']} ms, max {loop['loop_lag_max_ms']} ms"
    )

    def side(name: str, key: str) -> dict[str, Any]:
        return {
            "name": name,
            "throughput_per_s": round(statistics.median(r["throughput_per_s"] for r in runs[key]), 1),
            "p50_ms": 0.0, "p99_ms": 0.0, "loadgen_cpu_pct": 0.0,
            "peak_rss_mb": round(peak_rss_mb, 1) if key == "gerbang" else 0.0,
        }  # fmt: skip

    gerbang = side("gerbang worker's relay (read, produce, mark published)", "gerbang")
    baseline_side = side("bare confluent-kafka idempotent producer, from memory", "baseline")
    return {
        "scenario": "events",
        "description": DESCRIPTION,
        "machine": machine(),
        "load": {"concurrency": 1, "events_per_run": EVENTS_PER_RUN, "runs": ctx.load.runs},
        "runs": [r | {"target": key} for key, results in runs.items() for r in results],
        "loop": loop,
        "gerbang": gerbang,
        "baseline": baseline_side,
        "ratio": round(gerbang["throughput_per_s"] / baseline_side["throughput_per_s"], 3),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
