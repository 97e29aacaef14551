"""settlement adjustment: adjustments (an order's fee recomputed after payment) and their orders

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 02:02:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "settlement_adjustments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="previewed", nullable=False),
        sa.Column("selection", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("fee_basis", sa.String(length=16), nullable=False),
        sa.Column("fee_percent", sa.Numeric(precision=7, scale=4), nullable=True),
        sa.Column("fee_flat", sa.BigInteger(), nullable=True),
        sa.Column("order_count", sa.Integer(), nullable=False),
        sa.Column("old_fee", sa.BigInteger(), nullable=False),
        sa.Column("new_fee", sa.BigInteger(), nullable=False),
        sa.Column("difference", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_by", sa.Uuid(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('previewed', 'applied')", name=op.f("settlement_adjustments_status_check")),
        sa.CheckConstraint(
            "(status = 'applied') = (applied_at IS NOT NULL)", name=op.f("settlement_adjustments_applied_at_check")
        ),
        sa.CheckConstraint(
            "fee_basis IN ('rate', 'partner_fees')", name=op.f("settlement_adjustments_fee_basis_check")
        ),
        sa.CheckConstraint(
            "(fee_basis = 'rate') = (fee_percent IS NOT NULL AND fee_flat IS NOT NULL)",
            name=op.f("settlement_adjustments_rate_given_check"),
        ),
        sa.CheckConstraint("order_count > 0", name=op.f("settlement_adjustments_order_count_positive_check")),
        sa.CheckConstraint("difference = new_fee - old_fee", name=op.f("settlement_adjustments_difference_check")),
        sa.ForeignKeyConstraint(
            ["applied_by"], ["admin_users.id"], name=op.f("settlement_adjustments_applied_by_fkey")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["admin_users.id"], name=op.f("settlement_adjustments_created_by_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("settlement_adjustments_pkey")),
    )
    op.create_table(
        "settlement_adjustment_items",
        sa.Column("adjustment_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("order_status", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("old_fee", sa.BigInteger(), nullable=False),
        sa.Column("new_fee", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "old_fee >= 0 AND new_fee >= 0 AND new_fee < amount", name=op.f("settlement_adjustment_items_fees_check")
        ),
        sa.ForeignKeyConstraint(
            ["adjustment_id"],
            ["settlement_adjustments.id"],
            name=op.f("settlement_adjustment_items_adjustment_id_fkey"),
        ),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("settlement_adjustment_items_order_id_fkey")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("settlement_adjustment_items_partner_id_fkey")
        ),
        sa.PrimaryKeyConstraint("adjustment_id", "order_id", name=op.f("settlement_adjustment_items_pkey")),
    )
    op.create_index(
        "ix_settlement_adjustment_items_order_id", "settlement_adjustment_items", ["order_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_settlement_adjustment_items_order_id", table_name="settlement_adjustment_items")
    op.drop_table("settlement_adjustment_items")
    op.drop_table("settlement_adjustments")
