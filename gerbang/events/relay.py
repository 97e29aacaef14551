"""The outbox relay: publishes `outbox_events` rows to Kafka in outbox order and marks them published once
the broker has acknowledged them (docs/events.md).

Ordering. One relay publishes at a time in the whole cluster: the worker holding the session advisory lock
`gerbang.outbox_relay` (on a connection of its own; PostgreSQL releases it if that session ends, and a
standby worker takes over within `standby_poll`). We chose one publisher over `FOR UPDATE SKIP LOCKED`
claims: two relays claiming disjoint rows would publish one key's events in whichever order their sends
finished. With one publisher, rows go to the producer in `id` order, and the idempotent producer keeps a
partition's messages in that order through its retries. Every writer of a key's events holds that
aggregate's row lock (orders, withdrawals) or the job's lock (settlement), so a key's rows commit in `id`
order: a row committing late with a lower id is always another key's, and is picked up by the next scan
from the start (the relay rescans from the oldest unpublished row whenever nothing is in flight).

Delivery. At least once: a row is marked published only after its delivery report said the broker has it
(acks=all); a crash, a lost lock or an error before the mark sends it again, with the same `id`. Rows are
read a batch at a time, up to `PIPELINE` batches in flight. The marks are written by a task of their own
while the loop reads and sends (the UPDATE is the relay's costliest step): one UPDATE per batch, or one for
several when acknowledgements arrive faster; the loop waits for the marks when they fall behind.

Failures. A message not acknowledged within `GERBANG_KAFKA_DELIVERY_TIMEOUT` ends the producer: queued
messages are withdrawn, those in flight get their reports, the acknowledged ones are marked, and after a
pause (exponential with jitter, while nothing gets through) a new producer starts again from the oldest
unpublished row. A new producer is also what recovers from a broker that lost its producer state (the
test broker's restart). A message librdkafka refuses outright (larger than `message.max.bytes`) stays
unpublished and holds its key back for the producer's life: the key's later events wait behind it, every
other key goes on; `gerbang_outbox_lag_seconds` shows it. The API never waits for any of this: it only
writes rows.

librdkafka is synchronous C with threads of its own. `produce()` only queues (a few microseconds), so it
runs on the event loop in chunks with a yield between; delivery reports are served by `poll()` on a
thread of the relay's, which hands each finished batch back to the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import asyncpg
import orjson
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from gerbang.config import Settings
from gerbang.db import Database
from gerbang.events import outbox
from gerbang.events.kafka import (
    TopicPolicy,
    TopicsNotCreated,
    client_config,
    create_topics,
    producer_config,
    topic_policy,
)
from gerbang.events.metrics import RelayMetrics
from gerbang.kit.log import get_logger
from gerbang.kit.time import utcnow

log = get_logger("gerbang.outbox")

NOTIFY_CHANNEL = "gerbang_outbox"
PIPELINE = 4
"""Batches sent and not yet acknowledged: reading and marking overlap with the broker's work."""
_CHUNK = 250
"""Messages queued between two yields to the event loop (about a millisecond of work)."""
_BROKER_LOG_EVERY_S = 30.0


@dataclass(frozen=True)
class RelaySettings:
    topics: TopicPolicy
    batch_size: int = 1000
    delivery_timeout: timedelta = timedelta(seconds=30)
    poll: timedelta = timedelta(seconds=1)
    """The safety net when no notification arrives (a notification wakes the relay at once)."""
    standby_poll: timedelta = timedelta(seconds=5)
    """How often a worker that is not the relay tries to become it."""
    backoff: timedelta = timedelta(milliseconds=500)
    backoff_max: timedelta = timedelta(seconds=30)
    stop_timeout: timedelta = timedelta(seconds=3)
    """On shutdown, how long messages in flight get to be acknowledged (then they go again next time)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> RelaySettings:
        return cls(topic_policy(settings), settings.kafka_batch_size, settings.kafka_delivery_timeout)


def _event_id(row: asyncpg.Record) -> str:
    """The envelope's `id`, for log lines (the claim returns the message, not its fields)."""
    return str(orjson.loads(row["value"])["id"])


