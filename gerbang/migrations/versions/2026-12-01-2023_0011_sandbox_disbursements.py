"""sandbox provider disbursements

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 20:23:30.860855
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sandbox_disbursements",
        sa.Column("merchant_ref", sa.Uuid(), nullable=False),
        sa.Column("disbursement_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_key_hash", sa.String(length=64), nullable=False),
        sa.Column("merchant_key_encrypted", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("bank_code", sa.String(length=16), nullable=False),
        sa.Column("account_number", sa.String(length=20), nullable=False),
        sa.Column("holder_name", sa.String(length=100), nullable=False),
        sa.Column("note", sa.String(length=255), nullable=True),
        sa.Column("callback_url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="PROCESSING", nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("complete_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("outcome IN ('COMPLETED', 'FAILED')", name=op.f("sandbox_disbursements_outcome_check")),
        sa.CheckConstraint(
            "status IN ('PROCESSING', 'COMPLETED', 'FAILED')", name=op.f("sandbox_disbursements_status_check")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("sandbox_disbursements_amount_check")),
        sa.PrimaryKeyConstraint("merchant_ref", name=op.f("sandbox_disbursements_pkey")),
        sa.UniqueConstraint("disbursement_id", name=op.f("sandbox_disbursements_disbursement_id_key")),
    )
    op.create_index(
        "ix_sandbox_disbursements_merchant_key_hash", "sandbox_disbursements", ["merchant_key_hash"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_sandbox_disbursements_merchant_key_hash", table_name="sandbox_disbursements")
    op.drop_table("sandbox_disbursements")
