"""Who may reach us (IP allow-lists) and what they did (the audit log and the partner request log)."""

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


class IpAllowEntry(Model):
    """One IP or CIDR range on an allow-list. A scope with no entries allows every address."""

    __tablename__ = "ip_allow_entries"
    __table_args__ = (
        CheckConstraint("scope IN ('global', 'admin', 's2s', 'partner')", name="scope"),
        CheckConstraint("(scope = 'partner') = (partner_id IS NOT NULL)", name="partner_scope_has_partner"),
        UniqueConstraint("scope", "partner_id", "network", postgresql_nulls_not_distinct=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), nullable=False)
    partner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("partners.id"), nullable=True, index=True)
    network: Mapped[str] = mapped_column(String(64), nullable=False)
    """Normalised: a bare address or a CIDR range, IPv4 or IPv6."""
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class AuditEvent(Model):
    """A mutation by an admin, a partner user or a partner's API key. Append-only (a trigger refuses
    UPDATE and DELETE); secrets in `changes` are masked before they get here."""

    __tablename__ = "audit_events"
    __table_args__ = (
        CheckConstraint("actor_type IN ('admin', 'partner_user', 'api_key', 'system')", name="actor_type"),
        Index("ix_audit_events_occurred_at", "occurred_at"),
        Index("ix_audit_events_partner_id_occurred_at", "partner_id", "occurred_at"),
        Index("ix_audit_events_target", "target_type", "target_id"),
        Index("ix_audit_events_actor_id", "actor_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    actor_type: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    actor_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    partner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The partner the target belongs to, so a partner can be shown its own trail."""
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target_type: Mapped[str] = mapped_column(String(32), nullable=False)
    target_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    """`{field: {"before": ..., "after": ...}}` for changed fields only."""
    ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)


class ApiRequestLog(Model):
    """One partner API request: what was asked and how it ended (bodies redacted). Kept for
    `GERBANG_REQUEST_LOG_RETENTION`, then purged by the worker."""

    __tablename__ = "api_request_logs"
    __table_args__ = (
        Index("ix_api_request_logs_partner_id_created_at", "partner_id", "created_at"),
        Index("ix_api_request_logs_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    method: Mapped[str] = mapped_column(String(8), nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    latency_us: Mapped[int] = mapped_column(Integer, nullable=False)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_body: Mapped[Any] = mapped_column(JSONB, nullable=True)
    """Redacted: values of secret-looking fields replaced, long strings cut."""
    ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
