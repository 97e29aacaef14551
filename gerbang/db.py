"""The database at run time: an asyncpg pool. One request is one connection in one transaction.

SQL is written with SQLAlchemy Core and compiled once (`gerbang.kit.sql.Query`); the ORM session is not
used at run time because it costs about three times a raw asyncpg call (docs/PERFORMANCE.md).
Migrations (Alembic) use SQLAlchemy's async engine on the same asyncpg driver.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy
from fastapi import Depends, Request
from sqlalchemy.engine import make_url

from gerbang.config import Settings
from gerbang.exceptions import GerbangError, ServiceUnavailable
from gerbang.kit.log import get_logger
from gerbang.kit.sql import Connection
from gerbang.kit.tasks import cancel_and_wait

log = get_logger(__name__)


class DatabaseBusy(ServiceUnavailable):
    code = "database_busy"


def normalise_url(url: str) -> str:
    """Accept `postgres://`, `postgresql://` and `postgresql+driver://`; use SQLAlchemy's asyncpg driver."""
    parsed = make_url(url)
    if parsed.get_backend_name() not in {"postgres", "postgresql"}:
        raise ValueError(f"not a PostgreSQL URL (backend {parsed.get_backend_name()!r})")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    return make_url(normalise_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


async def _init_connection(connection: Connection) -> None:
    for json_type in ("json", "jsonb"):
        await connection.set_type_codec(
            json_type, schema="pg_catalog", encoder=lambda value: orjson.dumps(value).decode(), decoder=orjson.loads
        )


async def _keep_session(_: Connection) -> None:
    """Return a connection to the pool without asyncpg's reset query (advisory unlock, CLOSE ALL,
    UNLISTEN, RESET ALL: one more round trip on every request). asyncpg still rolls back a transaction
    left open. The rule that makes this safe: pooled connections never change session state; use
    `SET LOCAL`, `pg_advisory_xact_lock` and a dedicated connection for LISTEN.
    """


@dataclass(frozen=True)
class Database:
    pool: asyncpg.Pool
    acquire_timeout_s: float

    @classmethod
    async def connect(cls, url: str, settings: Settings) -> Database:
        timeout_ms = int(settings.database_statement_timeout.total_seconds() * 1000)
        # min_size=0: the process starts while the database is down, and /readyz says so.
        pool = await asyncpg.create_pool(
            asyncpg_dsn(url),
            min_size=0,
            max_size=settings.database_pool_size,
            init=_init_connection,
            reset=_keep_session,
            server_settings={
                "application_name": "gerbang",
                "timezone": "UTC",
                "statement_timeout": str(timeout_ms),
            },
        )
        return cls(pool, settings.database_acquire_timeout.total_seconds())

    async def dispose(self) -> None:
        await self.pool.close()

    async def _acquire(self) -> PoolConnectionProxy[asyncpg.Record]:
        if self.pool.get_idle_size() > 0:
            # Taken at once, with no await before it: asyncpg's acquire timeout wraps every acquire (and the
            # release after it) in a timeout scope, 4-5% of a pay-in's server CPU, only worth it for a wait.
            # (A holder still setting up a new connection counts as idle for that moment: the rare request
            # that finds only such a holder waits for the next release without the timeout.)
            return await self.pool.acquire()
        try:
            return await self.pool.acquire(timeout=self.acquire_timeout_s)
        except TimeoutError:
            raise DatabaseBusy("no database connection became free in time; retry shortly") from None

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection outside any transaction: each statement commits on its own. For work that is one
        statement, or statements that need not commit together: it saves the BEGIN and COMMIT round trips."""
        connection = await self._acquire()
        try:
            yield connection
        finally:
            await self.pool.release(connection)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A connection in a transaction: committed on exit, rolled back if the block raises (except
        errors marked `commits_transaction`)."""
        connection = await self._acquire()
        try:
            transaction = connection.transaction()
            await transaction.start()
            try:
                yield connection
            except GerbangError as error:
                # Some refusals must leave a trace (a reused refresh token ends its session): they commit.
                await (transaction.commit() if error.commits_transaction else transaction.rollback())
                raise
            except BaseException:
                await transaction.rollback()
                raise
            await transaction.commit()
        finally:
            await self.pool.release(connection)


CACHED_ROWS_CHANNEL = "gerbang_cached_rows"
"""Notified (by triggers, migration 0023) when a row that a process may keep in memory changes."""


LISTENER_NAME = "gerbang-row-changes"


class RowChanges:
    """Whether rows read earlier may still be trusted, for one process: a LISTEN on `CACHED_ROWS_CHANNEL`
    from a connection of its own. `generation` moves on every notification, and whenever the listening
    connection is made or lost; a value read at generation g is current while `live` and still at g.

    The window this leaves: a change committed by another process is seen here when its notification
    arrives, a few milliseconds after the commit. While the connection is down nothing is trusted (every
    reader goes to the database), so a lost notification can never keep a revoked key alive."""

    def __init__(self, dsn: str, *, health_check_s: float = 5.0) -> None:
        self._dsn = dsn
        self._health_check_s = health_check_s
        self._task: asyncio.Task[None] | None = None
        self.live = False
        self.generation = 0

    def changed(self) -> None:
        """This process changed a cached row: forget everything now, not when the notification arrives."""
        self.generation += 1

    def _set_live(self, live: bool) -> None:
        self.live = live
        self.changed()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="db.row_changes")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
        self._set_live(False)

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("db.row_changes_listener_lost", exc_info=True)
            await asyncio.sleep(1)

    async def _listen(self) -> None:
        """Until the connection is lost; nothing is trusted from then until the next one listens."""
        listener = await asyncpg.connect(self._dsn, server_settings={"application_name": LISTENER_NAME})
        lost = asyncio.Event()
        try:
            listener.add_termination_listener(lambda _: lost.set())
            await listener.add_listener(CACHED_ROWS_CHANNEL, lambda *_: self.changed())
            self._set_live(True)
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), timeout=self._health_check_s)
                if not lost.is_set():
                    # A connection that died without a word (no FIN) must not look alive.
                    await asyncio.wait_for(listener.execute("SELECT 1"), timeout=self._health_check_s)
        finally:
            self._set_live(False)
            with contextlib.suppress(Exception):
                await listener.close()


