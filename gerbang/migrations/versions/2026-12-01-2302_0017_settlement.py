"""settlement: rules per provider account, settlement batches, settled orders

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 23:02:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAID = sa.text("status = 'PAID'")


def upgrade() -> None:
    op.add_column(
        "provider_accounts",
        sa.Column("settlement_rule", sa.String(length=20), server_default="business_days", nullable=False),
    )
    op.add_column(
        "provider_accounts", sa.Column("settlement_days", sa.SmallInteger(), server_default="1", nullable=False)
    )
    op.add_column("provider_accounts", sa.Column("settlement_cutoff_hour", sa.SmallInteger(), nullable=True))
    op.create_check_constraint(
        op.f("provider_accounts_settlement_rule_check"),
        "provider_accounts",
        "settlement_rule IN ('business_days', 'provider_reported')",
    )
    op.create_check_constraint(
        op.f("provider_accounts_settlement_days_check"), "provider_accounts", "settlement_days BETWEEN 0 AND 30"
    )
    op.create_check_constraint(
        op.f("provider_accounts_settlement_cutoff_hour_check"),
        "provider_accounts",
        "settlement_cutoff_hour IS NULL OR settlement_cutoff_hour BETWEEN 0 AND 23",
    )
    op.create_table(
        "settlement_batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("order_count", sa.Integer(), nullable=False),
        sa.Column("gross", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("order_count > 0", name=op.f("settlement_batches_order_count_positive_check")),
        sa.CheckConstraint("fee >= 0 AND net > 0 AND gross = fee + net", name=op.f("settlement_batches_amounts_check")),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("settlement_batches_partner_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("settlement_batches_pkey")),
    )
    op.create_index(
        "ix_settlement_batches_partner_id_settled_at", "settlement_batches", ["partner_id", "settled_at"], unique=False
    )
    op.create_index("ix_settlement_batches_run_id", "settlement_batches", ["run_id"], unique=False)
    op.add_column("orders", sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("orders", sa.Column("settlement_batch_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("orders_settlement_batch_id_fkey"), "orders", "settlement_batches", ["settlement_batch_id"], ["id"]
    )
    op.create_check_constraint(
        op.f("orders_settled_at_check"), "orders", "status <> 'SETTLED' OR settled_at IS NOT NULL"
    )
    op.create_index(
        "ix_orders_paid_provider_account_id_paid_at",
        "orders",
        ["provider_account_id", "paid_at", "id"],
        unique=False,
        postgresql_where=PAID,
    )
    op.add_column("sandbox_charges", sa.Column("settlement_delay_s", sa.Integer(), server_default="0", nullable=False))
    op.create_check_constraint(
        op.f("sandbox_charges_settlement_delay_s_check"), "sandbox_charges", "settlement_delay_s >= 0"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("sandbox_charges_settlement_delay_s_check"), "sandbox_charges", type_="check")
    op.drop_column("sandbox_charges", "settlement_delay_s")
    op.drop_index("ix_orders_paid_provider_account_id_paid_at", table_name="orders", postgresql_where=PAID)
    op.drop_constraint(op.f("orders_settled_at_check"), "orders", type_="check")
    op.drop_constraint(op.f("orders_settlement_batch_id_fkey"), "orders", type_="foreignkey")
    op.drop_column("orders", "settlement_batch_id")
    op.drop_column("orders", "settled_at")
    op.drop_index("ix_settlement_batches_run_id", table_name="settlement_batches")
    op.drop_index("ix_settlement_batches_partner_id_settled_at", table_name="settlement_batches")
    op.drop_table("settlement_batches")
    for name in ("settlement_cutoff_hour", "settlement_days", "settlement_rule"):
        op.drop_constraint(op.f(f"provider_accounts_{name}_check"), "provider_accounts", type_="check")
    op.drop_column("provider_accounts", "settlement_cutoff_hour")
    op.drop_column("provider_accounts", "settlement_days")
    op.drop_column("provider_accounts", "settlement_rule")
