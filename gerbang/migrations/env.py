"""Alembic environment: async engine, our model metadata, the URL from the caller or GERBANG_DATABASE_URL."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from gerbang.db import normalise_url
from gerbang.models import Model

config = context.config
target_metadata = Model.metadata


def _url() -> str:
    url = config.attributes.get("database_url") or os.environ.get("GERBANG_DATABASE_URL")
    if not url:
        raise SystemExit("GERBANG_DATABASE_URL is not set: Alembic needs a database")
    return normalise_url(url)


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_run_async())
    else:
        # Called from async code (tests, an admin action): migrate on a thread with its own loop.
        with ThreadPoolExecutor(max_workers=1) as executor:
            executor.submit(asyncio.run, _run_async()).result()
