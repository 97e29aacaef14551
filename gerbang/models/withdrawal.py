from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
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
from sqlalchemy.orm import Mapped, mapped_column

from gerbang.models.base import Model


class Withdrawal(Model):
    """A payout to a bank account: PENDING until the provider accepts it, PROCESSING until it reports the
    outcome, then COMPLETED or FAILED. A partner's gross is held in the ledger from the moment the row exists.

    A platform payout (source `platform`, no partner) is the platform taking its own fee income out of a
    provider account; it holds nothing and posts only when the provider confirms (docs/withdrawals.md)."""

    __tablename__ = "withdrawals"
    __table_args__ = (
        CheckConstraint("status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')", name="status"),
        CheckConstraint("amount > 0 AND fee >= 0 AND net > 0 AND amount = fee + net", name="amounts"),
        CheckConstraint("source IN ('console', 's2s', 'admin', 'platform')", name="source"),
        CheckConstraint("(source = 'platform') = (partner_id IS NULL)", name="platform_has_no_partner"),
        Index("uq_withdrawals_partner_id_reference", "partner_id", "reference", unique=True),
        Index(
            "uq_withdrawals_platform_reference", "reference", unique=True, postgresql_where=text("partner_id IS NULL")
        ),
        Index("ix_withdrawals_partner_id_created_at", "partner_id", "created_at"),
        # The recovery job's work: accepted by nobody yet, or waiting for the provider's word.
        Index("ix_withdrawals_open", "next_check_at", postgresql_where=text("status IN ('PENDING', 'PROCESSING')")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    """Our reference, and the provider's idempotency id: a resubmission is the same disbursement."""
    partner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("partners.id"), nullable=True)
    """None for a platform payout."""
    reference: Mapped[str] = mapped_column(String(100), nullable=False)
    """The partner's own id for the withdrawal, unique per partner (the platform's, unique among its payouts)."""
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    """Gross, in whole rupiah: what leaves the partner's balance."""
    fee: Mapped[int] = mapped_column(BigInteger, nullable=False)
    net: Mapped[int] = mapped_column(BigInteger, nullable=False)
    """What reaches the bank account."""
    bank_code: Mapped[str] = mapped_column(String(16), nullable=False)
    account_number: Mapped[str] = mapped_column(String(34), nullable=False)
    account_holder: Mapped[str] = mapped_column(String(100), nullable=False)
    """The name the bank holds, from the provider's account inquiry."""
    supplied_holder_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    holder_name_mismatch: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    note: Mapped[str | None] = mapped_column(String(255), nullable=True)
    provider_account_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("provider_accounts.id"), nullable=False)
    provider_reference: Mapped[str | None] = mapped_column(String(100), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="PENDING")
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    submit_attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    next_check_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    """When the recovery job next looks: resubmits a PENDING one, asks the provider about a PROCESSING one."""
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    retry_of: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("withdrawals.id"), nullable=True)
    """The withdrawal this one retries: one the provider refused before accepting it."""
    requested_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    """`api_key:<id>` or `partner_user:<id>` or `admin:<id>`."""
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
