"""One-statement fast paths: a withdrawal, its `withdraw.requested` event and its hold
(`repository.insert_held`), and a completion callback's move, events, stored callback and posting
(`service.settle_at_once`): all or, refused, nothing; the careful paths then decide
(tests/withdrawal/test_withdrawals.py covers both through HTTP)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gerbang.db import Database
from gerbang.events import callback_log
from gerbang.events import service as events
from gerbang.kit.sql import Refused
from gerbang.kit.time import utcnow
from gerbang.ledger import service as ledger
from gerbang.provider.base import DisbursementStatus
from gerbang.withdrawal import repository, service
from tests.auth.people import Tenant, tenant
from tests.helpers import create_house_shards
from tests.withdrawal.conftest import Fund, Send, balances

CREATE = "/api/v1/withdrawals/s2s/withdrawals"
_NEW = (
    "partner_id", "source", "amount", "fee", "net", "bank_code", "account_number", "account_holder",
    "supplied_holder_name", "holder_name_mismatch", "note", "provider_account_id", "requested_by", "retry_of",
    "next_check_at",
)  # fmt: skip


async def _like_the_first(s2s: Send, shop: Tenant, fund: Fund, database: Database) -> dict[str, Any]:
    """A first withdrawal through the API (which creates the partner's held account): its fields, for more."""
    await fund(shop, 100_000)
    first = await s2s(shop, "POST", CREATE, {"amount": 10_000, "bankCode": "BCA", "accountNumber": "1234567890"})
    assert first.status_code == 201, first.text
    async with database.connection() as connection:
        row = await connection.fetchrow(
            "SELECT * FROM withdrawals WHERE id = $1", uuid.UUID(first.json()["result"]["id"])
        )
    assert row is not None
    return {name: row[name] for name in _NEW}


async def _insert_held(
    database: Database, like: dict[str, Any], amount: int, reference: str | None = None
) -> tuple[uuid.UUID, Any]:
    withdrawal_id, now = uuid.uuid4(), utcnow()
    values = like | {
        "id": withdrawal_id, "reference": reference or f"R-{withdrawal_id}", "amount": amount, "fee": 0,
        "net": amount, "created_at": now, "updated_at": now,
    }  # fmt: skip
    event = events.outbox_values(topic="withdraws.v1", key=str(withdrawal_id), event="withdraw.requested",
                                 data={"withdrawalId": str(withdrawal_id)}, at=now)  # fmt: skip
    hold = ledger.plan_withdrawal_hold(withdrawal_id=withdrawal_id, partner_id=like["partner_id"], gross=amount)
    async with database.connection() as connection:
        return withdrawal_id, await repository.insert_held(connection, event, ledger.gated_values(hold), **values)


async def _available(database: Database, shop: Tenant) -> int:
    """The partner's available balance (its held one changes when the sandbox completes the first payout,
    about 2 s after it)."""
    available, _, _ = await balances(database, shop)
    return available


async def _written(database: Database, withdrawal_id: uuid.UUID) -> tuple[int, int, int]:
    """The withdrawal's rows: itself, its outbox events, its ledger transactions."""
    async with database.connection() as connection:
        return (
            await connection.fetchval("SELECT count(*) FROM withdrawals WHERE id = $1", withdrawal_id),
            await connection.fetchval("SELECT count(*) FROM outbox_events WHERE key = $1", str(withdrawal_id)),
            await connection.fetchval(
                "SELECT count(*) FROM ledger_transactions WHERE reference = $1", f"withdrawal:{withdrawal_id}"
            ),
        )


async def test_the_withdrawal_its_event_and_its_hold_are_written_by_one_statement(
    s2s: Send, shop: Tenant, fund: Fund, database: Database
) -> None:
    like = await _like_the_first(s2s, shop, fund, database)
    available = await _available(database, shop)
    withdrawal_id, row = await _insert_held(database, like, 25_000)
    assert row is not None
    assert (row["id"], row["status"], row["amount"]) == (withdrawal_id, "PENDING", 25_000)
    assert await _written(database, withdrawal_id) == (1, 1, 1)
    assert await _available(database, shop) == available - 25_000


async def test_a_hold_the_balance_cannot_cover_refuses_the_whole_statement(
    s2s: Send, shop: Tenant, fund: Fund, database: Database
) -> None:
    like = await _like_the_first(s2s, shop, fund, database)
    before = await _available(database, shop)
    with pytest.raises(Refused, match="withdrawal hold refused"):
        await _insert_held(database, like, before + 1)
    async with database.connection() as connection:  # nothing of it stayed: no row, no event, no posting
        assert await connection.fetchval("SELECT count(*) FROM withdrawals") == 1
        assert await connection.fetchval("SELECT count(*) FROM outbox_events WHERE event = 'withdraw.requested'") == 1
    assert await _available(database, shop) == before


async def test_a_partners_first_hold_refuses_until_its_held_account_exists(
    app: FastAPI, client: httpx.AsyncClient, s2s: Send, shop: Tenant, fund: Fund, database: Database
) -> None:
    like = await _like_the_first(s2s, shop, fund, database)
    other = await tenant(app, client, database, "Toko Baru", roles=())
    await fund(other, 50_000)  # available, but it never withdrew: no held account yet
    with pytest.raises(Refused, match="withdrawal hold refused"):
        await _insert_held(database, like | {"partner_id": other.id}, 1_000)
    async with database.connection() as connection:
        assert await connection.fetchval("SELECT count(*) FROM withdrawals WHERE partner_id = $1", other.id) == 0
    assert await balances(database, other) == (50_000, 0, 0)
    made = await s2s(other, "POST", CREATE, {"amount": 10_000, "bankCode": "BCA", "accountNumber": "1234567890"})
    assert made.status_code == 201, made.text  # the careful path creates the account and holds
    assert await _available(database, other) == 40_000


async def test_a_reference_used_before_writes_nothing_and_refuses_nothing(
    s2s: Send, shop: Tenant, fund: Fund, database: Database
) -> None:
    like = await _like_the_first(s2s, shop, fund, database)
    _, row = await _insert_held(database, like, 1_000, reference="SAME")
    assert row is not None
    before = await _available(database, shop)
    again, second = await _insert_held(database, like, 1_000, reference="SAME")
    assert second is None
    assert await _written(database, again) == (0, 0, 0)
    assert await _available(database, shop) == before


async def _complete(connection: Any, row: Any, reference: str | None, stored_now: dict[str, Any]) -> bool:
    return await service.settle_at_once(
        connection, row, DisbursementStatus.completed, stored_now, provider_reference=reference, reason=None
    )


def _settled_by(withdrawal_id: uuid.UUID, event_id: str, status: str = "COMPLETED") -> dict[str, Any]:
    return callback_log.store_values(
        "callback_", provider="sandbox", body=b"{}", verified=True, outcome="applied", event_id=event_id,
        withdrawal_id=withdrawal_id, status=status,
    )  # fmt: skip


async def _completion_written(database: Database, withdrawal_id: uuid.UUID) -> tuple[str, int, int, int, int]:
    """The withdrawal's status, and its stored callbacks, ledger transactions, webhooks and outbox events."""
    written = await _written(database, withdrawal_id)
    async with database.connection() as connection:
        status = await connection.fetchval("SELECT status FROM withdrawals WHERE id = $1", withdrawal_id)
        stored = await connection.fetchval(
            "SELECT count(*) FROM provider_callbacks WHERE withdrawal_id = $1", withdrawal_id
        )
        hooks = await connection.fetchval("SELECT count(*) FROM webhook_events WHERE object_id = $1", withdrawal_id)
    return status, stored, written[2], hooks, written[1]


async def test_a_completion_callback_is_applied_by_one_statement(
    s2s: Send, shop: Tenant, fund: Fund, database: Database, sandbox_account: dict[str, Any]
) -> None:
    like = await _like_the_first(s2s, shop, fund, database)
    await create_house_shards(database, uuid.UUID(sandbox_account["id"]))
    withdrawal_id, row = await _insert_held(database, like, 20_000)  # PENDING, never sent: no sandbox timer
    async with database.connection() as connection:
        assert await _complete(connection, row, "PAYOUT-1", _settled_by(withdrawal_id, "evt:1"))
    assert await _completion_written(database, withdrawal_id) == ("COMPLETED", 1, 2, 1, 2)  # hold + completion
    async with database.connection() as connection:  # the same row as read before: no longer PENDING
        assert not await _complete(connection, row, "PAYOUT-1", _settled_by(withdrawal_id, "evt:2"))
    assert await _completion_written(database, withdrawal_id) == ("COMPLETED", 1, 2, 1, 2)


async def test_a_completion_reusing_a_stored_notification_id_refuses_and_moves_nothing(
    s2s: Send, shop: Tenant, fund: Fund, database: Database, sandbox_account: dict[str, Any]
) -> None:
    like = await _like_the_first(s2s, shop, fund, database)
    await create_house_shards(database, uuid.UUID(sandbox_account["id"]))
    withdrawal_id, row = await _insert_held(database, like, 20_000)
    async with database.connection() as connection:
        await callback_log.store(
            connection, provider="sandbox", body=b"{}", verified=True, outcome="ignored", event_id="evt:reused",
            withdrawal_id=withdrawal_id, status="PROCESSING",
        )  # fmt: skip
        assert not await _complete(connection, row, None, _settled_by(withdrawal_id, "evt:reused"))
    assert await _completion_written(database, withdrawal_id) == ("PENDING", 1, 1, 0, 1)


async def test_a_failure_callback_releases_the_hold_by_one_statement(
    s2s: Send, shop: Tenant, fund: Fund, database: Database
) -> None:
    like = await _like_the_first(s2s, shop, fund, database)
    available = await _available(database, shop)
    withdrawal_id, row = await _insert_held(database, like, 20_000)
    assert await _available(database, shop) == available - 20_000
    failed = _settled_by(withdrawal_id, "evt:failed", status="FAILED")
    async with database.connection() as connection:
        assert await service.settle_at_once(
            connection, row, DisbursementStatus.failed, failed, provider_reference=None, reason="account closed"
        )
        reason = await connection.fetchval("SELECT failure_reason FROM withdrawals WHERE id = $1", withdrawal_id)
    assert reason == "account closed"
    assert await _completion_written(database, withdrawal_id) == ("FAILED", 1, 2, 1, 2)  # hold + release
    assert await _available(database, shop) == available  # the hold is back, once
