from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, String, Text, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from gerbang.models.base import Model


class SandboxCharge(Model):
    """The sandbox provider's own record of a charge (it plays an upstream PSP with its own database)."""

    __tablename__ = "sandbox_charges"
    __table_args__ = (CheckConstraint("status IN ('PENDING', 'PAID', 'FAILED', 'EXPIRED')", name="status"),)

    merchant_ref: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    """Our order id, as the merchant's reference at the provider."""
    charge_id: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="PENDING")
    merchant_name: Mapped[str] = mapped_column(String(100), nullable=False)
    callback_url: Mapped[str] = mapped_column(Text, nullable=False)
    merchant_key_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    """The merchant's key signs the callbacks; kept encrypted (context `sandbox:<merchant_ref>`)."""
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
