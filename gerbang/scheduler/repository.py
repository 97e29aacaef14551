"""The SQL of scheduled jobs and their runs.

Every state change of a run is a compare-and-set on its status (`queued -> running -> succeeded|failed`),
so two workers can never both start, or both finish, one run. Three unique indexes do the rest: one run
per cron slot, at most one cron run and one manual run of a job open (queued or running). The
advisory lock that keeps one run of a job going in the whole cluster is taken on a dedicated
connection (`lock`/`unlock`), never a pooled one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import text

from gerbang.kit.sql import Connection, Query

NOTIFY_CHANNEL = "gerbang_jobs"
_LOCK_NAMESPACE = 0x6A6F6273
"""`pg_try_advisory_lock(namespace, hashtext(job))`: the two-key form lives apart from the one-key locks
(`hashtext('gerbang.…')`) other modules take, so a job's lock cannot collide with theirs."""

_RUN_COLUMNS = (
    "id, job, trigger, status, parameters, requested_by, scheduled_for, created_at, started_at, finished_at, "
    "heartbeat_at, counts, amounts, error, worker_id"
)
_LAST_SLOT = "(SELECT max(s.scheduled_for) FROM job_runs s WHERE s.job = j.name) AS last_slot"
_JOB_COLUMNS = f"""
    j.name, j.cron, j.enabled, j.description, j.updated_at, j.updated_by, {_LAST_SLOT},
    r.id AS last_run_id, r.trigger AS last_run_trigger, r.status AS last_run_status,
    r.created_at AS last_run_created_at, r.started_at AS last_run_started_at,
    r.finished_at AS last_run_finished_at
"""
_LAST_RUN = """
    LEFT JOIN LATERAL (SELECT * FROM job_runs lr WHERE lr.job = j.name ORDER BY lr.created_at DESC LIMIT 1) r ON true
"""

# A job nobody has edited follows its code's default; an admin's cron is kept. `updated_at` moves only when
# the cron does: it is where catch-up stops looking back.
_REGISTER = Query(
    text("""
    INSERT INTO scheduled_jobs (name, cron, description, updated_at)
    SELECT name, cron, description, :now
    FROM unnest(CAST(:names AS text[]), CAST(:crons AS text[]), CAST(:descriptions AS text[]))
        AS job(name, cron, description)
    ON CONFLICT (name) DO UPDATE SET
        description = EXCLUDED.description,
        cron = CASE WHEN scheduled_jobs.updated_by IS NULL THEN EXCLUDED.cron ELSE scheduled_jobs.cron END,
        updated_at = CASE WHEN scheduled_jobs.updated_by IS NULL AND scheduled_jobs.cron <> EXCLUDED.cron
                          THEN EXCLUDED.updated_at ELSE scheduled_jobs.updated_at END
    WHERE scheduled_jobs.description <> EXCLUDED.description
       OR (scheduled_jobs.updated_by IS NULL AND scheduled_jobs.cron <> EXCLUDED.cron)
    """)
)
_SCHEDULES = Query(
    text(f"""
    SELECT j.name, j.cron, j.updated_at, {_LAST_SLOT}
    FROM scheduled_jobs j WHERE j.enabled AND j.name = ANY(CAST(:names AS text[]))
    """)
)
# ON CONFLICT without a target: the slot already has its run, or a cron run of the job is still open.
_QUEUE_SLOT = Query(
    text("""
    INSERT INTO job_runs (id, job, trigger, status, scheduled_for, created_at)
    VALUES (:id, :job, 'cron', 'queued', :slot, :now)
    ON CONFLICT DO NOTHING
    """)
)
_QUEUED = Query(
    text("""
    SELECT id, job FROM job_runs
    WHERE status = 'queued' AND job = ANY(CAST(:names AS text[]))
    ORDER BY created_at LIMIT 100
    """)
)
_CLAIM = Query(
    text("""
    UPDATE job_runs SET status = 'running', started_at = :now, heartbeat_at = :now, worker_id = :worker_id
    WHERE id = :id AND status = 'queued'
    RETURNING id, job, trigger, parameters, scheduled_for
    """)
)
_HEARTBEAT = Query(text("UPDATE job_runs SET heartbeat_at = :now WHERE id = :id AND status = 'running'"))
_PROGRESS = Query(
    text("UPDATE job_runs SET counts = :counts, amounts = :amounts WHERE id = :id AND status = 'running'")
)
_FINISH = Query(
    text("""
    UPDATE job_runs SET status = :status, finished_at = :now, counts = :counts, amounts = :amounts, error = :error
    WHERE id = :id AND status = 'running' AND worker_id = :worker_id
    RETURNING id
    """)
)
_STALE = Query(text("SELECT id, job FROM job_runs WHERE status = 'running' AND heartbeat_at < :stale_before"))
_INTERRUPT = Query(
    text("""
    UPDATE job_runs SET status = 'failed', error = :error, finished_at = :now
    WHERE id = :id AND status = 'running' AND heartbeat_at < :stale_before
    RETURNING job
    """)
)
_LOCK = Query(text(f"SELECT pg_try_advisory_lock({_LOCK_NAMESPACE}, hashtext(:job))"))
_UNLOCK = Query(text(f"SELECT pg_advisory_unlock({_LOCK_NAMESPACE}, hashtext(:job))"))
# Delivered to every listening worker when the transaction commits, not before.
_NOTIFY = Query(text(f"SELECT pg_notify('{NOTIFY_CHANNEL}', :job)"))

