"""orders

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 05:59:38.506838
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("partner_id", "key", name=op.f("idempotency_keys_pkey")),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"], unique=False)
    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("player_id", sa.String(length=100), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("flow", sa.String(length=16), server_default="embed", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="PENDING", nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=True),
        sa.Column("provider_account_id", sa.Uuid(), nullable=True),
        sa.Column("provider_reference", sa.String(length=100), nullable=True),
        sa.Column("qr_payload", sa.Text(), nullable=True),
        sa.Column("va_number", sa.String(length=40), nullable=True),
        sa.Column("redirect_url", sa.Text(), nullable=True),
        sa.Column("customer_name", sa.String(length=200), nullable=True),
        sa.Column("customer_email", sa.String(length=254), nullable=True),
        sa.Column("customer_phone", sa.String(length=32), nullable=True),
        sa.Column("return_url", sa.Text(), nullable=True),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("fee", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("method IS NULL OR method IN ('qris', 'va', 'ewallet')", name=op.f("orders_method_check")),
        sa.CheckConstraint(
            "status IN ('PENDING', 'PAID', 'FAILED', 'EXPIRED', 'CANCELLED', 'SETTLED')",
            name=op.f("orders_status_check"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("orders_amount_positive_check")),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("orders_partner_id_fkey")),
        sa.ForeignKeyConstraint(
            ["provider_account_id"], ["provider_accounts.id"], name=op.f("orders_provider_account_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("orders_pkey")),
        sa.UniqueConstraint("partner_id", "reference", name=op.f("orders_partner_id_reference_key")),
    )
    op.create_index("ix_orders_partner_id_created_at", "orders", ["partner_id", "created_at"], unique=False)
    op.create_index(
        "ix_orders_pending_expires_at", "orders", ["expires_at"], unique=False, postgresql_where="status = 'PENDING'"
    )
    op.create_table(
        "provider_account_volumes",
        sa.Column("provider_account_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_account_id"],
            ["provider_accounts.id"],
            name=op.f("provider_account_volumes_provider_account_id_fkey"),
        ),
        sa.PrimaryKeyConstraint("provider_account_id", "day", name=op.f("provider_account_volumes_pkey")),
    )
    op.create_table(
        "provider_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("provider_account_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('ok', 'unavailable', 'rejected', 'invalid')", name=op.f("provider_attempts_outcome_check")
        ),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("provider_attempts_order_id_fkey")),
        sa.ForeignKeyConstraint(
            ["provider_account_id"], ["provider_accounts.id"], name=op.f("provider_attempts_provider_account_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("provider_attempts_pkey")),
    )
    op.create_index(op.f("ix_provider_attempts_order_id"), "provider_attempts", ["order_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_provider_attempts_order_id"), table_name="provider_attempts")
    op.drop_table("provider_attempts")
    op.drop_table("provider_account_volumes")
    op.drop_index("ix_orders_pending_expires_at", table_name="orders", postgresql_where="status = 'PENDING'")
    op.drop_index("ix_orders_partner_id_created_at", table_name="orders")
    op.drop_table("orders")
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
