"""Asking the provider about a PENDING order when somebody reads its status and our last look is stale, and
now and then from the worker (`poll_pending`) for the orders nobody reads.

A lost callback must not leave a paid order PENDING forever, so a status read triggers a status query.
At most one query per order per `STALE_AFTER`, whichever process serves the read: the check is claimed
by compare-and-set on `last_status_check_at` before the call. The provider is called outside any
transaction; its answer then moves the order by the same rules as a verified callback.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update

from gerbang.kit.log import get_logger
from gerbang.kit.sql import Query
from gerbang.kit.time import utcnow
from gerbang.models import Order
from gerbang.order.callbacks import apply_status, flag_outcome, lock_order
from gerbang.order.service import PayIn
from gerbang.provider.base import ProviderError
from gerbang.provider.registry import provider
from gerbang.routing import repository as accounts_repository
from gerbang.routing.accounts import adapter_account

log = get_logger("gerbang.status_check")

STALE_AFTER = timedelta(seconds=30)

_CLAIM = Query(
    update(Order)
    .where(
        Order.id == bindparam("id"),
        Order.status == "PENDING",
        Order.provider_account_id.is_not(None),
        or_(Order.last_status_check_at.is_(None), Order.last_status_check_at < bindparam("stale_before")),
    )
    .values(last_status_check_at=bindparam("now"))
    .returning(Order.provider_account_id, Order.provider_reference)
)


async def refresh_from_provider(pay_in: PayIn, order_id: uuid.UUID) -> bool:
    """Queries the provider if the order is PENDING and not checked recently; True if it asked."""
    now = utcnow()
    async with pay_in.database.transaction() as connection:
        claimed = await _CLAIM.fetchrow(connection, id=order_id, now=now, stale_before=now - STALE_AFTER)
        if claimed is None:
            return False
        account = await accounts_repository.get_account(connection, claimed["provider_account_id"])
    assert account is not None  # noqa: S101 (a foreign key)
    adapter = provider(account["provider"])
    try:
        result = await adapter.payment_status(
            pay_in.session, adapter_account(account, pay_in.key_ring), order_id, claimed["provider_reference"]
        )
    except ProviderError as error:
        log.warning("status_check.failed", order_id=str(order_id), provider=account["provider"], error=str(error))
        return True
    async with pay_in.database.transaction() as connection:
        order = await lock_order(connection, order_id)
        assert order is not None  # noqa: S101 (orders are never deleted)

        async def answered() -> bool:  # this is the provider's own status answer
            return True

        outcome = await apply_status(
            connection, pay_in, account, order, result.status, result.amount, result.paid_at, confirm=answered
        )
        await flag_outcome(connection, account["provider"], order, outcome, source="status answer")
    return True


_DUE_FOR_A_LOOK = Query(
    select(Order.id)
    .where(
        Order.status == "PENDING",
        Order.provider_account_id.is_not(None),
        Order.created_at < bindparam("looked_before"),
        or_(Order.last_status_check_at.is_(None), Order.last_status_check_at < bindparam("looked_before")),
    )
    # The partial index of PENDING orders by expiry: the ones closest to expiring are asked first.
    .order_by(Order.expires_at)
    .limit(bindparam("batch"))
)


async def poll_pending(pay_in: PayIn, now: datetime, every: timedelta, batch: int = 50, concurrency: int = 10) -> int:
    """Asks the provider about up to `batch` PENDING orders not looked at for `every` (nor created within it),
    `concurrency` at a time; returns how many it asked. Each is claimed like a status read, so a read and the
    poller, or two workers, never ask twice within `STALE_AFTER`. A paid order whose callback was lost then
    becomes PAID without anyone reading it, and before it would expire unpaid."""
    async with pay_in.database.connection() as connection:
        rows = await _DUE_FOR_A_LOOK.fetch(connection, looked_before=now - every, batch=batch)
    limit = asyncio.Semaphore(concurrency)

    async def ask(order_id: uuid.UUID) -> bool:
        async with limit:
            return await refresh_from_provider(pay_in, order_id)

    asked = await asyncio.gather(*(ask(row["id"]) for row in rows))
    return sum(asked)
