"""The relay as `gerbang worker` runs it (its loops from `relay_loops`), against the test's tansu broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry

from gerbang.config import Settings
from gerbang.db import Database, asyncpg_dsn
from gerbang.events import service as events
from gerbang.kit.time import utcnow
from gerbang.worker.outbox import relay_loops
from gerbang.worker.runner import run_loops
from tests.fixtures.kafka import Tansu
from tests.order.conftest import post  # noqa: F401 (fixtures, re-exported)
from tests.withdrawal.conftest import add_account, admin, fund, live, s2s, sandbox_account, shop  # noqa: F401

TOPICS = ["payments.v1", "withdraws.v1", "settlements.v1"]


@pytest.fixture
def kafka_settings(settings: Settings, tansu: Tansu) -> Settings:
    return settings.model_copy(
        update={
            "kafka_bootstrap_servers": tansu.bootstrap, "kafka_topic_partitions": 3,
            "kafka_delivery_timeout": timedelta(seconds=3), "kafka_batch_size": 50,
        }
    )  # fmt: skip


StartRelay = Callable[..., Awaitable[CollectorRegistry]]


@pytest.fixture
async def start_relay(database: Database, database_url: str, kafka_settings: Settings) -> AsyncIterator[StartRelay]:
    """Starts the worker's relay loops (as many workers as asked); they stop when the test ends."""
    stop = asyncio.Event()
    tasks: list[asyncio.Task[bool]] = []

    async def start(settings: Settings | None = None) -> CollectorRegistry:
        registry = CollectorRegistry()
        loops = relay_loops(database, settings or kafka_settings, asyncpg_dsn(database_url), registry)
        assert [loop.name for loop in loops] == ["outbox.relay", "outbox.measure"]
        tasks.append(asyncio.create_task(run_loops(loops, stop, timedelta(seconds=8))))
        return registry

    yield start
    stop.set()
    assert all(await asyncio.gather(*tasks)), "a relay loop did not stop within the grace"


async def write_events(database: Database, keys: list[str], per_key: int, topic: str = "payments.v1") -> None:
    """`per_key` events for each key, interleaved across keys, written as the domain writes them."""
    async with database.transaction() as connection:
        for n in range(per_key):
            for key in keys:
                await events.outbox(
                    connection, topic=topic, key=key, event="payment.completed", data={"orderId": key, "n": n},
                    at=utcnow(),
                )  # fmt: skip


async def unpublished(database: Database) -> int:
    async with database.connection() as connection:
        return int(await connection.fetchval("SELECT count(*) FROM outbox_events WHERE published_at IS NULL"))
