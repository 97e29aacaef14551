"""The scheduler every worker runs: each due cron slot and each manual run of a job runs exactly once in the
whole cluster, one run of a job at a time, and every run is recorded in `job_runs`.

Every `GERBANG_SCHEDULER_POLL_INTERVAL` (and at once when a manual run is queued or a run ends: NOTIFY on
`gerbang_jobs`), a worker
1. marks runs left `running` by a worker that died as failed `interrupted`: their heartbeat is stale and
   no session holds their job's lock (PostgreSQL releases a session's advisory locks when it ends);
2. queues the due cron slot of each enabled job, `INSERT ... ON CONFLICT DO NOTHING` on the unique slot,
   so a slot gets one run however many workers saw it come due;
3. starts queued runs: it takes the job's `pg_try_advisory_lock` on a dedicated connection, then claims
   the run by compare-and-set (`queued -> running`). A run whose job's lock is taken (a run of that job,
   cron or manual, is going somewhere) stays queued and waits its turn. A job has at most one cron run
   open: slots that come due while it is queued or running are not queued behind it; once it ends, they
   make one catch-up run (for the latest of them), like slots missed while no worker ran.
A running job's heartbeat is written through its lock's connection, so each heartbeat proves the lock is
still held; if that connection is lost the job is asked to stop (`ctx.stop`). On shutdown running jobs
are asked to stop and are recorded as they end: succeeded with what they did if the job returned, failed
`interrupted` if the shutdown grace ran out first. Their remaining work is picked up by the next run,
because every step of a job is idempotent.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

import asyncpg
import structlog

from gerbang.config import Settings
from gerbang.db import Database
from gerbang.events.alerts import raise_alert
from gerbang.kit.cron import Cron, InvalidCron
from gerbang.kit.log import get_logger
from gerbang.kit.tasks import cancel_and_wait
from gerbang.kit.time import utcnow
from gerbang.scheduler import repository
from gerbang.scheduler.base import Job, JobContext, JobError, JobResult
from gerbang.scheduler.service import INTERRUPTED, anchor_of, due_slot

log = get_logger("gerbang.scheduler")

_JOB_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
_NAME_LIMIT = 64
_ERROR_LIMIT = 1000
_RECORD_TIMEOUT_S = 5.0
_LISTEN_RETRY_S = 1.0


def describe_failure(error: Exception, run_id: uuid.UUID) -> str:
    """What a failed run records and alerts: a `JobError`'s own words, or only the type of anything else,
    whose message might carry a secret (a URL with credentials, a provider's answer)."""
    if isinstance(error, JobError):
        return str(error)[:_ERROR_LIMIT] or "JobError"
    return f"unexpected {type(error).__name__} (the worker log has the details of run {run_id})"


@dataclass
class _Run:
    id: uuid.UUID
    job: Job
    lock: asyncpg.Connection[asyncpg.Record]
    """The dedicated connection holding the job's advisory lock for as long as the run goes."""
    context: JobContext
    so_far: JobResult = field(default_factory=JobResult)
    task: asyncio.Task[None] | None = None


class Scheduler:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        dsn: str,
        jobs: Sequence[Job],
        *,
        worker_id: uuid.UUID | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """`clock` is what cron slots are judged by (tests move it); records are stamped with the real time."""
        for job in jobs:
            if len(job.name) > _NAME_LIMIT or not _JOB_NAME.fullmatch(job.name):
                raise ValueError(f"job name {job.name!r}: lowercase dotted words, at most {_NAME_LIMIT} characters")
            Cron.parse(job.default_cron)  # a bad default is a bug: refuse to start
        self._jobs = {job.name: job for job in jobs}
        if len(self._jobs) != len(jobs):
            raise ValueError("two jobs have the same name")
        self._database = database
        self._settings = settings
        self._dsn = dsn
        self.worker_id = worker_id or uuid.uuid4()
        self._clock = clock
        self._poll_s = settings.scheduler_poll_interval.total_seconds()
        self._stale_after = settings.scheduler_stale_run_after
        self._heartbeat_s = self._stale_after.total_seconds() / 4
        self._running: dict[str, _Run] = {}
        self._wake = asyncio.Event()
        self._stopping = False

    async def register(self) -> None:
        """Add this worker's jobs to `scheduled_jobs` with their default cron; an admin's cron stays."""
        jobs = list(self._jobs.values())
        async with self._database.transaction() as connection:
            await repository.register(
                connection, [job.name for job in jobs], [Cron.parse(job.default_cron).expression for job in jobs],
                [job.description for job in jobs], utcnow(),
            )  # fmt: skip

    async def run(self, stop: asyncio.Event) -> None:
        """The worker loop: register, then a round every poll or notification until `stop`."""
        self._stopping = False
        await self.register()
        listener = asyncio.create_task(self._listen(stop), name="scheduler.listen")
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    await self.tick()
                except Exception:
                    # A database blip: running jobs go on (their own connections); the next round retries.
                    log.exception("scheduler.round_failed")
                await self._wait(stop)
        finally:
            await cancel_and_wait(listener)
            await self.drain()

    async def tick(self) -> None:
        """One round: recover interrupted runs, queue due cron slots, start the queued runs that can start."""
        await self._recover()
        await self._queue_due()
        await self._start_queued()

    async def drain(self) -> None:
        """Ask every running job to stop and wait until each is recorded; if this wait is cancelled (the
        shutdown grace ran out), the jobs are cancelled and recorded as failed `interrupted`."""
        self._stopping = True
        runs = list(self._running.values())
        for run in runs:
            run.context.stop.set()
        tasks = [run.task for run in runs if run.task is not None]
        if not tasks:
            return
        try:
            await asyncio.wait(tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _recover(self) -> None:
        now = utcnow()
        stale_before = now - self._stale_after
        async with self._database.connection() as connection:
            rows = await repository.stale(connection, stale_before)
        ours = {run.id for run in self._running.values()}
        for row in rows:
            if row["id"] in ours:
                continue  # alive here, its heartbeat merely late
            lock = await self._lock(row["job"])
            if lock is None:
                continue  # someone holds the job's lock: that may be this very run, still alive
            try:
                async with self._database.transaction() as connection:
                    job = await repository.interrupt(
                        connection, row["id"], error=INTERRUPTED, stale_before=stale_before, now=now
                    )
                    if job is not None:
                        await raise_alert(
                            connection, kind="job_failed", partner_id=None, now=now,
                            message=f"job {job}: run {row['id']} was interrupted (its worker stopped or died "
                            "before it finished); the next run picks its work up",
                        )  # fmt: skip
                        await repository.notify(connection, job)
            finally:
                await _release(lock, row["job"])
            if job is not None:
                log.warning("scheduler.run_interrupted", job=job, run_id=str(row["id"]))

    async def _queue_due(self) -> None:
        now = self._clock()
        async with self._database.connection() as connection:
            for row in await repository.schedules(connection, list(self._jobs)):
                try:
                    cron = Cron.parse(row["cron"])
                except InvalidCron as error:  # only a hand edit in the database gets here
                    log.error("scheduler.invalid_cron", job=row["name"], cron=row["cron"], problem=str(error))
                    continue
                slot = due_slot(cron, anchor_of(row["updated_at"], row["last_slot"]), now)
                if slot is not None and await repository.queue_slot(connection, row["name"], slot, utcnow()):
                    log.info("scheduler.slot_queued", job=row["name"], slot=slot.isoformat())

    async def _start_queued(self) -> None:
        async with self._database.connection() as connection:
            rows = await repository.queued(connection, list(self._jobs))
        tried: set[str] = set()
        for row in rows:
            name = row["job"]
            if self._stopping or name in self._running or name in tried:
                continue
            tried.add(name)
            lock = await self._lock(name)
            if lock is None:
                continue  # a run of this job is going elsewhere: this one waits for the lock
            try:
                async with self._database.connection() as connection:
                    claimed = await repository.claim(connection, row["id"], self.worker_id, utcnow())
            except BaseException:
                await _release(lock, name)
                raise
            if claimed is None:
                await _release(lock, name)  # another worker started it between our read and our claim
                continue
            self._start(claimed, lock)

    def _start(self, claimed: asyncpg.Record, lock: asyncpg.Connection[asyncpg.Record]) -> None:
        job = self._jobs[claimed["job"]]
        context = JobContext(
            database=self._database, settings=self._settings, run_id=claimed["id"], trigger=claimed["trigger"],
            stop=asyncio.Event(), parameters=dict(claimed["parameters"]), scheduled_for=claimed["scheduled_for"],
        )  # fmt: skip
        run = _Run(id=claimed["id"], job=job, lock=lock, context=context)
        context.report_progress = partial(self._progress, run)
        self._running[job.name] = run
        run.task = asyncio.create_task(self._execute(run), name=f"job:{job.name}")

    async def _execute(self, run: _Run) -> None:
        structlog.contextvars.bind_contextvars(job=run.job.name, run_id=str(run.id))  # this task's context only
        log.info("scheduler.run_started", trigger=run.context.trigger)
        beat = asyncio.create_task(self._beat(run), name=f"job:{run.job.name}:heartbeat")
        try:
            try:
                result = await run.job.run(run.context)
            except asyncio.CancelledError:
                await self._finish(run, "failed", run.so_far, INTERRUPTED)
                raise
            except Exception as error:
                log.exception("scheduler.job_raised")
                await self._finish(run, "failed", run.so_far, describe_failure(error, run.id))
            else:
                await self._finish(run, "succeeded", result, None)
        finally:
            await cancel_and_wait(beat)
            await _release(run.lock, run.job.name)
            del self._running[run.job.name]
            self._wake.set()  # another run of this job may be waiting for the lock

    async def _beat(self, run: _Run) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            try:
                held = await repository.heartbeat(run.lock, run.id, utcnow())
            except Exception:
                log.exception("scheduler.lock_connection_lost")
                held = False
            if not held:
                # The lock may be gone (its connection dropped) or the run marked interrupted: another
                # worker could start the job, so this run stops at its next step.
                run.context.stop.set()
                return

    async def _progress(self, run: _Run, so_far: JobResult) -> None:
        run.so_far = so_far
        async with self._database.connection() as connection:
            await repository.progress(connection, run.id, dict(so_far.counts), dict(so_far.amounts))

    async def _finish(self, run: _Run, status: str, result: JobResult, error: str | None) -> None:
        """Record how the run ended (and alert a failure) while the job's lock is still held."""
        now = utcnow()
        try:
            async with asyncio.timeout(_RECORD_TIMEOUT_S), self._database.transaction() as connection:
                recorded = await repository.finish(
                    connection, run.id, self.worker_id, status=status, counts=dict(result.counts),
                    amounts=dict(result.amounts), error=error, now=now,
                )  # fmt: skip
                if recorded and status == "failed":
                    await raise_alert(
                        connection, kind="job_failed", partner_id=None, now=now,
                        message=f"job {run.job.name}: run {run.id} failed: {error}",
                    )  # fmt: skip
                await repository.notify(connection, run.job.name)
        except Exception:
            # The row stays `running`; its heartbeat stops with us, and the next round marks it interrupted.
            log.exception("scheduler.record_failed", status=status)
            return
        if recorded:
            log.info("scheduler.run_finished", status=status, error=error, counts=result.counts)
        else:
            log.warning("scheduler.run_recorded_elsewhere", status=status)  # marked interrupted meanwhile

    async def _lock(self, job: str) -> asyncpg.Connection[asyncpg.Record] | None:
        """A new connection holding `job`'s advisory lock, or None if another session holds it."""
        connection: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
            self._dsn, server_settings={"application_name": "gerbang-scheduler"}
        )
        try:
            if await repository.lock(connection, job):
                return connection
        except BaseException:
            connection.terminate()
            raise
        await connection.close()
        return None

    async def _listen(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                connection = await asyncpg.connect(self._dsn)
                try:
                    await connection.add_listener(repository.NOTIFY_CHANNEL, lambda *_: self._wake.set())
                    self._wake.set()  # anything queued while we were not listening
                    await stop.wait()
                finally:
                    await connection.close()
            except (OSError, asyncpg.PostgresError):
                log.warning("scheduler.listen_failed")  # the poll still finds the work; retry shortly
                await asyncio.sleep(_LISTEN_RETRY_S)

    async def _wait(self, stop: asyncio.Event) -> None:
        waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, timeout=self._poll_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()


async def _release(lock: asyncpg.Connection[asyncpg.Record], job: str) -> None:
    """Unlock and close; ending the session releases the lock even if the unlock cannot be sent."""
    try:
        await repository.unlock(lock, job)
        await lock.close(timeout=_RECORD_TIMEOUT_S)
    except Exception:
        lock.terminate()
    except BaseException:  # cancelled meanwhile: still never leave the lock held
        lock.terminate()
        raise
