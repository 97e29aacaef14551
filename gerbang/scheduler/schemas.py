from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RunStatus = Literal["queued", "running", "succeeded", "failed"]


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class JobRun(_Out):
    """One run of a job: asked for (or due), claimed by a worker, finished with its figures or its error."""

    id: uuid.UUID
    job: str
    trigger: Literal["cron", "manual"]
    status: RunStatus
    parameters: dict[str, Any]
    requested_by: str | None = Field(alias="requestedBy", description="`admin:<id>` or `cli`; null for cron runs")
    scheduled_for: datetime | None = Field(alias="scheduledFor", description="The cron slot; null for manual runs")
    created_at: datetime = Field(alias="createdAt")
    started_at: datetime | None = Field(alias="startedAt")
    finished_at: datetime | None = Field(alias="finishedAt")
    heartbeat_at: datetime | None = Field(alias="heartbeatAt")
    counts: dict[str, int] = Field(description="What the run did, so far while it runs")
    amounts: dict[str, int] = Field(description="Money it moved or reported, in whole rupiah")
    error: str | None = Field(description="Why it failed; `interrupted` when its worker stopped or died mid-run")
    worker_id: uuid.UUID | None = Field(alias="workerId")


class LastRun(_Out):
    id: uuid.UUID
    trigger: Literal["cron", "manual"]
    status: RunStatus
    created_at: datetime = Field(alias="createdAt")
    started_at: datetime | None = Field(alias="startedAt")
    finished_at: datetime | None = Field(alias="finishedAt")


class ScheduledJob(_Out):
    name: str
    description: str
    cron: str = Field(description="Five fields, Asia/Jakarta")
    enabled: bool = Field(description="Whether cron slots run; a disabled job can still be run by hand")
    next_run_at: datetime | None = Field(
        alias="nextRunAt",
        description="The next cron slot, in Asia/Jakarta; in the past when it is overdue (no worker has run it "
        "yet); null when disabled",
    )
    updated_at: datetime = Field(alias="updatedAt")
    updated_by: str | None = Field(alias="updatedBy", description="`admin:<id>`; null while on the default cron")
    last_run: LastRun | None = Field(alias="lastRun")


class JobChanges(BaseModel):
    """Fields to change; absent fields stay."""

    model_config = ConfigDict(extra="forbid")

    cron: str | None = Field(default=None, max_length=200, examples=["0 16 * * *"])
    enabled: bool | None = None


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, Any] = Field(default_factory=dict, description="Passed to the job as they are")


class CronJobStatus(_Out):
    name: str
    cron: str
    enabled: bool
    next_run_at: datetime | None = Field(alias="nextRunAt")
    last_run_status: RunStatus | None = Field(alias="lastRunStatus")
    last_run_at: datetime | None = Field(
        alias="lastRunAt", description="When the last run finished, or started, or was queued"
    )


class CronStatus(_Out):
    worker_alive: bool = Field(alias="workerAlive", description="A worker (which runs the scheduler) beat recently")
    workers: int = Field(description="Workers alive")
    jobs: list[CronJobStatus]
