"""Withdrawals: validate, hold, pay out through a provider, and settle on the provider's word.

The flow never holds a database connection across a provider call:
1. (no transaction) the provider's account inquiry gives the beneficiary's name;
2. transaction 1 writes the withdrawal PENDING and moves the gross from available to held, together:
   there is never a hold without a withdrawal, nor a withdrawal without its hold;
3. (no transaction) the disbursement goes to the provider with the withdrawal's id as its idempotency id;
4. transaction 2 records the answer.
A crash between 2 and 4 leaves a PENDING withdrawal whose `next_check_at` passes: the recovery job
resubmits it with the same id (the provider answers with the same disbursement, never a second one).
Every transition is a compare-and-set and every ledger effect has its own idempotency key, so a storm of
callbacks, polls and resubmissions moves the money once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import asyncpg

from gerbang.config import Settings
from gerbang.db import Database
from gerbang.events import alerts
from gerbang.events import service as events
from gerbang.exceptions import Conflict, GerbangError, NotFound, UnprocessableEntity
from gerbang.kit.crypto import KeyRing
from gerbang.kit.log import get_logger
from gerbang.kit.money import FeeRate
from gerbang.kit.sql import Connection, Refused
from gerbang.kit.time import to_jakarta, utcnow
from gerbang.ledger import service as ledger
from gerbang.ledger.schemas import AccountKind, AccountRef
from gerbang.partner import service as partner_service
from gerbang.provider.base import (
    AccountInquiry,
    AccountInquiryResult,
    DisbursementRequest,
    DisbursementStatus,
    ProviderError,
    ProviderRejected,
)
from gerbang.provider.registry import PAYOUT_PROVIDERS, payout_provider
from gerbang.routing import repository as accounts_repository
from gerbang.routing.accounts import adapter_account
from gerbang.withdrawal import repository
from gerbang.withdrawal.schemas import (
    AccountCheck,
    PlatformPayoutCreate,
    PlatformPayoutView,
    WithdrawalCreate,
    WithdrawalView,
)

log = get_logger("gerbang.withdrawals")

CLAIM_LEASE = timedelta(seconds=60)
RECOVERY_BATCH = 50


class ParentCannotWithdraw(UnprocessableEntity):
    code = "parent_cannot_withdraw"


class AmountOutOfRange(UnprocessableEntity):
    code = "amount_out_of_range"


class AmountBelowFee(UnprocessableEntity):
    code = "amount_below_fee"


class InvalidBankAccount(UnprocessableEntity):
    code = "invalid_bank_account"


class UnsupportedBank(UnprocessableEntity):
    code = "unsupported_bank"


class NoPayoutProvider(UnprocessableEntity):
    code = "no_payout_provider"


class DuplicateReference(Conflict):
    code = "duplicate_reference"


class PayoutProviderError(GerbangError):
    status_code = 502
    code = "provider_error"


class WithdrawalNotFound(NotFound):
    code = "withdrawal_not_found"


class PlatformPayoutNotFound(NotFound):
    code = "platform_payout_not_found"


class PayoutAccountNotFound(NotFound):
    code = "provider_account_not_found"


PLATFORM_SOURCE = "platform"
_FAILED = "the provider reported the payout failed"
"""A failed withdrawal's reason when the provider gives none."""


@dataclass(frozen=True)
class Payouts:
    """What paying out needs from the running process."""

    database: Database
    key_ring: KeyRing
    session: aiohttp.ClientSession
    public_url: str
    min_amount: int
    max_amount: int
    resubmit_after: timedelta
    poll_after: timedelta

    @classmethod
    def from_settings(
        cls, database: Database, key_ring: KeyRing, session: aiohttp.ClientSession, settings: Settings,
        public_url: str | None = None,
    ) -> Payouts:  # fmt: skip
        """`public_url`: where providers reach us, if not the settings' (the app's own, as its `PayIn` has it)."""
        return cls(
            database, key_ring, session, public_url or settings.public_base_url, settings.withdrawal_min_amount,
            settings.withdrawal_max_amount, settings.withdrawal_resubmit_after, settings.withdrawal_poll_after,
        )  # fmt: skip

    def callback_url(self, provider: str) -> str:
        return f"{self.public_url}/api/v1/withdrawals/callback/{provider}"


