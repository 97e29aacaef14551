"""gerbang_refuse(reason): fails the statement that calls it, for one-statement fast paths
(gerbang.kit.sql.REFUSE)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # VOLATILE (the default), so the planner never evaluates it ahead of the CASE branch that calls it.
    # SQLSTATE GB001 is ours: no PostgreSQL error uses class GB.
    op.execute(
        "CREATE FUNCTION gerbang_refuse(reason text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$ "
        "BEGIN RAISE EXCEPTION USING ERRCODE = 'GB001', MESSAGE = reason; END $$"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION gerbang_refuse(text)")
