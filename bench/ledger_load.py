"""Ledger load, run as its own process: postings per second through gerbang's ledger service.

    python -m bench.ledger_load DATABASE_URL MODE --accounts 10000 --concurrency 32 --duration 8

MODE: `fund` (give every account money; also the warm-up), `distinct` (transfers between random
accounts), `hot` (every transfer out of one account), `baseline` (raw single-row INSERT + COMMIT).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import time
import uuid

import uvloop

from bench.loadgen import _percentile
from gerbang.config import load_settings
from gerbang.db import Database
from gerbang.ledger import service as ledger
from gerbang.ledger.schemas import AccountKind, AccountRef, TransactionKind, credit, debit

NAMESPACE = uuid.UUID("6f1c9a3e-3b7a-4c55-9d8e-2a6f0b1c4d5e")
HOT_FUNDS = 10**12


def partner(index: int) -> AccountRef:
    return AccountRef(AccountKind.partner_available, uuid.uuid5(NAMESPACE, str(index)))


async def _transfer(database: Database, key: str, source: AccountRef, target: AccountRef, value: int) -> None:
    async with database.transaction() as connection:
        await ledger.post(
            connection, idempotency_key=key, kind=TransactionKind.transfer, reference="bench:ledger",
            legs=[debit(source, value), credit(target, value)],
        )  # fmt: skip


async def _run(args: argparse.Namespace) -> dict[str, object]:
    settings = load_settings(database_pool_size=args.concurrency)
    database = await Database.connect(args.database_url, settings)
    run_id = uuid.uuid4().hex[:12]
    counter = 0
    latencies: list[float] = []
    hot = partner(-1)

    def next_key() -> str:
        nonlocal counter
        counter += 1
        return f"bench:{run_id}:{counter}"

    async def one() -> None:
        if args.mode == "baseline":
            async with database.pool.acquire() as connection:
                await connection.execute("INSERT INTO bench_rows (payload) VALUES ($1)", next_key())
        elif args.mode == "distinct":
            source, target = random.sample(range(args.accounts), 2)
            await _transfer(database, next_key(), partner(source), partner(target), 1)
        elif args.mode == "hot":
            await _transfer(database, next_key(), hot, partner(random.randrange(args.accounts)), 1)
        else:
            raise ValueError(args.mode)

    if args.mode == "fund":
        # Every account gets money from its own outside counterparty, so funding has no hot account.
        queue = list(range(args.accounts))

        async def funder() -> None:
            while queue:
                index = queue.pop()
                source = AccountRef(AccountKind.external, uuid.uuid5(NAMESPACE, f"external-{index}"))
                await _transfer(database, f"bench:fund:{index}", source, partner(index), 1_000_000)

        started = time.perf_counter()
        await asyncio.gather(*(funder() for _ in range(args.concurrency)))
        await _transfer(database, "bench:fund:hot", AccountRef(AccountKind.external), hot, HOT_FUNDS)
        await database.dispose()
        elapsed = time.perf_counter() - started
        return {"mode": "fund", "accounts": args.accounts, "postings_per_s": round(args.accounts / elapsed, 1)}

    stop_at = time.perf_counter() + args.duration

    async def worker() -> None:
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            await one()
            latencies.append(time.perf_counter() - began)

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    await database.dispose()
    latencies.sort()
    cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {
        "mode": args.mode,
        "requests": len(latencies),
        "errors": {},
        "throughput_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 0.5) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "loadgen_cpu_pct": round(100 * cpu_s / elapsed, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("mode", choices=["fund", "distinct", "hot", "baseline"])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=8.0)
    args = parser.parse_args()
    json.dump(uvloop.run(_run(args)), sys.stdout)


if __name__ == "__main__":
    main()