def view(row: asyncpg.Record) -> WithdrawalView:
    return WithdrawalView.model_validate(dict(row))


def platform_view(row: asyncpg.Record) -> PlatformPayoutView:
    return PlatformPayoutView.model_validate(dict(row))


def is_platform(row: asyncpg.Record) -> bool:
    return bool(row["partner_id"] is None)


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.upper().split()) == " ".join(b.upper().split())


async def _payout_account(connection: Connection) -> asyncpg.Record:
    account = await repository.payout_account(connection, sorted(PAYOUT_PROVIDERS))
    if account is None:
        raise NoPayoutProvider("no provider account can pay out now")
    return account


async def _inquire(
    payouts: Payouts, account: asyncpg.Record, bank_code: str, account_number: str
) -> AccountInquiryResult:
    adapter = payout_provider(account["provider"])
    try:
        return await adapter.account_inquiry(
            payouts.session, adapter_account(account, payouts.key_ring), AccountInquiry(bank_code, account_number)
        )
    except ProviderRejected as refused:
        raise UnsupportedBank(str(refused)) from None
    except ProviderError as error:
        raise PayoutProviderError(f"the account could not be checked now: {error}") from None


async def validate_account(payouts: Payouts, bank_code: str, account_number: str) -> AccountCheck:
    async with payouts.database.transaction() as connection:
        account = await _payout_account(connection)
    result = await _inquire(payouts, account, bank_code, account_number)
    return AccountCheck(
        valid=result.valid, bank_code=result.bank_code, account_number=result.account_number,
        account_holder=result.holder_name, reason=result.reason,
    )  # fmt: skip


async def request(
    payouts: Payouts, partner_id: uuid.UUID, body: WithdrawalCreate, *, source: str, requested_by: str,
    retry_of: uuid.UUID | None = None,
) -> WithdrawalView:  # fmt: skip
    now = utcnow()
    available_key = ledger.row_key(AccountRef(AccountKind.partner_available, partner_id))
    async with payouts.database.connection() as connection:
        terms = await repository.request_terms(connection, partner_id, available_key, sorted(PAYOUT_PROVIDERS))
    if terms is None:
        raise partner_service.PartnerNotFound(f"no partner {partner_id}")
    if terms["has_children"]:
        raise ParentCannotWithdraw("a parent partner's balance is its children's: withdraw from a child")
    low = terms["withdrawal_min_amount"] or payouts.min_amount
    high = terms["withdrawal_max_amount"] or payouts.max_amount
    if not low <= body.amount <= high:
        raise AmountOutOfRange(f"a withdrawal is between {low} and {high} rupiah")
    fee = FeeRate(terms["withdrawal_percent"], terms["withdrawal_flat"]).fee_for(body.amount)
    if fee >= body.amount:
        raise AmountBelowFee(f"the amount must exceed the fee ({fee})")
    # A look without a lock: most requests the balance cannot cover end here, before the bank is asked and
    # before they queue for the balance's row lock (which decides, again, for those that pass).
    if terms["available"] < body.amount:
        raise ledger.InsufficientFunds("the available balance does not cover this withdrawal")
    account = terms["account"]
    if account is None:
        raise NoPayoutProvider("no provider account can pay out now")
    checked = await _inquire(payouts, account, body.bank_code, body.account_number)
    if not checked.valid or checked.holder_name is None:
        raise InvalidBankAccount(f"the bank does not know this account ({checked.reason or 'invalid'})")
    withdrawal_id = uuid.uuid4()
    supplied = body.account_holder_name
    new = {
        "id": withdrawal_id, "partner_id": partner_id, "reference": body.reference or str(withdrawal_id),
        "source": source, "amount": body.amount, "fee": fee, "net": body.amount - fee,
        "bank_code": checked.bank_code, "account_number": checked.account_number,
        "account_holder": checked.holder_name, "supplied_holder_name": supplied,
        "holder_name_mismatch": supplied is not None and not _same_name(supplied, checked.holder_name),
        "note": body.note, "provider_account_id": account["id"], "requested_by": requested_by, "retry_of": retry_of,
        "next_check_at": now + payouts.resubmit_after, "created_at": now, "updated_at": now,
    }  # fmt: skip
    requested = events.outbox_values(
        topic="withdraws.v1", key=str(withdrawal_id), event="withdraw.requested", at=now,
        data=payload(new | repository.moved_fields("PENDING", now, None)),
    )  # fmt: skip
    hold = ledger.plan_withdrawal_hold(withdrawal_id=withdrawal_id, partner_id=partner_id, gross=body.amount)
    try:  # the usual case: the withdrawal, its event and its hold in one statement, all or nothing
        async with payouts.database.connection() as connection:
            row = await repository.insert_held(connection, requested, ledger.gated_values(hold), **new)
    except Refused:
        # The hold could not be posted so (funds short, or the partner's first withdrawal, whose held account
        # the posting creates): nothing was written; the same in a transaction says which, and does it.
        async with payouts.database.transaction() as connection:
            row = await repository.insert(connection, requested, **new)
            if row is not None:
                # The hold last: the partner's balance rows stay locked only for it and the commit. Refused for
                # want of funds, the whole transaction rolls back: no withdrawal, no event, no hold.
                await ledger.post_planned(connection, hold)
    if row is None:
        async with payouts.database.connection() as connection:
            existing = await repository.id_by_reference(connection, partner_id, body.reference or "")
        raise DuplicateReference(f"reference {body.reference!r} is already withdrawal {existing}")
    after = await submit(payouts, row, account, first=True)
    return view(after) if after is not None else await get(payouts.database, withdrawal_id)


