"""admin TOTP two-factor authentication and recovery codes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 05:00:08.791794
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_recovery_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("admin_id", sa.Uuid(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["admin_users.id"], name=op.f("admin_recovery_codes_admin_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("admin_recovery_codes_pkey")),
    )
    op.create_index(op.f("ix_admin_recovery_codes_admin_id"), "admin_recovery_codes", ["admin_id"], unique=False)
    op.add_column("admin_users", sa.Column("totp_secret_encrypted", sa.Text(), nullable=True))
    op.add_column("admin_users", sa.Column("totp_pending_encrypted", sa.Text(), nullable=True))
    op.add_column("admin_users", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("admin_users", "totp_last_step")
    op.drop_column("admin_users", "totp_pending_encrypted")
    op.drop_column("admin_users", "totp_secret_encrypted")
    op.drop_index(op.f("ix_admin_recovery_codes_admin_id"), table_name="admin_recovery_codes")
    op.drop_table("admin_recovery_codes")
