from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, String, Text, Uuid, func
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
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The active TOTP secret (key ring, context `admin:<id>:totp`); login needs a code once it is set."""
    totp_pending_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    """A secret being enrolled: it replaces the active one only after a valid code from it."""
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The last accepted TOTP time step: a code is accepted once."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AdminRecoveryCode(Model):
    """One-time codes that stand in for a TOTP code (a lost phone); stored hashed, each used once."""

    __tablename__ = "admin_recovery_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    admin_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("admin_users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
