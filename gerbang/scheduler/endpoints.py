"""Scheduled jobs over HTTP: the admin API (`/api/v1/admin/jobs`, `/api/v1/admin/job-runs`; each route
declares its permission, docs/security.md) and `GET /ops/cron-status`, served like `/readyz` and `/metrics`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from gerbang.audit.context import AuditTrail
from gerbang.audit.service import changes_between
from gerbang.auth.permissions import Permission, require
from gerbang.auth.sessions import AdminPrincipal
from gerbang.config import Settings
from gerbang.db import DbConnection
from gerbang.kit.time import utcnow
from gerbang.scheduler import service
from gerbang.scheduler.schemas import CronStatus, JobChanges, JobRun, RunRequest, ScheduledJob

router = APIRouter(prefix="/admin", tags=["admin: jobs"])
ops_router = APIRouter(tags=["ops"])

JobsRead = Annotated[AdminPrincipal, Depends(require(Permission.jobs_read))]
JobsRun = Annotated[AdminPrincipal, Depends(require(Permission.jobs_run))]
JobsManage = Annotated[AdminPrincipal, Depends(require(Permission.jobs_manage))]
JobName = Annotated[str, Path(max_length=64, examples=["dashboard.summary"])]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "`job_not_found`"}}


@router.get("/jobs", operation_id="admin-jobs_list", summary="Scheduled jobs: cron, next run, last run")
async def list_jobs(_: JobsRead, connection: DbConnection) -> list[ScheduledJob]:
    return await service.list_jobs(connection)


@router.patch(
    "/jobs/{name}",
    operation_id="admin-jobs_update",
    summary="Change a job's cron, or turn its schedule off or on",
    responses=_NOT_FOUND | {422: {"description": "`invalid_cron`: the detail names the bad field"}},
)
async def change_job(
    name: JobName, body: JobChanges, admin: JobsManage, connection: DbConnection, audit: AuditTrail
) -> ScheduledJob:
    before, after = await service.change_job(connection, name, body, by=f"admin:{admin.id}", now=utcnow())
    changes = changes_between(
        {"cron": before.cron, "enabled": before.enabled}, {"cron": after.cron, "enabled": after.enabled}
    )
    if changes:
        await audit.record(connection, "job.updated", "job", name, changes=changes)
    return after


@router.get(
    "/jobs/{name}/runs", operation_id="admin-jobs_runs", summary="A job's runs, newest first", responses=_NOT_FOUND
)
async def list_runs(
    name: JobName,
    _: JobsRead,
    connection: DbConnection,
    before: Annotated[datetime | None, Query(description="Page on: the last `createdAt` of the page before")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[JobRun]:
    return await service.list_runs(connection, name, before=before, limit=limit)


@router.post(
    "/jobs/{name}/run",
    operation_id="admin-jobs_run",
    summary="Run a job now: queued at once, started by a worker under the job's lock",
    status_code=202,
    responses=_NOT_FOUND | {
        409: {"description": "`job_already_queued`: a manual run of the job is queued or running; the detail "
              "has its id"},
        422: {"description": "`invalid_job_parameters`"},
    },
)  # fmt: skip
async def run_now(
    name: JobName, admin: JobsRun, connection: DbConnection, audit: AuditTrail, body: RunRequest | None = None
) -> JobRun:
    parameters = body.parameters if body is not None else {}
    run = await service.request_run(connection, name, parameters, requested_by=f"admin:{admin.id}", now=utcnow())
    # One field per parameter, so one named like a secret is masked in the trail.
    changes: dict[str, tuple[Any, Any]] = {"run_id": (None, str(run.id))}
    changes |= {f"parameters.{key}": (None, value) for key, value in parameters.items()}
    await audit.record(connection, "job.run_requested", "job", name, changes=changes)
    return run


@router.get(
    "/job-runs/{run_id}",
    operation_id="admin-job_runs_get",
    summary="One job run: status, figures, error",
    responses={404: {"description": "`job_run_not_found`"}},
)
async def get_run(run_id: uuid.UUID, _: JobsRead, connection: DbConnection) -> JobRun:
    return await service.get_run(connection, run_id)


@ops_router.get("/ops/cron-status", summary="Scheduled jobs: next and last run of each, and whether a worker is alive")
async def cron_status(request: Request, connection: DbConnection) -> CronStatus:
    settings: Settings = request.app.state.settings
    return await service.cron_status(connection, settings, utcnow())
