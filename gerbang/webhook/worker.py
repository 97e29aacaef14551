"""The delivery worker: claims due webhook events, sends them, records every attempt.

One claim loop keeps up to `concurrency` attempts in flight. It wakes on `LISTEN gerbang_webhooks` (a
trigger notifies when new events commit), when an attempt finishes, and at least every `poll` as a safety
net (retries fall due without anyone notifying). Results go to a recorder that writes them in batches: one
transaction per batch, not per delivery, which is what lets a 2-core machine record thousands of attempts
a second. A crash loses at most the unwritten batch: those events' leases run out and they are sent
again, with the same `webhook-id`, so the receiver can tell.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import asyncpg

from gerbang.db import Database
from gerbang.events import alerts
from gerbang.kit.crypto import KeyRing
from gerbang.kit.http import client_session
from gerbang.kit.log import get_logger
from gerbang.kit.tasks import cancel_and_wait
from gerbang.kit.time import utcnow
from gerbang.partner.service import webhook_secret_context
from gerbang.webhook import repository
from gerbang.webhook.metrics import WebhookMetrics
from gerbang.webhook.policy import Outcome, classify, next_wait, retry_after
from gerbang.webhook.signing import signed_headers

log = get_logger("gerbang.webhooks")

NOTIFY_CHANNEL = "gerbang_webhooks"
DEAD_STREAK_LIMIT = 20
"""Events dead-lettered in a row before an endpoint is disabled."""
RESPONSE_KEPT = 2048
_CLAIM_BATCH = 200


@dataclass(frozen=True)
class DeliverySettings:
    concurrency: int = 64
    timeout: timedelta = timedelta(seconds=10)
    lease: timedelta = timedelta(seconds=60)
    """Longer than an attempt can take (the timeout), so a live worker's lease never runs out under it."""
    poll: timedelta = timedelta(seconds=1)
    flush_every: timedelta = timedelta(milliseconds=20)

    def __post_init__(self) -> None:
        if self.lease <= self.timeout:
            raise ValueError("the webhook lease must be longer than the webhook timeout")


@dataclass
class _Result:
    claim: asyncpg.Record
    started_at: datetime
    duration_ms: int
    status_code: int | None
    response_body: str | None
    error: str | None
    outcome: Outcome
    next_at: datetime | None
    finished_at: datetime = field(default_factory=utcnow)


