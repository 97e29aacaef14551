"""The scheduler against real PostgreSQL: two at once run each due slot exactly once, one run of a job at a
time across cron and manual runs, catch-up after downtime, failures recorded and alerted, shutdown and
crashes recorded, and a killed worker's work resumed by the next run."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from gerbang.db import Database
from gerbang.kit.cron import Cron
from gerbang.kit.time import utcnow
from gerbang.scheduler import service
from gerbang.scheduler.base import Job, JobContext, JobError, JobResult
from gerbang.scheduler.schemas import JobChanges
from gerbang.worker.runner import WorkerLoop, run_loops
from tests.fixtures.app import TEST_SECRET_KEY
from tests.helpers import REPO_ROOT, clean_env
from tests.scheduler import work
from tests.scheduler.conftest import Clock, MakeScheduler, next_minute, runs, settled, tick_until_settled, wait_for

MINUTE = timedelta(minutes=1)


async def _request(database: Database, job: str, **parameters: object) -> uuid.UUID:
    async with database.transaction() as connection:
        run = await service.request_run(connection, job, dict(parameters), requested_by="test", now=utcnow())
    return run.id


async def _status(database: Database, run_id: uuid.UUID) -> str:
    async with database.connection() as connection:
        return str(await connection.fetchval("SELECT status FROM job_runs WHERE id = $1", run_id))


async def _alerts(database: Database, kind: str) -> list[str]:
    async with database.connection() as connection:
        return [row["message"] for row in await connection.fetch("SELECT message FROM alerts WHERE kind = $1", kind)]


def _effect_job(name: str = "test.count", delay_s: float = 0.03) -> Job:
    async def count(ctx: JobContext) -> JobResult:
        await asyncio.sleep(delay_s)  # the other scheduler sees the same slot come due meanwhile
        async with ctx.database.connection() as connection:
            await connection.execute("INSERT INTO effects VALUES ($1, $2)", ctx.scheduled_for, ctx.run_id)
        return JobResult(counts={"effects": 1})

    return Job(name, "* * * * *", "writes one effect per run", count)


async def _effects_table(database: Database) -> None:
    async with database.connection() as connection:
        await connection.execute("CREATE TABLE effects (slot timestamptz NOT NULL, run_id uuid NOT NULL)")


async def _check_each_slot_ran_once(database: Database, job: str, slots: list[datetime]) -> set[uuid.UUID]:
    async with database.connection() as connection:
        effects = await connection.fetch("SELECT slot, run_id FROM effects ORDER BY slot")
    found = await runs(database, job)
    # The side effect happened once per slot: no slot missed, none twice.
    assert [row["slot"] for row in effects] == slots
    assert len({row["run_id"] for row in effects}) == len(slots)
    assert sorted(row["scheduled_for"] for row in found) == slots
    assert {(row["trigger"], row["status"], row["error"]) for row in found} == {("cron", "succeeded", None)}
    assert all(row["counts"] == {"effects": 1} for row in found)
    return {row["worker_id"] for row in found}


async def test_two_scheduler_loops_run_every_due_slot_exactly_once(
    database: Database, make_scheduler: MakeScheduler, loops: object
) -> None:
    await _effects_table(database)
    job = _effect_job()
    clock = Clock(next_minute(utcnow()))  # the first slot; the job was registered before it
    first, second = await make_scheduler([job], clock), await make_scheduler([job], clock)
    loops(first)  # type: ignore[operator]
    loops(second)  # type: ignore[operator]
    slots = []
    for done in range(1, 21):
        slots.append(clock.at)
        await wait_for(lambda n=done: settled(database, job.name, n), what=f"{done} runs")  # type: ignore[misc]
        if done < 20:
            clock.advance(MINUTE)
    await asyncio.sleep(0.3)  # several polls of both: nothing more is due
    workers = await _check_each_slot_ran_once(database, job.name, slots)
    assert workers <= {first.worker_id, second.worker_id}
    print(f"slots run by worker: {sorted(str(w)[:8] for w in workers)}")


async def test_two_schedulers_racing_on_each_slot_run_it_once(
    database: Database, make_scheduler: MakeScheduler
) -> None:
    await _effects_table(database)
    job = _effect_job(delay_s=0)
    clock = Clock(next_minute(utcnow()))
    first, second = await make_scheduler([job], clock), await make_scheduler([job], clock)
    slots = []
    for done in range(1, 31):
        slots.append(clock.at)
        await asyncio.gather(first.tick(), second.tick())  # both see the slot come due at the same moment
        await wait_for(lambda n=done: settled(database, job.name, n), what=f"{done} runs")  # type: ignore[misc]
        clock.advance(MINUTE)
    workers = await _check_each_slot_ran_once(database, job.name, slots)
    assert workers == {first.worker_id, second.worker_id}, "each scheduler should have won some slots"


async def test_a_new_job_waits_for_its_first_slot_and_missed_slots_make_one_catch_up_run(
    database: Database, make_scheduler: MakeScheduler
) -> None:
    ran: list[object] = []

    async def hourly(ctx: JobContext) -> JobResult:
        ran.append(ctx.scheduled_for)
        return JobResult()

    clock = Clock(utcnow())
    scheduler = await make_scheduler([Job("test.hourly", "0 * * * *", "hourly", hourly)], clock)
    await scheduler.tick()
    await asyncio.sleep(0.1)
    assert await runs(database, "test.hourly") == []  # registered just now: nothing was missed yet
    # As if no worker had run for the three and a half hours since the job was registered.
    async with database.connection() as connection:
        await connection.execute("UPDATE scheduled_jobs SET updated_at = now() - interval '3 hours 30 minutes'")
    await scheduler.tick()
    await wait_for(lambda: settled(database, "test.hourly", 1))
    for _ in range(3):
        await scheduler.tick()
    await asyncio.sleep(0.1)
    latest = Cron.parse("0 * * * *").last_at_or_before(clock.at)
    assert [row["scheduled_for"] for row in await runs(database, "test.hourly")] == [latest]
    assert ran == [latest]


async def test_slots_due_while_a_run_goes_make_one_catch_up_run_after_it(
    database: Database, make_scheduler: MakeScheduler
) -> None:
    release = asyncio.Event()

    async def slow(ctx: JobContext) -> JobResult:
        await asyncio.wait_for(release.wait(), 10)
        return JobResult()

    clock = Clock(next_minute(utcnow()))
    scheduler = await make_scheduler([Job("test.slow", "* * * * *", "slow", slow)], clock)
    await scheduler.tick()
    await wait_for(lambda: _has_status(database, "test.slow", "running"))
    for _ in range(3):  # three more slots come due while the first run goes
        clock.advance(MINUTE)
        await scheduler.tick()
    assert len(await runs(database, "test.slow")) == 1
    release.set()
    await wait_for(lambda: settled(database, "test.slow", 1))
    await tick_until_settled(scheduler, database, "test.slow", 2)
    slots = [row["scheduled_for"] for row in await runs(database, "test.slow")]
    assert slots == [clock.at - 3 * MINUTE, clock.at]


async def _has_status(database: Database, job: str, status: str) -> bool:
    return any(row["status"] == status for row in await runs(database, job))


async def test_cron_and_manual_runs_of_a_job_never_overlap_in_the_cluster(
    database: Database, make_scheduler: MakeScheduler, loops: object
) -> None:
    in_flight = most = 0
    release = asyncio.Event()

    async def guarded(ctx: JobContext) -> JobResult:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            if ctx.trigger == "cron":
                await asyncio.wait_for(release.wait(), 10)
            await asyncio.sleep(0.05)
        finally:
            in_flight -= 1
        return JobResult(counts={ctx.trigger: 1})

    job = Job("test.guarded", "* * * * *", "one at a time", guarded)
    clock = Clock(next_minute(utcnow()))
    first, second = await make_scheduler([job], clock), await make_scheduler([job], clock)
    loops(first)  # type: ignore[operator]
    loops(second)  # type: ignore[operator]
    await wait_for(lambda: _has_status(database, job.name, "running"))
    manual = await _request(database, job.name)
    await asyncio.sleep(0.5)  # ten polls of each scheduler, and a notification: the lock is taken
    assert await _status(database, manual) == "queued"
    release.set()
    await wait_for(lambda: settled(database, job.name, 2))
    assert most == 1
    assert [(row["trigger"], row["counts"]) for row in await runs(database, job.name)] == [
        ("cron", {"cron": 1}), ("manual", {"manual": 1}),
    ]  # fmt: skip


async def test_registration_keeps_an_admins_cron_and_follows_a_changed_default(
    database: Database, make_scheduler: MakeScheduler
) -> None:
    async def nothing(_: JobContext) -> JobResult:
        return JobResult()

    edited, untouched = Job("test.edited", "0 1 * * *", "a", nothing), Job("test.untouched", "0 2 * * *", "b", nothing)
    await make_scheduler([edited, untouched])
    async with database.transaction() as connection:
        await service.change_job(connection, edited.name, JobChanges(cron="30  3 * * *"), by="admin:x", now=utcnow())
    # A newer version of the code declares other defaults (and a new description).
    await make_scheduler([replace(edited, default_cron="0 5 * * *"), replace(untouched, default_cron="0 6 * * *",
                                                                            description="new")])  # fmt: skip
    async with database.connection() as connection:
        rows = {row["name"]: row for row in await connection.fetch("SELECT * FROM scheduled_jobs")}
    assert (rows[edited.name]["cron"], rows[edited.name]["updated_by"]) == ("30 3 * * *", "admin:x")
    assert (rows[untouched.name]["cron"], rows[untouched.name]["updated_by"]) == ("0 6 * * *", None)
    assert rows[untouched.name]["description"] == "new"


async def test_a_failed_run_is_recorded_and_alerted_without_secrets(
    database: Database, make_scheduler: MakeScheduler
) -> None:
    async def fails(ctx: JobContext) -> JobResult:
        await ctx.progress(JobResult(counts={"tried": 3}))
        if ctx.parameters.get("explain"):
            raise JobError("provider hilogate answered 503 for 3 orders")
        raise RuntimeError("could not reach postgresql://gerbang:hunter2@db/gerbang")

    scheduler = await make_scheduler([Job("test.fails", "0 0 1 1 *", "fails", fails)])
    explained = await _request(database, "test.fails", explain=True)
    await scheduler.tick()
    await wait_for(lambda: settled(database, "test.fails", 1))
    unexpected = await _request(database, "test.fails")
    await tick_until_settled(scheduler, database, "test.fails", 2)
    rows = {row["id"]: row for row in await runs(database, "test.fails")}
    assert rows[explained]["status"] == rows[unexpected]["status"] == "failed"
    assert rows[explained]["error"] == "provider hilogate answered 503 for 3 orders"
    assert rows[unexpected]["error"] == f"unexpected RuntimeError (the worker log has the details of run {unexpected})"
    assert rows[explained]["counts"] == {"tried": 3}  # what it had reported before failing
    alerts = await _alerts(database, "job_failed")
    assert len(alerts) == 2
    assert any("provider hilogate answered 503" in alert for alert in alerts)
    assert not any("hunter2" in alert for alert in alerts)


async def test_progress_and_heartbeat_while_running_and_a_held_lock_is_never_taken_for_dead(
    database: Database, make_scheduler: MakeScheduler
) -> None:
    release = asyncio.Event()

    async def slow(ctx: JobContext) -> JobResult:
        await ctx.progress(JobResult(counts={"done": 1}, amounts={"moved": 100}))
        await asyncio.wait_for(release.wait(), 10)
        return JobResult(counts={"done": 2}, amounts={"moved": 200})

    job = Job("test.slow", "0 0 1 1 *", "slow", slow)
    scheduler, other = await make_scheduler([job]), await make_scheduler([job])
    run_id = await _request(database, job.name)
    await scheduler.tick()
    await wait_for(lambda: _has_status(database, job.name, "running"))
    first_beat = (await runs(database, job.name))[0]["heartbeat_at"]
    await asyncio.sleep(0.6)  # the heartbeat is every quarter of the 1 s stale threshold
    row = (await runs(database, job.name))[0]
    assert (row["counts"], row["amounts"]) == ({"done": 1}, {"moved": 100})
    assert row["heartbeat_at"] > first_beat
    # However stale its heartbeat looks, a run whose lock is held is alive: nobody marks it.
    async with database.connection() as connection:
        await connection.execute("UPDATE job_runs SET heartbeat_at = now() - interval '1 hour'")
    await other.tick()
    assert await _status(database, run_id) == "running"
    release.set()
    await wait_for(lambda: settled(database, job.name, 1))
    row = (await runs(database, job.name))[0]
    assert (row["status"], row["counts"], row["amounts"]) == ("succeeded", {"done": 2}, {"moved": 200})
    assert row["worker_id"] == scheduler.worker_id
    assert row["finished_at"] >= row["started_at"]


async def test_shutdown_stops_a_job_and_records_what_it_did(database: Database, make_scheduler: MakeScheduler) -> None:
    async def patient(ctx: JobContext) -> JobResult:
        done = 0
        while not ctx.stop.is_set():
            done += 1
            await asyncio.sleep(0.01)
        return JobResult(counts={"done": done})

    scheduler = await make_scheduler([Job("test.patient", "0 0 1 1 *", "stops when asked", patient)])
    stop = asyncio.Event()
    worker = asyncio.create_task(run_loops([WorkerLoop("scheduler", scheduler.run)], stop, timedelta(seconds=5)))
    await _request(database, "test.patient")
    await wait_for(lambda: _has_status(database, "test.patient", "running"))
    await asyncio.sleep(0.2)
    stop.set()
    assert await worker is True  # finished within the grace
    row = (await runs(database, "test.patient"))[0]
    assert row["status"] == "succeeded"
    assert row["counts"]["done"] > 5


async def test_a_job_cut_off_by_the_shutdown_grace_is_failed_interrupted_and_frees_its_lock(
    database: Database, make_scheduler: MakeScheduler
) -> None:
    async def stubborn(ctx: JobContext) -> JobResult:
        if ctx.parameters.get("quick"):
            return JobResult(counts={"quick": 1})
        await ctx.progress(JobResult(counts={"started": 1}))
        await asyncio.sleep(60)  # ignores ctx.stop
        return JobResult()

    job = Job("test.stubborn", "0 0 1 1 *", "ignores stop", stubborn)
    scheduler = await make_scheduler([job])
    stop = asyncio.Event()
    worker = asyncio.create_task(run_loops([WorkerLoop("scheduler", scheduler.run)], stop, timedelta(seconds=0.3)))
    run_id = await _request(database, job.name)
    await wait_for(lambda: _has_status(database, job.name, "running"))
    stop.set()
    assert await asyncio.wait_for(worker, 5) is False  # cancelled after the grace
    row = (await runs(database, job.name))[0]
    assert (row["status"], row["error"], row["counts"]) == ("failed", "interrupted", {"started": 1})
    assert any(str(run_id) in alert and "interrupted" in alert for alert in await _alerts(database, "job_failed"))
    # Its lock went with it: another worker runs the job at once.
    other = await make_scheduler([job])
    await _request(database, job.name, quick=True)
    await other.tick()
    await wait_for(lambda: settled(database, job.name, 2))


_KILLABLE_WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from gerbang.config import load_settings
    from gerbang.db import Database, asyncpg_dsn
    from gerbang.scheduler.runner import Scheduler
    from tests.scheduler.work import WORK

    async def main(url: str) -> None:
        settings = load_settings(scheduler_poll_interval=0.05, scheduler_stale_run_after=1)
        database = await Database.connect(url, settings)
        await Scheduler(database, settings, asyncpg_dsn(url), [WORK]).run(asyncio.Event())

    asyncio.run(main(sys.argv[1]))
    """
)


