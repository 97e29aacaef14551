"""Asking the provider about a PENDING order when somebody reads its status and our last look is stale.

A lost callback must not leave a paid order PENDING forever, so a status read triggers a status query.
At most one query per order per `STALE_AFTER`, whichever process serves the read: the check is claimed
by compare-and-set on `last_status_check_at` before the call. The provider is called outside any
transaction; its answer then moves the order by the same rules as a verified callback.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import bindparam, or_, update

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