class _Batch:
    """Rows queued together; `done` once each has its delivery report or was never queued."""

    def __init__(self, rows: list[asyncpg.Record], loop: asyncio.AbstractEventLoop) -> None:
        self.rows = rows
        self.acknowledged = [False] * len(rows)
        self.failures: list[str] = []
        self.done: asyncio.Future[None] = loop.create_future()
        self._loop = loop
        self._left = len(rows)
        self._lock = threading.Lock()  # reports arrive on the poll thread, refusals on the event loop

    def report(self, index: int, error: KafkaError | None, _: Message) -> None:
        with self._lock:
            if error is None:
                self.acknowledged[index] = True
            else:
                self.failures.append(f"{_event_id(self.rows[index])}: {error.str()}")
            self._left -= 1
            finished = self._left == 0
        if finished:
            self._loop.call_soon_threadsafe(self._finish)

    def not_queued(self) -> None:
        with self._lock:
            self._left -= 1
            finished = self._left == 0
        if finished:
            self._finish()

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    @property
    def acknowledged_ids(self) -> list[int]:
        return [row["id"] for row, acked in zip(self.rows, self.acknowledged, strict=True) if acked]


class _Poller:
    """Serves a producer's delivery reports and callbacks on a thread, until `close`."""

    def __init__(self, producer: Producer) -> None:
        self._producer = producer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-relay-poll", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    def close(self) -> None:
        """Withdraws whatever the producer still holds (blocking: call it on a thread) and closes it."""
        self._producer.purge(in_queue=True, in_flight=True, blocking=True)
        self._stop.set()
        self._thread.join()
        self._producer.flush(1)  # serves the purged messages' reports, which nobody waits for any more
        self._producer.close()


