"""Side effects written as rows in the same transaction as the change (DESIGN.md section 4): partner
webhook events ([5/9] delivers them), Kafka outbox events ([9/9] relays them), and every inbound
provider callback as received."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Identity, Index, String, Text, Uuid, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gerbang.models.base import Model


class WebhookEvent(Model):
    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_partner_id_created_at", "partner_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    """The stable event id partners dedupe by (`webhook-id`)."""
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    event_type: Mapped[str] = mapped_column(String(40), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    """Frozen when the event happened."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class OutboxEvent(Model):
    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_unpublished", "id", postgresql_where=text("published_at IS NULL")),)

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
    verified: Mapped[bool] = mapped_column(Boolean, nullable=False)
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)
    """`applied`, `duplicate`, `unverified`, `unparseable`, `unknown_order`, `amount_mismatch`,
    `contradicting`, `late_payment`, `ignored`. Anything but applied/duplicate is flagged for people."""
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
