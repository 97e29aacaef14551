from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gerbang.models.base import Model


class Order(Model):
    """A pay-in: PENDING until the provider confirms, then PAID exactly once (or FAILED, EXPIRED)."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(
            "status IN ('PENDING', 'PAID', 'FAILED', 'EXPIRED', 'CANCELLED', 'SETTLED', 'LOAN_SETTLED')", name="status"
        ),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("method IS NULL OR method IN ('qris', 'va', 'ewallet')", name="method"),
        UniqueConstraint("partner_id", "reference"),
        Index("ix_orders_partner_id_created_at", "partner_id", "created_at"),
        Index("ix_orders_pending_expires_at", "expires_at", postgresql_where="status = 'PENDING'"),
        # What the settlement job claims from: the PAID orders of an account, oldest payment first.
        Index(
            "ix_orders_paid_provider_account_id_paid_at", "provider_account_id", "paid_at", "id",
            postgresql_where="status = 'PAID'",
        ),
        CheckConstraint("status <> 'SETTLED' OR settled_at IS NOT NULL", name="settled_at"),
    )  # fmt: skip

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("partners.id"), nullable=False)
    reference: Mapped[str] = mapped_column(String(100), nullable=False)
    """The partner's own id for the order, unique per partner."""
    player_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """Null until the customer picks one on the checkout (create-order)."""
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    flow: Mapped[str] = mapped_column(String(16), nullable=False, server_default="embed")
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="PENDING")
    provider: Mapped[str | None] = mapped_column(String(32), nullable=True)
    provider_account_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("provider_accounts.id"), nullable=True
    )
    provider_reference: Mapped[str | None] = mapped_column(String(100), nullable=True)
    qr_payload: Mapped[str | None] = mapped_column(Text, nullable=True)
    va_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    redirect_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    customer_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    customer_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    customer_phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    return_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB, nullable=True)
    fee: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """Set when PAID: by the partner's weekday or weekend rate at the payment time."""
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """When its net reached the partner's available balance (status SETTLED)."""
    settlement_batch_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("settlement_batches.id"), nullable=True
    )
    """The settlement job's batch that settled it; null if it was settled otherwise."""
    last_status_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class ProviderAttempt(Model):
    """One call to a provider to create an order's charge, whatever its outcome."""

    __tablename__ = "provider_attempts"
    __table_args__ = (CheckConstraint("outcome IN ('ok', 'unavailable', 'rejected', 'invalid')", name="outcome"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id"), nullable=False, index=True)
    provider_account_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("provider_accounts.id"), nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class IdempotencyKey(Model):
    """A partner's `Idempotency-Key`: the first response is stored and replayed for 24 hours."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (PrimaryKeyConstraint("partner_id", "key"), Index("ix_idempotency_keys_created_at", "created_at"))

    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    key: Mapped[str] = mapped_column(String(200), nullable=False)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status_code: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    """Null while the first request is still running."""
    response_body: Mapped[Any] = mapped_column(JSONB, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
