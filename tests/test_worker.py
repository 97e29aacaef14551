from __future__ import annotations

import asyncio
from datetime import timedelta

from gerbang.db import Database
from gerbang.worker.heartbeat import heartbeat_loop
from gerbang.worker.runner import WorkerLoop, periodic, run_loops

GRACE = timedelta(seconds=2)


async def test_periodic_job_runs_until_stopped() -> None:
    runs = 0

    async def job() -> None:
        nonlocal runs
        runs += 1

    stop = asyncio.Event()
    task = asyncio.create_task(run_loops([periodic("count", timedelta(milliseconds=10), job)], stop, GRACE))
    await asyncio.sleep(0.2)
    stop.set()
    assert await task is True
    after_stop = runs
    await asyncio.sleep(0.05)
    assert runs == after_stop >= 5


async def test_a_failing_job_does_not_stop_the_others() -> None:
    healthy_runs = 0
    failing_runs = 0

    async def failing() -> None:
        nonlocal failing_runs
        failing_runs += 1
        raise RuntimeError("job failed")

    async def healthy() -> None:
        nonlocal healthy_runs
        healthy_runs += 1

    stop = asyncio.Event()
    loops = [
        periodic("failing", timedelta(milliseconds=10), failing),
        periodic("ok", timedelta(milliseconds=10), healthy),
    ]
    task = asyncio.create_task(run_loops(loops, stop, GRACE))
    await asyncio.sleep(0.2)
    stop.set()
    assert await task is True
    assert failing_runs >= 5
    assert healthy_runs >= 5


async def test_a_crashing_loop_is_restarted() -> None:
    starts = 0

    async def crashes_once(stop: asyncio.Event) -> None:
        nonlocal starts
        starts += 1
        if starts == 1:
            raise RuntimeError("crash")
        await stop.wait()

    stop = asyncio.Event()
    task = asyncio.create_task(run_loops([WorkerLoop("crashy", crashes_once)], stop, GRACE))
    await asyncio.sleep(1.3)
    stop.set()
    assert await task is True
    assert starts == 2


async def test_a_loop_that_ignores_stop_is_cancelled_after_the_grace() -> None:
    async def stubborn(_: asyncio.Event) -> None:
        await asyncio.sleep(3600)

    stop = asyncio.Event()
    task = asyncio.create_task(run_loops([WorkerLoop("stubborn", stubborn)], stop, timedelta(milliseconds=100)))
    await asyncio.sleep(0.05)
    stop.set()
    assert await asyncio.wait_for(task, timeout=2) is False


async def test_heartbeat_is_written_and_marked_stopped(database: Database) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(run_loops([heartbeat_loop(database, timedelta(milliseconds=50))], stop, GRACE))
    await asyncio.sleep(0.3)
    async with database.transaction() as connection:
        alive = await connection.fetch("SELECT * FROM worker_heartbeats")
    assert len(alive) == 1
    assert alive[0]["stopped_at"] is None
    assert alive[0]["last_seen_at"] > alive[0]["started_at"]
    stop.set()
    assert await task is True
    async with database.transaction() as connection:
        stopped = await connection.fetch("SELECT * FROM worker_heartbeats")
    assert [row["id"] for row in stopped] == [alive[0]["id"]]
    assert stopped[0]["stopped_at"] is not None
