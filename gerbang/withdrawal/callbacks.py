"""Disbursement callbacks: stored as received, verified with the credentials of the provider account that
pays the withdrawal, then applied by compare-and-set (`service.apply_status`). A duplicate moves nothing;
a wrong amount, an unknown withdrawal or a contradiction is kept and flagged. A provider whose disbursement
callbacks are not signed (`disbursement_callbacks_signed` False) is never believed: its callback is stored
unverified and only prompts a status query, whose answer alone moves the withdrawal."""

from __future__ import annotations

from typing import Any

import asyncpg

from gerbang.events import alerts, callback_log
from gerbang.kit.log import get_logger
from gerbang.kit.sql import Connection
from gerbang.kit.time import utcnow
from gerbang.provider.base import (
    Acknowledgement,
    DisbursementCallback,
    DisbursementStatus,
    InboundCallback,
    PayoutProvider,
    ProviderError,
)
from gerbang.routing import repository as accounts_repository
from gerbang.routing.accounts import adapter_account
from gerbang.withdrawal import repository
from gerbang.withdrawal.service import Payouts, apply_status, settle_at_once

log = get_logger("gerbang.withdrawals")


async def receive(payouts: Payouts, adapter: PayoutProvider, callback: InboundCallback) -> Acknowledgement:
    try:
        claimed = adapter.parse_disbursement_callback(callback)
    except ValueError:
        async with payouts.database.transaction() as connection:
            await callback_log.store(
                connection, provider=adapter.name, body=callback.recorded, verified=False, outcome="unparseable"
            )
        return adapter.acknowledge(False)

    if not adapter.disbursement_callbacks_signed:
        return await _confirm_by_status(payouts, adapter, callback, claimed)

    claim: dict[str, Any] = {
        "provider": adapter.name, "body": callback.recorded, "event_id": claimed.event_id,
        "withdrawal_id": claimed.withdrawal_id, "status": claimed.status.value, "amount": claimed.amount,
    }  # fmt: skip

    async def keep(connection: Connection, *, verified: bool, outcome: str) -> int | None:
        return await callback_log.store(connection, verified=verified, outcome=outcome, **claim)

    # The common callback's record: stored with the move that applies it, by either path below.
    applied = callback_log.store_values("callback_", verified=True, outcome="applied", **claim)
    if await _settled_at_once(payouts, adapter, callback, claimed, applied):
        return adapter.acknowledge(True)
    async with payouts.database.transaction() as connection:
        row = await repository.lock_with_account(connection, claimed.withdrawal_id) if claimed.withdrawal_id else None
        account = row["account"] if row else None
        if row is None or account is None or account["provider"] != adapter.name:
            await keep(connection, verified=False, outcome="unknown_withdrawal")
            log.warning("withdrawal.callback_unknown", provider=adapter.name)
            return adapter.acknowledge(True)  # nothing to verify it against; kept for people to look at
        if not adapter.verify_disbursement_callback(adapter_account(account, payouts.key_ring), callback):
            await keep(connection, verified=False, outcome="unverified")
            log.warning("withdrawal.callback_unverified", provider=adapter.name, withdrawal_id=str(row["id"]))
            return adapter.acknowledge(False)
        amount_right = claimed.amount is None or claimed.amount == row["net"]
        if amount_right and _settles(row, claimed.status):
            # The common callback, its outcome known before anything is written (the row is locked): stored
            # with it, by the move's own statement, which moves nothing for a retry ("retry").
            await apply_status(
                connection, payouts, row, claimed.status, provider_reference=claimed.provider_reference,
                reason=claimed.reason, stored_now=applied,
            )  # fmt: skip
            return adapter.acknowledge(True)
        stored_id = await keep(connection, verified=True, outcome="received")
        if stored_id is None:
            return adapter.acknowledge(True)  # this notification was received before: a retry
        if not amount_right:
            outcome = await _amount_mismatch(connection, adapter.name, row)
        else:
            outcome = await apply_status(
                connection, payouts, row, claimed.status, provider_reference=claimed.provider_reference,
                reason=claimed.reason,
            )  # fmt: skip
        await callback_log.set_outcome(connection, stored_id, outcome)
    if outcome not in ("applied", "duplicate", "ignored"):
        log.warning("withdrawal.callback_flagged", withdrawal_id=str(row["id"]), outcome=outcome)
    return adapter.acknowledge(True)


