"""What the settlement job did: one row per partner per batch it settled."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CHAR, BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from gerbang.models.base import Model


class SettlementBatch(Model):
    """A partner's orders settled together in one transaction of a settlement run (gerbang/settlement)."""

    __tablename__ = "settlement_batches"
    __table_args__ = (
        CheckConstraint("order_count > 0", name="order_count_positive"),
        CheckConstraint("fee >= 0 AND net > 0 AND gross = fee + net", name="amounts"),
        Index("ix_settlement_batches_partner_id_settled_at", "partner_id", "settled_at"),
        Index("ix_settlement_batches_run_id", "run_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    """The `batchId` of its `settlement.completed` webhook, and `orders.settlement_batch_id` of its orders."""
    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    """The job run (`JobContext.run_id`) that settled it."""
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("partners.id"), nullable=False)
    currency: Mapped[str] = mapped_column(CHAR(3), nullable=False)
    order_count: Mapped[int] = mapped_column(Integer, nullable=False)
    gross: Mapped[int] = mapped_column(BigInteger, nullable=False)
    """The orders' amounts."""
    fee: Mapped[int] = mapped_column(BigInteger, nullable=False)
    """Our fees on them."""
    net: Mapped[int] = mapped_column(BigInteger, nullable=False)
    """What moved from the partner's pending to available balance."""
    settled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
