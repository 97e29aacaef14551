"""Disbursement callbacks: stored as received, verified with the credentials of the provider account that
pays the withdrawal, then applied by compare-and-set (`service.apply_status`). A duplicate moves nothing;
a wrong amount, an unknown withdrawal or a contradiction is kept and flagged."""

from __future__ import annotations

from gerbang.events import callback_log
from gerbang.kit.log import get_logger
from gerbang.kit.sql import Connection
from gerbang.provider.base import Acknowledgement, InboundCallback, PayoutProvider
from gerbang.routing import repository as accounts_repository
from gerbang.routing.accounts import adapter_account
from gerbang.withdrawal import repository
from gerbang.withdrawal.service import Payouts, apply_status

log = get_logger("gerbang.withdrawals")


async def receive(payouts: Payouts, adapter: PayoutProvider, callback: InboundCallback) -> Acknowledgement:
    try:
        claimed = adapter.parse_disbursement_callback(callback)
    except ValueError:
        async with payouts.database.transaction() as connection:
            await callback_log.store(
                connection, provider=adapter.name, body=callback.body, verified=False, outcome="unparseable"
            )
        return adapter.acknowledge(False)

    async def keep(connection: Connection, *, verified: bool, outcome: str) -> int | None:
        return await callback_log.store(
            connection, provider=adapter.name, body=callback.body, event_id=claimed.event_id,
            withdrawal_id=claimed.withdrawal_id, status=claimed.status.value, amount=claimed.amount,
            verified=verified, outcome=outcome,
        )  # fmt: skip

    async with payouts.database.transaction() as connection:
        row = (
            await repository.get(connection, claimed.withdrawal_id, for_update=True) if claimed.withdrawal_id else None
        )
        account = await accounts_repository.get_account(connection, row["provider_account_id"]) if row else None
        if row is None or account is None or account["provider"] != adapter.name:
            await keep(connection, verified=False, outcome="unknown_withdrawal")
            log.warning("withdrawal.callback_unknown", provider=adapter.name)
            return adapter.acknowledge(True)  # nothing to verify it against; kept for people to look at
        if not adapter.verify_disbursement_callback(adapter_account(account, payouts.key_ring), callback):
            await keep(connection, verified=False, outcome="unverified")
            log.warning("withdrawal.callback_unverified", provider=adapter.name, withdrawal_id=str(row["id"]))
            return adapter.acknowledge(False)
        stored = await keep(connection, verified=True, outcome="received")
        if stored is None:
            return adapter.acknowledge(True)  # this notification was received before: a retry
        if claimed.amount is not None and claimed.amount != row["net"]:
            outcome = "amount_mismatch"
        else:
            outcome = await apply_status(
                connection, payouts, row, claimed.status, provider_reference=claimed.provider_reference,
                reason=claimed.reason,
            )  # fmt: skip
        await callback_log.set_outcome(connection, stored, outcome)
    if outcome not in ("applied", "duplicate", "ignored"):
        log.warning("withdrawal.callback_flagged", withdrawal_id=str(row["id"]), outcome=outcome)
    return adapter.acknowledge(True)
