"""One request is one transaction: committed before the response, rolled back on any error."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import bindparam, insert

from gerbang.db import Database, DbConnection
from gerbang.exceptions import Conflict
from gerbang.kit.sql import Query
from gerbang.kit.time import utcnow
from gerbang.models import WorkerHeartbeat

_INSERT = Query(
    insert(WorkerHeartbeat).values(
        id=bindparam("id"), hostname="test", pid=1, started_at=bindparam("now"), last_seen_at=bindparam("now")
    )
)


@pytest.fixture
def writing_app(app: FastAPI) -> FastAPI:
    router = APIRouter()

    @router.post("/probe/write/{worker_id}")
    async def write(worker_id: uuid.UUID, connection: DbConnection) -> dict[str, str]:
        await _INSERT.execute(connection, id=worker_id, now=utcnow())
        return {"written": str(worker_id)}

    @router.post("/probe/write-then-refuse/{worker_id}")
    async def write_then_refuse(worker_id: uuid.UUID, connection: DbConnection) -> None:
        await _INSERT.execute(connection, id=worker_id, now=utcnow())
        raise Conflict("refused after writing")

    @router.post("/probe/write-deferred/{worker_id}")
    async def write_deferred(worker_id: uuid.UUID, connection: DbConnection) -> dict[str, str]:
        # A deferred constraint fails only at COMMIT, after the endpoint returned its body.
        await connection.execute("SET CONSTRAINTS ALL DEFERRED")
        await connection.execute("CREATE TEMP TABLE probe (id int UNIQUE DEFERRABLE INITIALLY DEFERRED) ON COMMIT DROP")
        await connection.execute("INSERT INTO probe VALUES (1), (1)")
        await _INSERT.execute(connection, id=worker_id, now=utcnow())
        return {"written": str(worker_id)}

    app.include_router(router)
    return app


async def _count(database: Database) -> int:
    async with database.transaction() as connection:
        return int(await connection.fetchval("SELECT count(*) FROM worker_heartbeats"))


async def test_successful_request_is_committed(
    writing_app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    response = await client.post(f"/probe/write/{uuid.uuid4()}")
    assert response.status_code == 200
    assert await _count(database) == 1


async def test_error_after_writing_rolls_everything_back(
    writing_app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    response = await client.post(f"/probe/write-then-refuse/{uuid.uuid4()}")
    assert response.status_code == 409
    assert await _count(database) == 0


async def test_a_failed_commit_is_never_reported_as_success(
    writing_app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    response = await client.post(f"/probe/write-deferred/{uuid.uuid4()}")
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert await _count(database) == 0


async def test_an_exhausted_pool_answers_503(settings: object, database_url: str) -> None:
    from gerbang.app import create_app

    busy = {"database_pool_size": 1, "database_acquire_timeout": timedelta(milliseconds=200)}
    busy_settings = settings.model_copy(update=busy)  # type: ignore[attr-defined]
    app = create_app(busy_settings)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        app.include_router(_holding_router())
        async with app.state.database.transaction():
            response = await http.post(f"/probe/hold/{uuid.uuid4()}")
    assert response.status_code == 503
    assert response.json()["error"] == "database_busy"


def _holding_router() -> APIRouter:
    router = APIRouter()

    @router.post("/probe/hold/{worker_id}")
    async def hold(worker_id: uuid.UUID, connection: DbConnection) -> None:
        await _INSERT.execute(connection, id=worker_id, now=utcnow())

    return router