_JOBS = Query(text(f"SELECT {_JOB_COLUMNS} FROM scheduled_jobs j {_LAST_RUN} ORDER BY j.name"))
_JOB = Query(text(f"SELECT {_JOB_COLUMNS} FROM scheduled_jobs j {_LAST_RUN} WHERE j.name = :name"))
_LOCK_JOB = Query(text("SELECT name, cron, enabled FROM scheduled_jobs WHERE name = :name FOR UPDATE"))
_CHANGE_JOB = Query(
    text("""
    UPDATE scheduled_jobs SET cron = :cron, enabled = :enabled, updated_at = :now, updated_by = :by
    WHERE name = :name
    """)
)
_REQUEST_RUN = Query(
    text(f"""
    INSERT INTO job_runs (id, job, trigger, status, parameters, requested_by, created_at)
    VALUES (:id, :job, 'manual', 'queued', :parameters, :requested_by, :now)
    ON CONFLICT DO NOTHING
    RETURNING {_RUN_COLUMNS}
    """)
)
_OPEN_MANUAL = Query(
    text(f"""
    SELECT {_RUN_COLUMNS} FROM job_runs
    WHERE job = :job AND trigger = 'manual' AND status IN ('queued', 'running')
    """)
)
_RUN = Query(text(f"SELECT {_RUN_COLUMNS} FROM job_runs WHERE id = :id"))
_RUNS = Query(
    text(f"""
    SELECT {_RUN_COLUMNS} FROM job_runs
    WHERE job = :job AND (CAST(:before AS timestamptz) IS NULL OR created_at < :before)
    ORDER BY created_at DESC LIMIT :limit
    """)
)
_WORKERS_ALIVE = Query(
    text("SELECT count(*) FROM worker_heartbeats WHERE stopped_at IS NULL AND last_seen_at > :since")
)


async def register(
    connection: Connection, names: list[str], crons: list[str], descriptions: list[str], now: datetime
) -> None:
    await _REGISTER.execute(connection, names=names, crons=crons, descriptions=descriptions, now=now)


async def schedules(connection: Connection, names: list[str]) -> list[asyncpg.Record]:
    return await _SCHEDULES.fetch(connection, names=names)


async def queue_slot(connection: Connection, job: str, slot: datetime, now: datetime) -> bool:
    return await _QUEUE_SLOT.execute(connection, id=uuid.uuid4(), job=job, slot=slot, now=now) == "INSERT 0 1"


async def queued(connection: Connection, names: list[str]) -> list[asyncpg.Record]:
    return await _QUEUED.fetch(connection, names=names)


async def claim(
    connection: Connection, run_id: uuid.UUID, worker_id: uuid.UUID, now: datetime
) -> asyncpg.Record | None:
    return await _CLAIM.fetchrow(connection, id=run_id, worker_id=worker_id, now=now)


async def heartbeat(connection: Connection, run_id: uuid.UUID, now: datetime) -> bool:
    return await _HEARTBEAT.execute(connection, id=run_id, now=now) == "UPDATE 1"


async def progress(connection: Connection, run_id: uuid.UUID, counts: dict[str, int], amounts: dict[str, int]) -> None:
    await _PROGRESS.execute(connection, id=run_id, counts=counts, amounts=amounts)


async def finish(
    connection: Connection,
    run_id: uuid.UUID,
    worker_id: uuid.UUID,
    *,
    status: str,
    counts: dict[str, int],
    amounts: dict[str, int],
    error: str | None,
    now: datetime,
) -> bool:
    found = await _FINISH.fetchval(
        connection, id=run_id, worker_id=worker_id, status=status, counts=counts, amounts=amounts, error=error,
        now=now,
    )  # fmt: skip
    return found is not None


async def stale(connection: Connection, stale_before: datetime) -> list[asyncpg.Record]:
    return await _STALE.fetch(connection, stale_before=stale_before)


async def interrupt(
    connection: Connection, run_id: uuid.UUID, *, error: str, stale_before: datetime, now: datetime
) -> str | None:
    job: str | None = await _INTERRUPT.fetchval(connection, id=run_id, error=error, stale_before=stale_before, now=now)
    return job


async def lock(connection: Connection, job: str) -> bool:
    return bool(await _LOCK.fetchval(connection, job=job))


async def unlock(connection: Connection, job: str) -> None:
    await _UNLOCK.execute(connection, job=job)


async def notify(connection: Connection, job: str) -> None:
    await _NOTIFY.execute(connection, job=job)


async def jobs(connection: Connection) -> list[asyncpg.Record]:
    return await _JOBS.fetch(connection)


async def job(connection: Connection, name: str) -> asyncpg.Record | None:
    return await _JOB.fetchrow(connection, name=name)


async def lock_job(connection: Connection, name: str) -> asyncpg.Record | None:
    return await _LOCK_JOB.fetchrow(connection, name=name)


async def change_job(connection: Connection, name: str, *, cron: str, enabled: bool, by: str, now: datetime) -> None:
    await _CHANGE_JOB.execute(connection, name=name, cron=cron, enabled=enabled, by=by, now=now)


async def request_run(
    connection: Connection, job: str, parameters: dict[str, Any], requested_by: str, now: datetime
) -> asyncpg.Record | None:
    return await _REQUEST_RUN.fetchrow(
        connection, id=uuid.uuid4(), job=job, parameters=parameters, requested_by=requested_by, now=now
    )


async def open_manual_run(connection: Connection, job: str) -> asyncpg.Record | None:
    return await _OPEN_MANUAL.fetchrow(connection, job=job)


async def run(connection: Connection, run_id: uuid.UUID) -> asyncpg.Record | None:
    return await _RUN.fetchrow(connection, id=run_id)


async def runs(connection: Connection, job: str, before: datetime | None, limit: int) -> list[asyncpg.Record]:
    return await _RUNS.fetch(connection, job=job, before=before, limit=limit)


async def workers_alive(connection: Connection, since: datetime) -> int:
    return int(await _WORKERS_ALIVE.fetchval(connection, since=since))
