"""Scheduled jobs for people: the schedule of each job, changing it, asking for a run now, reading runs.

A job exists for the API once a worker has registered it (`scheduled_jobs`); the worker that runs it is
`gerbang.scheduler.runner`. When a job is due: the first cron slot after the later of its last slot and
its last schedule change (`updated_at`) has passed. Several slots missed while no worker ran make one
catch-up run, for the latest of them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from gerbang.config import Settings
from gerbang.exceptions import Conflict, NotFound, UnprocessableEntity
from gerbang.kit.cron import Cron, InvalidCron
from gerbang.kit.sql import Connection
from gerbang.scheduler import repository
from gerbang.scheduler.schemas import CronJobStatus, CronStatus, JobChanges, JobRun, LastRun, ScheduledJob

MAX_PARAMETERS_BYTES = 4096
INTERRUPTED = "interrupted"
"""The error of a run whose worker stopped or died before the job returned."""
WORKER_ALIVE_BEATS = 3
"""A worker counts as alive while its last heartbeat is younger than this many heartbeat intervals."""


class JobNotFound(NotFound):
    code = "job_not_found"


class JobRunNotFound(NotFound):
    code = "job_run_not_found"


class JobAlreadyQueued(Conflict):
    code = "job_already_queued"

    def __init__(self, detail: str, run_id: uuid.UUID) -> None:
        super().__init__(detail)
        self.run_id = run_id


class InvalidCronExpression(UnprocessableEntity):
    code = "invalid_cron"


class InvalidJobParameters(UnprocessableEntity):
    code = "invalid_job_parameters"


def parse_cron(expression: str) -> Cron:
    try:
        return Cron.parse(expression)
    except InvalidCron as error:
        raise InvalidCronExpression(str(error)) from None


def due_slot(cron: Cron, anchor: datetime, now: datetime) -> datetime | None:
    """The cron slot to run now, if one came due after `anchor`: the latest at or before `now`, so however
    many slots were missed, one run catches up."""
    if cron.next_after(anchor) > now:
        return None
    return cron.last_at_or_before(now)


def anchor_of(updated_at: datetime, last_slot: datetime | None) -> datetime:
    return updated_at if last_slot is None else max(updated_at, last_slot)


def _next_run(row: asyncpg.Record) -> datetime | None:
    if not row["enabled"]:
        return None
    try:
        cron = Cron.parse(row["cron"])
    except InvalidCron:
        return None  # only a hand edit in the database gets one here; the worker logs it too
    return cron.next_after(anchor_of(row["updated_at"], row["last_slot"]))


def _job(row: asyncpg.Record) -> ScheduledJob:
    last_run = None
    if row["last_run_id"] is not None:
        last_run = LastRun(
            id=row["last_run_id"], trigger=row["last_run_trigger"], status=row["last_run_status"],
            created_at=row["last_run_created_at"], started_at=row["last_run_started_at"],
            finished_at=row["last_run_finished_at"],
        )  # fmt: skip
    return ScheduledJob(
        name=row["name"], description=row["description"], cron=row["cron"], enabled=row["enabled"],
        next_run_at=_next_run(row), updated_at=row["updated_at"], updated_by=row["updated_by"], last_run=last_run,
    )  # fmt: skip


def _run_view(row: asyncpg.Record) -> JobRun:
    return JobRun.model_validate(dict(row))


async def list_jobs(connection: Connection) -> list[ScheduledJob]:
    return [_job(row) for row in await repository.jobs(connection)]


async def get_job(connection: Connection, name: str) -> ScheduledJob:
    row = await repository.job(connection, name)
    if row is None:
        raise JobNotFound(f"no job {name!r}")
    return _job(row)


async def change_job(
    connection: Connection, name: str, changes: JobChanges, *, by: str, now: datetime
) -> tuple[ScheduledJob, ScheduledJob]:
    """Change a job's cron and/or whether it is enabled; returns it before and after. The next slot counts
    from now: a re-enabled job does not catch up the time it was off."""
    current = await repository.lock_job(connection, name)
    if current is None:
        raise JobNotFound(f"no job {name!r}")
    before = await get_job(connection, name)
    cron = parse_cron(changes.cron).expression if changes.cron is not None else current["cron"]
    enabled = changes.enabled if changes.enabled is not None else current["enabled"]
    if (cron, enabled) == (current["cron"], current["enabled"]):
        return before, before
    await repository.change_job(connection, name, cron=cron, enabled=enabled, by=by, now=now)
    return before, await get_job(connection, name)


async def request_run(
    connection: Connection, name: str, parameters: dict[str, Any], *, requested_by: str, now: datetime
) -> JobRun:
    """Queue a manual run; a worker starts it at once (it is notified at commit) under the job's lock."""
    if len(orjson.dumps(parameters)) > MAX_PARAMETERS_BYTES:
        raise InvalidJobParameters(f"parameters are limited to {MAX_PARAMETERS_BYTES} bytes of JSON")
    await get_job(connection, name)
    # The open-manual-run index decides between concurrent requests; a run that finishes between our
    # insert and our look frees the slot, so try again.
    for _ in range(3):
        row = await repository.request_run(connection, name, parameters, requested_by, now)
        if row is not None:
            await repository.notify(connection, name)
            return _run_view(row)
        existing = await repository.open_manual_run(connection, name)
        if existing is not None:
            raise JobAlreadyQueued(
                f"a manual run of {name} is already {existing['status']}: {existing['id']}", existing["id"]
            )
    raise Conflict(f"could not queue a run of {name}; retry")


async def list_runs(connection: Connection, name: str, *, before: datetime | None, limit: int) -> list[JobRun]:
    await get_job(connection, name)
    return [_run_view(row) for row in await repository.runs(connection, name, before, limit)]


async def get_run(connection: Connection, run_id: uuid.UUID) -> JobRun:
    row = await repository.run(connection, run_id)
    if row is None:
        raise JobRunNotFound(f"no job run {run_id}")
    return _run_view(row)


async def workers_alive(connection: Connection, settings: Settings, now: datetime) -> int:
    """Workers (each runs the scheduler) whose heartbeat is recent and that did not stop."""
    return await repository.workers_alive(connection, now - settings.worker_heartbeat_interval * WORKER_ALIVE_BEATS)


async def cron_status(connection: Connection, settings: Settings, now: datetime) -> CronStatus:
    alive = await workers_alive(connection, settings, now)
    jobs = [
        CronJobStatus(
            name=job.name, cron=job.cron, enabled=job.enabled, next_run_at=job.next_run_at,
            last_run_status=job.last_run.status if job.last_run else None,
            last_run_at=(job.last_run.finished_at or job.last_run.started_at or job.last_run.created_at)
            if job.last_run else None,
        )
        for job in await list_jobs(connection)
    ]  # fmt: skip
    return CronStatus(worker_alive=alive > 0, workers=alive, jobs=jobs)
