"""One side of the settlement scenario, as its own process (so its memory is its own):

    python -m bench.settlement_run DATABASE_URL job --account ID       # settlement.check, as the worker runs it
    python -m bench.settlement_run DATABASE_URL baseline --account ID  # one UPDATE ... SET status = 'SETTLED'

The baseline copies the account's orders first (not measured). Prints one JSON object: orders settled,
seconds, orders/s, the time between batches (p50, p99), peak RSS, this process's CPU and PostgreSQL's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
import uuid
from datetime import timedelta
from typing import Any

import psutil
import uvloop
from pydantic import SecretStr

from bench.loadgen import _percentile
from bench.settlement_seed import BENCH_SECRET_KEY, connected
from gerbang.config import Environment, Settings
from gerbang.db import Database
from gerbang.scheduler.base import JobContext, JobResult
from gerbang.settlement.jobs import SETTLEMENT_CHECK
from gerbang.settlement.service import LANES

_COPY = (
    "DROP TABLE IF EXISTS bench_orders_copy",
    "CREATE TABLE bench_orders_copy (LIKE orders INCLUDING ALL)",
    "INSERT INTO bench_orders_copy SELECT * FROM orders WHERE provider_account_id = '{account}'",
    "VACUUM ANALYZE bench_orders_copy",
)
_BASELINE = (
    "UPDATE bench_orders_copy SET status = 'SETTLED', settled_at = now(), updated_at = now() WHERE status = 'PAID'"
)


class _Postgres:
    """PostgreSQL's CPU time: its postmaster's (with the backends it reaped) and its live processes'."""

    def __init__(self, backend_pid: int) -> None:
        self.postmaster = psutil.Process(psutil.Process(backend_pid).ppid())

    def cpu_s(self) -> float:
        times = self.postmaster.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in self.postmaster.children():
            try:
                child_times = child.cpu_times()
            except psutil.Error:  # gone meanwhile: counted in children_* from now on
                continue
            total += child_times.user + child_times.system
        return total


class _Usage:
    def __init__(self, postgres: _Postgres) -> None:
        self.postgres = postgres
        self.started = time.perf_counter()
        self.cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        self.postgres_before = postgres.cpu_s()

    def done(self) -> dict[str, float]:
        elapsed = time.perf_counter() - self.started
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu_s = (after.ru_utime - self.cpu_before.ru_utime) + (after.ru_stime - self.cpu_before.ru_stime)
        return {
            "seconds": round(elapsed, 2),
            "cpu_pct": round(100 * cpu_s / elapsed, 1),
            "peak_rss_mb": round(after.ru_maxrss / 1024, 1),
            "postgres_cpu_s": round(self.postgres.cpu_s() - self.postgres_before, 1),
        }


async def _job(database_url: str, _: str) -> dict[str, Any]:
    settings = Settings(
        _env_file=None,
        env=Environment.development, secret_key=SecretStr(BENCH_SECRET_KEY), database_pool_size=2 * LANES,
        database_statement_timeout=timedelta(minutes=5),
    )  # fmt: skip
    database = await Database.connect(database_url, settings)
    async with database.connection() as connection:
        postgres = _Postgres(await connection.fetchval("SELECT pg_backend_pid()"))
    stamps: list[float] = []

    async def progress(_: JobResult) -> None:
        stamps.append(time.perf_counter())

    context = JobContext(
        database=database, settings=settings, run_id=uuid.uuid4(), trigger="manual", stop=asyncio.Event(),
        report_progress=progress,
    )  # fmt: skip
    usage = _Usage(postgres)
    result = await SETTLEMENT_CHECK.run(context)
    figures = usage.done()
    await database.dispose()
    # With several lanes, the time from one batch's commit to the next's, whichever lane committed it.
    gaps = sorted(later - earlier for earlier, later in zip([usage.started, *stamps], stamps, strict=False))
    settled = result.counts["settled"]
    return {
        "mode": "job", "settled": settled, **figures, "throughput_per_s": round(settled / figures["seconds"], 1),
        "p50_ms": round(_percentile(gaps, 0.5) * 1000, 1), "p99_ms": round(_percentile(gaps, 0.99) * 1000, 1),
        "counts": result.counts, "amounts": result.amounts,
    }  # fmt: skip


async def _baseline(database_url: str, account_id: str) -> dict[str, Any]:
    async with connected(database_url) as database, database.connection() as connection:
        for statement in _COPY:
            await connection.execute(statement.format(account=uuid.UUID(account_id)))
        usage = _Usage(_Postgres(await connection.fetchval("SELECT pg_backend_pid()")))
        status = await connection.execute(_BASELINE)
        figures = usage.done()
        await connection.execute("DROP TABLE bench_orders_copy")
    settled = int(status.split()[-1])
    milliseconds = figures["seconds"] * 1000
    return {
        "mode": "baseline", "settled": settled, **figures, "throughput_per_s": round(settled / figures["seconds"], 1),
        "p50_ms": milliseconds, "p99_ms": milliseconds,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("mode", choices=["job", "baseline"])
    parser.add_argument("--account", required=True, help="the seeded provider account")
    args = parser.parse_args()
    run = _job if args.mode == "job" else _baseline
    print(json.dumps(uvloop.run(run(args.database_url, args.account))))


if __name__ == "__main__":
    main()
