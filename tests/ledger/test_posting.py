"""The posting primitive: zero-sum, exactly-once, no overdraft, and a refusal leaves nothing behind."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from gerbang.db import Database
from gerbang.exceptions import GerbangError
from gerbang.ledger import service as ledger
from gerbang.ledger.schemas import AccountKind, AccountRef, Leg, TransactionKind, credit, debit
from tests.ledger.helpers import assert_reconciled, balance, fund, snapshot

PARTNER = uuid.uuid4()
AVAILABLE = AccountRef(AccountKind.partner_available, PARTNER)
HELD = AccountRef(AccountKind.partner_held, PARTNER)
EXTERNAL = AccountRef(AccountKind.external)


async def _post(database: Database, key: str, legs: list[Leg], kind: TransactionKind = TransactionKind.transfer):
    async with database.transaction() as connection:
        return await ledger.post(connection, idempotency_key=key, kind=kind, reference="test:1", legs=legs)


async def test_a_posting_moves_money_and_keeps_balances(database: Database) -> None:
    await fund(database, AVAILABLE, 1_000, "fund-1")
    posting = await _post(database, "hold-1", [debit(AVAILABLE, 300), credit(HELD, 300)])
    assert not posting.replayed
    assert await balance(database, AVAILABLE) == 700
    assert await balance(database, HELD) == 300
    assert await balance(database, EXTERNAL) == 1_000  # debit-normal: what came in from outside
    await assert_reconciled(database)


async def test_the_same_key_and_legs_returns_the_original(database: Database) -> None:
    await fund(database, AVAILABLE, 1_000, "fund-1")
    first = await _post(database, "hold-1", [debit(AVAILABLE, 300), credit(HELD, 300)])
    before = await snapshot(database)
    again = await _post(database, "hold-1", [credit(HELD, 300), debit(AVAILABLE, 300)])  # order does not matter
    assert again.replayed
    assert again.transaction_id == first.transaction_id
    assert again.legs == first.legs
    assert await snapshot(database) == before


async def test_a_replay_is_honoured_even_when_the_money_has_since_moved_on(database: Database) -> None:
    await fund(database, AVAILABLE, 300, "fund-1")
    first = await _post(database, "hold-1", [debit(AVAILABLE, 300), credit(HELD, 300)])
    assert await balance(database, AVAILABLE) == 0
    again = await _post(database, "hold-1", [debit(AVAILABLE, 300), credit(HELD, 300)])
    assert again.transaction_id == first.transaction_id


@pytest.mark.parametrize(
    "legs",
    [
        [debit(AVAILABLE, 301), credit(HELD, 301)],
        [debit(AVAILABLE, 300), credit(AccountRef(AccountKind.partner_pending, PARTNER), 300)],
    ],
)
async def test_the_same_key_with_other_legs_is_a_conflict_and_writes_nothing(
    database: Database, legs: list[Leg]
) -> None:
    await fund(database, AVAILABLE, 1_000, "fund-1")
    await _post(database, "hold-1", [debit(AVAILABLE, 300), credit(HELD, 300)])
    before = await snapshot(database)
    with pytest.raises(ledger.IdempotencyConflict) as refused:
        await _post(database, "hold-1", legs)
    assert (refused.value.status_code, refused.value.code) == (409, "idempotency_conflict")
    assert await snapshot(database) == before


async def test_the_same_key_with_another_kind_is_a_conflict(database: Database) -> None:
    await fund(database, AVAILABLE, 1_000, "fund-1")
    await _post(database, "hold-1", [debit(AVAILABLE, 300), credit(HELD, 300)])
    with pytest.raises(ledger.IdempotencyConflict):
        await _post(database, "hold-1", [debit(AVAILABLE, 300), credit(HELD, 300)], TransactionKind.settlement)


@pytest.mark.parametrize(
    ("legs", "code"),
    [
        ([debit(AVAILABLE, 100), credit(HELD, 99)], "invalid_posting"),  # does not sum to zero
        ([debit(AVAILABLE, 0), credit(HELD, 0)], "invalid_posting"),  # zero legs
        ([debit(AVAILABLE, 100)], "invalid_posting"),  # one leg
        ([Leg(AVAILABLE, 1.5), Leg(HELD, -1.5)], "invalid_posting"),  # type: ignore[arg-type]
        ([Leg(AVAILABLE, True), Leg(HELD, -1)], "invalid_posting"),
        ([debit(AVAILABLE, 100), credit(AVAILABLE, 100)], "invalid_posting"),  # one account twice
        ([debit(AVAILABLE, 100), credit(2**40, 100)], "invalid_posting"),  # ids and references mixed
        ([debit(2**40, 100), credit(2**40 + 1, 100)], "unknown_account"),
        (
            [debit(AVAILABLE, 100), credit(AccountRef(AccountKind.partner_held, PARTNER, "USD"), 100)],
            "currency_mismatch",
        ),
        ([debit(AVAILABLE, 1_001), credit(HELD, 1_001)], "insufficient_funds"),
    ],
)
async def test_a_rejected_posting_changes_nothing(database: Database, legs: list[Leg], code: str) -> None:
    await fund(database, AVAILABLE, 1_000, "fund-1")
    before = await snapshot(database)
    with pytest.raises(GerbangError) as refused:
        await _post(database, "bad-1", legs)
    assert refused.value.code == code
    assert 400 <= refused.value.status_code < 500
    assert await snapshot(database) == before


async def test_the_database_itself_refuses_an_overdraft(database: Database) -> None:
    """The CHECK constraint holds even against a write that bypasses the service."""
    await fund(database, AVAILABLE, 10, "fund-1")
    with pytest.raises(asyncpg.CheckViolationError):
        async with database.transaction() as connection:
            await connection.execute(
                "UPDATE ledger_accounts SET balance = -1 WHERE kind = 'partner_available' AND owner_id = $1", PARTNER
            )


@pytest.mark.parametrize("statement", ["UPDATE ledger_entries SET amount = 1", "DELETE FROM ledger_transactions"])
async def test_history_is_append_only(database: Database, statement: str) -> None:
    await fund(database, AVAILABLE, 10, "fund-1")
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        async with database.transaction() as connection:
            await connection.execute(statement)


async def test_accounts_are_created_on_first_use_with_their_rules(database: Database) -> None:
    await fund(database, AVAILABLE, 10, "fund-1")
    async with database.transaction() as connection:
        rows = await connection.fetch("SELECT kind, normal_side, non_negative FROM ledger_accounts ORDER BY kind")
    assert [tuple(row) for row in rows] == [("external", "debit", False), ("partner_available", "credit", True)]


async def test_posting_by_account_id(database: Database) -> None:
    await fund(database, AVAILABLE, 500, "fund-1")
    async with database.transaction() as connection:
        ids = {row["kind"]: row["id"] for row in await connection.fetch("SELECT id, kind FROM ledger_accounts")}
    await _post(database, "back-1", [debit(ids["partner_available"], 200), credit(ids["external"], 200)])
    assert await balance(database, AVAILABLE) == 300


async def test_reversal_restores_balances_once(database: Database) -> None:
    await fund(database, AVAILABLE, 1_000, "fund-1")
    hold = await _post(database, "hold-1", [debit(AVAILABLE, 400), credit(HELD, 400)])
    async with database.transaction() as connection:
        reversal = await ledger.reverse(connection, transaction_id=hold.transaction_id)
    async with database.transaction() as connection:
        again = await ledger.reverse(connection, transaction_id=hold.transaction_id)
    assert again.replayed
    assert again.transaction_id == reversal.transaction_id
    assert (await balance(database, AVAILABLE), await balance(database, HELD)) == (1_000, 0)
    await assert_reconciled(database)
