"""The business postings of DESIGN.md section 2, with exact balances after each step."""

from __future__ import annotations

import uuid

import pytest

from gerbang.db import Database
from gerbang.ledger import service as ledger
from gerbang.ledger.schemas import HOUSE_SHARDS, PLATFORM, AccountKind, AccountRef, house
from tests.ledger.helpers import assert_reconciled, balance, snapshot

PARTNER = uuid.uuid4()
PROVIDER = uuid.uuid4()


def _partner(kind: AccountKind) -> AccountRef:
    return AccountRef(kind, PARTNER)


PENDING = _partner(AccountKind.partner_pending)
AVAILABLE = _partner(AccountKind.partner_available)
HELD = _partner(AccountKind.partner_held)
PROVIDER_BALANCE = AccountRef(AccountKind.provider_balance, PROVIDER)
FEES = AccountRef(AccountKind.platform_fees, PLATFORM)
ADVANCES = AccountRef(AccountKind.platform_advances, PLATFORM)


async def _balances(database: Database) -> dict[str, int]:
    refs = {"pending": PENDING, "available": AVAILABLE, "held": HELD, "provider": PROVIDER_BALANCE, "fees": FEES}
    return {name: await balance(database, ref) for name, ref in refs.items()} | {
        "advances": await balance(database, ADVANCES)
    }


async def _paid(database: Database, order_id: uuid.UUID, amount: int, fee: int) -> ledger.Posting:
    async with database.transaction() as connection:
        return await ledger.order_paid(
            connection, order_id=order_id, partner_id=PARTNER, provider_account_id=PROVIDER, amount_paid=amount, fee=fee
        )


async def test_pay_settle_withdraw_complete(database: Database) -> None:
    order_id, withdrawal_id = uuid.uuid4(), uuid.uuid4()
    await _paid(database, order_id, 100_000, 1_050)
    assert await _balances(database) == {
        "pending": 98_950, "available": 0, "held": 0, "provider": 100_000, "fees": 1_050, "advances": 0
    }  # fmt: skip

    async with database.transaction() as connection:
        await ledger.settlement(connection, order_id=order_id, partner_id=PARTNER, net=98_950)
    assert (await _balances(database))["available"] == 98_950

    async with database.transaction() as connection:
        await ledger.withdrawal_hold(connection, withdrawal_id=withdrawal_id, partner_id=PARTNER, gross=50_000)
    assert (await _balances(database))["held"] == 50_000

    async with database.transaction() as connection:
        await ledger.withdrawal_complete(
            connection, withdrawal_id=withdrawal_id, partner_id=PARTNER, provider_account_id=PROVIDER,
            gross=50_000, fee=2_500,
        )  # fmt: skip
    assert await _balances(database) == {
        "pending": 0, "available": 48_950, "held": 0, "provider": 52_500, "fees": 3_550, "advances": 0
    }  # fmt: skip
    await assert_reconciled(database)


async def test_a_zero_fee_posts_no_fee_leg(database: Database) -> None:
    posting = await _paid(database, uuid.uuid4(), 10_000, 0)
    assert len(posting.legs) == 2
    assert await balance(database, FEES) == 0


@pytest.mark.parametrize(("amount", "fee"), [(0, 0), (-100, 0), (100, 100), (100, 150), (100, -1), (100.0, 0)])
async def test_order_paid_refuses_nonsense(database: Database, amount: int, fee: int) -> None:
    before = await snapshot(database)
    with pytest.raises(ledger.InvalidPosting):
        await _paid(database, uuid.uuid4(), amount, fee)
    assert await snapshot(database) == before


async def test_order_paid_twice_credits_once(database: Database) -> None:
    order_id = uuid.uuid4()
    first = await _paid(database, order_id, 100_000, 1_000)
    second = await _paid(database, order_id, 100_000, 1_000)
    assert second.replayed
    assert second.transaction_id == first.transaction_id
    assert await balance(database, PENDING) == 99_000
    with pytest.raises(ledger.IdempotencyConflict):
        await _paid(database, order_id, 120_000, 1_000)  # the same order cannot be paid with another amount


async def test_withdrawal_failure_releases_once_and_late_success_debits_once(database: Database) -> None:
    await _paid(database, uuid.uuid4(), 10_000, 0)
    async with database.transaction() as connection:
        await ledger.settlement(connection, order_id=uuid.uuid4(), partner_id=PARTNER, net=10_000)
    withdrawal_id = uuid.uuid4()
    async with database.transaction() as connection:
        await ledger.withdrawal_hold(connection, withdrawal_id=withdrawal_id, partner_id=PARTNER, gross=6_000)
    for _ in range(3):  # a callback storm of FAILED
        async with database.transaction() as connection:
            await ledger.withdrawal_release(connection, withdrawal_id=withdrawal_id, partner_id=PARTNER, gross=6_000)
    assert (await balance(database, AVAILABLE), await balance(database, HELD)) == (10_000, 0)

    for _ in range(2):  # then the provider says it was COMPLETED after all
        async with database.transaction() as connection:
            await ledger.withdrawal_complete(
                connection, withdrawal_id=withdrawal_id, partner_id=PARTNER, provider_account_id=PROVIDER,
                gross=6_000, fee=500, after_release=True,
            )  # fmt: skip
    assert (await balance(database, AVAILABLE), await balance(database, HELD)) == (4_000, 0)
    with pytest.raises(ledger.IdempotencyConflict):  # and it can never complete a second way
        async with database.transaction() as connection:
            await ledger.withdrawal_complete(
                connection, withdrawal_id=withdrawal_id, partner_id=PARTNER, provider_account_id=PROVIDER,
                gross=6_000, fee=500,
            )  # fmt: skip
    await assert_reconciled(database)


