"""alerts: delivery state for the Telegram sender

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 23:03:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("severity", sa.String(length=16), server_default="warning", nullable=False))
    op.add_column("alerts", sa.Column("status", sa.String(length=16), server_default="pending", nullable=False))
    op.add_column("alerts", sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    op.add_column("alerts", sa.Column("parts_sent", sa.Integer(), server_default="0", nullable=False))
    op.add_column(
        "alerts",
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )
    op.add_column("alerts", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("alerts", sa.Column("last_error", sa.String(length=500), nullable=True))
    op.add_column("alerts", sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
    # Alerts written before delivery existed keep their time and get their kind's severity (as of this
    # revision); the sender's age limit keeps old ones from flooding the chat.
    op.execute(
        "UPDATE alerts SET next_attempt_at = created_at, severity = CASE "
        "WHEN kind IN ('settlement_summary', 'dashboard_summary') THEN 'info' "
        "WHEN kind IN ('job_failed', 'withdrawal_completed_unfunded') THEN 'critical' "
        "ELSE 'warning' END"
    )
    op.create_check_constraint(op.f("alerts_severity_check"), "alerts", "severity IN ('info', 'warning', 'critical')")
    op.create_check_constraint(
        op.f("alerts_status_check"), "alerts", "status IN ('pending', 'delivered', 'failed', 'skipped')"
    )
    op.create_index(
        "ix_alerts_due", "alerts", ["next_attempt_at"], unique=False, postgresql_where=sa.text("status = 'pending'")
    )


def downgrade() -> None:
    op.drop_index("ix_alerts_due", table_name="alerts", postgresql_where=sa.text("status = 'pending'"))
    op.drop_constraint(op.f("alerts_status_check"), "alerts", type_="check")
    op.drop_constraint(op.f("alerts_severity_check"), "alerts", type_="check")
    op.drop_column("alerts", "delivered_at")
    op.drop_column("alerts", "last_error")
    op.drop_column("alerts", "claimed_until")
    op.drop_column("alerts", "next_attempt_at")
    op.drop_column("alerts", "parts_sent")
    op.drop_column("alerts", "attempts")
    op.drop_column("alerts", "status")
    op.drop_column("alerts", "severity")
