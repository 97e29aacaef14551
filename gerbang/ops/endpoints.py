"""`/healthz` (the process answers), `/readyz` (it can serve traffic), `/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio
from typing import Literal

import asyncpg
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from gerbang.db import Database
from gerbang.exceptions import ServiceUnavailable
from gerbang.ops.metrics import HttpMetrics

router = APIRouter(tags=["ops"])

_READINESS_TIMEOUT_S = 2.0


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    database: Literal["ok"] = "ok"
    migration: str


class NotReady(ServiceUnavailable):
    code = "not_ready"


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    summary="Readiness: the database answers and its schema is at the migration head",
    responses={503: {"description": "Not ready; `detail` says why", "model": None}},
)
async def readyz(request: Request) -> Readiness:
    database: Database = request.app.state.database
    head: str = request.app.state.head_revision
    try:
        async with asyncio.timeout(_READINESS_TIMEOUT_S), database.pool.acquire() as connection:
            current = await connection.fetchval("SELECT version_num FROM alembic_version")
    except TimeoutError:
        raise NotReady("database did not answer within 2 s") from None
    except asyncpg.UndefinedTableError:
        raise NotReady(f"database has no schema; run `gerbang migrate` (head is {head})") from None
    except (asyncpg.PostgresError, OSError) as exc:
        raise NotReady(f"database unreachable: {type(exc).__name__}") from None
    if current is None:
        raise NotReady(f"database has no schema; run `gerbang migrate` (head is {head})")
    if current != head:
        raise NotReady(f"database schema is at {current}, code expects {head}; run `gerbang migrate`")
    return Readiness(migration=head)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    http_metrics: HttpMetrics = request.app.state.metrics
    return Response(generate_latest(http_metrics.registry), media_type=CONTENT_TYPE_LATEST)
