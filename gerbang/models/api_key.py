from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, PrimaryKeyConstraint, String, Text, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from gerbang.models.base import Model


class ApiKey(Model):
    """A partner's API key. The key itself is never stored: its public id finds the row, its hash checks it."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("partners.id"), nullable=False, index=True)
    public_id: Mapped[str] = mapped_column(String(12), nullable=False, unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    signing_secret_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    """Encrypted with the key ring (context `api_key:<id>:signing_secret`); shown to the partner once."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """Set when the key is rotated: it keeps working until then (the overlap window)."""
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SeenSignature(Model):
    """The replay cache: a signed request is accepted once within the timestamp window."""

    __tablename__ = "seen_signatures"
    __table_args__ = (
        PrimaryKeyConstraint("api_key_id", "signature"),
        Index("ix_seen_signatures_expires_at", "expires_at"),
    )

    api_key_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False)
    signature: Mapped[str] = mapped_column(String(64), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
