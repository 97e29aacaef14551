"""Baselines: the least a Python service can do for the same I/O. A bare FastAPI app, no middleware,
no session management, raw asyncpg; served by the same uvicorn settings as gerbang.

    python -m bench.apps.baseline PORT DATABASE_URL
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from pydantic import BaseModel

from bench.apps.common import POOL_SIZE, RowCreate, serve
from gerbang.db import asyncpg_dsn


class Created(BaseModel):
    id: int


def build(database_url: str) -> FastAPI:
    pool: asyncpg.Pool | None = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(asyncpg_dsn(database_url), min_size=POOL_SIZE, max_size=POOL_SIZE)
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/rows", status_code=201)
    async def insert_row(row: RowCreate) -> Created:
        assert pool is not None
        row_id = await pool.fetchval("INSERT INTO bench_rows (payload) VALUES ($1) RETURNING id", row.payload)
        return Created(id=row_id)

    return app


if __name__ == "__main__":
    serve(build(sys.argv[2]), int(sys.argv[1]))
