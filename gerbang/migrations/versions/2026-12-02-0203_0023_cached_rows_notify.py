"""api_keys, partners, platform_settings: a NOTIFY when a row a process may keep in memory changes
(gerbang.db.RowChanges)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 02:03:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The webhook health counters change with deliveries, often, and nothing cached reads them. Every other
# column, including ones added later, counts as a change.
_WEBHOOK_HEALTH = "'webhook_dead_streak', 'webhook_disabled_at', 'webhook_disabled_reason', 'updated_at'"


def upgrade() -> None:
    op.execute(
        "CREATE FUNCTION cached_rows_notify() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_notify('gerbang_cached_rows', TG_TABLE_NAME); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER api_keys_cached_rows_notify AFTER UPDATE OR DELETE ON api_keys "
        "FOR EACH STATEMENT EXECUTE FUNCTION cached_rows_notify()"
    )
    op.execute(
        "CREATE TRIGGER partners_cached_rows_notify AFTER UPDATE ON partners FOR EACH ROW "
        f"WHEN ((to_jsonb(OLD) - ARRAY[{_WEBHOOK_HEALTH}]) "
        f"IS DISTINCT FROM (to_jsonb(NEW) - ARRAY[{_WEBHOOK_HEALTH}])) "
        "EXECUTE FUNCTION cached_rows_notify()"
    )
    op.execute(
        "CREATE TRIGGER platform_settings_cached_rows_notify AFTER INSERT OR UPDATE OR DELETE ON platform_settings "
        "FOR EACH STATEMENT EXECUTE FUNCTION cached_rows_notify()"
    )
    op.execute(
        "CREATE TRIGGER partners_deleted_cached_rows_notify AFTER DELETE ON partners "
        "FOR EACH STATEMENT EXECUTE FUNCTION cached_rows_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER partners_deleted_cached_rows_notify ON partners")
    op.execute("DROP TRIGGER platform_settings_cached_rows_notify ON platform_settings")
    op.execute("DROP TRIGGER partners_cached_rows_notify ON partners")
    op.execute("DROP TRIGGER api_keys_cached_rows_notify ON api_keys")
    op.execute("DROP FUNCTION cached_rows_notify()")