class NotRetryable(Conflict):
    code = "withdrawal_not_retryable"


async def retry(
    payouts: Payouts, partner_id: uuid.UUID, withdrawal_id: uuid.UUID, *, requested_by: str
) -> WithdrawalView:
    """A new withdrawal like one the provider refused before accepting it (nothing left the account, and its
    hold was released); anything the provider accepted is its to finish, never ours to repeat."""
    async with payouts.database.transaction() as connection:
        original = await get_visible(connection, withdrawal_id, [partner_id])
    if original.status != "FAILED" or original.provider_reference is not None:
        raise NotRetryable("only a withdrawal the provider refused before accepting it can be retried")
    body = WithdrawalCreate(
        amount=original.amount, bank_code=original.bank_code, account_number=original.account_number,
        account_holder_name=original.supplied_holder_name, note=original.note,
        reference=f"{original.reference[:70]}:retry:{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    return await request(
        payouts, partner_id, body, source=original.source, requested_by=requested_by, retry_of=original.id
    )


async def request_platform_payout(
    payouts: Payouts, body: PlatformPayoutCreate, *, requested_by: str
) -> PlatformPayoutView:
    """The platform takes its fee income out of a provider account. Nothing is held: the money leaves our books
    when the provider confirms. Until then an open payout counts against both balances it will draw on (the
    platform's fees, the account's provider balance), decided one request at a time under a lock, so two
    requests cannot both spend the same money."""
    now = utcnow()
    if body.amount < payouts.min_amount:
        raise AmountOutOfRange(f"a payout is at least {payouts.min_amount} rupiah")
    async with payouts.database.transaction() as connection:
        account = await accounts_repository.get_account(connection, body.provider_account_id)
    if account is None or account["provider"] not in PAYOUT_PROVIDERS:
        raise PayoutAccountNotFound(f"no provider account {body.provider_account_id} that pays out")
    if not account["enabled"]:
        raise NoPayoutProvider(f"provider account {body.provider_account_id} is disabled")
    checked = await _inquire(payouts, account, body.bank_code, body.account_number)
    if not checked.valid or checked.holder_name is None:
        raise InvalidBankAccount(f"the bank does not know this account ({checked.reason or 'invalid'})")
    payout_id = uuid.uuid4()
    supplied = body.account_holder_name
    async with payouts.database.transaction() as connection:
        await repository.lock_platform_payouts(connection)
        open_everywhere, open_on_account = await repository.open_platform_payouts(connection, account["id"])
        fees = await ledger.balance_of(connection, AccountRef(AccountKind.platform_fees)) - open_everywhere
        if body.amount > fees:
            raise ledger.InsufficientFunds(f"the platform's fee income not yet paid out is {max(fees, 0)} rupiah")
        held = await ledger.balance_of(connection, AccountRef(AccountKind.provider_balance, account["id"]))
        if body.amount > held - open_on_account:
            raise ledger.InsufficientFunds(
                f"provider account {account['id']} holds {max(held - open_on_account, 0)} rupiah not yet paid out"
            )
        row = await repository.insert_platform(
            connection, id=payout_id, reference=body.reference or str(payout_id), source=PLATFORM_SOURCE,
            amount=body.amount, fee=0, net=body.amount, bank_code=checked.bank_code,
            account_number=checked.account_number, account_holder=checked.holder_name, supplied_holder_name=supplied,
            holder_name_mismatch=supplied is not None and not _same_name(supplied, checked.holder_name),
            note=body.note, provider_account_id=account["id"], requested_by=requested_by, retry_of=None,
            next_check_at=now + payouts.resubmit_after, created_at=now, updated_at=now,
        )  # fmt: skip
        if row is None:
            existing = await repository.platform_id_by_reference(connection, body.reference or "")
            raise DuplicateReference(f"reference {body.reference!r} is already platform payout {existing}")
    after = await submit(payouts, row, account, first=True)
    if after is not None:
        return platform_view(after)
    async with payouts.database.connection() as connection:
        return await get_platform_payout(connection, payout_id)


