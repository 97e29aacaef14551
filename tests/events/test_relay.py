"""The relay against a real broker: outbox order per key, marked only once acknowledged, one relay at a time,
a refused message holding back its own key only, the lag gauge, the real `gerbang worker` process; and no
relay at all without Kafka."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from prometheus_client import CollectorRegistry

from gerbang.config import Settings
from gerbang.db import Database, asyncpg_dsn
from gerbang.events import service as events
from gerbang.kit.time import utcnow
from gerbang.worker.main import worker_loops
from gerbang.worker.outbox import relay_loops
from tests.events.conftest import TOPICS, StartRelay, unpublished, write_events
from tests.fixtures.kafka import Collector, Received, Tansu, wait_for
from tests.helpers import GERBANG, clean_env


async def _rows(database: Database) -> list[dict[str, object]]:
    async with database.connection() as connection:
        rows = await connection.fetch("SELECT * FROM outbox_events ORDER BY id")
    return [dict(row) for row in rows]


def _by_key(messages: list[Received]) -> dict[str, list[str]]:
    ids: dict[str, list[str]] = defaultdict(list)
    for message in messages:
        ids[message.key].append(message.envelope["id"])
    return ids


async def test_rows_are_published_in_outbox_order_per_key_and_marked_once_acknowledged(
    database: Database, tansu: Tansu, start_relay: StartRelay
) -> None:
    keys = [str(uuid.uuid4()) for _ in range(7)]
    await write_events(database, keys, per_key=40)  # 280 rows, batches of 50
    with Collector(tansu.bootstrap, TOPICS) as consumer:
        registry = await start_relay()
        await wait_for(lambda: len(consumer.messages) >= 280, 20, "every event consumed")
        await wait_for(lambda: _all_published(database), 10, "every row marked published")
    rows = await _rows(database)
    assert len(consumer.messages) == 280  # each once
    expected: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        expected[str(row["key"])].append(str(row["event_id"]))
    assert _by_key(consumer.messages) == expected  # in outbox order within each key
    first, row = (
        consumer.messages[0],
        next(r for r in rows if str(r["event_id"]) == consumer.messages[0].envelope["id"]),
    )
    assert first.topic == "payments.v1"
    assert first.envelope == {
        "event": "payment.completed", "version": 1, "id": str(row["event_id"]),
        "occurred_at": first.envelope["occurred_at"], "data": row["data"],
    }  # fmt: skip
    assert datetime.fromisoformat(first.envelope["occurred_at"]) == row["occurred_at"]
    assert first.envelope["occurred_at"].endswith("+07:00")  # like every timestamp partners get
    assert registry.get_sample_value("gerbang_outbox_published_total") == 280


async def _all_published(database: Database) -> bool:
    return await unpublished(database) == 0


async def test_two_workers_relay_one_at_a_time(database: Database, tansu: Tansu, start_relay: StartRelay) -> None:
    keys = [str(uuid.uuid4()) for _ in range(5)]
    with Collector(tansu.bootstrap, TOPICS) as consumer:
        first, second = await start_relay(), await start_relay()
        await write_events(database, keys, per_key=60)
        await wait_for(lambda: _all_published(database), 20, "every row marked published")
        await wait_for(lambda: len(consumer.messages) >= 300, 10, "every event consumed")
    # One relay published all of it (the other stood by on the lock); nothing twice.
    counts = sorted(r.get_sample_value("gerbang_outbox_published_total") or 0 for r in (first, second))
    assert counts == [0, 300]
    assert len(consumer.messages) == len(consumer.ids()) == 300


async def test_a_message_the_producer_refuses_holds_back_its_own_key_only(
    database: Database, tansu: Tansu, start_relay: StartRelay, kafka_settings: Settings
) -> None:
    big, small = str(uuid.uuid4()), str(uuid.uuid4())
    async with database.transaction() as connection:
        await events.outbox(connection, topic="payments.v1", key=big, event="payment.created",
                            data={"padding": "x" * 3_000_000}, at=utcnow())  # fmt: skip
    await write_events(database, [big, small], per_key=3)
    with Collector(tansu.bootstrap, TOPICS) as consumer:
        registry = await start_relay()
        await wait_for(lambda: len(consumer.messages) >= 3, 15, "the other key's events")
        refusals = {"stage": "produce"}
        await wait_for(lambda: bool(registry.get_sample_value("gerbang_outbox_relay_errors_total", refusals)), 5,
                       "the refusal counted")  # fmt: skip
    assert {message.key for message in consumer.messages} == {small}
    async with database.connection() as connection:
        waiting = await connection.fetch("SELECT key FROM outbox_events WHERE published_at IS NULL")
    assert [row["key"] for row in waiting] == [big] * 4  # the refused one and the three behind it, unpublished
    assert registry.get_sample_value("gerbang_outbox_published_total") == 3


async def test_the_lag_gauge_is_the_oldest_unpublished_age(database: Database, start_relay: StartRelay) -> None:
    async with database.transaction() as connection:
        await events.outbox(connection, topic="payments.v1", key="k", event="payment.created", data={},
                            at=datetime(2020, 1, 1, tzinfo=UTC))  # fmt: skip
        # Stamped old, so the relay's first pass cannot publish it before the gauge is read: not a real topic.
        await connection.execute("UPDATE outbox_events SET topic = 'not a valid topic name!'")
    registry = await start_relay()
    await wait_for(lambda: (registry.get_sample_value("gerbang_outbox_lag_seconds") or 0) > 0, 10, "lag measured")
    lag = registry.get_sample_value("gerbang_outbox_lag_seconds") or 0
    assert abs(lag - (utcnow() - datetime(2020, 1, 1, tzinfo=UTC)).total_seconds()) < 60


def test_without_kafka_the_worker_runs_no_relay(database: Database, settings: Settings, database_url: str) -> None:
    assert not settings.kafka_enabled
    assert relay_loops(database, settings, asyncpg_dsn(database_url), CollectorRegistry()) == []
    assert not any(
        loop.name.startswith("outbox.") for loop in worker_loops(database, settings, database_url, CollectorRegistry())
    )


def test_the_worker_process_relays_and_stops_on_sigterm(tmp_path: Path, database_url: str, tansu: Tansu) -> None:
    asyncio.run(_write_in_new_loop(database_url, 20))
    env = clean_env(GERBANG_DATABASE_URL=database_url, GERBANG_KAFKA_BOOTSTRAP_SERVERS=tansu.bootstrap)
    log_path = tmp_path / "worker.log"
    with Collector(tansu.bootstrap, TOPICS) as consumer, log_path.open("wb") as log:
        worker = subprocess.Popen([*GERBANG, "worker"], env=env, cwd=tmp_path, stderr=log)
        try:
            deadline = time.monotonic() + 30
            while len(consumer.ids()) < 20:
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.05)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=15)
    assert worker.returncode == 0, log_path.read_text()[-3000:]
    assert '"event":"outbox.relay_leading"' in log_path.read_text()


async def _write_in_new_loop(database_url: str, count: int) -> None:
    """Rows written from a loop of this test's own (the fixture's pool belongs to another loop)."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        for n in range(count):
            await connection.execute(
                "INSERT INTO outbox_events (event_id, topic, key, event, data, occurred_at) "
                "VALUES ($1, 'payments.v1', $2, 'payment.created', '{}', now())", uuid.uuid4(), f"order-{n % 3}",
            )  # fmt: skip
    finally:
        await connection.close()
