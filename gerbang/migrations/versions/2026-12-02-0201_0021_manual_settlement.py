"""manual settlement: admins' filtered settlements, run in batches by the `settlement.manual` job

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 02:01:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNNING = sa.text("status = 'running'")
QUEUED = sa.text("status = 'queued'")


def upgrade() -> None:
    op.create_table(
        "manual_settlements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("filters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("paid_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expected_orders", sa.Integer(), nullable=False),
        sa.Column("expected_net", sa.BigInteger(), nullable=False),
        sa.Column("settled_orders", sa.Integer(), server_default="0", nullable=False),
        sa.Column("already_settled", sa.Integer(), server_default="0", nullable=False),
        sa.Column("gross", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fee", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("net", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("batches", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_requested_by", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'failed', 'cancelled')",
            name=op.f("manual_settlements_status_check"),
        ),
        sa.CheckConstraint("batch_size BETWEEN 1 AND 5000", name=op.f("manual_settlements_batch_size_check")),
        sa.CheckConstraint(
            "(status IN ('completed', 'failed', 'cancelled')) = (finished_at IS NOT NULL)",
            name=op.f("manual_settlements_finished_at_check"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("manual_settlements_pkey")),
    )
    op.create_index(
        "uq_manual_settlements_running", "manual_settlements", ["status"], unique=True, postgresql_where=RUNNING
    )
    op.create_index("ix_manual_settlements_queued", "manual_settlements", ["created_at"], postgresql_where=QUEUED)
    op.create_index("ix_manual_settlements_created_at", "manual_settlements", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_manual_settlements_created_at", table_name="manual_settlements")
    op.drop_index("ix_manual_settlements_queued", table_name="manual_settlements", postgresql_where=QUEUED)
    op.drop_index("uq_manual_settlements_running", table_name="manual_settlements", postgresql_where=RUNNING)
    op.drop_table("manual_settlements")
