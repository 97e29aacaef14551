"""`gerbang jobs ...`: scheduled jobs for operators and scripts.

A run asked for here is queued exactly like one from the admin API: a worker starts it under the job's
lock and records it, so it can never overlap a scheduled run. This command only queues it and, with
`--wait`, watches the record. Exit status: 0 the run succeeded (or was queued, without `--wait`), 1 it
failed or was refused (unknown job, a manual run already open), 2 `--wait` timed out (the run goes on).
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gerbang.cli.common import load_cli_settings
from gerbang.config import Settings

if TYPE_CHECKING:
    from gerbang.db import Database
    from gerbang.scheduler.schemas import JobRun

app = typer.Typer(no_args_is_help=True, help="Scheduled jobs.")

EXIT_FAILED = 1
EXIT_TIMED_OUT = 2
_WATCH_S = 0.25
_NO_WORKER = "gerbang: no worker is alive (see worker_heartbeats): the run stays queued until one starts"


def _parameter(text: str) -> tuple[str, Any]:
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise typer.BadParameter(f"{text!r} is not key=value", param_hint="--param")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def _when(moment: datetime | None) -> str:
    from gerbang.kit.time import to_jakarta

    return "-" if moment is None else f"{to_jakarta(moment):%Y-%m-%d %H:%M:%S}"


@app.command("list")
def list_jobs(
    as_json: Annotated[bool, typer.Option("--json", help="Print the jobs as a JSON array.")] = False,
) -> None:
    """Every job a worker has registered: cron (Asia/Jakarta), on or off, next run, last run."""
    import uvloop

    from gerbang.cli.database import database_url
    from gerbang.db import Database
    from gerbang.kit.time import utcnow
    from gerbang.scheduler import service
    from gerbang.scheduler.schemas import ScheduledJob

    settings = load_cli_settings()

    async def read(url: str) -> tuple[list[ScheduledJob], int]:
        database = await Database.connect(url, settings)
        try:
            async with database.transaction() as connection:
                return await service.list_jobs(connection), await service.workers_alive(connection, settings, utcnow())
        finally:
            await database.dispose()

    with database_url(settings) as url:
        jobs, alive = uvloop.run(read(url))
    if not alive:
        print("gerbang: no worker is alive (see worker_heartbeats): no job runs until one starts", file=sys.stderr)
    if as_json:
        print(json.dumps([job.model_dump(mode="json") for job in jobs]))
        return
    rows = [("NAME", "CRON", "ENABLED", "NEXT RUN (WIB)", "LAST RUN", "LAST RUN AT (WIB)")]
    for job in jobs:
        last = job.last_run
        rows.append((
            job.name, job.cron, "yes" if job.enabled else "no", _when(job.next_run_at),
            f"{last.status} ({last.trigger})" if last else "-",
            _when(last.finished_at or last.started_at or last.created_at) if last else "-",
        ))  # fmt: skip
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="The job, as `gerbang jobs list` names it.")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the run to finish and print its figures.")] = False,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="With --wait: give up waiting after this many seconds.")
    ] = 600,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="key=value, repeatable; a value that is JSON (10, true, {...}) is passed as JSON, else as text.",
        ),
    ] = None,
) -> None:
    """Queue a run of NAME now; prints its id. A worker runs it under the job's lock."""
    import uvloop

    from gerbang.cli.database import database_url

    parameters = dict(_parameter(text) for text in param or [])
    settings = load_cli_settings()
    with database_url(settings) as url:
        code = uvloop.run(_run(settings, url, name, parameters, timeout if wait else None))
    raise typer.Exit(code)


async def _run(settings: Settings, url: str, name: str, parameters: dict[str, Any], wait_s: float | None) -> int:
    import asyncio

    from gerbang.db import Database

    database = await Database.connect(url, settings)
    try:
        run_id = await _queue(database, settings, name, parameters)
        if wait_s is None:
            return 0
        try:
            async with asyncio.timeout(wait_s):
                finished = await _finished(database, run_id)
        except TimeoutError:
            print(f"gerbang: run {run_id} did not finish within {wait_s:g} s; it goes on", file=sys.stderr)
            return EXIT_TIMED_OUT
    finally:
        await database.dispose()
    print(f"status: {finished.status}")
    if finished.error is not None:
        print(f"error: {finished.error}")
    print(f"counts: {json.dumps(finished.counts, sort_keys=True)}")
    print(f"amounts: {json.dumps(finished.amounts, sort_keys=True)}")
    return 0 if finished.status == "succeeded" else EXIT_FAILED


async def _queue(database: Database, settings: Settings, name: str, parameters: dict[str, Any]) -> uuid.UUID:
    from gerbang.audit import service as audit_service
    from gerbang.kit.time import utcnow
    from gerbang.scheduler import service

    changes: dict[str, tuple[Any, Any]] = {f"parameters.{key}": (None, value) for key, value in parameters.items()}
    async with database.transaction() as connection:
        queued = await service.request_run(connection, name, parameters, requested_by="cli", now=utcnow())
        await audit_service.record(
            connection, actor_type="system", actor_id=None, actor_email=None, partner_id=None,
            action="job.run_requested", target_type="job", target_id=name,
            changes={"run_id": (None, str(queued.id))} | changes, ip=None, request_id=None,
        )  # fmt: skip
        alive = await service.workers_alive(connection, settings, utcnow())
    print(queued.id, flush=True)
    if not alive:
        print(_NO_WORKER, file=sys.stderr, flush=True)
    return queued.id


async def _finished(database: Database, run_id: uuid.UUID) -> JobRun:
    import asyncio

    from gerbang.scheduler import service

    while True:
        async with database.connection() as connection:
            current = await service.get_run(connection, run_id)
        if current.status in ("succeeded", "failed"):
            return current
        await asyncio.sleep(_WATCH_S)