async def get(database: Database, withdrawal_id: uuid.UUID) -> WithdrawalView:
    """A partner's withdrawal (a platform payout is not one: see `get_platform_payout`)."""
    async with database.transaction() as connection:
        row = await repository.get(connection, withdrawal_id)
    if row is None or is_platform(row):
        raise WithdrawalNotFound(f"no withdrawal {withdrawal_id}")
    return view(row)


async def get_platform_payout(connection: Connection, payout_id: uuid.UUID) -> PlatformPayoutView:
    row = await repository.get(connection, payout_id)
    if row is None or not is_platform(row):
        raise PlatformPayoutNotFound(f"no platform payout {payout_id}")
    return platform_view(row)


async def get_visible(connection: Connection, withdrawal_id: uuid.UUID, partner_ids: list[uuid.UUID]) -> WithdrawalView:
    row = await repository.get(connection, withdrawal_id)
    if row is None or row["partner_id"] not in partner_ids:
        raise WithdrawalNotFound(f"no withdrawal {withdrawal_id}")
    return view(row)


async def submit(
    payouts: Payouts, row: asyncpg.Record, account: asyncpg.Record | None = None, *, first: bool = False
) -> asyncpg.Record | None:
    """Sends the disbursement (again: the provider dedupes by our id) and records the answer. Returns the
    withdrawal as the answer left it, or None if it did not change it (to be read again if needed).
    `account`: the withdrawal's provider account, if the caller has it at hand; `first`: the request's own
    send, which its insert counted."""
    if not first or account is None:
        async with payouts.database.connection() as connection:
            if account is None:
                account = await accounts_repository.get_account(connection, row["provider_account_id"])
            if not first:
                await repository.count_submit(connection, row["id"])
    assert account is not None  # noqa: S101 (a foreign key)
    adapter = payout_provider(account["provider"])
    request_ = DisbursementRequest(
        withdrawal_id=row["id"], amount=row["net"], bank_code=row["bank_code"], account_number=row["account_number"],
        holder_name=row["account_holder"], callback_url=payouts.callback_url(account["provider"]), note=row["note"],
    )  # fmt: skip
    try:
        answer = await adapter.create_disbursement(
            payouts.session, adapter_account(account, payouts.key_ring), request_
        )
    except ProviderRejected as refused:
        return await _record_answer(payouts, row["id"], DisbursementStatus.failed, reason=str(refused)[:500])
    except ProviderError as error:
        # Unknown whether it arrived: the recovery job asks again later with the same id.
        log.warning("withdrawal.submit_failed", withdrawal_id=str(row["id"]), error=str(error)[:200])
        async with payouts.database.connection() as connection:
            await repository.reschedule(connection, row["id"], utcnow() + payouts.resubmit_after, utcnow())
        return None
    if answer.status in (DisbursementStatus.pending, DisbursementStatus.processing):
        # Accepted, the usual answer: one compare-and-set statement, no lock to take first (`apply_status`
        # would do just this move, and only from PENDING).
        now = utcnow()
        async with payouts.database.connection() as connection:
            return await repository.move(
                connection, row["id"], expected="PENDING", status="PROCESSING", now=now,
                next_check_at=now + payouts.poll_after, provider_reference=answer.provider_reference,
            )  # fmt: skip
    return await _record_answer(payouts, row["id"], answer.status, provider_reference=answer.provider_reference)


