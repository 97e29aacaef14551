"""ledger: house accounts split into shards (`shard`, part of `key`), summed by reads

Every order's PAID posting debits its provider account's balance and credits the platform's fees: two rows
locked by every payment until its commit. Split into shards chosen by the order's id, payments on different
shards no longer wait for each other. Existing rows become shard 0 and keep their keys.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KEY = "kind || ':' || owner_id::text || ':' || currency"
NEW_KEY = f"{OLD_KEY} || CASE WHEN shard = 0 THEN '' ELSE ':' || shard::text END"


def _replace_key(expression: str) -> None:
    # A generated column's expression cannot be altered: the column (and its unique constraint) is made anew.
    op.drop_constraint(op.f("ledger_accounts_key_key"), "ledger_accounts", type_="unique")
    op.drop_column("ledger_accounts", "key")
    op.add_column(
        "ledger_accounts", sa.Column("key", sa.Text(), sa.Computed(expression, persisted=True), nullable=False)
    )
    op.create_unique_constraint(op.f("ledger_accounts_key_key"), "ledger_accounts", ["key"])


def upgrade() -> None:
    op.add_column("ledger_accounts", sa.Column("shard", sa.SmallInteger(), server_default="0", nullable=False))
    op.create_check_constraint(op.f("ledger_accounts_shard_non_negative_check"), "ledger_accounts", "shard >= 0")
    op.create_check_constraint(
        op.f("ledger_accounts_unsplit_if_non_negative_check"), "ledger_accounts", "shard = 0 OR NOT non_negative"
    )
    _replace_key(NEW_KEY)
    op.create_index(
        "ix_ledger_accounts_kind_owner_id_currency", "ledger_accounts", ["kind", "owner_id", "currency"], unique=False
    )


def downgrade() -> None:
    # Only without shards other than 0: their money would otherwise collide with shard 0's key.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM ledger_accounts WHERE shard <> 0) THEN "
        "RAISE EXCEPTION 'ledger_accounts has shards other than 0: merge them before downgrading'; END IF; END $$"
    )
    op.drop_index("ix_ledger_accounts_kind_owner_id_currency", table_name="ledger_accounts")
    _replace_key(OLD_KEY)
    op.drop_constraint(op.f("ledger_accounts_unsplit_if_non_negative_check"), "ledger_accounts", type_="check")
    op.drop_constraint(op.f("ledger_accounts_shard_non_negative_check"), "ledger_accounts", type_="check")
    op.drop_column("ledger_accounts", "shard")
