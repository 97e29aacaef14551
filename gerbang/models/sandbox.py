from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Integer, String, Text, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from gerbang.models.base import Model


class SandboxCharge(Model):
    """The sandbox provider's own record of a charge (it plays an upstream PSP with its own database)."""

    __tablename__ = "sandbox_charges"
    __table_args__ = (
        CheckConstraint("status IN ('PENDING', 'PAID', 'FAILED', 'EXPIRED')", name="status"),
        CheckConstraint("settlement_delay_s >= 0", name="settlement_delay_s"),
    )

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
    settlement_delay_s: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    """How long after its payment the sandbox reports a paid charge settled (a sandbox-only field)."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class SandboxDisbursement(Model):
    """The sandbox provider's own record of a payout to a bank account."""

    __tablename__ = "sandbox_disbursements"
    __table_args__ = (
        CheckConstraint("status IN ('PROCESSING', 'COMPLETED', 'FAILED')", name="status"),
        CheckConstraint("outcome IN ('COMPLETED', 'FAILED')", name="outcome"),
        CheckConstraint("amount > 0", name="amount"),
    )

    merchant_ref: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    """Our withdrawal id, as the merchant's reference at the provider."""
    disbursement_id: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    merchant_key_hash: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    """SHA-256 of the merchant key: finds a merchant's disbursements (its balance) without the key."""
    merchant_key_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    """The merchant's key signs the callbacks; kept encrypted (context `sandbox-disbursement:<merchant_ref>`)."""
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    bank_code: Mapped[str] = mapped_column(String(16), nullable=False)
    account_number: Mapped[str] = mapped_column(String(20), nullable=False)
    holder_name: Mapped[str] = mapped_column(String(100), nullable=False)
    note: Mapped[str | None] = mapped_column(String(255), nullable=True)
    callback_url: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="PROCESSING")
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    """The status it reaches at `complete_after`, decided by the sandbox's rules when it was accepted."""
    reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    complete_after: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    """From then on it is final: whoever reads it first moves it, so no restart can leave it processing."""
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
