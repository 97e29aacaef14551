from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from gerbang.models.base import Model


class ProviderAccount(Model):
    """One set of credentials at one upstream provider (the original's "sub-merchant"), with the rules
    routing applies to it and its health."""

    __tablename__ = "provider_accounts"
    __table_args__ = (
        CheckConstraint("weight > 0", name="weight_positive"),
        CheckConstraint("min_amount IS NULL OR min_amount > 0", name="min_amount_positive"),
        CheckConstraint("max_amount IS NULL OR max_amount >= coalesce(min_amount, 1)", name="max_amount_range"),
        CheckConstraint("daily_cap IS NULL OR daily_cap > 0", name="daily_cap_positive"),
        CheckConstraint("settlement_rule IN ('business_days', 'provider_reported')", name="settlement_rule"),
        CheckConstraint("settlement_days BETWEEN 0 AND 30", name="settlement_days"),
        CheckConstraint(
            "settlement_cutoff_hour IS NULL OR settlement_cutoff_hour BETWEEN 0 AND 23", name="settlement_cutoff_hour"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    base_url: Mapped[str] = mapped_column(Text, nullable=False)
    credentials_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    """Key ring, context `provider_account:<id>:credentials`; never returned by the API."""
    methods: Mapped[list[str]] = mapped_column(ARRAY(String(16)), nullable=False)
    weekday_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    weekend_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    min_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    max_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    daily_cap: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """Most rupiah of orders routed here per Jakarta day."""
    priority: Mapped[int] = mapped_column(Integer, nullable=False, server_default="100")
    """Lower goes first; within one priority, `weight` shares the traffic."""
    weight: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    settlement_rule: Mapped[str] = mapped_column(String(20), nullable=False, server_default="business_days")
    """When a PAID order's net becomes available (docs/settlement.md): `business_days` after payment, or when
    the provider's status answer says it is `provider_reported` settled."""
    settlement_days: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="1")
    """For `business_days`: N of D+N (0: at the next settlement run)."""
    settlement_cutoff_hour: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    """For `business_days`: an order paid at or after this Jakarta hour counts from the next business day."""
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    circuit_opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """Set when failures reach the threshold; after the cool-down one trial call is let through."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class ProviderAccountVolume(Model):
    """Rupiah paid through an account per Jakarta day, kept only for accounts with a daily cap."""

    __tablename__ = "provider_account_volumes"
    __table_args__ = (PrimaryKeyConstraint("provider_account_id", "day"),)

    provider_account_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("provider_accounts.id"), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
