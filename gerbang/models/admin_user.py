from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, String, Text, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from gerbang.models.base import Model


class AdminUser(Model):
    """A person who runs the platform from the admin console."""

    __tablename__ = "admin_users"
    __table_args__ = (
        CheckConstraint("role IN ('SUPER_ADMIN', 'ADMIN', 'FINANCE', 'SUPPORT', 'VIEWER')", name="role"),
        CheckConstraint("status IN ('active', 'inactive')", name="status"),
        CheckConstraint("email = lower(email)", name="email_lower"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    """argon2id."""
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="active")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
