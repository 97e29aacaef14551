"""Engines and sessions. One request is one session is one transaction, committed by the dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import orjson
from fastapi import Depends, Request
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from gerbang.config import Settings


def normalise_url(url: str) -> str:
    """Accept `postgres://` and `postgresql://` URLs and use the asyncpg driver for all of them."""
    parsed = make_url(url)
    if parsed.get_backend_name() not in {"postgres", "postgresql"}:
        raise ValueError(f"not a PostgreSQL URL (backend {parsed.get_backend_name()!r})")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    timeout_ms = int(settings.database_statement_timeout.total_seconds() * 1000)
    return create_async_engine(
        normalise_url(url),
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        json_serializer=lambda value: orjson.dumps(value).decode(),
        json_deserializer=orjson.loads,
        connect_args={"server_settings": {"statement_timeout": str(timeout_ms), "timezone": "UTC"}},
    )


@dataclass(frozen=True)
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    @classmethod
    def connect(cls, url: str, settings: Settings) -> Database:
        engine = create_engine(url, settings)
        return cls(engine, async_sessionmaker(engine, expire_on_commit=False, autoflush=False))

    async def dispose(self) -> None:
        await self.engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed when the endpoint returns, rolled back if it raises.

    Used with `scope="function"` so the commit happens before the response is sent: a client never
    sees a success for a transaction that then failed to commit.
    """
    database: Database = request.app.state.database
    async with database.sessionmaker() as session, session.begin():
        yield session


DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
