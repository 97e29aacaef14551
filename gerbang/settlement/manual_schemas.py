"""Manual settlement's request and answers (docs/settlement.md, "Manual settlement")."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gerbang.provider.base import PaymentMethod

MAX_BATCH_SIZE = 5_000
"""A batch is one `settlement.completed` webhook per partner listing its orders: as the checker's, at most 5,000."""
DEFAULT_BATCH_SIZE = 1_500
"""The original's batch size."""
MAX_IDS = 1_000

Status = Literal["queued", "running", "completed", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
DayOfWeek = Annotated[int, Field(ge=0, le=6, strict=True)]
Hour = Annotated[int, Field(ge=0, le=23, strict=True)]
Rupiah = Annotated[int, Field(ge=0, le=10**15, strict=True)]


class Mode(enum.StrEnum):
    include = "include"
    exclude = "exclude"


class ManualSettlementFilters(BaseModel):
    """Which PAID orders to settle. Dates, days and hours are of the order's payment (`paidAt`), in Asia/Jakarta.
    A list left out (or null) does not filter; `...Mode` says whether a list keeps or drops what it names."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True, extra="forbid")

    date_from: date = Field(alias="dateFrom", examples=["2026-11-01"], description="First payment date, inclusive")
    date_to: date = Field(alias="dateTo", examples=["2026-11-30"], description="Last payment date, inclusive")
    days_of_week: list[DayOfWeek] = Field(
        default=[0, 1, 2, 3, 4, 5, 6], alias="daysOfWeek", min_length=1, max_length=7, examples=[[1, 2, 3, 4, 5]],
        description="0 = Sunday ... 6 = Saturday (as the original's), at least one",
    )  # fmt: skip
    hour_start: Hour = Field(default=0, alias="hourStart", description="First payment hour, inclusive")
    hour_end: Hour = Field(default=23, alias="hourEnd", description="Last payment hour, inclusive (23: to midnight)")
    partner_ids: list[uuid.UUID] | None = Field(default=None, alias="partnerIds", min_length=1, max_length=MAX_IDS)
    partner_mode: Mode = Field(default=Mode.include, alias="partnerMode")
    provider_account_ids: list[uuid.UUID] | None = Field(
        default=None, alias="providerAccountIds", min_length=1, max_length=MAX_IDS
    )
    provider_account_mode: Mode = Field(default=Mode.include, alias="providerAccountMode")
    methods: list[PaymentMethod] | None = Field(default=None, min_length=1, max_length=len(PaymentMethod))
    method_mode: Mode = Field(default=Mode.include, alias="methodMode")
    min_net: Rupiah | None = Field(default=None, alias="minNet", description="Net (amount - fee) at least this")
    max_net: Rupiah | None = Field(default=None, alias="maxNet", description="Net at most this")
    include_zero: bool = Field(
        default=False, alias="includeZero",
        description="Also orders with no net (a fee adjusted up to the amount): SETTLED, no money moved",
    )  # fmt: skip


class ManualSettlementRequest(BaseModel):
    """The body of preview and start, as the original's (`{filters}`), with the batch size."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    filters: ManualSettlementFilters
    batch_size: int = Field(
        default=DEFAULT_BATCH_SIZE, alias="batchSize", ge=1, le=MAX_BATCH_SIZE, strict=True,
        description="Orders per batch transaction",
    )  # fmt: skip


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class SampleOrder(_Out):
    id: uuid.UUID
    reference: str
    partner_id: uuid.UUID = Field(alias="partnerId")
    partner_name: str = Field(alias="partnerName")
    provider_account_id: uuid.UUID | None = Field(alias="providerAccountId")
    method: str | None
    amount: int
    fee: int
    net: int
    paid_at: datetime = Field(alias="paidAt", description="Asia/Jakarta")
    created_at: datetime = Field(alias="createdAt", description="Asia/Jakarta")


class Totals(_Out):
    total_orders: int = Field(alias="totalOrders")
    gross_amount: int = Field(alias="grossAmount")
    fee_amount: int = Field(alias="feeAmount")
    total_net_amount: int = Field(alias="totalNetAmount")


class Preview(Totals):
    paid_before: datetime = Field(alias="paidBefore", description="Orders paid from now on are not counted")
    batch_size: int = Field(alias="batchSize")
    estimated_batches: int = Field(alias="estimatedBatches")
    sample: list[SampleOrder] = Field(description="The first 20 in payment order")


class PreviewResponse(_Out):
    filters: ManualSettlementFilters
    preview: Preview


class ManualSettlement(_Out):
    """A manual settlement and its progress (the figures grow batch by batch while it runs)."""

    id: uuid.UUID
    status: Status
    filters: ManualSettlementFilters
    batch_size: int = Field(alias="batchSize")
    paid_before: datetime = Field(alias="paidBefore", description="Only orders paid before its start are settled")
    expected_orders: int = Field(alias="expectedOrders", description="What the preview counted at start")
    expected_net: int = Field(alias="expectedNet")
    settled_orders: int = Field(alias="settledOrders", description="Orders whose net it moved to available")
    already_settled: int = Field(
        alias="alreadySettled", description="Orders it marked SETTLED with no money moved (moved before, or no net)"
    )
    gross_amount: int = Field(alias="grossAmount")
    fee_amount: int = Field(alias="feeAmount")
    net_amount: int = Field(alias="netAmount", description="Moved from pending to available")
    batches: int = Field(description="Batch transactions committed")
    error: str | None
    created_by: str = Field(alias="createdBy", description="`admin:<id>`")
    cancel_requested: bool = Field(alias="cancelRequested")
    cancel_requested_at: datetime | None = Field(alias="cancelRequestedAt")
    cancel_requested_by: str | None = Field(alias="cancelRequestedBy")
    created_at: datetime = Field(alias="createdAt")
    started_at: datetime | None = Field(alias="startedAt")
    finished_at: datetime | None = Field(alias="finishedAt")
    updated_at: datetime = Field(alias="updatedAt")

    @classmethod
    def of(cls, row: Any) -> ManualSettlement:
        return cls(
            id=row["id"], status=row["status"], filters=ManualSettlementFilters.model_validate(row["filters"]),
            batch_size=row["batch_size"], paid_before=row["paid_before"], expected_orders=row["expected_orders"],
            expected_net=row["expected_net"], settled_orders=row["settled_orders"],
            already_settled=row["already_settled"], gross_amount=row["gross"], fee_amount=row["fee"],
            net_amount=row["net"], batches=row["batches"], error=row["error"], created_by=row["created_by"],
            cancel_requested=row["cancel_requested_at"] is not None, cancel_requested_at=row["cancel_requested_at"],
            cancel_requested_by=row["cancel_requested_by"], created_at=row["created_at"],
            started_at=row["started_at"], finished_at=row["finished_at"], updated_at=row["updated_at"],
        )  # fmt: skip
