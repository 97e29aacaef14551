"""Scheduled jobs and their runs: what each job's cron is, and every time one ran (or tried to)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, String, Text, Uuid, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gerbang.models.base import Model


class ScheduledJob(Model):
    """One row per job a worker knows. Workers add their jobs at start with the default cron; an admin's
    change (`updated_by` set) is never overwritten by a worker."""

    __tablename__ = "scheduled_jobs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    cron: Mapped[str] = mapped_column(String(200), nullable=False)
    """Five fields, Asia/Jakarta (`gerbang.kit.cron`)."""
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    """Whether cron slots are run; a disabled job can still be run by hand."""
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    """When the schedule last changed (created, cron edited, enabled or disabled): no catch-up run reaches
    back past it."""
    updated_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    """`admin:<id>` after an admin's change; null while the job keeps the default its code declares."""


class JobRun(Model):
    """One run of a job, from the moment it is due or asked for until it finished."""

    __tablename__ = "job_runs"
    __table_args__ = (
        CheckConstraint("trigger IN ('cron', 'manual')", name="trigger"),
        CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name="status"),
        CheckConstraint("(trigger = 'cron') = (scheduled_for IS NOT NULL)", name="cron_has_slot"),
        # A cron slot has at most one run, however many workers saw it come due.
        Index("uq_job_runs_job_scheduled_for", "job", "scheduled_for", unique=True),
        # At most one cron run of a job open: slots coming due while it goes make one catch-up run after it.
        Index(
            "uq_job_runs_open_cron", "job", unique=True,
            postgresql_where=text("trigger = 'cron' AND status IN ('queued', 'running')"),
        ),
        # At most one manual run of a job queued or running: a second request is answered 409.
        Index(
            "uq_job_runs_open_manual", "job", unique=True,
            postgresql_where=text("trigger = 'manual' AND status IN ('queued', 'running')"),
        ),
        Index("ix_job_runs_queued", "created_at", postgresql_where=text("status = 'queued'")),
        Index("ix_job_runs_running", "heartbeat_at", postgresql_where=text("status = 'running'")),
        Index("ix_job_runs_job_created_at", "job", "created_at"),
    )  # fmt: skip

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    job: Mapped[str] = mapped_column(String(64), ForeignKey("scheduled_jobs.name"), nullable=False)
    trigger: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="queued")
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    """A manual run's parameters, as given."""
    requested_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    """`admin:<id>` or `cli` for a manual run; null for a cron run."""
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """The cron slot this run is for; null for a manual run."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """Refreshed while the run holds its job's lock; a stale one means its worker is gone."""
    counts: Mapped[dict[str, int]] = mapped_column(JSONB, nullable=False, server_default="{}")
    amounts: Mapped[dict[str, int]] = mapped_column(JSONB, nullable=False, server_default="{}")
    """Whole rupiah, by name."""
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Why a failed run failed, for people; `interrupted` when its worker stopped or died mid-run."""
    worker_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The `worker_heartbeats` row of the worker that ran it."""
