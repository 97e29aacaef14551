"""Loans (advances): what the platform lent a partner, which orders' nets repaid it, and the range jobs that
mark orders loan-settled (gerbang/loan, docs/settlement.md "Loans (advances)"). The money itself is only in
the ledger: these rows say which ledger transactions belong to which partner, order and job."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gerbang.models.base import Model


class Advance(Model):
    """One grant: `amount` moved from the platform's advances to the partner's available balance, once."""

    __tablename__ = "advances"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_advances_partner_id_created_at", "partner_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("partners.id"), nullable=False)
    currency: Mapped[str] = mapped_column(CHAR(3), nullable=False, server_default="IDR")
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    """The admin's `Idempotency-Key`: a double click grants once."""
    granted_by: Mapped[str] = mapped_column(String(80), nullable=False)
    """`admin:<id>`."""
    ledger_transaction_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_transactions.id"), nullable=False)
    """Its `advance_grant` posting."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class LoanSettlementJob(Model):
    """A range of a partner's PAID orders to mark loan-settled, worked through by the `loan.settle` job in
    batches (each batch one transaction that also moves `after_paid_at`/`after_id` on), or counted only
    (`dry_run`)."""

    __tablename__ = "loan_settlement_jobs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'completed', 'failed', 'cancelled')", name="status"),
        CheckConstraint("paid_from <= paid_to", name="range"),
        CheckConstraint("(after_paid_at IS NULL) = (after_id IS NULL)", name="cursor"),
        Index("ix_loan_settlement_jobs_open", "created_at", postgresql_where=text("status IN ('queued', 'running')")),
        Index("ix_loan_settlement_jobs_partner_id_created_at", "partner_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("partners.id"), nullable=False)
    provider_account_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("provider_accounts.id"), nullable=True
    )
    """Only orders paid through this account; null for all of the partner's."""
    paid_from: Mapped[date] = mapped_column(Date, nullable=False)
    """Asia/Jakarta date of payment, inclusive."""
    paid_to: Mapped[date] = mapped_column(Date, nullable=False)
    """Asia/Jakarta date of payment, inclusive."""
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    """Count what it would repay; change nothing."""
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="queued")
    orders_seen: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    """PAID orders of the range it looked at so far."""
    orders_settled: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    """Loan-settled (or, in a dry run, that would be)."""
    orders_skipped: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    """Left PAID: their net was more than the advance still outstanding."""
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    """The nets of `orders_settled`, whole rupiah."""
    after_paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    after_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """With `after_paid_at`: the last order looked at (keyset in payment order); where a resumed job goes on."""
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """A running job stops at its next batch once this is set."""
    created_by: Mapped[str] = mapped_column(String(80), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LoanRepayment(Model):
    """An order loan-settled once (`round` counts: after a revert it may be again): its net went from the
    partner's pending balance to the advance (`loan_repayment`), and, if reverted, back (`reversal`)."""

    __tablename__ = "loan_repayments"
    __table_args__ = (
        UniqueConstraint("order_id", "round"),
        CheckConstraint("round >= 1", name="round_positive"),
        CheckConstraint("net > 0", name="net_positive"),
        CheckConstraint("(reverted_at IS NULL) = (revert_transaction_id IS NULL)", name="revert"),
        # An order has at most one repayment standing.
        Index(
            "uq_loan_repayments_open_order_id", "order_id", unique=True, postgresql_where=text("reverted_at IS NULL")
        ),
        Index("ix_loan_repayments_partner_id_settled_at", "partner_id", "settled_at"),
        Index("ix_loan_repayments_job_id", "job_id"),
        Index("ix_loan_repayments_revert_id", "revert_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id"), nullable=False)
    round: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("partners.id"), nullable=False)
    net: Mapped[int] = mapped_column(BigInteger, nullable=False)
    ledger_transaction_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_transactions.id"), nullable=False)
    """Its `loan_repayment` posting, key `order:{order_id}:loan_settled:{round}`."""
    job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("loan_settlement_jobs.id"), nullable=True)
    """The range job that made it; null when marked by id."""
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    settled_by: Mapped[str] = mapped_column(String(80), nullable=False)
    settled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revert_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The revert request that undid it (its CSV export is by this id)."""
    reverted_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    reverted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revert_transaction_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("ledger_transactions.id"), nullable=True
    )
    """Its `reversal` posting, key `reversal:{ledger_transaction_id}`."""
