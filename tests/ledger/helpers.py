from __future__ import annotations

from gerbang.db import Database
from gerbang.ledger import service as ledger
from gerbang.ledger.schemas import AccountKind, AccountRef, TransactionKind, credit, debit

TABLES = ("ledger_accounts", "ledger_transactions", "ledger_entries")


async def snapshot(database: Database) -> dict[str, object]:
    """Every row count and every balance: what a rejected operation must leave exactly as it was."""
    async with database.transaction() as connection:
        counts = {table: await connection.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES}
        balances = await connection.fetch("SELECT id, balance, version FROM ledger_accounts ORDER BY id")
    return counts | {"balances": [tuple(row) for row in balances]}


async def balance(database: Database, ref: AccountRef) -> int:
    async with database.transaction() as connection:
        return await ledger.balance_of(connection, ref)


async def assert_reconciled(database: Database) -> None:
    async with database.transaction() as connection:
        report = await ledger.reconcile(connection)
    assert report.clean, report


async def fund(database: Database, ref: AccountRef, value: int, key: str) -> None:
    """Put `value` into a partner account from the outside world (a test-only source of money)."""
    async with database.transaction() as connection:
        await ledger.post(
            connection,
            idempotency_key=key,
            kind=TransactionKind.transfer,
            reference=f"test:{key}",
            legs=[debit(AccountRef(AccountKind.external), value), credit(ref, value)],
        )
