"""The alert sender: a worker loop that claims due alerts one at a time, sends each to Telegram and records
what came of it.

One alert is claimed at a time under a lease (`FOR UPDATE SKIP LOCKED`), so any number of workers share
the work and never send the same alert at once; alerts are few, and a claim per alert keeps every lease
short whatever Telegram does. A long alert is several messages: the parts sent are recorded as they go
(extending the lease), so a retry sends only the rest. Delivery is at least once: a sender that dies
between Telegram's answer and recording it leaves that one message to be sent again.

A network error, a timeout, a 5xx or a 429 is retried with exponential backoff and jitter (after a 429,
no sooner than Telegram's `retry_after`, and the loop itself pauses that long: the limit is the bot's,
not the alert's); after `max_attempts` tries, or once an alert is older than `max_age`, it is given up and
kept as `failed` with its last error. Any other answer is final at once. Alerts below `min_severity` are
marked `skipped`. Without a bot token and chat id the loop sends nothing, and alerts stay `pending`,
listed in the admin API.

Alerts are for people, so the loop polls (every `poll`) rather than holding a LISTEN connection open.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from pydantic import SecretStr

from gerbang.alerts import repository
from gerbang.alerts.metrics import AlertMetrics
from gerbang.alerts.telegram import AlertText, Answer, SendResult, TelegramBot, messages_of
from gerbang.config import Settings
from gerbang.db import Database
from gerbang.events.alerts import Severity
from gerbang.kit.http import client_session
from gerbang.kit.log import get_logger
from gerbang.kit.time import utcnow

log = get_logger("gerbang.alerts")

JITTER = 0.2
MIN_RETRY_AFTER = timedelta(seconds=1)
_ERROR_LIMIT = 500


@dataclass(frozen=True)
class TelegramTarget:
    base_url: str
    token: SecretStr
    chat_id: str


@dataclass(frozen=True)
class SenderSettings:
    min_severity: Severity = Severity.info
    max_attempts: int = 20
    max_age: timedelta = timedelta(hours=24)
    timeout: timedelta = timedelta(seconds=10)
    """How long Telegram has to answer one message."""
    lease: timedelta = timedelta(seconds=60)
    """Longer than one message can take (the timeout); renewed after every part of a long alert."""
    poll: timedelta = timedelta(seconds=2)
    backoff: timedelta = timedelta(seconds=5)
    """The wait after the first failed try; it doubles after each one, up to `backoff_cap`."""
    backoff_cap: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        if self.lease <= self.timeout:
            raise ValueError("the alert lease must be longer than the Telegram timeout")


class AlertSender:
    def __init__(
        self, database: Database, target: TelegramTarget | None, settings: SenderSettings | None = None,
        metrics: AlertMetrics | None = None,
    ) -> None:  # fmt: skip
        self.database = database
        self.target = target
        self.settings = settings or SenderSettings()
        self.metrics = metrics or AlertMetrics()
        self._rng = random.Random()  # noqa: S311 (retry jitter, not security)

    @classmethod
    def from_settings(cls, database: Database, settings: Settings, metrics: AlertMetrics | None = None) -> AlertSender:
        target = None
        if settings.telegram_bot_token is not None and settings.telegram_chat_id is not None:
            target = TelegramTarget(settings.telegram_base_url, settings.telegram_bot_token, settings.telegram_chat_id)
        sender_settings = SenderSettings(
            min_severity=Severity(settings.telegram_min_severity), max_attempts=settings.telegram_max_attempts,
            max_age=settings.telegram_max_age, timeout=settings.telegram_timeout,
            lease=settings.telegram_timeout * 2 + timedelta(seconds=30),
        )  # fmt: skip
        return cls(database, target, sender_settings, metrics)

    async def run(self, stop: asyncio.Event) -> None:
        if self.target is None:
            log.info("alerts.telegram_off", detail="no bot token and chat id: alerts are listed, not sent")
            await stop.wait()
            return
        async with client_session() as session:
            bot = TelegramBot(
                session, base_url=self.target.base_url, token=self.target.token, chat_id=self.target.chat_id,
                timeout=self.settings.timeout,
            )  # fmt: skip
            while not stop.is_set():
                claimed, pause = await self.send_next(bot)
                if pause is not None:
                    await _wait_or_stop(stop, pause)
                elif not claimed:
                    await _wait_or_stop(stop, self.settings.poll)

    async def send_next(self, bot: TelegramBot) -> tuple[bool, timedelta | None]:
        """Claims the next due alert and sends it; returns whether there was one, and how long to pause
        if Telegram asked us to wait."""
        now = utcnow()
        async with self.database.transaction() as connection:
            claimed = await repository.claim(connection, now=now, limit=1, lease_until=now + self.settings.lease)
        if not claimed:
            return False, None
        return True, await self._deliver(bot, claimed[0])

    async def measure(self) -> None:
        """Refreshes the undelivered gauge (the worker calls it every few seconds)."""
        async with self.database.transaction() as connection:
            self.metrics.undelivered.set(await repository.undelivered(connection))

    async def _deliver(self, bot: TelegramBot, row: asyncpg.Record) -> timedelta | None:
        lease: datetime | None = row["claimed_until"]
        assert lease is not None  # noqa: S101 (a claimed row has a lease)
        if Severity(row["severity"]).rank < self.settings.min_severity.rank:
            error = f"not sent: below GERBANG_TELEGRAM_MIN_SEVERITY ({self.settings.min_severity.value})"
            await self._settle(row, lease, "skipped", tried=0, parts_sent=row["parts_sent"], error=error)
            return None
        if utcnow() - row["created_at"] > self.settings.max_age:
            error = _given_up(f": not delivered within {_age(self.settings.max_age)}", row["last_error"])
            await self._settle(row, lease, "failed", tried=0, parts_sent=row["parts_sent"], error=error)
            return None
        messages = messages_of(
            AlertText(row["id"], row["kind"], row["severity"], row["partner_id"], row["created_at"], row["message"])
        )
        sent = row["parts_sent"]
        while sent < len(messages):
            result = await self._send(bot, row["id"], messages[sent])
            if result.answer is not Answer.sent:
                return await self._not_sent(row, lease, sent, result)
            sent += 1
            if sent < len(messages):
                async with self.database.transaction() as connection:
                    lease = await repository.progress(
                        connection, row["id"], lease=lease, parts_sent=sent, lease_until=utcnow() + self.settings.lease
                    )
                if lease is None:
                    log.warning("alerts.lease_lost", alert_id=row["id"], parts_sent=sent)
                    return None
        await self._settle(row, lease, "delivered", tried=1, parts_sent=sent, delivered_at=utcnow())
        log.info("alerts.delivered", alert_id=row["id"], parts=len(messages))
        return None

    async def _send(self, bot: TelegramBot, alert_id: int, text: str) -> SendResult:
        try:
            return await bot.send(text)
        except Exception as failure:  # whatever it was, it is recorded like a network error, without the token
            error = bot.scrub(f"{type(failure).__name__}: {failure}")[:_ERROR_LIMIT]
            log.error("alerts.send_crashed", alert_id=alert_id, error=error)
            return SendResult(Answer.retry, error=error)

    async def _not_sent(self, row: asyncpg.Record, lease: datetime, sent: int, result: SendResult) -> timedelta | None:
        attempts = row["attempts"] + 1
        error = result.error or "not sent"
        if result.answer is Answer.refused:
            log.error("alerts.refused", alert_id=row["id"], status_code=result.status_code, error=error)
            await self._settle(row, lease, "failed", tried=1, parts_sent=sent, error=error)
            return None
        asked = max(result.retry_after, MIN_RETRY_AFTER) if result.retry_after is not None else None
        wait = asked or self._backoff(attempts)
        next_at = utcnow() + wait
        if attempts >= self.settings.max_attempts or next_at - row["created_at"] > self.settings.max_age:
            log.error("alerts.gave_up", alert_id=row["id"], attempts=attempts, error=error)
            given_up = _given_up(f" after {attempts} tries", error)
            await self._settle(row, lease, "failed", tried=1, parts_sent=sent, error=given_up)
            return None
        log.warning("alerts.retry", alert_id=row["id"], attempts=attempts, error=error, wait_s=wait.total_seconds())
        await self._settle(row, lease, "pending", tried=1, parts_sent=sent, error=error, next_at=next_at)
        return asked

    def _backoff(self, attempts: int) -> timedelta:
        base: timedelta = min(self.settings.backoff * 2 ** (attempts - 1), self.settings.backoff_cap)
        return base * (1 + self._rng.uniform(-JITTER, JITTER))

    async def _settle(
        self, row: asyncpg.Record, lease: datetime, status: str, *, tried: int, parts_sent: int,
        error: str | None = None, next_at: datetime | None = None, delivered_at: datetime | None = None,
    ) -> None:  # fmt: skip
        async with self.database.transaction() as connection:
            settled = await repository.settle(
                connection, row["id"], lease=lease, status=status, tried=tried, parts_sent=parts_sent,
                next_at=next_at, error=error, delivered_at=delivered_at,
            )  # fmt: skip
        if not settled:
            log.warning("alerts.lease_lost", alert_id=row["id"], status=status)
            return
        self.metrics.deliveries.labels("retry" if status == "pending" else status).inc()


def _given_up(why: str, error: str | None) -> str:
    return (f"gave up{why}; last error: {error}" if error else f"gave up{why}")[:_ERROR_LIMIT]


def _age(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} h" if hours >= 1 else f"{span.total_seconds():g} s"


async def _wait_or_stop(stop: asyncio.Event, span: timedelta) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=span.total_seconds())