async def _record_answer(
    payouts: Payouts, withdrawal_id: uuid.UUID, status: DisbursementStatus, *, provider_reference: str | None = None,
    reason: str | None = None,
) -> asyncpg.Record | None:  # fmt: skip
    """A final answer from the provider, applied with its ledger effect under the withdrawal's row lock."""
    async with payouts.database.transaction() as connection:
        locked = await repository.get(connection, withdrawal_id, for_update=True)
        assert locked is not None  # noqa: S101
        await apply_status(connection, payouts, locked, status, provider_reference=provider_reference, reason=reason)
        return await repository.get(connection, withdrawal_id)


def payload(row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    """The withdrawal's fields in its webhook and Kafka events."""

    def stamp(value: datetime | None) -> str | None:
        return to_jakarta(value).isoformat() if value else None

    return {
        "withdrawalId": str(row["id"]), "reference": row["reference"], "status": row["status"],
        "amount": row["amount"], "fee": row["fee"], "netAmount": row["net"], "bankCode": row["bank_code"],
        "accountNumber": row["account_number"], "accountHolder": row["account_holder"],
        "providerReference": row["provider_reference"], "failureReason": row["failure_reason"],
        "createdAt": stamp(row["created_at"]), "completedAt": stamp(row["completed_at"]),
        "failedAt": stamp(row["failed_at"]),
    }  # fmt: skip


def _announcement(
    row: asyncpg.Record, status: str, now: datetime, provider_reference: str | None, failure_reason: str | None = None
) -> dict[str, Any]:
    """The partner's webhook and the outbox event of its withdrawal `row` reaching the final `status`."""
    kind = "completed" if status == "COMPLETED" else "failed"
    after = dict(row) | repository.moved_fields(status, now, provider_reference, failure_reason)
    return events.event_values(
        partner_id=row["partner_id"], webhook_event=f"withdrawal.{kind}", object_id=row["id"], topic="withdraws.v1",
        key=str(row["id"]), outbox_event=f"withdraw.{kind}", data=payload(after), at=now,
    )  # fmt: skip


async def settle_at_once(
    connection: Connection, row: asyncpg.Record, status: DisbursementStatus, stored_now: dict[str, Any], *,
    provider_reference: str | None, reason: str | None,
) -> bool:  # fmt: skip
    """A partner's open withdrawal `row`, read without a lock, completed or failed (`status`) by the callback
    `stored_now` in one statement: the move with its events, the callback, and the completion's posting or the
    hold's release. False if it was no longer open as read, or the statement refused (a retry of a notification
    stored before, an account the posting needs not created yet): nothing was written, and the careful path,
    under the row's lock, decides. As `apply_status` moves it, with the same keys."""
    now = utcnow()
    reference = provider_reference or row["provider_reference"]
    if status is DisbursementStatus.completed:
        final, failure_reason, posting = "COMPLETED", None, _completion(row)
    else:
        final, failure_reason, posting = "FAILED", reason or _FAILED, _release(row)
    try:
        return await repository.settle_at_once(
            connection, row["id"], expected=row["status"], status=final, now=now, provider_reference=reference,
            failure_reason=failure_reason, announced=_announcement(row, final, now, reference, failure_reason),
            stored_now=stored_now, posting=ledger.gated_values(posting),
        )  # fmt: skip
    except Refused:
        return False


async def _finish(
    connection: Connection, row: asyncpg.Record, status: str, now: datetime, *, provider_reference: str | None,
    failure_reason: str | None = None, stored_now: dict[str, Any] | None = None,
) -> asyncpg.Record | None:  # fmt: skip
    """Moves the locked withdrawal `row` to the final `status`, with the partner's webhook and the Kafka event
    in the same statement. A platform payout has no partner to tell and is not in the withdrawal event catalog
    (docs/events.md): its trail is the audit log and the ledger. `stored_now`: the callback that says so, stored
    by the same statement; None if that callback is a retry of one stored before (and nothing moved)."""
    announced = None if is_platform(row) else _announcement(row, status, now, provider_reference, failure_reason)
    moved = await repository.move(
        connection, row["id"], expected=row["status"], status=status, now=now, next_check_at=now,
        provider_reference=provider_reference, failure_reason=failure_reason, announced=announced,
        stored_now=stored_now,
    )  # fmt: skip
    assert moved is not None or stored_now is not None  # noqa: S101 (the row is locked)
    return moved


async def apply_status(
    connection: Connection, payouts: Payouts, row: asyncpg.Record, status: DisbursementStatus, *,
    provider_reference: str | None = None, reason: str | None = None, stored_now: dict[str, Any] | None = None,
) -> str:  # fmt: skip
    """Moves the withdrawal (read FOR UPDATE) to what the provider says of it; returns the outcome to keep.
    `stored_now`: for a partner's open withdrawal told its final status, the callback that tells it, not stored
    yet (`callback_log.store_values("callback_", ..., outcome="applied")`): stored with the move, and if it is
    a retry of one stored before, nothing moves and the outcome is "retry"."""
    now = utcnow()
    current = row["status"]
    reference = provider_reference or row["provider_reference"]
    match status:
        case DisbursementStatus.pending | DisbursementStatus.processing:
            if current != "PENDING":
                return "ignored"
            await repository.move(
                connection, row["id"], expected="PENDING", status="PROCESSING", now=now,
                next_check_at=now + payouts.poll_after, provider_reference=reference,
            )  # fmt: skip
            return "applied"
        case DisbursementStatus.completed:
            if current == "COMPLETED":
                return "duplicate"
            if current == "FAILED":
                return await _complete_after_failure(connection, payouts, row, reference, now)
            if await _finish(connection, row, "COMPLETED", now, provider_reference=reference, stored_now=stored_now):
                await _post_completion(connection, row)  # last: its ledger rows stay locked only until the commit
                return "applied"
            return "retry"
        case DisbursementStatus.failed:
            if current == "FAILED":
                return "duplicate"
            if current == "COMPLETED":
                await alerts.raise_alert(
                    connection, kind="withdrawal_contradicted", partner_id=row["partner_id"], now=now,
                    message=f"Withdrawal {row['id']} is COMPLETED; the provider now reports it failed: check by hand",
                )  # fmt: skip
                return "contradicting"
            failure_reason = reason or _FAILED
            if not await _finish(
                connection, row, "FAILED", now, provider_reference=reference, failure_reason=failure_reason,
                stored_now=stored_now,
            ):  # fmt: skip
                return "retry"
            if not is_platform(row):  # a platform payout held nothing; the release last, as the completion
                await ledger.post_planned(connection, _release(row))
            return "applied"


async def _post_completion(connection: Connection, row: asyncpg.Record, *, after_release: bool = False) -> None:
    """The completion's ledger effect, under a key of its own: posted once however often it is reached."""
    if is_platform(row):
        await ledger.platform_payout(
            connection, payout_id=row["id"], provider_account_id=row["provider_account_id"], amount=row["amount"]
        )
        return
    await ledger.post_planned(connection, _completion(row, after_release=after_release))


def _completion(row: asyncpg.Record, *, after_release: bool = False) -> ledger.Planned:
    """A partner's withdrawal `row` completed: its ledger posting (`ledger.plan_withdrawal_complete`)."""
    return ledger.plan_withdrawal_complete(
        withdrawal_id=row["id"], partner_id=row["partner_id"], provider_account_id=row["provider_account_id"],
        gross=row["amount"], fee=row["fee"], after_release=after_release,
    )  # fmt: skip


def _release(row: asyncpg.Record) -> ledger.Planned:
    """A partner's withdrawal `row` failed: its hold goes back (`ledger.plan_withdrawal_release`)."""
    return ledger.plan_withdrawal_release(withdrawal_id=row["id"], partner_id=row["partner_id"], gross=row["amount"])


async def _complete_after_failure(
    connection: Connection, payouts: Payouts, row: asyncpg.Record, reference: str | None, now: datetime
) -> str:
    """The provider changed its mind: the money did leave. A partner's hold was released, so the gross comes
    back out of available; a platform payout, which held nothing, posts its completion now. Once either way
    (the completion's ledger key is the same whichever way it arrives)."""
    try:
        async with connection.transaction():  # a savepoint: a refusal leaves the rest of the work intact
            await _post_completion(connection, row, after_release=True)
    except ledger.InsufficientFunds:
        await alerts.raise_alert(
            connection, kind="withdrawal_completed_unfunded", partner_id=row["partner_id"], now=now,
            message=f"Withdrawal {row['id']} failed, then completed, but its refund was already spent: recover by hand",
        )  # fmt: skip
        return "contradicting"
    await _finish(connection, row, "COMPLETED", now, provider_reference=reference)
    await alerts.raise_alert(
        connection, kind="withdrawal_completed_after_failure", partner_id=row["partner_id"], now=now,
        message=f"Withdrawal {row['id']} was reported failed, then completed; "
        + ("posted once" if is_platform(row) else "debited once from available"),
    )  # fmt: skip
    return "late_completion"


async def recover_due(payouts: Payouts, limit: int = RECOVERY_BATCH) -> int:
    """The recovery job: resubmit PENDING withdrawals nobody accepted, ask about PROCESSING ones that went
    quiet. Claimed under a lease, so workers share the work. Returns how many it looked at."""
    now = utcnow()
    async with payouts.database.transaction() as connection:
        due = await repository.claim_due(connection, now=now, lease_until=now + CLAIM_LEASE, limit=limit)
    for claimed in due:
        async with payouts.database.transaction() as connection:
            row = await repository.get(connection, claimed["id"])
        assert row is not None  # noqa: S101
        if row["status"] == "PENDING":
            await submit(payouts, row)
        elif row["status"] == "PROCESSING":
            await _poll(payouts, row)
    return len(due)


async def _poll(payouts: Payouts, row: asyncpg.Record) -> None:
    async with payouts.database.transaction() as connection:
        account = await accounts_repository.get_account(connection, row["provider_account_id"])
    assert account is not None  # noqa: S101
    adapter = payout_provider(account["provider"])
    try:
        answer = await adapter.disbursement_status(
            payouts.session, adapter_account(account, payouts.key_ring), row["id"], row["provider_reference"]
        )
    except ProviderError as error:
        log.warning("withdrawal.poll_failed", withdrawal_id=str(row["id"]), error=str(error)[:200])
        async with payouts.database.transaction() as connection:
            await repository.reschedule(connection, row["id"], utcnow() + payouts.poll_after, utcnow())
        return
    async with payouts.database.transaction() as connection:
        locked = await repository.get(connection, row["id"], for_update=True)
        assert locked is not None  # noqa: S101
        outcome = await apply_status(
            connection, payouts, locked, answer.status, provider_reference=answer.provider_reference,
            reason=answer.reason,
        )  # fmt: skip
        if outcome == "ignored":  # still in progress: look again later
            await repository.reschedule(connection, row["id"], utcnow() + payouts.poll_after, utcnow())
