"""Settlement adjustments: orders' fees recomputed after payment, the differences posted to the ledger
(docs/settlement.md, "Settlement adjustment").

An adjustment selects PAID and SETTLED orders (by id, or a provider account's orders paid or settled in a range
of Jakarta dates) and a new fee (a percent and/or a flat amount for every order, or each partner's current pay-in
rates, by the order's payment day). The preview persists it with every order's old fee, new fee and difference;
applying it, once, changes `orders.fee` by compare-and-set and posts each difference (`fee_adjustment`) between
the partner's pending (PAID: its settlement will net amount - the new fee) or available (SETTLED) balance and the
platform's fees, in one transaction. Orders whose fee or status changed since the preview refuse the apply (preview
again); an apply already made returns the adjustment as it was applied, posting nothing.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import asyncpg
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from gerbang.calendar.service import load_calendar
from gerbang.exceptions import Conflict, NotFound, UnprocessableEntity
from gerbang.kit.sql import Connection
from gerbang.kit.time import JAKARTA, jakarta_days
from gerbang.ledger import batch as ledger_batch
from gerbang.order.callbacks import payin_fee
from gerbang.partner.schemas import Percent, Rupiah
from gerbang.settlement import adjustment_repository as repository

MAX_ORDERS = 2_000
"""Orders per adjustment: one apply is one transaction. A wider range is refused; split it."""
MAX_RANGE_DAYS = 93
ADJUSTABLE = frozenset({"PAID", "SETTLED"})
"""Orders whose fee may still change: their net is in the partner's pending or available balance."""


class InvalidAdjustment(UnprocessableEntity):
    code = "invalid_adjustment"


class OrdersNotAdjustable(UnprocessableEntity):
    code = "orders_not_adjustable"


class NoOrdersSelected(UnprocessableEntity):
    code = "no_orders_selected"


class AdjustmentTooLarge(UnprocessableEntity):
    code = "adjustment_too_large"


class AdjustmentNotFound(NotFound):
    code = "adjustment_not_found"


class AdjustmentStale(Conflict):
    code = "adjustment_stale"


# -- schemas -------------------------------------------------------------------------------------------

_CAMEL = ConfigDict(populate_by_name=True, serialize_by_alias=True, extra="forbid")


class AdjustmentRange(BaseModel):
    model_config = _CAMEL

    provider_account_id: uuid.UUID = Field(alias="providerAccountId")
    by: Literal["paid", "settled"] = Field(
        default="paid", description="`paid`: orders paid in the range (PAID or SETTLED); `settled`: settled in it"
    )
    date_from: date = Field(alias="dateFrom", description="Asia/Jakarta, included", examples=["2026-12-01"])
    date_to: date = Field(alias="dateTo", description="Asia/Jakarta, included", examples=["2026-12-01"])
    partner_id: uuid.UUID | None = Field(default=None, alias="partnerId", description="Only this partner's orders")