async def test_withdrawal_hold_beyond_available_is_refused(database: Database) -> None:
    await _paid(database, uuid.uuid4(), 10_000, 0)  # pending only: nothing available yet
    before = await snapshot(database)
    with pytest.raises(ledger.InsufficientFunds):
        async with database.transaction() as connection:
            await ledger.withdrawal_hold(connection, withdrawal_id=uuid.uuid4(), partner_id=PARTNER, gross=1)
    assert await snapshot(database) == before


async def test_loan_grant_repay_and_revert_return_exactly(database: Database) -> None:
    order_id = uuid.uuid4()
    await _paid(database, order_id, 20_000, 0)
    start = await _balances(database)
    async with database.transaction() as connection:
        await ledger.advance_grant(connection, advance_id=uuid.uuid4(), partner_id=PARTNER, amount_lent=50_000)
    granted = await _balances(database)
    assert (granted["available"], granted["advances"]) == (50_000, 50_000)

    async with database.transaction() as connection:
        repayment = await ledger.loan_repayment(connection, order_id=order_id, partner_id=PARTNER, net=20_000)
    repaid = await _balances(database)
    assert (repaid["pending"], repaid["advances"]) == (0, 30_000)

    async with database.transaction() as connection:
        await ledger.loan_repayment_revert(connection, repayment=repayment)
    assert await _balances(database) == granted
    async with database.transaction() as connection:  # loan-settled again after the revert: a new round
        await ledger.loan_repayment(connection, order_id=order_id, partner_id=PARTNER, net=20_000, round_number=2)
    assert (await _balances(database))["advances"] == 30_000
    assert start["advances"] == 0
    await assert_reconciled(database)


async def test_payments_spread_over_the_house_shards_and_reads_sum_them(database: Database) -> None:
    """Every PAID posting locks its provider account's balance and the platform's fees: they are split into
    `HOUSE_SHARDS` rows, one chosen by the order's id, and every read of them is of the whole account."""
    orders = [uuid.uuid4() for _ in range(40)]
    for order_id in orders:
        await _paid(database, order_id, 10_000, 300)
    again = await _paid(database, orders[0], 10_000, 300)
    assert again.replayed  # the same order names the same shards: exactly once still holds
    async with database.transaction() as connection:
        rows = await connection.fetch(
            "SELECT kind, shard, balance FROM ledger_accounts WHERE kind IN ('provider_balance', 'platform_fees')"
        )
        pending_shards = await connection.fetchval(
            "SELECT count(*) FROM ledger_accounts WHERE kind = 'partner_pending' AND owner_id = $1", PARTNER
        )
    expected = {order.int % HOUSE_SHARDS for order in orders}
    assert {row["shard"] for row in rows if row["kind"] == "provider_balance"} == expected
    assert {row["shard"] for row in rows if row["kind"] == "platform_fees"} == expected
    assert len(expected) > 1
    assert pending_shards == 1  # partner money is never split: its funds check sees one row
    assert sum(row["balance"] for row in rows if row["kind"] == "platform_fees") == 40 * 300
    balances = await _balances(database)
    assert (balances["provider"], balances["fees"], balances["pending"]) == (400_000, 12_000, 40 * 9_700)
    await assert_reconciled(database)


def test_only_house_accounts_have_shards() -> None:
    assert house(AccountKind.partner_pending, PARTNER, uuid.uuid4()).shard == 0
    with pytest.raises(ValueError, match="no shard"):
        AccountRef(AccountKind.partner_available, PARTNER, shard=1)
    with pytest.raises(ValueError, match="no shard"):
        AccountRef(AccountKind.platform_fees, shard=HOUSE_SHARDS)


async def test_a_replay_after_the_shard_count_grew_is_the_same_posting(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shard count may grow (8 -> 32 once): a posting replayed afterwards names another shard of the same
    house account, and is still recognised as itself, not refused as a different posting with the same key."""
    order_id = next(candidate for candidate in iter(uuid.uuid4, None) if candidate.int % 32 >= 8)
    monkeypatch.setattr("gerbang.ledger.schemas.HOUSE_SHARDS", 8)
    first = await _paid(database, order_id, 10_000, 300)
    before = await _balances(database)
    monkeypatch.setattr("gerbang.ledger.schemas.HOUSE_SHARDS", 32)
    again = await _paid(database, order_id, 10_000, 300)
    assert again.replayed
    assert again.transaction_id == first.transaction_id
    assert await _balances(database) == before
    with pytest.raises(ledger.IdempotencyConflict):  # the control: other amounts under the key are refused
        await _paid(database, order_id, 10_000, 400)
    await assert_reconciled(database)
