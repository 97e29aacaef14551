"""scheduler: scheduled jobs (cron per job) and job runs

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 23:01:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scheduled_jobs",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("cron", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("scheduled_jobs_pkey")),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("parameters", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("requested_by", sa.String(length=80), nullable=True),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("amounts", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("worker_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint("trigger IN ('cron', 'manual')", name=op.f("job_runs_trigger_check")),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name=op.f("job_runs_status_check")
        ),
        sa.CheckConstraint(
            "(trigger = 'cron') = (scheduled_for IS NOT NULL)", name=op.f("job_runs_cron_has_slot_check")
        ),
        sa.ForeignKeyConstraint(["job"], ["scheduled_jobs.name"], name=op.f("job_runs_job_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("job_runs_pkey")),
    )
    op.create_index("uq_job_runs_job_scheduled_for", "job_runs", ["job", "scheduled_for"], unique=True)
    op.create_index(
        "uq_job_runs_open_cron",
        "job_runs",
        ["job"],
        unique=True,
        postgresql_where=sa.text("trigger = 'cron' AND status IN ('queued', 'running')"),
    )
    op.create_index(
        "uq_job_runs_open_manual",
        "job_runs",
        ["job"],
        unique=True,
        postgresql_where=sa.text("trigger = 'manual' AND status IN ('queued', 'running')"),
    )
    op.create_index(
        "ix_job_runs_queued", "job_runs", ["created_at"], unique=False, postgresql_where=sa.text("status = 'queued'")
    )
    op.create_index(
        "ix_job_runs_running",
        "job_runs",
        ["heartbeat_at"],
        unique=False,
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_index("ix_job_runs_job_created_at", "job_runs", ["job", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_job_runs_job_created_at", table_name="job_runs")
    op.drop_index("ix_job_runs_running", table_name="job_runs", postgresql_where=sa.text("status = 'running'"))
    op.drop_index("ix_job_runs_queued", table_name="job_runs", postgresql_where=sa.text("status = 'queued'"))
    op.drop_index(
        "uq_job_runs_open_manual",
        table_name="job_runs",
        postgresql_where=sa.text("trigger = 'manual' AND status IN ('queued', 'running')"),
    )
    op.drop_index(
        "uq_job_runs_open_cron",
        table_name="job_runs",
        postgresql_where=sa.text("trigger = 'cron' AND status IN ('queued', 'running')"),
    )
    op.drop_index("uq_job_runs_job_scheduled_for", table_name="job_runs")
    op.drop_table("job_runs")
    op.drop_table("scheduled_jobs")