class DeliveryWorker:
    def __init__(
        self, database: Database, key_ring: KeyRing, dsn: str, settings: DeliverySettings | None = None,
        metrics: WebhookMetrics | None = None,
    ) -> None:  # fmt: skip
        self.database = database
        self.metrics = metrics or WebhookMetrics()
        self.key_ring = key_ring
        self.dsn = dsn
        self.settings = settings or DeliverySettings()
        self._wake = asyncio.Event()
        self._results: list[_Result] = []
        self._results_ready = asyncio.Event()
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()  # held so the loop's weak references do not lose them
        self._rng = random.Random()  # noqa: S311 (retry jitter, not security)

    async def run(self, stop: asyncio.Event) -> None:
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout.total_seconds())
        connector = aiohttp.TCPConnector(limit=self.settings.concurrency, limit_per_host=0)
        async with client_session(timeout=timeout, connector=connector) as session:
            listener = asyncio.create_task(self._listen(stop), name="webhooks.listen")
            recorder = asyncio.create_task(self._record_until(stop), name="webhooks.record")
            try:
                await self._claim_until(stop, session)
            finally:
                # In-flight attempts finish (within the timeout) and are recorded before we go.
                if self._tasks:
                    await asyncio.wait(set(self._tasks))
                self._results_ready.set()
                await recorder
                await cancel_and_wait(listener)

    async def _listen(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                connection = await asyncpg.connect(self.dsn)
                try:
                    await connection.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
                    self._wake.set()  # anything committed while we were not listening
                    await stop.wait()
                finally:
                    await connection.close()
            except (OSError, asyncpg.PostgresError):
                log.warning("webhooks.listen_failed")  # the poll still finds the work; retry shortly
                await asyncio.sleep(1)

    async def _claim_until(self, stop: asyncio.Event, session: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            free = self.settings.concurrency - self._in_flight
            claimed: list[asyncpg.Record] = []
            if free > 0:
                self._wake.clear()
                claimed, secrets = await self._claim(min(free, _CLAIM_BATCH))
                for row in claimed:
                    self._in_flight += 1
                    task = asyncio.create_task(self._attempt(session, row, secrets[row["partner_id"]]))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            if claimed and len(claimed) == min(free, _CLAIM_BATCH):
                await asyncio.sleep(0)  # more may be due: claim again as soon as slots allow
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wait_for_work(stop), timeout=self.settings.poll.total_seconds())

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    async def _claim(self, limit: int) -> tuple[list[asyncpg.Record], dict[uuid.UUID, list[str]]]:
        now = utcnow()
        async with self.database.transaction() as connection:
            claimed = await repository.claim(connection, now=now, limit=limit, lease_until=now + self.settings.lease)
            rows = await repository.secrets_of(connection, list({row["partner_id"] for row in claimed}))
        secrets: dict[uuid.UUID, list[str]] = {}
        for row in rows:
            context = webhook_secret_context(row["id"])
            current = [self.key_ring.decrypt(row["webhook_secret_encrypted"], context=context)]
            expires = row["previous_webhook_secret_expires_at"]
            if row["previous_webhook_secret_encrypted"] is not None and expires is not None and expires > now:
                current.append(self.key_ring.decrypt(row["previous_webhook_secret_encrypted"], context=context))
            secrets[row["id"]] = current
        return claimed, secrets

    async def _attempt(self, session: aiohttp.ClientSession, claim: asyncpg.Record, secrets: list[str]) -> None:
        started_at = utcnow()
        started = time.perf_counter()
        body = claim["body"].encode()
        headers = signed_headers(str(claim["id"]), body, secrets, int(time.time()))
        status_code: int | None = None
        response_body: str | None = None
        error: str | None = None
        asked: timedelta | None = None
        try:
            async with session.post(claim["webhook_url"], data=body, headers=headers, allow_redirects=False) as answer:
                status_code = answer.status
                response_body = (await answer.content.read(RESPONSE_KEPT)).decode("utf-8", errors="replace")
                asked = retry_after(answer.headers.get("Retry-After"), utcnow())
        except TimeoutError:
            error = f"no answer within {self.settings.timeout.total_seconds():g} s"
        except aiohttp.ClientError as failure:
            error = f"{type(failure).__name__}: {failure}"[:500]
        except Exception as failure:  # an attempt must always be recorded, whatever went wrong
            error = f"{type(failure).__name__}"
            log.exception("webhooks.attempt_crashed", event_id=str(claim["id"]))
        duration_ms = int((time.perf_counter() - started) * 1000)
        outcome = classify(status_code)
        next_at = None
        if outcome is Outcome.retry:
            wait = next_wait(claim["round_attempts"], asked, self._rng)
            if wait is None:
                outcome = Outcome.dead  # the schedule is spent
            else:
                next_at = utcnow() + wait
        self.metrics.record_attempt(outcome.value, duration_ms / 1000)
        self._results.append(
            _Result(claim, started_at, duration_ms, status_code, response_body, error, outcome, next_at)
        )
        self._results_ready.set()
        self._in_flight -= 1
        self._wake.set()  # a slot is free

    async def _record_until(self, stop: asyncio.Event) -> None:
        while not (stop.is_set() and not self._in_flight and not self._results):
            await self._results_ready.wait()
            self._results_ready.clear()
            await asyncio.sleep(self.settings.flush_every.total_seconds())  # let a batch gather
            batch, self._results = self._results, []
            if batch:
                try:
                    await self._record(batch)
                except Exception:
                    # Not recorded: the leases run out and the events go again (same webhook-id).
                    log.exception("webhooks.record_failed", attempts=len(batch))

    async def _record(self, batch: list[_Result]) -> None:
        now = utcnow()
        attempts = [
            {
                "event_id": r.claim["id"], "partner_id": r.claim["partner_id"], "attempt": r.claim["attempts"],
                "url": r.claim["webhook_url"], "started_at": r.started_at, "duration_ms": r.duration_ms,
                "status_code": r.status_code, "response_body": r.response_body, "error": r.error,
                "outcome": r.outcome.value,
            }
            for r in batch
        ]  # fmt: skip
        events = [
            {
                "event_id": r.claim["id"], "lease": r.claim["claimed_until"],
                "status": {Outcome.delivered: "delivered", Outcome.retry: "pending"}.get(r.outcome, "dead"),
                "next_at": r.next_at, "status_code": r.status_code, "error": r.error,
                "delivered_at": r.finished_at if r.outcome is Outcome.delivered else None,
            }
            for r in batch
        ]  # fmt: skip
        async with self.database.transaction() as connection:
            await repository.record_attempts(connection, attempts)
            settled = await repository.settle_events(connection, events)
            await self._keep_score(connection, [r for r in batch if r.claim["id"] in settled], now)

    async def measure_queue(self) -> None:
        """Refreshes the queue gauges (the worker calls it every few seconds)."""
        async with self.database.transaction() as connection:
            state = await repository.queue_state(connection)
        self.metrics.queue_depth.set(state["depth"])
        overdue = (utcnow() - state["oldest"]).total_seconds() if state["oldest"] is not None else 0.0
        self.metrics.oldest_pending_age.set(max(overdue, 0.0))

    async def _keep_score(self, connection: Any, batch: list[_Result], now: datetime) -> None:
        """Dead-letter streaks per endpoint: a delivery resets it; 20 in a row, or a 410, disable it."""
        by_partner: dict[uuid.UUID, list[_Result]] = defaultdict(list)
        for result in sorted(batch, key=lambda r: r.finished_at):
            by_partner[result.claim["partner_id"]].append(result)
        delivered_only = []
        for partner_id, results in by_partner.items():
            outcomes = [r.outcome for r in results]
            if Outcome.gone in outcomes:
                await self._disable(connection, partner_id, "the endpoint answered 410 Gone", now)
            trailing_dead = 0
            for outcome in reversed(outcomes):
                if outcome is Outcome.delivered:
                    break
                trailing_dead += outcome in (Outcome.dead, Outcome.gone)
            delivered = Outcome.delivered in outcomes
            if trailing_dead == 0:
                if delivered:
                    delivered_only.append(partner_id)
                continue
            row = await repository.add_to_streak(connection, partner_id, reset=delivered, dead=trailing_dead)
            if row["webhook_dead_streak"] >= DEAD_STREAK_LIMIT and row["webhook_disabled_at"] is None:
                reason = f"{row['webhook_dead_streak']} events in a row could not be delivered"
                await self._disable(connection, partner_id, reason, now)
        if delivered_only:
            await repository.reset_streaks(connection, delivered_only)

    async def _disable(self, connection: Any, partner_id: uuid.UUID, reason: str, now: datetime) -> None:
        if await repository.disable_endpoint(connection, partner_id, reason, now):
            log.warning("webhooks.endpoint_disabled", partner_id=str(partner_id), reason=reason)
            await alerts.raise_alert(
                connection, kind="webhook_endpoint_disabled", partner_id=partner_id,
                message=f"Webhooks to partner {partner_id} are disabled: {reason}", now=now,
            )  # fmt: skip
