"""People who log in: admins (the platform's staff) and partner users (a partner's own staff).

Two tables, one shape: the columns every login needs come from `UserColumns`, so the same password,
session and 2FA code serves both, while an admin and a partner user can never be the same row.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, Text, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from gerbang.models.base import Model


class UserColumns:
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    """argon2id."""
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="active")
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The active TOTP secret (key ring, context `<audience>:<id>:totp`); login needs a code once it is set."""
    totp_pending_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    """A secret being enrolled: it replaces the active one only after a valid code from it."""
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The last accepted TOTP time step: a code is accepted once."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AdminUser(UserColumns, Model):
    """A person who runs the platform from the admin console."""

    __tablename__ = "admin_users"
    __table_args__ = (
        CheckConstraint("role IN ('SUPER_ADMIN', 'ADMIN', 'FINANCE', 'SUPPORT', 'VIEWER')", name="role"),
        CheckConstraint("status IN ('active', 'inactive')", name="status"),
        CheckConstraint("email = lower(email)", name="email_lower"),
    )


class PartnerUser(UserColumns, Model):
    """A person at a partner who uses the partner console. Created by an admin or the partner's OWNER;
    there is no public registration."""

    __tablename__ = "partner_users"
    __table_args__ = (
        CheckConstraint("role IN ('OWNER', 'FINANCE', 'DEVELOPER', 'VIEWER')", name="role"),
        CheckConstraint("status IN ('active', 'inactive')", name="status"),
        CheckConstraint("email = lower(email)", name="email_lower"),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("partners.id"), nullable=False, index=True)


class RecoveryCode(Model):
    """One-time codes that stand in for a TOTP code (a lost phone); stored hashed, each used once."""

    __tablename__ = "recovery_codes"
    __table_args__ = (
        CheckConstraint("audience IN ('admin', 'partner')", name="audience"),
        Index("ix_recovery_codes_audience_subject_id", "audience", "subject_id"),
    )

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    audience: Mapped[str] = mapped_column(String(16), nullable=False)
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
