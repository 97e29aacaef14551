"""provider_accounts: a NOTIFY when one changes, for the routing's copy of the enabled accounts
(gerbang.db.RowChanges)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 14:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Per statement: an admin's edit, or the circuit breaker's bookkeeping after a failed or recovered call
    # (an order whose calls change no account's health writes no UPDATE here, so it notifies nothing).
    op.execute(
        "CREATE TRIGGER provider_accounts_cached_rows_notify AFTER INSERT OR UPDATE OR DELETE ON provider_accounts "
        "FOR EACH STATEMENT EXECUTE FUNCTION cached_rows_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER provider_accounts_cached_rows_notify ON provider_accounts")