K = TypeVar("K")
V = TypeVar("V")


class RowCache(Generic[K, V]):
    """Values read from the database, trusted only while `RowChanges` says nothing they came from changed.

    The generation is taken before the read: a change that lands while the read is in flight leaves the
    value stored under an older generation, so it is never served. Misses are not kept (a new key is found
    at once), and the cache is emptied when full rather than tracking recency."""

    def __init__(self, changes: RowChanges, max_entries: int = 10_000) -> None:
        self._changes = changes
        self._max_entries = max_entries
        self._entries: dict[K, tuple[int, V]] = {}

    def changed(self) -> None:
        """This process changed a row a cached value came from (`RowChanges.changed`)."""
        self._changes.changed()

    async def get(self, key: K, read: Callable[[], Awaitable[V | None]]) -> V | None:
        changes = self._changes
        if not changes.live:
            return await read()
        generation = changes.generation
        entry = self._entries.get(key)
        if entry is not None and entry[0] == generation:
            return entry[1]
        value = await read()
        if value is not None and changes.live and changes.generation == generation:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (generation, value)
        return value


async def get_connection(request: Request) -> AsyncIterator[Connection]:
    """The request's unit of work: committed when the endpoint returns, rolled back if it raises.

    Used with `scope="function"` so the commit happens before the response is sent: a client never
    sees a success for a transaction that then failed to commit.
    """
    database: Database = request.app.state.database
    async with database.transaction() as connection:
        yield connection


DbConnection = Annotated[Connection, Depends(get_connection, scope="function")]
