from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, String, Text, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from gerbang.models.base import Model


class Partner(Model):
    """A merchant integrating with gerbang (the original's "client")."""

    __tablename__ = "partners"
    __table_args__ = (CheckConstraint("status IN ('active', 'inactive')", name="status"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="active")
    parent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("partners.id"), nullable=True, index=True)
    allow_unsigned_requests: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    """Legacy integrations: API key and timestamp without a signature (never for withdrawals)."""
    webhook_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    """`whsec_...`, encrypted with the key ring (context `partner:<id>:webhook_secret`); shown once."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
