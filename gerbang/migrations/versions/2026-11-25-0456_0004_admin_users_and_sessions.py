"""admin users and sessions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 04:56:14.031051
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('SUPER_ADMIN', 'ADMIN', 'FINANCE', 'SUPPORT', 'VIEWER')", name=op.f("admin_users_role_check")
        ),
        sa.CheckConstraint("status IN ('active', 'inactive')", name=op.f("admin_users_status_check")),
        sa.CheckConstraint("email = lower(email)", name=op.f("admin_users_email_lower_check")),
        sa.PrimaryKeyConstraint("id", name=op.f("admin_users_pkey")),
        sa.UniqueConstraint("email", name=op.f("admin_users_email_key")),
    )
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("refresh_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("audience IN ('admin', 'partner')", name=op.f("auth_sessions_audience_check")),
        sa.PrimaryKeyConstraint("id", name=op.f("auth_sessions_pkey")),
        sa.UniqueConstraint("refresh_hash", name=op.f("auth_sessions_refresh_hash_key")),
    )
    op.create_index(op.f("ix_auth_sessions_subject_id"), "auth_sessions", ["subject_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_sessions_subject_id"), table_name="auth_sessions")
    op.drop_table("auth_sessions")
    op.drop_table("admin_users")
