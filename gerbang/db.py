"""The database at run time: an asyncpg pool. One request is one connection in one transaction.

SQL is written with SQLAlchemy Core and compiled once (`gerbang.kit.sql.Query`); the ORM session is not
used at run time because it costs about three times a raw asyncpg call (docs/PERFORMANCE.md).
Migrations (Alembic) use SQLAlchemy's async engine on the same asyncpg driver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy
from fastapi import Depends, Request
from sqlalchemy.engine import make_url

from gerbang.config import Settings
from gerbang.exceptions import GerbangError, ServiceUnavailable
from gerbang.kit.sql import Connection


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


async def get_connection(request: Request) -> AsyncIterator[Connection]:
    """The request's unit of work: committed when the endpoint returns, rolled back if it raises.

    Used with `scope="function"` so the commit happens before the response is sent: a client never
    sees a success for a transaction that then failed to commit.
    """
    database: Database = request.app.state.database
    async with database.transaction() as connection:
        yield connection


DbConnection = Annotated[Connection, Depends(get_connection, scope="function")]
