"""A broker outage while orders are being paid: the broker is stopped and, after a while, started again on the
same port. The API answers throughout (it only writes rows), the relay marks nothing published while the
broker is down, and once it is back every event arrives: none lost, each key's events in order (after
dropping repeats by `id`, as consumers do)."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from gerbang.db import Database
from tests.auth.people import Tenant
from tests.events.conftest import TOPICS, StartRelay, unpublished
from tests.fixtures.kafka import Collector, Tansu, wait_for
from tests.order.conftest import Post

OUTAGE_S = 4.0
AddAccount = Callable[..., Awaitable[dict[str, Any]]]


async def _published(database: Database) -> set[str]:
    async with database.connection() as connection:
        rows = await connection.fetch("SELECT event_id FROM outbox_events WHERE published_at IS NOT NULL")
    return {str(row["event_id"]) for row in rows}


class Payer:
    """Creates and pays orders one after another until stopped, timing each API call."""

    def __init__(self, post: Post, shop: Tenant, live: str) -> None:
        self.post, self.shop, self.live = post, shop, live
        self.calls: list[tuple[float, float, int]] = []
        """(when, seconds, status) of every call."""
        self.stop = asyncio.Event()

    async def run(self) -> None:
        async with httpx.AsyncClient(base_url=self.live, timeout=10) as sandbox:
            n = 0
            while not self.stop.is_set():
                n += 1
                started = time.monotonic()
                created = await self.post(self.shop, "/api/v1/payments", {"amount": 50_000 + n, "reference": f"O-{n}"})
                self.calls.append((started, time.monotonic() - started, created.status_code))
                if created.status_code == 201:
                    started = time.monotonic()
                    paid = await sandbox.post(f"/sandbox/orders/{created.json()['result']['orderId']}/pay")
                    self.calls.append((started, time.monotonic() - started, paid.status_code))
                await asyncio.sleep(0.05)


async def _stop_when_caught_up(tansu: Tansu, consumer: Collector, database: Database) -> None:
    """Stops the broker at a moment when the consumer has read everything the relay marked published: an
    in-memory broker forgets what it acknowledged, and that loss must not pass for the relay's."""
    for _ in range(100):
        tansu.pause()  # nothing more can be acknowledged...
        await asyncio.sleep(0.3)
        published = await _published(database)
        for _ in range(20):  # ...and what was is marked once two looks 0.3 s apart agree (slower under load)
            await asyncio.sleep(0.3)
            marked = await _published(database)
            if marked == published:
                break
            published = marked
        if published <= consumer.ids():
            tansu.stop()
            return
        tansu.resume()
        await asyncio.sleep(0.3)
    raise AssertionError("the consumer never caught up with the relay")


async def test_a_broker_outage_loses_nothing_and_the_api_keeps_answering(
    post: Post, shop: Tenant, live: str, add_account: AddAccount, database: Database, tansu: Tansu,
    start_relay: StartRelay,
) -> None:  # fmt: skip
    await add_account()
    payer = Payer(post, shop, live)
    with Collector(tansu.bootstrap, TOPICS) as consumer:
        registry = await start_relay()
        paying = asyncio.create_task(payer.run())
        await wait_for(lambda: len(consumer.ids()) >= 10, 20, "events flowing before the outage")

        await _stop_when_caught_up(tansu, consumer, database)
        down_at, published_when_down = time.monotonic(), await _published(database)
        await asyncio.sleep(OUTAGE_S)
        assert await _published(database) == published_when_down, "marked published while the broker was down"
        waiting_when_back = await unpublished(database)
        tansu.start()
        back_at = time.monotonic()
        await asyncio.sleep(1.0)
        payer.stop.set()
        await paying

        async def all_published() -> bool:
            return await unpublished(database) == 0

        await wait_for(all_published, 60, "every row published after the broker came back")
        async with database.connection() as connection:
            rows = await connection.fetch("SELECT event_id, key FROM outbox_events ORDER BY id")
        await wait_for(lambda: consumer.ids() >= {str(row["event_id"]) for row in rows}, 20, "every event consumed")

    during = [(seconds, status) for at, seconds, status in payer.calls if down_at <= at < back_at]
    assert len(during) >= 10, "orders were being paid during the outage"
    assert all(status in (200, 201) for _, status in during), during
    assert max(seconds for seconds, _ in during) < 2.0  # the API did not wait for Kafka
    assert waiting_when_back >= 10  # events of orders paid during the outage, waiting in the outbox
    assert (registry.get_sample_value("gerbang_outbox_relay_errors_total", {"stage": "delivery"}) or 0) > 0

    # Each key's events in outbox order, once repeats are dropped by id.
    expected: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        expected[row["key"]].append(str(row["event_id"]))
    seen: set[str] = set()
    read: dict[str, list[str]] = defaultdict(list)
    for message in list(consumer.messages):
        if message.envelope["id"] not in seen:
            seen.add(message.envelope["id"])
            read[message.key].append(message.envelope["id"])
    assert read == expected