async def _processed(database: Database) -> int:
    async with database.connection() as connection:
        return int(await connection.fetchval("SELECT count(*) FROM work_items WHERE processed_at IS NOT NULL"))


async def test_a_killed_worker_s_run_is_marked_interrupted_and_the_next_run_finishes_the_work(
    database: Database, database_url: str, make_scheduler: MakeScheduler, loops: object
) -> None:
    async with database.connection() as connection:
        for statement in work.CREATE:
            await connection.execute(statement)
    env = clean_env(GERBANG_ENV="test", GERBANG_SECRET_KEY=TEST_SECRET_KEY, GERBANG_LOG_LEVEL="WARNING")
    process = subprocess.Popen([sys.executable, "-c", _KILLABLE_WORKER, database_url], cwd=REPO_ROOT, env=env)
    try:
        await wait_for(lambda: _registered(database, work.WORK.name), what="the worker registered its job")
        killed_run = await _request(database, work.WORK.name)
        await wait_for(lambda: _at_least(database, 10), what="10 items processed")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert await _status(database, killed_run) == "running"  # as the dead worker left it
    before_restart = await _processed(database)
    assert before_restart < work.ITEMS, "the job finished before it could be killed"

    # The next worker: it marks the dead run interrupted once its heartbeat is stale, then runs the job again.
    loops(await make_scheduler([work.WORK]))  # type: ignore[operator]
    await wait_for(lambda: _is(database, killed_run, "failed"), what="the killed run marked failed")
    async with database.connection() as connection:
        assert await connection.fetchval("SELECT error FROM job_runs WHERE id = $1", killed_run) == "interrupted"
    assert any(str(killed_run) in alert for alert in await _alerts(database, "job_failed"))
    next_run = await _request(database, work.WORK.name)
    await wait_for(lambda: _is(database, next_run, "succeeded"), what="the next run")
    async with database.connection() as connection:
        items = await connection.fetch("SELECT times, run_id FROM work_items")
        counts = await connection.fetchval("SELECT counts FROM job_runs WHERE id = $1", next_run)
    assert {row["times"] for row in items} == {1}  # every item processed, and exactly once
    assert {row["run_id"] for row in items} == {killed_run, next_run}
    assert counts == {"processed": work.ITEMS - before_restart}


async def _registered(database: Database, job: str) -> bool:
    async with database.connection() as connection:
        return bool(await connection.fetchval("SELECT count(*) FROM scheduled_jobs WHERE name = $1", job))


async def _at_least(database: Database, count: int) -> bool:
    return await _processed(database) >= count


async def _is(database: Database, run_id: uuid.UUID, status: str) -> bool:
    return await _status(database, run_id) == status
