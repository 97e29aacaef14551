"""webhook delivery

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 20:48:11.455140
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("alerts_pkey")),
    )
    op.create_index("ix_alerts_created_at", "alerts", ["created_at"], unique=False)
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('delivered', 'retry', 'dead', 'gone')", name=op.f("webhook_attempts_outcome_check")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("webhook_attempts_pkey")),
    )
    op.create_index("ix_webhook_attempts_event_id", "webhook_attempts", ["event_id"], unique=False)
    op.create_index(
        "ix_webhook_attempts_partner_id_started_at", "webhook_attempts", ["partner_id", "started_at"], unique=False
    )
    op.add_column(
        "partners", sa.Column("webhook_events", sa.ARRAY(sa.String(length=40)), server_default="{}", nullable=False)
    )
    op.add_column("partners", sa.Column("webhook_fifo", sa.Boolean(), server_default="true", nullable=False))
    op.add_column("partners", sa.Column("webhook_disabled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("partners", sa.Column("webhook_disabled_reason", sa.String(length=200), nullable=True))
    op.add_column("partners", sa.Column("webhook_dead_streak", sa.Integer(), server_default="0", nullable=False))
    op.add_column("webhook_events", sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False))
    op.add_column("webhook_events", sa.Column("object_id", sa.Uuid(), nullable=True))
    op.add_column("webhook_events", sa.Column("body", sa.Text(), nullable=True))
    op.add_column("webhook_events", sa.Column("status", sa.String(length=16), server_default="pending", nullable=False))
    op.add_column("webhook_events", sa.Column("skip_reason", sa.String(length=32), nullable=True))
    op.add_column("webhook_events", sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    op.add_column("webhook_events", sa.Column("round_attempts", sa.Integer(), server_default="0", nullable=False))
    op.add_column("webhook_events", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    # Events written before delivery existed were never sent: they go out now, as they are.
    op.execute("UPDATE webhook_events SET body = payload::text, next_attempt_at = created_at")
    op.alter_column("webhook_events", "body", nullable=False)
    op.alter_column("webhook_events", "next_attempt_at", nullable=False)
    op.add_column("webhook_events", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("webhook_events", sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("webhook_events", sa.Column("last_status_code", sa.Integer(), nullable=True))
    op.add_column("webhook_events", sa.Column("last_error", sa.String(length=500), nullable=True))
    op.add_column("webhook_events", sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_webhook_events_due",
        "webhook_events",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_webhook_events_object_id", "webhook_events", ["object_id"], unique=False)
    op.create_index(
        "ix_webhook_events_pending_seq",
        "webhook_events",
        ["partner_id", "seq"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_unique_constraint(op.f("webhook_events_seq_key"), "webhook_events", ["seq"])
    op.drop_column("webhook_events", "payload")
    # New events wake the delivery workers when their transaction commits (one notification per
    # transaction, however many rows), with no extra round trip for the code that writes them.
    op.execute(
        "CREATE FUNCTION webhook_events_notify() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_notify('gerbang_webhooks', ''); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER webhook_events_notify AFTER INSERT ON webhook_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION webhook_events_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER webhook_events_notify ON webhook_events")
    op.execute("DROP FUNCTION webhook_events_notify()")
    op.add_column(
        "webhook_events",
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), autoincrement=False, nullable=True),
    )
    op.execute("UPDATE webhook_events SET payload = body::jsonb")
    op.alter_column("webhook_events", "payload", nullable=False)
    op.drop_constraint(op.f("webhook_events_seq_key"), "webhook_events", type_="unique")
    op.drop_index(
        "ix_webhook_events_pending_seq", table_name="webhook_events", postgresql_where=sa.text("status = 'pending'")
    )
    op.drop_index("ix_webhook_events_object_id", table_name="webhook_events")
    op.drop_index("ix_webhook_events_due", table_name="webhook_events", postgresql_where=sa.text("status = 'pending'"))
    op.drop_column("webhook_events", "delivered_at")
    op.drop_column("webhook_events", "last_error")
    op.drop_column("webhook_events", "last_status_code")
    op.drop_column("webhook_events", "last_attempt_at")
    op.drop_column("webhook_events", "claimed_until")
    op.drop_column("webhook_events", "next_attempt_at")
    op.drop_column("webhook_events", "round_attempts")
    op.drop_column("webhook_events", "attempts")
    op.drop_column("webhook_events", "skip_reason")
    op.drop_column("webhook_events", "status")
    op.drop_column("webhook_events", "body")
    op.drop_column("webhook_events", "object_id")
    op.drop_column("webhook_events", "seq")
    op.drop_column("partners", "webhook_dead_streak")
    op.drop_column("partners", "webhook_disabled_reason")
    op.drop_column("partners", "webhook_disabled_at")
    op.drop_column("partners", "webhook_fifo")
    op.drop_column("partners", "webhook_events")
    op.drop_index("ix_webhook_attempts_partner_id_started_at", table_name="webhook_attempts")
    op.drop_index("ix_webhook_attempts_event_id", table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index("ix_alerts_created_at", table_name="alerts")
    op.drop_table("alerts")