class _Session:
    """One producer's life: the publishing loop, until stopped, the lock is lost, or a delivery fails."""

    def __init__(self, relay: Relay, producer: Producer, lock: asyncpg.Connection[asyncpg.Record]) -> None:
        self.relay = relay
        self.producer = producer
        self.lock = lock
        self.in_flight: deque[_Batch] = deque()
        self.unmarked: list[int] = []
        """Acknowledged rows not marked yet: the marking task writes them while the loop reads and sends."""
        self.marking: asyncio.Task[None] | None = None
        self.topics: set[str] = set()
        self.held_keys: set[str] = set()
        """Keys with a message librdkafka refused: their later events wait for the next producer."""
        self.published = 0
        self.failed = False

    async def run(self, stop: asyncio.Event) -> None:
        relay, after = self.relay, 0
        try:
            while not (stop.is_set() or self.lock.is_closed() or self.failed):
                if not self.in_flight:
                    # A scan from the oldest finds rows that committed late with a lower id; once the marks
                    # are written, it cannot find a row that is in flight or acknowledged.
                    await self._marked()
                    after = 0
                if len(self.unmarked) >= PIPELINE * relay.settings.batch_size:
                    await self._marked()  # the marks fall behind: wait for them rather than read more
                rows: list[asyncpg.Record] = []
                if len(self.in_flight) < PIPELINE:
                    relay.wake.clear()
                    async with relay.database.connection() as connection:
                        rows = await outbox.claim(connection, after=after, limit=relay.settings.batch_size)
                    if rows:
                        after = rows[-1]["id"]
                        await self._ensure_topics({row["topic"] for row in rows})
                        self.in_flight.append(await self._send(rows))
                        if len(rows) == relay.settings.batch_size:
                            continue  # more are waiting: keep the pipeline full
                if not self.in_flight:
                    await relay.wait_for_work(stop)
                    continue
                head = self.in_flight.popleft()
                await _first(head.done, stop)
                if not head.done.done():
                    self.in_flight.appendleft(head)
                    break
                if not self._settle(head) and not self.in_flight and rows:
                    await relay.wait_for_work(stop)  # only held-back rows: retry them on the next wake-up
        finally:
            await self._drain()

    async def _ensure_topics(self, topics: set[str]) -> None:
        new = topics - self.topics
        if not new:
            return
        policy = self.relay.settings.topics
        if policy.create:
            timeout_s = min(self.relay.settings.delivery_timeout.total_seconds(), 10.0)
            await asyncio.to_thread(create_topics, self.relay.client_config, new, policy, timeout_s)
        self.topics |= new

    async def _send(self, rows: list[asyncpg.Record]) -> _Batch:
        batch = _Batch(rows, asyncio.get_running_loop())
        for index, row in enumerate(rows):
            if index and index % _CHUNK == 0:
                await asyncio.sleep(0)
            key = row["key"]
            if key in self.held_keys:
                batch.not_queued()
                continue
            value = row["value"].encode()
            while True:
                try:
                    self.producer.produce(row["topic"], value, key, on_delivery=partial(batch.report, index))
                    break
                except BufferError:
                    await asyncio.sleep(0.005)  # librdkafka's queue is full: deliveries empty it
                except KafkaException as error:
                    self.held_keys.add(key)
                    self.relay.metrics.errors.labels("produce").inc()
                    log.error("outbox.refused", event_id=_event_id(row), key=key, error=error.args[0].str())
                    batch.not_queued()
                    break
        return batch

    def _settle(self, batch: _Batch) -> int:
        """Queues the mark of what the broker acknowledged; how many. A failed delivery ends the session."""
        if batch.failures:
            self.failed = True
            self.relay.metrics.errors.labels("delivery").inc(len(batch.failures))
            log.warning("outbox.delivery_failed", failed=len(batch.failures), first=batch.failures[0])
        return self._mark_later(batch.acknowledged_ids)

    def _mark_later(self, ids: list[int]) -> int:
        if ids:
            self.unmarked += ids
            if self.marking is None or (self.marking.done() and self.marking.exception() is None):
                self.marking = asyncio.create_task(self._mark())
        return len(ids)

    async def _mark(self) -> None:
        """Marks what is acknowledged, one UPDATE at a time: the acknowledgements that arrive meanwhile are
        marked together by the next one."""
        while self.unmarked:
            ids, self.unmarked = self.unmarked, []
            async with self.relay.database.transaction() as connection:
                await outbox.mark_published(connection, ids, utcnow())
            self.relay.metrics.published.inc(len(ids))
            self.published += len(ids)

    async def _marked(self) -> None:
        """Waits for the marks queued so far; raises if one failed (the session ends, those rows go again)."""
        while self.marking is not None and not self.marking.done():
            await self.marking
        if self.marking is not None:
            self.marking.result()

    async def _drain(self) -> None:
        """What is in flight gets its reports (within a bound); the acknowledged part is marked."""
        if self.in_flight:
            if self.failed:
                # Nothing more goes out on this producer after a failure: its queue is withdrawn (reported as
                # purged, so never marked); the next producer sends those rows again, in order.
                self.producer.purge(in_queue=True, in_flight=False, blocking=False)
            settings = self.relay.settings
            bound = settings.delivery_timeout if self.failed else settings.stop_timeout
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(batch.done for batch in self.in_flight)), bound.total_seconds() + 1
                )
            for batch in self.in_flight:
                if batch.done.done():
                    self._settle(batch)
                else:
                    self._mark_later(batch.acknowledged_ids)  # part of it may be acknowledged already
            self.in_flight.clear()
        await self._marked()


def _stage(error: Exception) -> str:
    return "database" if isinstance(error, OSError | asyncpg.PostgresError | asyncpg.InterfaceError) else "relay"


async def _first(done: asyncio.Future[None], stop: asyncio.Event) -> None:
    """Waits until `done` or `stop`, whichever comes first."""
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    waits: list[asyncio.Future[Any]] = [done, stopping]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()


