"""outbox: what the Kafka relay needs to publish in order and report its lag

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 23:04:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_events_key_id", "outbox_events", ["key", "id"], unique=False)
    op.create_index(
        "ix_outbox_events_occurred_at", "outbox_events", ["occurred_at"], unique=False, postgresql_using="brin"
    )
    # The relay sleeps on LISTEN gerbang_outbox; one notification per inserting statement, and PostgreSQL folds
    # identical notifications of a transaction into one, delivered at commit.
    op.execute(
        "CREATE FUNCTION outbox_events_notify() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_notify('gerbang_outbox', ''); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER outbox_events_notify AFTER INSERT ON outbox_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION outbox_events_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER outbox_events_notify ON outbox_events")
    op.execute("DROP FUNCTION outbox_events_notify()")
    op.drop_index("ix_outbox_events_occurred_at", table_name="outbox_events", postgresql_using="brin")
    op.drop_index("ix_outbox_events_key_id", table_name="outbox_events")