async def _settled_at_once(
    payouts: Payouts, adapter: PayoutProvider, callback: InboundCallback, claimed: DisbursementCallback,
    applied: dict[str, Any],
) -> bool:  # fmt: skip
    """The common callback without a transaction: a verified final status (COMPLETED or FAILED), for the amount
    sent, of a partner's open withdrawal, read without a lock and moved by one statement
    (`service.settle_at_once`: two round trips, not five). False for anything else, or if it did not finish:
    nothing was written, and `receive`'s careful path decides under the row's lock. `applied`: the callback's
    record (`callback_log.store_values("callback_", ...)`)."""
    if claimed.withdrawal_id is None:
        return False
    async with payouts.database.connection() as connection:
        row = await repository.read_with_account(connection, claimed.withdrawal_id)
        account = row["account"] if row is not None else None
        if (
            row is None or account is None or account["provider"] != adapter.name or not _settles(row, claimed.status)
            or (claimed.amount is not None and claimed.amount != row["net"])
            or not adapter.verify_disbursement_callback(adapter_account(account, payouts.key_ring), callback)
        ):  # fmt: skip
            return False
        return await settle_at_once(
            connection, row, claimed.status, applied, provider_reference=claimed.provider_reference,
            reason=claimed.reason,
        )  # fmt: skip


def _settles(row: asyncpg.Record, status: DisbursementStatus) -> bool:
    """A partner's open withdrawal told its final status: the move `apply_status` makes of it is known."""
    final = status in (DisbursementStatus.completed, DisbursementStatus.failed)
    return final and row["partner_id"] is not None and row["status"] in ("PENDING", "PROCESSING")


async def _amount_mismatch(connection: Connection, provider: str, row: asyncpg.Record) -> str:
    """The provider speaks of another amount than we sent: nothing moves, and people are told (contradictions
    of a final state are alerted by `apply_status` itself)."""
    await alerts.raise_alert(
        connection, kind="callback_flagged", partner_id=row["partner_id"], now=utcnow(),
        message=f"{provider} disbursement callback for withdrawal {row['id']}: amount_mismatch; nothing moved",
    )  # fmt: skip
    return "amount_mismatch"


async def _confirm_by_status(
    payouts: Payouts, adapter: PayoutProvider, callback: InboundCallback, claimed: DisbursementCallback
) -> Acknowledgement:
    """A disbursement callback nobody signed: stored unverified, it only prompts a status query with the
    account that pays the withdrawal, and only that answer (amount checked) moves it."""
    async with payouts.database.transaction() as connection:
        row = await repository.get(connection, claimed.withdrawal_id) if claimed.withdrawal_id else None
        account = await accounts_repository.get_account(connection, row["provider_account_id"]) if row else None
        known = row is not None and account is not None and account["provider"] == adapter.name
        stored = await callback_log.store(
            connection, provider=adapter.name, body=callback.recorded, event_id=claimed.event_id,
            withdrawal_id=claimed.withdrawal_id, status=claimed.status.value, amount=claimed.amount,
            verified=False, outcome="requery" if known else "unknown_withdrawal",
        )  # fmt: skip
    if not known or row is None or account is None:
        log.warning("withdrawal.callback_unknown", provider=adapter.name)
        return adapter.acknowledge(True)  # nothing to ask about; kept for people to look at
    try:
        answer = await adapter.disbursement_status(
            payouts.session, adapter_account(account, payouts.key_ring), row["id"], row["provider_reference"]
        )
    except ProviderError as error:
        log.warning("withdrawal.callback_requery_failed", withdrawal_id=str(row["id"]), error=str(error)[:200])
        async with payouts.database.transaction() as connection:
            if stored is not None:
                await callback_log.set_outcome(connection, stored, "requery_failed")
        return adapter.acknowledge(False)  # the provider retries; the recovery job asks later anyway
    async with payouts.database.transaction() as connection:
        locked = await repository.get(connection, row["id"], for_update=True)
        assert locked is not None  # noqa: S101 (withdrawals are never deleted)
        if answer.amount is not None and answer.amount != locked["net"]:
            outcome = await _amount_mismatch(connection, adapter.name, locked)
        else:
            outcome = await apply_status(
                connection, payouts, locked, answer.status, provider_reference=answer.provider_reference,
                reason=answer.reason,
            )  # fmt: skip
        if stored is not None:
            await callback_log.set_outcome(connection, stored, outcome)
    if outcome not in ("applied", "duplicate", "ignored"):
        log.warning("withdrawal.callback_flagged", withdrawal_id=str(row["id"]), outcome=outcome)
    return adapter.acknowledge(True)
