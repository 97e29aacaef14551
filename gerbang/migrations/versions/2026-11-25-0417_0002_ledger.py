"""ledger: accounts with materialised balances, append-only transactions and entries

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 04:17:34.762354
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


APPEND_ONLY_FUNCTION = """
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column(
            "key",
            sa.Text(),
            sa.Computed("kind || ':' || owner_id::text || ':' || currency", persisted=True),
            nullable=False,
        ),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("normal_side", sa.String(length=6), nullable=False),
        sa.Column("non_negative", sa.Boolean(), nullable=False),
        sa.Column("balance", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("normal_side IN ('debit', 'credit')", name=op.f("ledger_accounts_normal_side_check")),
        sa.CheckConstraint("NOT non_negative OR balance >= 0", name=op.f("ledger_accounts_non_negative_check")),
        sa.PrimaryKeyConstraint("id", name=op.f("ledger_accounts_pkey")),
        sa.UniqueConstraint("key", name=op.f("ledger_accounts_key_key")),
    )
    op.create_table(
        "ledger_transactions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("ledger_transactions_pkey")),
        sa.UniqueConstraint("idempotency_key", name=op.f("ledger_transactions_idempotency_key_key")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ledger_entries_nonzero_check")),
        sa.ForeignKeyConstraint(["account_id"], ["ledger_accounts.id"], name=op.f("ledger_entries_account_id_fkey")),
        sa.ForeignKeyConstraint(
            ["transaction_id"], ["ledger_transactions.id"], name=op.f("ledger_entries_transaction_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("ledger_entries_pkey")),
    )
    op.create_index(
        "ix_ledger_entries_account_id_created_at", "ledger_entries", ["account_id", "created_at"], unique=False
    )
    op.create_index("ix_ledger_entries_account_id_id", "ledger_entries", ["account_id", "id"], unique=False)
    op.create_index(op.f("ix_ledger_entries_transaction_id"), "ledger_entries", ["transaction_id"], unique=False)
    # Corrections are new, reversing transactions: the history itself is never edited.
    op.execute(APPEND_ONLY_FUNCTION)
    for table in ("ledger_transactions", "ledger_entries"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        )


def downgrade() -> None:
    for table in ("ledger_transactions", "ledger_entries"):
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    op.execute("DROP FUNCTION ledger_append_only()")
    op.drop_index(op.f("ix_ledger_entries_transaction_id"), table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_account_id_id", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_account_id_created_at", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_table("ledger_transactions")
    op.drop_table("ledger_accounts")
