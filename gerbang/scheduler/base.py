"""What a scheduled job is, for the domain modules that define one and the scheduler that runs it.

A job is an async function of a `JobContext` returning a `JobResult`. The scheduler runs it under a
PostgreSQL advisory lock (one run at a time in the whole cluster) and persists every run in `job_runs`.
Every step of a job must be idempotent: a run killed half-way is marked failed at the next start and the
next run picks the remaining work up again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from gerbang.config import Settings
from gerbang.db import Database

Trigger = Literal["cron", "manual"]


class JobError(Exception):
    """A failure a job explains for people: its message is stored in the run and sent in the alert as it is,
    so it must name what went wrong without any secret. Any other exception is recorded by its type only
    (the worker log has the traceback)."""


@dataclass(frozen=True)
class JobResult:
    counts: dict[str, int] = field(default_factory=dict)
    """What the run did, by name (`settled`, `batches`, ...)."""
    amounts: dict[str, int] = field(default_factory=dict)
    """Money it moved, by name, in whole rupiah."""


@dataclass
class JobContext:
    database: Database
    settings: Settings
    run_id: uuid.UUID
    trigger: Trigger
    stop: asyncio.Event
    """Set when the worker shuts down: a long job checks it between batches and returns what it did."""
    parameters: dict[str, Any] = field(default_factory=dict)
    """A manual run's parameters (empty for cron runs)."""
    report_progress: Callable[[JobResult], Awaitable[None]] | None = None
    """Set by the scheduler: persists a running job's figures so far in its `job_runs` row."""
    scheduled_for: datetime | None = None
    """The cron slot a cron run is for (it may start later, after missed slots); None for a manual run."""

    async def progress(self, so_far: JobResult) -> None:
        if self.report_progress is not None:
            await self.report_progress(so_far)


@dataclass(frozen=True)
class Job:
    name: str
    """Stable, dotted: `settlement.check`. The admin API and `gerbang jobs run NAME` use it."""
    default_cron: str
    """Five fields, Asia/Jakarta. Admins may change it; this is the value a new installation starts with."""
    description: str
    run: Callable[[JobContext], Awaitable[JobResult]]
