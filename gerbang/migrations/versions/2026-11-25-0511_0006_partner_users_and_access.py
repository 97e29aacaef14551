"""partner users, partner settings, allow-lists, audit and request logs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 05:11:42.679773
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_request_logs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("latency_us", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("request_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("api_request_logs_pkey")),
    )
    op.create_index("ix_api_request_logs_created_at", "api_request_logs", ["created_at"], unique=False)
    op.create_index(
        "ix_api_request_logs_partner_id_created_at", "api_request_logs", ["partner_id", "created_at"], unique=False
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_email", sa.String(length=254), nullable=True),
        sa.Column("partner_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.CheckConstraint(
            "actor_type IN ('admin', 'partner_user', 'api_key', 'system')", name=op.f("audit_events_actor_type_check")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("audit_events_pkey")),
    )
    op.create_index("ix_audit_events_actor_id", "audit_events", ["actor_id"], unique=False)
    op.create_index("ix_audit_events_occurred_at", "audit_events", ["occurred_at"], unique=False)
    op.create_index(
        "ix_audit_events_partner_id_occurred_at", "audit_events", ["partner_id", "occurred_at"], unique=False
    )
    op.create_index("ix_audit_events_target", "audit_events", ["target_type", "target_id"], unique=False)
    op.create_table(
        "platform_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("platform_settings_pkey")),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("audience IN ('admin', 'partner')", name=op.f("recovery_codes_audience_check")),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("recovery_codes_pkey")),
    )
    op.create_index("ix_recovery_codes_audience_subject_id", "recovery_codes", ["audience", "subject_id"], unique=False)
    op.create_table(
        "ip_allow_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=True),
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(scope = 'partner') = (partner_id IS NOT NULL)",
            name=op.f("ip_allow_entries_partner_scope_has_partner_check"),
        ),
        sa.CheckConstraint("scope IN ('global', 'admin', 's2s', 'partner')", name=op.f("ip_allow_entries_scope_check")),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("ip_allow_entries_partner_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("ip_allow_entries_pkey")),
        sa.UniqueConstraint(
            "scope",
            "partner_id",
            "network",
            name=op.f("ip_allow_entries_scope_partner_id_network_key"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(op.f("ix_ip_allow_entries_partner_id"), "ip_allow_entries", ["partner_id"], unique=False)
    op.create_table(
        "partner_users",
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("totp_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("totp_pending_encrypted", sa.Text(), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('OWNER', 'FINANCE', 'DEVELOPER', 'VIEWER')", name=op.f("partner_users_role_check")
        ),
        sa.CheckConstraint("status IN ('active', 'inactive')", name=op.f("partner_users_status_check")),
        sa.CheckConstraint("email = lower(email)", name=op.f("partner_users_email_lower_check")),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("partner_users_partner_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("partner_users_pkey")),
        sa.UniqueConstraint("email", name=op.f("partner_users_email_key")),
    )
    op.create_index(op.f("ix_partner_users_partner_id"), "partner_users", ["partner_id"], unique=False)
    op.execute(
        "INSERT INTO recovery_codes (code_hash, audience, subject_id, used_at) "
        "SELECT code_hash, 'admin', admin_id, used_at FROM admin_recovery_codes"
    )
    op.drop_index(op.f("ix_admin_recovery_codes_admin_id"), table_name="admin_recovery_codes")
    op.drop_table("admin_recovery_codes")
    op.add_column("admin_users", sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("auth_sessions", sa.Column("previous_refresh_hash", sa.String(length=64), nullable=True))
    op.create_unique_constraint(
        op.f("auth_sessions_previous_refresh_hash_key"), "auth_sessions", ["previous_refresh_hash"]
    )
    op.add_column("partners", sa.Column("previous_webhook_secret_encrypted", sa.Text(), nullable=True))
    op.add_column(
        "partners", sa.Column("previous_webhook_secret_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "partners",
        sa.Column("payin_weekday_percent", sa.Numeric(precision=7, scale=4), server_default="0", nullable=False),
    )
    op.add_column("partners", sa.Column("payin_weekday_flat", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column(
        "partners",
        sa.Column("payin_weekend_percent", sa.Numeric(precision=7, scale=4), server_default="0", nullable=False),
    )
    op.add_column("partners", sa.Column("payin_weekend_flat", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column(
        "partners",
        sa.Column("withdrawal_percent", sa.Numeric(precision=7, scale=4), server_default="0", nullable=False),
    )
    op.add_column("partners", sa.Column("withdrawal_flat", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column(
        "partners", sa.Column("payment_methods", sa.ARRAY(sa.String(length=32)), server_default="{}", nullable=False)
    )
    op.add_column(
        "partners",
        sa.Column("provider_preferences", sa.ARRAY(sa.String(length=32)), server_default="{}", nullable=False),
    )
    op.add_column(
        "partners", sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)
    )
    op.create_check_constraint(op.f("partners_not_own_parent_check"), "partners", "parent_id IS DISTINCT FROM id")
    op.create_check_constraint(
        op.f("partners_fee_percent_range_check"),
        "partners",
        "payin_weekday_percent BETWEEN 0 AND 100 AND payin_weekend_percent BETWEEN 0 AND 100 "
        "AND withdrawal_percent BETWEEN 0 AND 100",
    )
    op.create_check_constraint(
        op.f("partners_fee_flat_non_negative_check"),
        "partners",
        "payin_weekday_flat >= 0 AND payin_weekend_flat >= 0 AND withdrawal_flat >= 0",
    )
    # The audit trail is evidence: rows are added, never changed or removed (the ledger's trigger function).
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
    op.drop_constraint(op.f("partners_fee_flat_non_negative_check"), "partners", type_="check")
    op.drop_constraint(op.f("partners_fee_percent_range_check"), "partners", type_="check")
    op.drop_constraint(op.f("partners_not_own_parent_check"), "partners", type_="check")
    op.drop_column("partners", "updated_at")
    op.drop_column("partners", "provider_preferences")
    op.drop_column("partners", "payment_methods")
    op.drop_column("partners", "withdrawal_flat")
    op.drop_column("partners", "withdrawal_percent")
    op.drop_column("partners", "payin_weekend_flat")
    op.drop_column("partners", "payin_weekend_percent")
    op.drop_column("partners", "payin_weekday_flat")
    op.drop_column("partners", "payin_weekday_percent")
    op.drop_column("partners", "previous_webhook_secret_expires_at")
    op.drop_column("partners", "previous_webhook_secret_encrypted")
    op.drop_constraint(op.f("auth_sessions_previous_refresh_hash_key"), "auth_sessions", type_="unique")
    op.drop_column("auth_sessions", "previous_refresh_hash")
    op.drop_column("admin_users", "password_changed_at")
    op.create_table(
        "admin_recovery_codes",
        sa.Column("code_hash", sa.VARCHAR(length=64), autoincrement=False, nullable=False),
        sa.Column("admin_id", sa.UUID(), autoincrement=False, nullable=False),
        sa.Column("used_at", postgresql.TIMESTAMP(timezone=True), autoincrement=False, nullable=True),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["admin_users.id"], name=op.f("admin_recovery_codes_admin_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("admin_recovery_codes_pkey")),
    )
    op.create_index(op.f("ix_admin_recovery_codes_admin_id"), "admin_recovery_codes", ["admin_id"], unique=False)
    op.execute(
        "INSERT INTO admin_recovery_codes (code_hash, admin_id, used_at) "
        "SELECT code_hash, subject_id, used_at FROM recovery_codes WHERE audience = 'admin'"
    )
    op.drop_index(op.f("ix_partner_users_partner_id"), table_name="partner_users")
    op.drop_table("partner_users")
    op.drop_index(op.f("ix_ip_allow_entries_partner_id"), table_name="ip_allow_entries")
    op.drop_table("ip_allow_entries")
    op.drop_index("ix_recovery_codes_audience_subject_id", table_name="recovery_codes")
    op.drop_table("recovery_codes")
    op.drop_table("platform_settings")
    op.drop_index("ix_audit_events_target", table_name="audit_events")
    op.drop_index("ix_audit_events_partner_id_occurred_at", table_name="audit_events")
    op.drop_index("ix_audit_events_occurred_at", table_name="audit_events")
    op.drop_index("ix_audit_events_actor_id", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index("ix_api_request_logs_partner_id_created_at", table_name="api_request_logs")
    op.drop_index("ix_api_request_logs_created_at", table_name="api_request_logs")
    op.drop_table("api_request_logs")
