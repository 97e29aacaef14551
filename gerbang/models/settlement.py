"""What the settlement jobs did: one row per partner per batch they settled, and admins' manual settlements."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
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
    """The job run (`JobContext.run_id`) of the checker, or the manual settlement (`manual_settlements.id`),
    that settled it."""
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


class ManualSettlement(Model):
    """An admin's settlement of the PAID orders matching their filters, run by the `settlement.manual` job in
    batches (gerbang/settlement/manual.py). Its batches are `settlement_batches` rows whose `run_id` is its id."""

    __tablename__ = "manual_settlements"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'completed', 'failed', 'cancelled')", name="status"),
        CheckConstraint("batch_size BETWEEN 1 AND 5000", name="batch_size"),
        CheckConstraint(
            "(status IN ('completed', 'failed', 'cancelled')) = (finished_at IS NOT NULL)", name="finished_at"
        ),
        # One manual settlement runs at a time, whatever the number of workers.
        Index("uq_manual_settlements_running", "status", unique=True, postgresql_where=text("status = 'running'")),
        Index("ix_manual_settlements_queued", "created_at", postgresql_where=text("status = 'queued'")),
        Index("ix_manual_settlements_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="queued")
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    """`ManualSettlementFilters` as the admin gave them (camelCase)."""
    batch_size: Mapped[int] = mapped_column(Integer, nullable=False)
    paid_before: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    """The start request's time: only orders paid before it are settled, so the run settles what the
    preview at start counted, not payments that arrive while it goes."""
    expected_orders: Mapped[int] = mapped_column(Integer, nullable=False)
    expected_net: Mapped[int] = mapped_column(BigInteger, nullable=False)
    """The preview at start: what matched then."""
    settled_orders: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    """Orders whose net it moved from pending to available."""
    already_settled: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    """Orders it moved to SETTLED with no money moved (their settlement posting existed, or their net is 0)."""
    gross: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    fee: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    net: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    batches: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    """Batch transactions committed."""
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(80), nullable=False)
    """`admin:<id>`."""
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    cancel_requested_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