class AdjustmentFee(BaseModel):
    """A percent and/or a flat fee for every order, or `partnerFees`: each partner's pay-in rates now."""

    model_config = _CAMEL

    percent: Percent | None = None
    flat: Rupiah | None = None
    partner_fees: bool = Field(default=False, alias="partnerFees")

    @field_validator("percent", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        if isinstance(value, float):  # 1.1 in JSON is a binary fraction: send "1.1"
            raise ValueError('a percent is sent as a string ("1.25") or an integer, never a float')
        return value


class AdjustmentCreate(BaseModel):
    """Exactly one of `orderIds` and `range`."""

    model_config = _CAMEL

    order_ids: list[uuid.UUID] | None = Field(default=None, alias="orderIds", min_length=1, max_length=MAX_ORDERS)
    range: AdjustmentRange | None = None
    fee: AdjustmentFee


class AdjustmentItemView(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    order_id: uuid.UUID = Field(alias="orderId")
    partner_id: uuid.UUID = Field(alias="partnerId")
    order_status: str = Field(alias="orderStatus", description="PAID or SETTLED: at the preview, then at the apply")
    amount: int
    old_fee: int = Field(alias="oldFee")
    new_fee: int = Field(alias="newFee")
    difference: int = Field(description="newFee - oldFee: positive, the partner pays it; negative, it is refunded")


class AdjustmentView(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: uuid.UUID
    status: str = Field(description="`previewed` (nothing moved yet) or `applied`")
    selection: dict[str, Any] = Field(description="The selection as sent")
    fee_basis: str = Field(alias="feeBasis", description="`rate` or `partner_fees`")
    fee_percent: Decimal | None = Field(alias="feePercent")
    fee_flat: int | None = Field(alias="feeFlat")
    order_count: int = Field(alias="orderCount")
    old_fee: int = Field(alias="oldFee")
    new_fee: int = Field(alias="newFee")
    difference: int
    created_by: uuid.UUID = Field(alias="createdBy")
    created_at: AwareDatetime = Field(alias="createdAt")
    applied_by: uuid.UUID | None = Field(alias="appliedBy")
    applied_at: AwareDatetime | None = Field(alias="appliedAt")
    items: list[AdjustmentItemView] | None = Field(default=None, description="Every order (not in lists)")


def view(row: asyncpg.Record, items: list[asyncpg.Record] | None = None) -> AdjustmentView:
    return AdjustmentView(
        **dict(row),
        items=None if items is None else [
            AdjustmentItemView(**dict(item), difference=item["new_fee"] - item["old_fee"]) for item in items
        ],
    )  # fmt: skip


# -- preview ---------------------------------------------------------------------------------------------


def _rates(fee: AdjustmentFee) -> tuple[str, Decimal | None, int | None]:
    """(fee basis, percent, flat)."""
    given = fee.percent is not None or fee.flat is not None
    if fee.partner_fees == given:
        raise InvalidAdjustment("give a new fee as percent and/or flat, or partnerFees: true, not both")
    if fee.partner_fees:
        return "partner_fees", None, None
    return "rate", fee.percent if fee.percent is not None else Decimal(0), fee.flat or 0


async def _select(connection: Connection, body: AdjustmentCreate) -> list[asyncpg.Record]:
    if (body.order_ids is None) == (body.range is None):
        raise InvalidAdjustment("select orders by orderIds or by range, not both")
    if body.order_ids is not None:
        if len(set(body.order_ids)) != len(body.order_ids):
            raise InvalidAdjustment("each order may be listed once")
        orders = await repository.orders_by_ids(connection, body.order_ids)
        found = {order["id"]: order["status"] for order in orders}
        refused = [str(i) for i in body.order_ids if found.get(i) not in ADJUSTABLE]
        if refused:
            raise OrdersNotAdjustable(
                f"{len(refused)} orders are unknown or not PAID or SETTLED: {', '.join(refused[:20])}"
            )
        return orders
    span = body.range
    assert span is not None  # noqa: S101 (one of the two, checked above)
    if span.date_to < span.date_from:
        raise InvalidAdjustment("dateTo is before dateFrom")
    if (span.date_to - span.date_from).days >= MAX_RANGE_DAYS:
        raise InvalidAdjustment(f"a range covers at most {MAX_RANGE_DAYS} days")
    start, end = jakarta_days(span.date_from, span.date_to)
    orders = await repository.orders_between(
        connection, by_settlement=span.by == "settled", account_id=span.provider_account_id,
        partner_id=span.partner_id, start=start, end=end, limit=MAX_ORDERS + 1,
    )  # fmt: skip
    if not orders:
        raise NoOrdersSelected("no PAID or SETTLED order of that provider account in that range")
    if len(orders) > MAX_ORDERS:
        raise AdjustmentTooLarge(f"more than {MAX_ORDERS} orders in that range: narrow it")
    return orders


async def preview(
    connection: Connection, body: AdjustmentCreate, *, created_by: uuid.UUID, now: datetime
) -> AdjustmentView:
    """Every selected order's old fee, new fee and difference, persisted as a `previewed` adjustment (moves
    nothing)."""
    basis, percent, flat = _rates(body.fee)
    orders = await _select(connection, body)
    calendar = await load_calendar(connection)
    given = {"payin_weekday_percent": percent, "payin_weekday_flat": flat, "payin_weekend_percent": percent,
             "payin_weekend_flat": flat}  # fmt: skip
    items = [
        (order, payin_fee(calendar, order if basis == "partner_fees" else given, order["amount"], order["paid_at"]))
        for order in orders
    ]
    adjustment_id = uuid.uuid4()
    selection = body.model_dump(mode="json", by_alias=True, exclude={"fee"}, exclude_none=True)
    await repository.insert(
        connection, id=adjustment_id, selection=selection, fee_basis=basis, fee_percent=percent, fee_flat=flat,
        created_by=created_by, now=now, items=items,
    )  # fmt: skip
    return await get(connection, adjustment_id)


# -- apply and reads -------------------------------------------------------------------------------------


async def apply(
    connection: Connection, adjustment_id: uuid.UUID, *, applied_by: uuid.UUID, now: datetime
) -> tuple[AdjustmentView, bool]:
    """Posts every order's difference and sets its new fee, once; (the adjustment, whether this call applied it)."""
    adjustment = await repository.get(connection, adjustment_id, lock=True)
    if adjustment is None:
        raise AdjustmentNotFound(f"no adjustment {adjustment_id}")
    if adjustment["status"] == "applied":
        return await get(connection, adjustment_id), False
    orders = await repository.lock_orders(connection, adjustment_id)
    stale = [str(o["order_id"]) for o in orders if o["status"] not in ADJUSTABLE or o["fee"] != o["old_fee"]]
    if stale:
        raise AdjustmentStale(
            f"{len(stale)} orders changed since the preview (fee or status): {', '.join(stale[:20])}; preview again"
        )
    changed = [o for o in orders if o["new_fee"] != o["old_fee"]]
    if changed:
        updated = await repository.set_fees(
            connection, [(o["order_id"], o["old_fee"], o["new_fee"]) for o in changed], now
        )
        if len(updated) != len(changed):  # the orders are locked and were checked just above
            raise RuntimeError(f"adjustment {adjustment_id}: {len(changed) - len(updated)} fees changed under a lock")
        moves = [
            ledger_batch.FeeAdjustment(
                o["order_id"], o["partner_id"], settled=o["status"] == "SETTLED", difference=o["new_fee"] - o["old_fee"]
            )
            for o in changed
        ]
        posting = await ledger_batch.fee_adjustments(connection, adjustment_id, moves)
        if posting.replayed:  # the keys carry this adjustment's id, posted only here under its row lock
            raise RuntimeError(f"adjustment {adjustment_id}: {len(posting.replayed)} postings existed before the apply")
    await repository.mark_applied(connection, adjustment_id, applied_by, now)
    return await get(connection, adjustment_id), True


async def get(connection: Connection, adjustment_id: uuid.UUID) -> AdjustmentView:
    row = await repository.get(connection, adjustment_id)
    if row is None:
        raise AdjustmentNotFound(f"no adjustment {adjustment_id}")
    return view(row, await repository.items(connection, adjustment_id))


async def list_adjustments(
    connection: Connection, *, status: str | None, before: datetime | None, limit: int
) -> list[AdjustmentView]:
    """Newest first (created before `before`, if given), without their orders."""
    rows = await repository.list_adjustments(
        connection, status=status, before=before or datetime.max.replace(tzinfo=JAKARTA), limit=limit
    )
    return [view(row) for row in rows]
