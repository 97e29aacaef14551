"""Side effects written as rows in the same transaction as the change (DESIGN.md section 4): partner
webhook events ([5/9] delivers them), Kafka outbox events ([9/9] relays them), and every inbound
provider callback as received."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Identity,
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


class WebhookEvent(Model):
    """A partner webhook event and its delivery state. The body is frozen when the event happens; every
    attempt sends exactly these bytes, signed afresh."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'dead', 'skipped')", name="status"),
        Index("ix_webhook_events_partner_id_created_at", "partner_id", "created_at"),
        # What the delivery worker claims from: due and pending only, in a small index.
        Index("ix_webhook_events_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        # FIFO per partner endpoint: the oldest pending event of a partner goes first.
        Index("ix_webhook_events_pending_seq", "partner_id", "seq", postgresql_where=text("status = 'pending'")),
        Index("ix_webhook_events_object_id", "object_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    """The stable event id partners dedupe by (`webhook-id`)."""
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), nullable=False, unique=True)
    """Creation order, for per-endpoint FIFO."""
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    event_type: Mapped[str] = mapped_column(String(40), nullable=False)
    object_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The order or withdrawal the event is about, for filtering."""
    body: Mapped[str] = mapped_column(Text, nullable=False)
    """The exact JSON sent, frozen when the event happened."""
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="pending")
    skip_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """Why a `skipped` event is not sent: `no_endpoint` or `unsubscribed` when it happened."""
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    round_attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    """Attempts since the event was last (re)queued: where it is on the retry schedule."""
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """A worker's lease on the attempt in flight; a crashed worker's lease simply runs out."""
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class WebhookAttempt(Model):
    """One try at delivering a webhook event, whatever came of it."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        CheckConstraint("outcome IN ('delivered', 'retry', 'dead', 'gone')", name="outcome"),
        Index("ix_webhook_attempts_event_id", "event_id"),
        Index("ix_webhook_attempts_partner_id_started_at", "partner_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The first 2 KB of the receiver's answer."""
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)


class Alert(Model):
    """Something an operator should look at (an endpoint disabled, a flagged callback, a failed job), and its
    delivery to Telegram: an outbox row, written in the transaction of the change it reports."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("severity IN ('info', 'warning', 'critical')", name="severity"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed', 'skipped')", name="status"),
        Index("ix_alerts_created_at", "created_at"),
        # What the sender claims from: due and pending only, in a small index.
        Index("ix_alerts_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    partner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    severity: Mapped[str] = mapped_column(String(16), nullable=False, server_default="warning")
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="pending")
    """`pending` (to be sent), `delivered`, `failed` (refused, or retried until the limits ran out) or
    `skipped` (below `GERBANG_TELEGRAM_MIN_SEVERITY` when the sender saw it)."""
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    parts_sent: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    """Telegram messages of this alert already sent (a long alert is several): a retry sends the rest."""
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """A sender's lease on the attempt in flight; a crashed sender's lease simply runs out."""
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    """What went wrong last time, never with the bot token in it."""
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class OutboxEvent(Model):
    """A Kafka event (docs/events.md), written in the transaction of the change; the worker's relay publishes
    it and sets `published_at` once the broker has acknowledged it. A trigger notifies `gerbang_outbox` when
    rows are inserted, to wake the relay."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        # What the relay reads from: unpublished rows in outbox order.
        Index("ix_outbox_events_unpublished", "id", postgresql_where=text("published_at IS NULL")),
        # The admin list: one order's or withdrawal's events. Date ranges (and the retention job) use a BRIN index:
        # rows are written in time order, and it costs the relay's marking UPDATE next to nothing.
        Index("ix_outbox_events_key_id", "key", "id"),
        Index("ix_outbox_events_occurred_at", "occurred_at", postgresql_using="brin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    """Outbox order: the relay publishes in this order per key."""
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, unique=True)
    topic: Mapped[str] = mapped_column(String(64), nullable=False)
    key: Mapped[str] = mapped_column(String(64), nullable=False)
    event: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="1")
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ProviderCallback(Model):
    """An inbound provider callback, stored before it is acted on, with what we made of it."""

    __tablename__ = "provider_callbacks"
    __table_args__ = (
        # Only a verified callback claims its event id: a forged one with a real id cannot block the real one.
        Index(
            "ix_provider_callbacks_provider_event_id", "provider", "event_id",
            unique=True, postgresql_where=text("verified"),
        ),
        Index("ix_provider_callbacks_order_id", "order_id"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    event_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    withdrawal_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """Set instead of `order_id` for a disbursement callback."""
    verified: Mapped[bool] = mapped_column(Boolean, nullable=False)
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)
    """`applied`, `duplicate`, `unverified`, `unparseable`, `unknown_order`, `amount_mismatch`,
    `contradicting`, `late_payment`, `ignored`. Anything but applied/duplicate is flagged for people."""
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
