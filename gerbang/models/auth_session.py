from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, String, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from gerbang.models.base import Model


class AuthSession(Model):
    """A login: its refresh token (stored hashed) rotates on every use; logout or reuse revokes it."""

    __tablename__ = "auth_sessions"
    __table_args__ = (CheckConstraint("audience IN ('admin', 'partner')", name="audience"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    audience: Mapped[str] = mapped_column(String(16), nullable=False)
    """Whose session: `admin` (admin_users) or `partner` (partner users); tokens of one never open the other."""
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, index=True)
    refresh_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    previous_refresh_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    """The token spent by the last rotation: presenting it again means it was stolen, and ends the session."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
