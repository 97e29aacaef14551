"""sandbox provider charges

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 05:51:40.252811
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sandbox_charges",
        sa.Column("merchant_ref", sa.Uuid(), nullable=False),
        sa.Column("charge_id", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="PENDING", nullable=False),
        sa.Column("merchant_name", sa.String(length=100), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=False),
        sa.Column("merchant_key_encrypted", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('PENDING', 'PAID', 'FAILED', 'EXPIRED')", name=op.f("sandbox_charges_status_check")
        ),
        sa.PrimaryKeyConstraint("merchant_ref", name=op.f("sandbox_charges_pkey")),
        sa.UniqueConstraint("charge_id", name=op.f("sandbox_charges_charge_id_key")),
    )


def downgrade() -> None:
    op.drop_table("sandbox_charges")
