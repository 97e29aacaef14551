"""The webhooks scenario's processes, one subcommand each:

- `receive PORT`: the partners' receiver, an aiohttp app answering 200 at once (its own process, so its
  CPU is not the load generator's or the worker's).
- `partners URL RECEIVER`: partners pointed at the receiver (FIFO off: the bench measures throughput
  across endpoints, where ordering within one is not asked for).
- `events URL N`: an empty queue, then N pending events written as the domain writes them
  (`events.webhook`), in batches.
- `baseline RECEIVER N`: the bare client: the same signed payloads posted by one aiohttp session at the
  same concurrency, no database; deliveries per second.
- `drain URL N`: waits until N events are delivered (polling the database) and reports the rate and
  that every attempt was recorded.
- `offer URL RATE SECONDS`: writes events at RATE per second while a worker runs, sampling the oldest
  pending age (how long the most overdue due event has waited).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import uuid
from typing import Any

import aiohttp
import asyncpg
import orjson
from aiohttp import web

from bench.payin_seed import BENCH_SECRET_KEY
from gerbang.config import Settings
from gerbang.db import Database, asyncpg_dsn
from gerbang.events import service as events
from gerbang.kit.crypto import KeyRing, new_webhook_secret
from gerbang.kit.time import to_jakarta, utcnow
from gerbang.partner.service import create_partner
from gerbang.webhook.signing import signed_headers

PARTNERS = 20
CONCURRENCY = 50


def _payload(n: int) -> dict[str, Any]:
    order_id = uuid.uuid4()
    return {
        "orderId": str(order_id), "reference": f"INV-{n}", "status": "PAID", "settlementStatus": "PENDING",
        "grossAmount": 150_000, "fee": 3_250, "netAmount": 146_750, "qrPayload": "00020101021226" + "0" * 120,
        "paidAt": to_jakarta(utcnow()).isoformat(), "nonce": uuid.uuid4().hex,
    }  # fmt: skip


def receive(port: int) -> None:
    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hooks", ok)
    app.router.add_get("/healthz", ok)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def _database(url: str) -> Database:
    return await Database.connect(url, Settings(_env_file=None, database_pool_size=4))  # type: ignore[call-arg]


async def partners(url: str, receiver: str) -> dict[str, Any]:
    database = await _database(url)
    try:
        async with database.transaction() as connection:
            for n in range(PARTNERS):
                await create_partner(
                    connection, KeyRing([BENCH_SECRET_KEY]), name=f"Toko Webhook {n}", webhook_url=receiver,
                    require_https=False,
                )  # fmt: skip
            await connection.execute("UPDATE partners SET webhook_fifo = false WHERE webhook_url = $1", receiver)
        return {"partners": PARTNERS}
    finally:
        await database.dispose()


async def _receiver_partners(database: Database) -> list[uuid.UUID]:
    async with database.transaction() as connection:
        rows = await connection.fetch("SELECT id FROM partners WHERE name LIKE 'Toko Webhook %' ORDER BY name")
    return [row["id"] for row in rows]


async def fresh_events(url: str, count: int) -> dict[str, Any]:
    """Empties the queue and the attempt log, then writes `count` pending events."""
    database = await _database(url)
    try:
        async with database.transaction() as connection:
            await connection.execute("TRUNCATE webhook_events, webhook_attempts")
        started = time.perf_counter()
        await _write_events(database, await _receiver_partners(database), count)
        written_s = time.perf_counter() - started
        async with database.transaction() as connection:
            # A queue in service has statistics (autovacuum's analyze); a table filled a moment ago has none,
            # and the claim's plan then reads every pending row (33 ms a claim at 20,000 pending, 0.8 ms with).
            await connection.execute("ANALYZE webhook_events, partners")
        return {"events": count, "write_s": round(written_s, 2)}
    finally:
        await database.dispose()


async def _write_events(database: Database, partner_ids: list[uuid.UUID], count: int, batch: int = 500) -> None:
    for start in range(0, count, batch):
        async with database.transaction() as connection:
            for n in range(start, min(start + batch, count)):
                data = _payload(n)
                await events.webhook(
                    connection, partner_id=partner_ids[n % len(partner_ids)], event="payment.paid", data=data,
                    at=utcnow(), object_id=uuid.UUID(data["orderId"]),
                )  # fmt: skip


async def baseline(receiver: str, count: int) -> dict[str, Any]:
    secret = new_webhook_secret()
    bodies = [(str(uuid.uuid4()), orjson.dumps({"event": "payment.paid", **_payload(n)})) for n in range(count)]
    latencies: list[float] = []
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as session:

        async def send() -> None:
            while not queue.empty():
                event_id, body = queue.get_nowait()
                started = time.perf_counter()
                # Signed per attempt, as the worker does.
                headers = signed_headers(event_id, body, [secret], int(time.time()))
                async with session.post(receiver, data=body, headers=headers) as answer:
                    await answer.read()
                    assert answer.status == 200
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(send() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "deliveries": count, "throughput_per_s": round(count / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }  # fmt: skip


async def drain(url: str, count: int, timeout_s: float = 300) -> dict[str, Any]:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        first: float | None = None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            delivered = await connection.fetchval("SELECT count(*) FROM webhook_events WHERE status = 'delivered'")
            if first is None and delivered:
                first = time.perf_counter()
            if delivered >= count:
                break
            await asyncio.sleep(0.05)
        else:
            raise SystemExit(f"only {delivered} of {count} delivered within {timeout_s} s")
        # From the first delivery seen to the last: the worker's start-up is not delivery time.
        elapsed = time.perf_counter() - (first or time.perf_counter())
        span = await connection.fetchrow(
            "SELECT min(started_at) AS first, max(started_at + duration_ms * interval '1 millisecond') AS last,"
            " count(*) AS attempts, percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms) AS p99 FROM webhook_attempts"
        )
        recorded_s = (span["last"] - span["first"]).total_seconds()
        return {
            "deliveries": count, "attempts_recorded": span["attempts"],
            "throughput_per_s": round(count / recorded_s, 1), "observed_s": round(elapsed, 2),
            "p50_ms": float(span["p50"]), "p99_ms": float(span["p99"]),
        }  # fmt: skip
    finally:
        await connection.close()


async def offer(url: str, rate: int, seconds: float) -> dict[str, Any]:
    database = await _database(url)
    try:
        async with database.transaction() as connection:
            await connection.execute("TRUNCATE webhook_events, webhook_attempts")
        partner_ids = await _receiver_partners(database)
        tick = 0.02
        per_tick = max(1, round(rate * tick))
        ages: list[float] = []
        written = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            await _write_events(database, partner_ids, per_tick, batch=per_tick)
            written += per_tick
            async with database.transaction() as connection:
                oldest = await connection.fetchval(
                    "SELECT min(next_attempt_at) FROM webhook_events WHERE status = 'pending'"
                )
            ages.append(max(0.0, (utcnow() - oldest).total_seconds()) if oldest else 0.0)
            behind = started + written / rate - time.perf_counter()
            if behind > 0:
                await asyncio.sleep(behind)
        elapsed = time.perf_counter() - started
        ages.sort()
        return {
            "offered_per_s": round(written / elapsed, 1), "events": written,
            "oldest_pending_age_max_s": round(ages[-1], 3),
            "oldest_pending_age_p99_s": round(ages[int(len(ages) * 0.99)], 3),
            "oldest_pending_age_median_s": round(statistics.median(ages), 3),
        }  # fmt: skip
    finally:
        await database.dispose()


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "receive":
        receive(int(args[0]))
        return
    runners = {
        "partners": lambda: partners(args[0], args[1]),
        "events": lambda: fresh_events(args[0], int(args[1])),
        "baseline": lambda: baseline(args[0], int(args[1])),
        "drain": lambda: drain(args[0], int(args[1])),
        "offer": lambda: offer(args[0], int(args[1]), float(args[2])),
    }
    print(json.dumps(asyncio.run(runners[command]())))


if __name__ == "__main__":
    main()
