"""Many postings at once against one balance: exact outcomes, no deadlocks, reconcile clean."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest

from gerbang.db import Database
from gerbang.ledger import service as ledger
from gerbang.ledger.schemas import AccountKind, AccountRef, TransactionKind, credit, debit
from tests.ledger.helpers import assert_reconciled, balance, fund

ATTEMPTS = 8


async def _transfer(database: Database, key: str, source: AccountRef, target: AccountRef, value: int) -> str:
    try:
        async with database.transaction() as connection:
            await ledger.post(
                connection, idempotency_key=key, kind=TransactionKind.transfer, reference=f"test:{key}",
                legs=[debit(source, value), credit(target, value)],
            )  # fmt: skip
    except ledger.InsufficientFunds:
        return "insufficient_funds"
    return "ok"


async def test_200_concurrent_transfers_out_of_100(database: Database) -> None:
    partner, other = uuid.uuid4(), uuid.uuid4()
    source = AccountRef(AccountKind.partner_available, partner)
    target = AccountRef(AccountKind.partner_available, other)
    await fund(database, source, 100, "fund")
    await fund(database, target, 1, "fund-target")  # both accounts exist before the race
    outcomes = await asyncio.gather(*(_transfer(database, f"t-{i}", source, target, 1) for i in range(200)))
    assert outcomes.count("ok") == 100
    assert outcomes.count("insufficient_funds") == 100
    assert await balance(database, source) == 0
    assert await balance(database, target) == 101
    await assert_reconciled(database)


async def test_two_accounts_paying_each_other_at_once_do_not_deadlock(database: Database) -> None:
    a = AccountRef(AccountKind.partner_available, uuid.uuid4())
    b = AccountRef(AccountKind.partner_available, uuid.uuid4())
    await fund(database, a, 1_000, "fund-a")
    await fund(database, b, 1_000, "fund-b")
    transfers = [_transfer(database, f"ab-{i}", a, b, 3) for i in range(100)]
    transfers += [_transfer(database, f"ba-{i}", b, a, 2) for i in range(100)]
    outcomes = await asyncio.wait_for(asyncio.gather(*transfers), timeout=60)
    assert outcomes == ["ok"] * 200
    assert await balance(database, a) == 1_000 - 300 + 200
    assert await balance(database, b) == 1_000 + 300 - 200
    await assert_reconciled(database)


async def test_concurrent_duplicates_post_once(database: Database) -> None:
    partner = uuid.uuid4()
    order_id, provider = uuid.uuid4(), uuid.uuid4()

    async def pay() -> bool:
        async with database.transaction() as connection:
            posting = await ledger.order_paid(
                connection, order_id=order_id, partner_id=partner, provider_account_id=provider,
                amount_paid=50_000, fee=500,
            )  # fmt: skip
        return posting.replayed

    replayed = await asyncio.gather(*(pay() for _ in range(50)))
    assert replayed.count(False) == 1
    assert await balance(database, AccountRef(AccountKind.partner_pending, partner)) == 49_500
    await assert_reconciled(database)


async def test_accounts_created_concurrently_exist_once(database: Database) -> None:
    partner = uuid.uuid4()
    target = AccountRef(AccountKind.partner_available, partner)
    await asyncio.gather(*(fund(database, target, 10, f"fund-{i}") for i in range(30)))
    assert await balance(database, target) == 300
    async with database.transaction() as connection:
        count = await connection.fetchval("SELECT count(*) FROM ledger_accounts WHERE owner_id = $1", partner)
    assert count == 1


async def test_postings_creating_the_same_new_accounts_in_opposite_orders_do_not_deadlock(database: Database) -> None:
    for round_number in range(10):
        x = AccountRef(AccountKind.external, uuid.UUID(int=round_number * 2 + 1))
        y = AccountRef(AccountKind.provider_balance, uuid.uuid4())

        async def move(key: str, source: AccountRef, target: AccountRef) -> None:
            async with database.transaction() as connection:
                await ledger.post(
                    connection, idempotency_key=key, kind=TransactionKind.transfer, reference="test:new",
                    legs=[credit(target, 5), debit(source, 5)],
                )  # fmt: skip

        await asyncio.wait_for(
            asyncio.gather(*(move(f"n{round_number}-{i}", *((x, y) if i % 2 else (y, x))) for i in range(8))),
            timeout=30,
        )
    await assert_reconciled(database)


@pytest.mark.parametrize("attempt", range(ATTEMPTS))
async def test_first_postings_on_a_new_database_never_deadlock(database: Database, attempt: int) -> None:
    """The first callbacks on a new database: every posting names the same two house accounts (a provider
    account's balance and the platform's fees), which do not exist yet, and partners whose pending accounts
    do not exist either. Some postings look for the accounts just before another's commit creates them and
    some just after (a fresh database each attempt, staggered starts); none may fail."""
    amount, fee, count = 150_000, 3_250, 40
    provider = uuid.uuid4()
    partners = [uuid.uuid4() for _ in range(4)]

    async def pay(index: int) -> None:
        await asyncio.sleep(random.random() * 0.005)  # noqa: S311 (spreads the starts; any order must work)
        async with database.transaction() as connection:
            await ledger.order_paid(
                connection, order_id=uuid.uuid4(), partner_id=partners[index % len(partners)],
                provider_account_id=provider, amount_paid=amount, fee=fee,
            )  # fmt: skip

    await asyncio.wait_for(asyncio.gather(*(pay(index) for index in range(count))), timeout=60)
    assert await balance(database, AccountRef(AccountKind.provider_balance, provider)) == amount * count
    assert await balance(database, AccountRef(AccountKind.platform_fees)) == fee * count
    for partner in partners:
        assert await balance(database, AccountRef(AccountKind.partner_pending, partner)) == (amount - fee) * 10
    await assert_reconciled(database)
