"""One request is one transaction: committed before the response, rolled back on any error."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import func, select

from gerbang.db import Database, DbSession
from gerbang.exceptions import Conflict
from gerbang.kit.time import utcnow
from gerbang.models import WorkerHeartbeat


def _heartbeat(worker_id: uuid.UUID) -> WorkerHeartbeat:
    now = utcnow()
    return WorkerHeartbeat(id=worker_id, hostname="test", pid=1, started_at=now, last_seen_at=now)


@pytest.fixture
def writing_app(app: FastAPI) -> FastAPI:
    router = APIRouter()

    @router.post("/probe/write/{worker_id}")
    async def write(worker_id: uuid.UUID, session: DbSession) -> dict[str, str]:
        session.add(_heartbeat(worker_id))
        return {"written": str(worker_id)}

    @router.post("/probe/write-then-refuse/{worker_id}")
    async def write_then_refuse(worker_id: uuid.UUID, session: DbSession) -> None:
        session.add(_heartbeat(worker_id))
        await session.flush()
        raise Conflict("refused after writing")

    @router.post("/probe/write-twice/{worker_id}")
    async def write_twice(worker_id: uuid.UUID, session: DbSession) -> dict[str, str]:
        # The duplicate key only fails at commit, after the endpoint returned.
        session.add(_heartbeat(worker_id))
        return {"written": str(worker_id)}

    app.include_router(router)
    return app


async def _count(database: Database) -> int:
    async with database.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(WorkerHeartbeat))).scalar_one())


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
    worker_id = uuid.uuid4()
    assert (await client.post(f"/probe/write/{worker_id}")).status_code == 200
    response = await client.post(f"/probe/write-twice/{worker_id}")
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert await _count(database) == 1
