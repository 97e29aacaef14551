"""`gerbang.ledger.batch.post_moves`, the set-based posting: what `post` guarantees, for a whole batch."""

from __future__ import annotations

import uuid

import pytest

from gerbang.db import Database
from gerbang.ledger import batch as ledger_batch
from gerbang.ledger import service as ledger
from gerbang.ledger.schemas import AccountKind, AccountRef, TransactionKind
from gerbang.ledger.service import CurrencyMismatch, InsufficientFunds, InvalidPosting
from tests.ledger.helpers import assert_reconciled, balance, fund, snapshot


def partner(kind: AccountKind = AccountKind.partner_available) -> AccountRef:
    return AccountRef(kind, uuid.uuid4())


def moves(*items: tuple[str, AccountRef, AccountRef, int]) -> ledger_batch.Moves:
    return ledger_batch.Moves(
        kind=TransactionKind.transfer, keys=[key for key, *_ in items], references=[f"test:{key}" for key, *_ in items],
        debited=[item[1] for item in items], credited=[item[2] for item in items], amounts=[item[3] for item in items],
    )  # fmt: skip


async def post(database: Database, batch: ledger_batch.Moves) -> ledger_batch.MovesPosted:
    async with database.transaction() as connection:
        return await ledger_batch.post_moves(connection, batch)


async def test_running_balances_follow_the_entries_in_order(database: Database) -> None:
    source, target = partner(), partner()
    await fund(database, source, 1_000, "fund")
    posted = await post(database, moves(*((f"m{n}", source, target, 100 + n) for n in range(5))))
    assert (posted.posted, posted.replayed) == ([0, 1, 2, 3, 4], [])
    assert await balance(database, source) == 1_000 - 510
    assert await balance(database, target) == 510
    async with database.transaction() as connection:
        row = await connection.fetchrow("SELECT id FROM ledger_accounts WHERE owner_id = $1", target.owner_id)
        assert row is not None
        history = await ledger.account_history(connection, row["id"])
    # Newest first: each balance is the one after it less that entry's change.
    assert [entry.balance_after for entry in history.items] == [510, 406, 303, 201, 100]
    assert [entry.change for entry in history.items] == [104, 103, 102, 101, 100]
    await assert_reconciled(database)


async def test_a_dip_below_zero_anywhere_in_the_batch_refuses_all_of_it(database: Database) -> None:
    first, second, third = partner(), partner(), partner()
    await fund(database, second, 60, "fund")
    before = await snapshot(database)
    # Taken in this order, `second` would be at -90 after the first move though it ends at 10.
    with pytest.raises(InsufficientFunds):
        await post(database, moves(("out", second, third, 150), ("in", first, second, 100)))
    assert await snapshot(database) == before
    await fund(database, first, 100, "fund-first")
    assert (await post(database, moves(("in", first, second, 100), ("out", second, third, 150)))).posted == [0, 1]
    assert await balance(database, second) == 10
    await assert_reconciled(database)


async def test_a_replay_writes_nothing_and_new_keys_still_post(database: Database) -> None:
    source, target = partner(), partner()
    await fund(database, source, 1_000, "fund")
    await post(database, moves(("a", source, target, 10), ("b", source, target, 20)))
    before = await snapshot(database)
    again = await post(database, moves(("a", source, target, 10), ("b", source, target, 20)))
    assert (again.posted, again.replayed) == ([], [0, 1])
    assert await snapshot(database) == before
    mixed = await post(database, moves(("b", source, target, 20), ("c", source, target, 30)))
    assert (mixed.posted, mixed.replayed) == ([1], [0])
    assert await balance(database, target) == 60
    await assert_reconciled(database)


@pytest.mark.parametrize(
    "case", ["no_moves", "duplicate_key", "zero", "negative", "float", "same_account", "long_key", "lengths"]
)
async def test_malformed_batches_are_refused_before_anything_is_written(database: Database, case: str) -> None:
    source, target = partner(), partner()
    batch = moves(("a", source, target, 10), ("b", source, target, 20))
    match case:
        case "no_moves":
            batch = moves()
        case "duplicate_key":
            batch = moves(("a", source, target, 10), ("a", source, target, 10))
        case "zero":
            batch = moves(("a", source, target, 0))
        case "negative":
            batch = moves(("a", source, target, -5))
        case "float":
            batch = moves(("a", source, target, 1.5))  # type: ignore[arg-type]
        case "same_account":
            batch = moves(("a", source, source, 10))
        case "long_key":
            batch = moves(("k" * 201, source, target, 10))
        case "lengths":
            batch = ledger_batch.Moves(TransactionKind.transfer, ["a"], ["r"], [source], [target], [1, 2])
    before = await snapshot(database)
    with pytest.raises(InvalidPosting):
        await post(database, batch)
    assert await snapshot(database) == before


async def test_one_currency_per_batch(database: Database) -> None:
    rupiah, dollar = partner(), AccountRef(AccountKind.partner_available, uuid.uuid4(), currency="USD")
    with pytest.raises(CurrencyMismatch):
        await post(database, moves(("a", rupiah, dollar, 10)))
