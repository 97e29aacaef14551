"""A local fake of the Telegram Bot API over real HTTP on 127.0.0.1 (it records every `sendMessage` and
answers with a plan), alerts written as the code writes them, and the sender run in the test's event loop."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from gerbang.alerts.delivery import AlertSender, SenderSettings, TelegramTarget
from gerbang.alerts.metrics import AlertMetrics
from gerbang.db import Database
from gerbang.events.alerts import Severity, raise_alert
from gerbang.kit.time import utcnow
from tests.helpers import free_port

BOT_TOKEN = "7012345678:AAFake-Token_for_tests_0123456789abcdef"
CHAT_ID = "-1001234567890"
OK: tuple[int, dict[str, Any]] = (200, {"ok": True, "result": {"message_id": 1}})

Answer = tuple[int, dict[str, Any]]


@dataclass
class Sent:
    token: str
    body: dict[str, Any]
    at: float

    @property
    def text(self) -> str:
        return str(self.body["text"])

    @property
    def alert_id(self) -> int:
        """The alert a message belongs to, read from its first line (`... · alert #12` or `alert #12 · ...`)."""
        first = self.text.split("\n", 1)[0]
        return int(first.split("alert #", 1)[1].split(" ", 1)[0])


@dataclass
class FakeTelegram:
    """Answers each `sendMessage` with the next planned answer (then `default`); a wrong token gets 401."""

    base_url: str
    token: str = BOT_TOKEN
    plan: list[Answer] = field(default_factory=list)
    default: Answer = OK
    delay_s: float = 0.0
    received: list[Sent] = field(default_factory=list)

    def texts(self) -> list[str]:
        return [sent.text for sent in self.received]


@asynccontextmanager
async def fake_telegram_at() -> AsyncIterator[FakeTelegram]:
    port = free_port()
    fake = FakeTelegram(base_url=f"http://127.0.0.1:{port}")

    async def send_message(request: web.Request) -> web.Response:
        if request.match_info["token"] != fake.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        fake.received.append(Sent(request.match_info["token"], await request.json(), time.monotonic()))
        if fake.delay_s:
            await asyncio.sleep(fake.delay_s)
        status, body = fake.plan.pop(0) if fake.plan else fake.default
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_post("/bot{token}/sendMessage", send_message)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield fake
    finally:
        await runner.cleanup()


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with fake_telegram_at() as fake:
        yield fake


def target_of(telegram: FakeTelegram, base_url: str | None = None) -> TelegramTarget:
    return TelegramTarget(base_url or telegram.base_url, SecretStr(BOT_TOKEN), CHAT_ID)


StartSender = Callable[..., Any]


@pytest.fixture
async def start_sender(database: Database) -> AsyncIterator[StartSender]:
    """`async with start_sender(target) as sender:` runs an alert sender until the block ends (quick retries
    and polls, so tests need not wait)."""
    stops: list[asyncio.Event] = []

    @asynccontextmanager
    async def start(target: TelegramTarget | None, **options: Any) -> AsyncIterator[AlertSender]:
        defaults: dict[str, Any] = {
            "poll": timedelta(milliseconds=50), "timeout": timedelta(seconds=2), "lease": timedelta(seconds=5),
            "backoff": timedelta(milliseconds=50),
        }  # fmt: skip
        sender = AlertSender(database, target, SenderSettings(**(defaults | options)), AlertMetrics())
        stop = asyncio.Event()
        stops.append(stop)
        task = asyncio.create_task(sender.run(stop))
        try:
            yield sender
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=15)

    yield start
    for stop in stops:
        stop.set()


Raise = Callable[..., Awaitable[int]]


@pytest.fixture
def raise_one(database: Database) -> Raise:
    """Writes one alert in its own transaction, as the code does; returns its id."""

    async def write(
        kind: str = "withdrawal_contradicted", message: str = "Withdrawal W-1 is COMPLETED; the provider says failed",
        *, partner_id: uuid.UUID | None = None, now: datetime | None = None, severity: Severity | None = None,
    ) -> int:  # fmt: skip
        async with database.transaction() as connection:
            return await raise_alert(
                connection, kind=kind, partner_id=partner_id, message=message, now=now or utcnow(), severity=severity
            )

    return write


async def wait_for(check: Callable[[], Awaitable[bool]], timeout_s: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        await asyncio.sleep(0.02)


async def row(database: Database, alert_id: int) -> dict[str, Any]:
    async with database.transaction() as connection:
        found = await connection.fetchrow("SELECT * FROM alerts WHERE id = $1", alert_id)
    assert found is not None
    return dict(found)


async def status_is(database: Database, alert_id: int, status: str) -> bool:
    return bool((await row(database, alert_id))["status"] == status)