class Relay:
    def __init__(
        self, database: Database, dsn: str, settings: RelaySettings, client: dict[str, Any],
        producer: dict[str, Any], metrics: RelayMetrics | None = None,
    ) -> None:  # fmt: skip
        self.database = database
        self.dsn = dsn
        self.settings = settings
        self.client_config = client
        self.producer_config = producer
        self.metrics = metrics or RelayMetrics()
        self.wake = asyncio.Event()
        self._rng = random.Random()  # noqa: S311 (retry jitter, not security)
        self._broker_logged: dict[int, float] = {}

    @classmethod
    def from_settings(
        cls, database: Database, settings: Settings, dsn: str, metrics: RelayMetrics | None = None
    ) -> Relay:
        return cls(
            database, dsn, RelaySettings.from_settings(settings), client_config(settings), producer_config(settings),
            metrics,
        )  # fmt: skip

    async def run(self, stop: asyncio.Event) -> None:
        """Relays while this worker holds the relay lock; stands by while another does."""
        while not stop.is_set():
            lock = await self._lead()
            if lock is None:
                await self._pause(stop, self.settings.standby_poll)
                continue
            try:
                await self._relay(stop, lock)
            finally:
                await lock.close()

    async def _lead(self) -> asyncpg.Connection[asyncpg.Record] | None:
        """A connection of our own holding the relay lock and listening for new rows, or None."""
        connection: asyncpg.Connection[asyncpg.Record] | None = None
        try:
            connection = await asyncpg.connect(self.dsn)
            if await outbox.LOCK.fetchval(connection):
                await connection.add_listener(NOTIFY_CHANNEL, lambda *_: self.wake.set())
                log.info("outbox.relay_leading")
                return connection
        except (OSError, asyncpg.PostgresError) as error:
            self.metrics.errors.labels("database").inc()
            log.warning("outbox.lock_failed", error=type(error).__name__)
        if connection is not None:
            await connection.close()
        return None

    async def _relay(self, stop: asyncio.Event, lock: asyncpg.Connection[asyncpg.Record]) -> None:
        """Producer after producer until stopped or the lock is lost, pausing after those that got nothing
        through (the broker is down, or refuses)."""
        fruitless = 0
        while not (stop.is_set() or lock.is_closed()):
            session = _Session(self, Producer(self.producer_config | {"error_cb": self._broker_error}), lock)
            poller = _Poller(session.producer)
            try:
                await session.run(stop)
            except Exception as error:  # the database or topic creation failed: start over after a pause
                stage = "topics" if isinstance(error, TopicsNotCreated) else _stage(error)
                self.metrics.errors.labels(stage).inc()
                log.warning("outbox.relay_failed", stage=stage, error=f"{type(error).__name__}: {error}"[:500])
                session.failed = True
            finally:
                await asyncio.to_thread(poller.close)
            if not session.failed:
                continue
            fruitless = 0 if session.published else fruitless + 1
            wait = min(self.settings.backoff * 2 ** min(fruitless, 16), self.settings.backoff_max)
            await self._pause(stop, wait * self._rng.uniform(0.5, 1.0))

    def _broker_error(self, error: KafkaError) -> None:
        """librdkafka's error callback (on the poll thread): the cluster unreachable, authentication, a fatal
        idempotence error. Counted every time, logged once per kind per 30 s (an outage repeats them)."""
        self.metrics.errors.labels("broker").inc()
        now = time.monotonic()
        if now - self._broker_logged.get(error.code(), -_BROKER_LOG_EVERY_S) >= _BROKER_LOG_EVERY_S:
            self._broker_logged[error.code()] = now
            log.warning("outbox.broker_error", code=error.name(), error=error.str(), fatal=error.fatal())

    async def wait_for_work(self, stop: asyncio.Event) -> None:
        waits = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, timeout=self.settings.poll.total_seconds(), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    async def _pause(self, stop: asyncio.Event, wait: timedelta) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait.total_seconds())

    async def measure(self) -> None:
        """Refreshes the lag gauge (the worker calls it every few seconds)."""
        async with self.database.connection() as connection:
            oldest = await outbox.oldest_unpublished(connection)
        self.metrics.lag.set(max((utcnow() - oldest).total_seconds(), 0.0) if oldest is not None else 0.0)
