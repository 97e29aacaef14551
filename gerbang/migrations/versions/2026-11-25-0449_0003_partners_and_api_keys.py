"""partners, API keys and the signed-request replay cache

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 04:49:59.303030
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("allow_unsigned_requests", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("webhook_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('active', 'inactive')", name=op.f("partners_status_check")),
        sa.ForeignKeyConstraint(["parent_id"], ["partners.id"], name=op.f("partners_parent_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("partners_pkey")),
    )
    op.create_index(op.f("ix_partners_parent_id"), "partners", ["parent_id"], unique=False)
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("public_id", sa.String(length=12), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("signing_secret_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("api_keys_partner_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("api_keys_pkey")),
        sa.UniqueConstraint("public_id", name=op.f("api_keys_public_id_key")),
    )
    op.create_index(op.f("ix_api_keys_partner_id"), "api_keys", ["partner_id"], unique=False)
    op.create_table(
        "seen_signatures",
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("seen_signatures_api_key_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("api_key_id", "signature", name=op.f("seen_signatures_pkey")),
    )
    op.create_index("ix_seen_signatures_expires_at", "seen_signatures", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_seen_signatures_expires_at", table_name="seen_signatures")
    op.drop_table("seen_signatures")
    op.drop_index(op.f("ix_api_keys_partner_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_index(op.f("ix_partners_parent_id"), table_name="partners")
    op.drop_table("partners")
