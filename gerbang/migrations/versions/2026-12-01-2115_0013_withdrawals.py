"""withdrawals

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 21:15:21.862721
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "withdrawals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.Column("bank_code", sa.String(length=16), nullable=False),
        sa.Column("account_number", sa.String(length=34), nullable=False),
        sa.Column("account_holder", sa.String(length=100), nullable=False),
        sa.Column("supplied_holder_name", sa.String(length=100), nullable=True),
        sa.Column("holder_name_mismatch", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("note", sa.String(length=255), nullable=True),
        sa.Column("provider_account_id", sa.Uuid(), nullable=False),
        sa.Column("provider_reference", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="PENDING", nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("submit_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retry_of", sa.Uuid(), nullable=True),
        sa.Column("requested_by", sa.String(length=80), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("source IN ('console', 's2s', 'admin')", name=op.f("withdrawals_source_check")),
        sa.CheckConstraint(
            "status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')", name=op.f("withdrawals_status_check")
        ),
        sa.CheckConstraint(
            "amount > 0 AND fee >= 0 AND net > 0 AND amount = fee + net", name=op.f("withdrawals_amounts_check")
        ),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("withdrawals_partner_id_fkey")),
        sa.ForeignKeyConstraint(["retry_of"], ["withdrawals.id"], name=op.f("withdrawals_retry_of_fkey")),
        sa.ForeignKeyConstraint(
            ["provider_account_id"], ["provider_accounts.id"], name=op.f("withdrawals_provider_account_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("withdrawals_pkey")),
    )
    op.create_index(
        "ix_withdrawals_open",
        "withdrawals",
        ["next_check_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('PENDING', 'PROCESSING')"),
    )
    op.create_index("ix_withdrawals_partner_id_created_at", "withdrawals", ["partner_id", "created_at"], unique=False)
    op.create_index("uq_withdrawals_partner_id_reference", "withdrawals", ["partner_id", "reference"], unique=True)
    op.add_column("partners", sa.Column("withdrawal_min_amount", sa.BigInteger(), nullable=True))
    op.add_column("partners", sa.Column("withdrawal_max_amount", sa.BigInteger(), nullable=True))
    op.add_column(
        "partners", sa.Column("withdrawal_requires_otp", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("provider_callbacks", sa.Column("withdrawal_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column("provider_callbacks", "withdrawal_id")
    op.drop_column("partners", "withdrawal_requires_otp")
    op.drop_column("partners", "withdrawal_max_amount")
    op.drop_column("partners", "withdrawal_min_amount")
    op.drop_index("uq_withdrawals_partner_id_reference", table_name="withdrawals")
    op.drop_index("ix_withdrawals_partner_id_created_at", table_name="withdrawals")
    op.drop_index(
        "ix_withdrawals_open", table_name="withdrawals", postgresql_where=sa.text("status IN ('PENDING', 'PROCESSING')")
    )
    op.drop_table("withdrawals")
