"""A partner's receiver over real HTTP on 127.0.0.1, partners pointed at it, and the delivery worker run in
the test's event loop against the test database."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from gerbang.config import Settings
from gerbang.db import Database, asyncpg_dsn
from gerbang.events import service as events
from gerbang.kit.crypto import KeyRing
from gerbang.kit.time import utcnow
from gerbang.partner.service import CreatedPartner, create_partner
from gerbang.webhook.worker import DeliverySettings, DeliveryWorker
from tests.fixtures.app import TEST_SECRET_KEY
from tests.helpers import free_port

Answer = tuple[int, dict[str, str]]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Answers each request with the next planned answer (then `default`), and records what arrived."""

    url: str
    plan: list[Answer] = field(default_factory=list)
    default: Answer = (200, {})
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.received]


@asynccontextmanager
async def receiver_at(path: str = "/hooks") -> AsyncIterator[Receiver]:
    port = free_port()
    receiver = Receiver(url=f"http://127.0.0.1:{port}{path}")

    async def handle(request: web.Request) -> web.Response:
        receiver.in_flight += 1
        receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
        try:
            receiver.received.append(Received(dict(request.headers), await request.read(), time.monotonic()))
            if receiver.delay_s:
                await asyncio.sleep(receiver.delay_s)
            status, headers = receiver.plan.pop(0) if receiver.plan else receiver.default
            return web.Response(status=status, headers=headers, text=f"answer {status}")
        finally:
            receiver.in_flight -= 1

    app = web.Application()
    app.router.add_post(path, handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield receiver
    finally:
        await runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiver_at() as started:
        yield started


MakePartner = Callable[..., Awaitable[CreatedPartner]]


@pytest.fixture
def make_partner(database: Database) -> MakePartner:
    async def make(url: str | None, *, fifo: bool = True, events_wanted: list[str] | None = None) -> CreatedPartner:
        async with database.transaction() as connection:
            created = await create_partner(
                connection, KeyRing([TEST_SECRET_KEY]), name=f"Toko {uuid.uuid4().hex[:6]}", webhook_url=url,
                require_https=False,
            )  # fmt: skip
            await connection.execute(
                "UPDATE partners SET webhook_fifo = $2, webhook_events = $3 WHERE id = $1",
                created.partner_id, fifo, events_wanted or [],
            )  # fmt: skip
        return created

    return make


Emit = Callable[..., Awaitable[list[uuid.UUID]]]


@pytest.fixture
def emit(database: Database) -> Emit:
    async def send(partner_id: uuid.UUID, count: int = 1, event: str = "payment.paid") -> list[uuid.UUID]:
        ids = []
        async with database.transaction() as connection:
            for n in range(count):
                order_id = uuid.uuid4()
                ids.append(
                    await events.webhook(
                        connection, partner_id=partner_id, event=event, at=utcnow(), object_id=order_id,
                        data={"orderId": str(order_id), "reference": f"R-{n}", "status": "PAID", "n": n},
                    )
                )  # fmt: skip
        return ids

    return send


StartWorker = Callable[..., Any]


@pytest.fixture
async def start_worker(database: Database, settings: Settings) -> AsyncIterator[StartWorker]:
    """`async with start_worker() as worker:` runs a delivery worker until the block ends."""
    stops: list[asyncio.Event] = []

    @asynccontextmanager
    async def start(**options: Any) -> AsyncIterator[DeliveryWorker]:
        defaults: dict[str, Any] = {"poll": timedelta(milliseconds=200), "timeout": timedelta(seconds=3)}
        worker = DeliveryWorker(
            database, KeyRing([TEST_SECRET_KEY]), asyncpg_dsn(settings.database_url.get_secret_value()),  # type: ignore[union-attr]
            DeliverySettings(**(defaults | options)),
        )  # fmt: skip
        stop = asyncio.Event()
        stops.append(stop)
        task = asyncio.create_task(worker.run(stop))
        try:
            yield worker
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=15)

    yield start
    for stop in stops:
        stop.set()


async def wait_for(check: Callable[[], Awaitable[bool]], timeout_s: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        await asyncio.sleep(0.05)


async def statuses(database: Database, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    async with database.transaction() as connection:
        rows = await connection.fetch("SELECT id, status FROM webhook_events WHERE id = ANY($1)", ids)
    return {row["id"]: row["status"] for row in rows}
