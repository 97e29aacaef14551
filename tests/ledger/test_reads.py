"""Balances, history with running balance, statements in Jakarta days, and reconciliation."""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from gerbang.db import Database
from gerbang.ledger import service as ledger
from gerbang.ledger.schemas import AccountKind, AccountRef
from tests.helpers import GERBANG, clean_env
from tests.ledger.helpers import fund

PARTNER = uuid.uuid4()
AVAILABLE = AccountRef(AccountKind.partner_available, PARTNER)


async def _account_id(database: Database, ref: AccountRef) -> int:
    async with database.transaction() as connection:
        return int(
            await connection.fetchval(
                "SELECT id FROM ledger_accounts WHERE kind = $1 AND owner_id = $2", ref.kind.value, ref.owner_id
            )
        )


async def test_partner_balances_are_zero_before_anything_happens(database: Database) -> None:
    async with database.transaction() as connection:
        balances = await ledger.partner_balances(connection, uuid.uuid4())
    assert (balances.available, balances.pending, balances.held) == (0, 0, 0)


async def test_partner_balances(database: Database) -> None:
    async with database.transaction() as connection:
        await ledger.order_paid(
            connection, order_id=uuid.uuid4(), partner_id=PARTNER, provider_account_id=uuid.uuid4(),
            amount_paid=10_000, fee=100,
        )  # fmt: skip
        await ledger.settlement(connection, order_id=uuid.uuid4(), partner_id=PARTNER, net=4_000)
        await ledger.withdrawal_hold(connection, withdrawal_id=uuid.uuid4(), partner_id=PARTNER, gross=1_500)
        balances = await ledger.partner_balances(connection, PARTNER)
    assert (balances.available, balances.pending, balances.held) == (2_500, 5_900, 1_500)


async def test_history_is_newest_first_with_running_balance_and_pages(database: Database) -> None:
    for i, value in enumerate([100, 250, 75, 1_000, 5]):
        await fund(database, AVAILABLE, value, f"h-{i}")
    account_id = await _account_id(database, AVAILABLE)
    async with database.transaction() as connection:
        first = await ledger.account_history(connection, account_id, limit=2)
        assert first.next_before is not None
        second = await ledger.account_history(connection, account_id, limit=2, before=first.next_before)
        third = await ledger.account_history(connection, account_id, limit=2, before=second.next_before)
    assert [(e.change, e.balance_after) for e in first.items] == [(5, 1_430), (1_000, 1_425)]
    assert [(e.change, e.balance_after) for e in second.items] == [(75, 425), (250, 350)]
    assert [(e.change, e.balance_after) for e in third.items] == [(100, 100)]
    assert third.next_before is None
    assert first.items[0].kind == "transfer"


async def test_history_of_an_unknown_account_is_refused(database: Database) -> None:
    async with database.transaction() as connection:
        with pytest.raises(ledger.UnknownAccount):
            await ledger.account_history(connection, 10**12)


async def test_statement_uses_jakarta_days(database: Database) -> None:
    await fund(database, AVAILABLE, 1_000, "s-1")
    account_id = await _account_id(database, AVAILABLE)
    async with database.transaction() as connection:
        await connection.execute("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only")
        # 2026-11-24 16:30 UTC is 23:30 WIB on the 24th; 17:30 UTC is 00:30 WIB on the 25th.
        await connection.execute(
            "UPDATE ledger_entries SET created_at = $1 WHERE account_id = $2",
            datetime(2026, 11, 24, 16, 30, tzinfo=UTC),
            account_id,
        )
        await connection.execute("ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_append_only")
    await fund(database, AVAILABLE, 300, "s-2")
    async with database.transaction() as connection:
        await connection.execute("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only")
        await connection.execute(
            "UPDATE ledger_entries SET created_at = $1 WHERE account_id = $2 AND balance_after = 1300",
            datetime(2026, 11, 24, 17, 30, tzinfo=UTC), account_id,
        )  # fmt: skip
        await connection.execute("ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_append_only")
    async with database.transaction() as connection:
        day_24 = await ledger.statement(connection, account_id, date(2026, 11, 24), date(2026, 11, 24))
        day_25 = await ledger.statement(connection, account_id, date(2026, 11, 25), date(2026, 11, 25))
        both = await ledger.statement(connection, account_id, date(2026, 11, 24), date(2026, 11, 25))
    assert (day_24.opening_balance, day_24.total_in, day_24.closing_balance) == (0, 1_000, 1_000)
    assert (day_25.opening_balance, day_25.total_in, day_25.closing_balance) == (1_000, 300, 1_300)
    assert (both.opening_balance, both.total_in, both.total_out, both.closing_balance) == (0, 1_300, 0, 1_300)
    assert [entry.change for entry in both.entries] == [1_000, 300]


async def test_reconcile_finds_drift(database: Database) -> None:
    await fund(database, AVAILABLE, 1_000, "r-1")
    async with database.transaction() as connection:
        assert (await ledger.reconcile(connection)).clean
        await connection.execute("UPDATE ledger_accounts SET balance = balance + 1 WHERE owner_id = $1", PARTNER)
        report = await ledger.reconcile(connection)
    assert not report.clean
    [drift] = report.drifting_accounts
    assert (drift.materialised, drift.from_entries) == (1_001, 1_000)


def _reconcile_cli(database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GERBANG, "reconcile"], env=clean_env(GERBANG_DATABASE_URL=database_url), cwd=tmp_path,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


async def test_reconcile_command_exits_non_zero_on_drift(database: Database, database_url: str, tmp_path: Path) -> None:
    await fund(database, AVAILABLE, 1_000, "r-1")
    clean = _reconcile_cli(database_url, tmp_path)
    assert clean.returncode == 0, clean.stderr
    assert "ledger reconciled: 2 accounts, 1 transactions, 2 entries; no drift" in clean.stdout
    async with database.transaction() as connection:
        await connection.execute("UPDATE ledger_accounts SET balance = balance + 7 WHERE owner_id = $1", PARTNER)
    drifting = _reconcile_cli(database_url, tmp_path)
    assert drifting.returncode == 1
    assert "DRIFT" in drifting.stdout
    assert "materialised 1007, from entries 1000" in drifting.stdout
