"""Runs the worker's loops until told to stop, then gives them a grace period to finish.

A loop is any coroutine that returns soon after `stop` is set. A loop that raises is logged and
restarted after a pause: one failing job must not take the others down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import structlog

from gerbang.kit.log import get_logger

log = get_logger("gerbang.worker")

_RESTART_PAUSE_S = 1.0


@dataclass(frozen=True)
class WorkerLoop:
    name: str
    run: Callable[[asyncio.Event], Awaitable[None]]


def periodic(name: str, interval: timedelta, job: Callable[[], Awaitable[None]]) -> WorkerLoop:
    """A loop that runs `job` now and then every `interval` until stopped; never two runs at once."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            structlog.contextvars.bind_contextvars(job=name)
            try:
                await job()
            except Exception:
                log.exception("worker.job_failed")
            finally:
                structlog.contextvars.unbind_contextvars("job")
            await wait_or_stop(stop, interval.total_seconds())

    return WorkerLoop(name, run)


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep for `seconds` or until `stop` is set, whichever is first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _supervise(loop: WorkerLoop, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await loop.run(stop)
        except Exception:
            log.exception("worker.loop_crashed", loop=loop.name)
            await wait_or_stop(stop, _RESTART_PAUSE_S)


async def run_loops(loops: Sequence[WorkerLoop], stop: asyncio.Event, grace: timedelta) -> bool:
    """Run every loop until `stop` is set; True if all finished within `grace` after that."""
    tasks = [asyncio.create_task(_supervise(loop, stop), name=loop.name) for loop in loops]
    log.info("worker.started", loops=[loop.name for loop in loops])
    await stop.wait()
    log.info("worker.stopping", grace_s=grace.total_seconds())
    _, unfinished = await asyncio.wait(tasks, timeout=grace.total_seconds())
    for task in unfinished:
        log.warning("worker.loop_cancelled", loop=task.get_name())
        task.cancel()
    await asyncio.gather(*unfinished, return_exceptions=True)
    return not unfinished
