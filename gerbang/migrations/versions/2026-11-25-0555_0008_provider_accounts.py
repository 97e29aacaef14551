"""provider accounts

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 05:55:28.820519
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=False),
        sa.Column("credentials_encrypted", sa.Text(), nullable=False),
        sa.Column("methods", sa.ARRAY(sa.String(length=16)), nullable=False),
        sa.Column("weekday_enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("weekend_enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("min_amount", sa.BigInteger(), nullable=True),
        sa.Column("max_amount", sa.BigInteger(), nullable=True),
        sa.Column("daily_cap", sa.BigInteger(), nullable=True),
        sa.Column("priority", sa.Integer(), server_default="100", nullable=False),
        sa.Column("weight", sa.Integer(), server_default="1", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("circuit_opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "daily_cap IS NULL OR daily_cap > 0", name=op.f("provider_accounts_daily_cap_positive_check")
        ),
        sa.CheckConstraint(
            "max_amount IS NULL OR max_amount >= coalesce(min_amount, 1)",
            name=op.f("provider_accounts_max_amount_range_check"),
        ),
        sa.CheckConstraint(
            "min_amount IS NULL OR min_amount > 0", name=op.f("provider_accounts_min_amount_positive_check")
        ),
        sa.CheckConstraint("weight > 0", name=op.f("provider_accounts_weight_positive_check")),
        sa.PrimaryKeyConstraint("id", name=op.f("provider_accounts_pkey")),
    )
    op.create_index(op.f("ix_provider_accounts_provider"), "provider_accounts", ["provider"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_provider_accounts_provider"), table_name="provider_accounts")
    op.drop_table("provider_accounts")
