from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from gerbang.models.base import Model

_PERCENT = Numeric(7, 4)


class Partner(Model):
    """A merchant integrating with gerbang (the original's "client")."""

    __tablename__ = "partners"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'inactive')", name="status"),
        CheckConstraint("parent_id IS DISTINCT FROM id", name="not_own_parent"),
        CheckConstraint(
            "payin_weekday_percent BETWEEN 0 AND 100 AND payin_weekend_percent BETWEEN 0 AND 100 "
            "AND withdrawal_percent BETWEEN 0 AND 100",
            name="fee_percent_range",
        ),
        CheckConstraint(
            "payin_weekday_flat >= 0 AND payin_weekend_flat >= 0 AND withdrawal_flat >= 0", name="fee_flat_non_negative"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="active")
    parent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("partners.id"), nullable=True, index=True)
    """A parent sees its children's data and cannot withdraw; cycles are refused when the parent is set."""
    allow_unsigned_requests: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    """Legacy integrations: API key and timestamp without a signature (never for withdrawals)."""
    webhook_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    """`whsec_...`, encrypted with the key ring (context `partner:<id>:webhook_secret`); shown once."""
    previous_webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The secret replaced by the last rotation: webhooks carry a signature with it too until it expires."""
    previous_webhook_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    webhook_events: Mapped[list[str]] = mapped_column(ARRAY(String(40)), nullable=False, server_default="{}")
    """Event types the endpoint subscribes to; empty means every event."""
    webhook_fifo: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    """Deliver in order: an event waits while an older one for this partner is still pending."""
    webhook_disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """Set when the receiver answered 410 Gone or dead-lettered too many events in a row; events wait."""
    webhook_disabled_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    webhook_dead_streak: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    """Events dead-lettered in a row; a delivery resets it."""

    payin_weekday_percent: Mapped[Decimal] = mapped_column(_PERCENT, nullable=False, server_default="0")
    payin_weekday_flat: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    payin_weekend_percent: Mapped[Decimal] = mapped_column(_PERCENT, nullable=False, server_default="0")
    payin_weekend_flat: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    withdrawal_percent: Mapped[Decimal] = mapped_column(_PERCENT, nullable=False, server_default="0")
    withdrawal_flat: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    withdrawal_min_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """Overrides `GERBANG_WITHDRAWAL_MIN_AMOUNT` for this partner."""
    withdrawal_max_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """Overrides `GERBANG_WITHDRAWAL_MAX_AMOUNT` for this partner."""
    withdrawal_requires_otp: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    """Console withdrawals need a TOTP code from every user, not only from those who enrolled."""
    payment_methods: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False, server_default="{}")
    """Methods the partner may use; empty means every method the platform offers."""
    provider_preferences: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False, server_default="{}")
    """Provider codes in the order routing should try them; empty means the platform's default order."""

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
