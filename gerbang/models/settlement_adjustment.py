"""Settlement adjustments: an order's fee recomputed after payment, previewed first, then applied once."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, Numeric, String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gerbang.models.base import Model


class SettlementAdjustment(Model):
    """One adjustment: the orders it selected, the fee it applies, its totals (gerbang/settlement/adjustment.py)."""

    __tablename__ = "settlement_adjustments"
    __table_args__ = (
        CheckConstraint("status IN ('previewed', 'applied')", name="status"),
        CheckConstraint("(status = 'applied') = (applied_at IS NOT NULL)", name="applied_at"),
        CheckConstraint("fee_basis IN ('rate', 'partner_fees')", name="fee_basis"),
        CheckConstraint("(fee_basis = 'rate') = (fee_percent IS NOT NULL AND fee_flat IS NOT NULL)", name="rate_given"),
        CheckConstraint("order_count > 0", name="order_count_positive"),
        CheckConstraint("difference = new_fee - old_fee", name="difference"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="previewed")
    selection: Mapped[Any] = mapped_column(JSONB, nullable=False)
    """What the admin asked for: order ids, or a provider account and a date range (as sent)."""
    fee_basis: Mapped[str] = mapped_column(String(16), nullable=False)
    """`rate`: `fee_percent` and `fee_flat` for every order; `partner_fees`: each partner's current pay-in fees."""
    fee_percent: Mapped[Decimal | None] = mapped_column(Numeric(7, 4), nullable=True)
    fee_flat: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    order_count: Mapped[int] = mapped_column(Integer, nullable=False)
    old_fee: Mapped[int] = mapped_column(BigInteger, nullable=False)
    new_fee: Mapped[int] = mapped_column(BigInteger, nullable=False)
    difference: Mapped[int] = mapped_column(BigInteger, nullable=False)
    """Positive: partners pay the platform more in total; negative: the platform refunds."""
    created_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("admin_users.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    applied_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("admin_users.id"), nullable=True)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SettlementAdjustmentItem(Model):
    """One order of an adjustment: its fee before and after. Applying posts the difference under the key
    `fee_adjustment:{adjustment_id}:{order_id}`."""

    __tablename__ = "settlement_adjustment_items"
    __table_args__ = (
        CheckConstraint("old_fee >= 0 AND new_fee >= 0 AND new_fee < amount", name="fees"),
        Index("ix_settlement_adjustment_items_order_id", "order_id"),
    )

    adjustment_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("settlement_adjustments.id"), primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id"), primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("partners.id"), nullable=False)
    order_status: Mapped[str] = mapped_column(String(16), nullable=False)
    """PAID or SETTLED: at the preview, then at the apply (which balance the difference moved)."""
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    old_fee: Mapped[int] = mapped_column(BigInteger, nullable=False)
    new_fee: Mapped[int] = mapped_column(BigInteger, nullable=False)
