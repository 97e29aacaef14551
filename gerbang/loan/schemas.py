"""Loans' requests and responses (camelCase on the wire, as the admin API's other modules)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from gerbang.ledger.schemas import PartnerBalances

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
MAX_IDS = 500
"""Orders named in one mark or revert request."""
MAX_AMOUNT = 10_000_000_000


class _Request(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class _View(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True, extra="ignore")


class AdvanceGrant(_Request):
    """Lend the partner `amount` whole rupiah now, to its available balance."""

    partner_id: uuid.UUID = Field(alias="partnerId")
    amount: int = Field(gt=0, le=MAX_AMOUNT, strict=True, examples=[50_000_000])
    note: Note | None = Field(default=None, examples=["Advance against December QRIS volume"])


class AdvanceView(_View):
    id: uuid.UUID
    partner_id: uuid.UUID = Field(alias="partnerId")
    currency: str
    amount: int
    note: str | None
    granted_by: str = Field(alias="grantedBy", description="`admin:<id>`")
    ledger_transaction_id: int = Field(alias="ledgerTransactionId")
    created_at: datetime = Field(alias="createdAt")


class PartnerAdvances(_View):
    partner_id: uuid.UUID = Field(alias="partnerId")
    currency: str = "IDR"
    granted: int = Field(description="Every advance granted")
    repaid: int = Field(description="Nets of every order loan-settled, reverted ones included")
    reverted: int = Field(description="Nets of the loan settlements reverted")
    outstanding: int = Field(description="granted - repaid + reverted, read from the ledger")
    advances: list[AdvanceView] = Field(description="Newest first, at most `limit`")


class BalancesWithAdvance(PartnerBalances):
    """A partner's balances and what it still owes on its advances (0 without any)."""

    advance_outstanding: int


class MarkSettled(_Request):
    partner_id: uuid.UUID = Field(alias="partnerId")
    order_ids: list[uuid.UUID] = Field(alias="orderIds", min_length=1, max_length=MAX_IDS)
    note: Note | None = None


FailureReason = Literal[
    "not_found", "other_partner", "not_paid", "already_loan_settled", "exceeds_outstanding_advance", "not_loan_settled"
]


class OrderFailure(_View):
    order_id: uuid.UUID = Field(alias="orderId")
    reason: FailureReason
    status: str | None = Field(default=None, description="The order's status, when that is the reason")


class MarkResult(_View):
    ok: list[uuid.UUID] = Field(description="Loan-settled now, oldest payment first")
    failed: list[OrderFailure] = Field(description="Left as they were")
    amount: int = Field(description="The nets repaid now")
    outstanding: int = Field(description="The partner's outstanding advance afterwards")


class RangeFilters(_Request):
    """PAID orders of a partner (and, optionally, one provider account) paid on Asia/Jakarta dates
    `paidFrom` to `paidTo`, both included."""

    partner_id: uuid.UUID = Field(alias="partnerId")
    provider_account_id: uuid.UUID | None = Field(default=None, alias="providerAccountId")
    paid_from: date = Field(alias="paidFrom", examples=["2026-11-01"])
    paid_to: date = Field(alias="paidTo", examples=["2026-11-30"])
    note: Note | None = None

    @model_validator(mode="after")
    def _ordered(self) -> RangeFilters:
        if self.paid_to < self.paid_from:
            raise ValueError("paidTo is before paidFrom")
        return self


class RangePreviewRequest(RangeFilters):
    dry_run: Literal[True] = Field(
        default=True, alias="dryRun", description="Always true here: start a job (`/by-range/start`) to write"
    )


class RangeStart(RangeFilters):
    dry_run: bool = Field(default=False, alias="dryRun", description="Count only: the job changes nothing")


class OrderSample(_View):
    id: uuid.UUID
    reference: str
    amount: int
    fee: int
    net: int
    paid_at: datetime = Field(alias="paidAt")


class RangePreview(_View):
    count: int = Field(description="PAID orders in the range")
    total_net: int = Field(alias="totalNet")
    repayable_count: int = Field(
        alias="repayableCount", description="Of those, how many a job started now would loan-settle"
    )
    repayable_net: int = Field(alias="repayableNet")
    outstanding: int = Field(description="The partner's outstanding advance now")
    sample: list[OrderSample] = Field(description="The first 20, oldest payment first")


class LoanJob(_View):
    id: uuid.UUID
    partner_id: uuid.UUID = Field(alias="partnerId")
    provider_account_id: uuid.UUID | None = Field(alias="providerAccountId")
    paid_from: date = Field(alias="paidFrom")
    paid_to: date = Field(alias="paidTo")
    note: str | None
    dry_run: bool = Field(alias="dryRun")
    status: str = Field(description="queued, running, completed, failed or cancelled")
    orders_seen: int = Field(alias="ordersSeen", description="PAID orders of the range looked at so far")
    orders_settled: int = Field(alias="ordersSettled", description="Loan-settled (in a dry run: would be)")
    orders_skipped: int = Field(alias="ordersSkipped", description="Left PAID: more than the advance outstanding")
    amount: int = Field(description="The nets of `ordersSettled`")
    progress_paid_at: datetime | None = Field(alias="progressPaidAt", description="Payment time reached so far")
    error: str | None
    cancel_requested_at: datetime | None = Field(alias="cancelRequestedAt")
    created_by: str = Field(alias="createdBy")
    created_at: datetime = Field(alias="createdAt")
    started_at: datetime | None = Field(alias="startedAt")
    finished_at: datetime | None = Field(alias="finishedAt")


class Revert(_Request):
    """Revert the partner's loan-settled orders named, or every one a range job loan-settled."""

    partner_id: uuid.UUID = Field(alias="partnerId")
    order_ids: list[uuid.UUID] | None = Field(default=None, alias="orderIds", min_length=1, max_length=MAX_IDS)
    job_id: uuid.UUID | None = Field(default=None, alias="jobId")
    note: Note | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Revert:
        if (self.order_ids is None) == (self.job_id is None):
            raise ValueError("give exactly one of orderIds and jobId")
        return self


class RevertResult(_View):
    revert_id: uuid.UUID = Field(alias="revertId", description="`GET /loans/repayments/export?revertId=` is its CSV")
    reverted: list[uuid.UUID] = Field(description="Back to PAID, their nets back in pending")
    failed: list[OrderFailure]
    amount: int = Field(description="The nets moved back")
    outstanding: int = Field(description="The partner's outstanding advance afterwards")


class Repayment(_View):
    id: int
    order_id: uuid.UUID = Field(alias="orderId")
    reference: str
    amount: int
    net: int
    round: int = Field(description="1, or more for an order loan-settled again after a revert")
    job_id: uuid.UUID | None = Field(alias="jobId")
    note: str | None
    settled_by: str = Field(alias="settledBy")
    settled_at: datetime = Field(alias="loanSettledAt")
    revert_id: uuid.UUID | None = Field(alias="revertId")
    reverted_by: str | None = Field(alias="revertedBy")
    reverted_at: datetime | None = Field(alias="revertedAt")
