"""Schedulers as workers run them (each with its own pool and connections) over the test's database, with
a clock the test moves, and test-only jobs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from gerbang.config import Settings
from gerbang.db import Database, asyncpg_dsn
from gerbang.kit.time import utcnow
from gerbang.scheduler.base import Job
from gerbang.scheduler.runner import Scheduler

POLL = timedelta(milliseconds=50)
STALE_AFTER = timedelta(seconds=1)


class Clock:
    """What the schedulers judge cron slots by: starts at `at`, moves when told."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> None:
        self.at += by


def next_minute(after: datetime) -> datetime:
    return after.replace(second=0, microsecond=0) + timedelta(minutes=1)


@pytest.fixture
def scheduler_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"scheduler_poll_interval": POLL, "scheduler_stale_run_after": STALE_AFTER})


MakeScheduler = Callable[..., Awaitable[Scheduler]]


@pytest.fixture
async def make_scheduler(scheduler_settings: Settings, database_url: str) -> AsyncIterator[MakeScheduler]:
    """A scheduler with its own pool, as in its own worker; drained and closed at the end of the test."""
    async with AsyncExitStack() as stack:

        async def make(jobs: Sequence[Job], clock: Callable[[], datetime] = utcnow, **overrides: Any) -> Scheduler:
            settings = scheduler_settings.model_copy(update=overrides)
            pool = await Database.connect(database_url, settings)
            stack.push_async_callback(pool.dispose)
            scheduler = Scheduler(pool, settings, asyncpg_dsn(database_url), jobs, clock=clock)
            stack.push_async_callback(scheduler.drain)
            await scheduler.register()
            return scheduler

        yield make


@pytest.fixture
async def loops(make_scheduler: MakeScheduler) -> AsyncIterator[Callable[[Scheduler], asyncio.Event]]:
    """Runs a scheduler's worker loop in the background; returns the event that stops it. (Stopped before
    the schedulers' pools close.)"""
    running: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    def start(scheduler: Scheduler) -> asyncio.Event:
        stop = asyncio.Event()
        running.append((stop, asyncio.create_task(scheduler.run(stop))))
        return stop

    yield start
    for stop, _ in running:
        stop.set()
    await asyncio.gather(*(task for _, task in running))


async def wait_for(check: Callable[[], Awaitable[bool]], timeout_s: float = 15, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        await asyncio.sleep(0.02)


async def runs(database: Database, job: str) -> list[asyncpg.Record]:
    async with database.connection() as connection:
        return await connection.fetch("SELECT * FROM job_runs WHERE job = $1 ORDER BY created_at", job)


async def settled(database: Database, job: str, count: int) -> bool:
    """`count` runs of `job` exist and every one of them has finished."""
    found = await runs(database, job)
    return len(found) == count and all(row["status"] in ("succeeded", "failed") for row in found)


async def tick_until_settled(scheduler: Any, database: Database, job: str, count: int) -> None:
    """Ticks `scheduler` as a worker's loop does until `count` runs of `job` have finished. One tick is not
    enough after a run ends: its row is recorded before its task lets go of the job's lock, and a tick in
    between rightly leaves the next run queued for the tick after."""

    async def ticked() -> bool:
        await scheduler.tick()
        return await settled(database, job, count)

    await wait_for(ticked, what=f"{count} runs of {job}")
