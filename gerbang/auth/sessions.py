"""Admin logins: password check, sessions with rotating refresh tokens, logout, and the per-request check
that the user is still active and the session still open."""

from __future__ import annotations

import enum
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from gerbang.auth import repository
from gerbang.auth.tokens import Audience, issue_access_token
from gerbang.auth.two_factor import check_second_factor
from gerbang.exceptions import Conflict, Forbidden, Unauthorized, UnprocessableEntity
from gerbang.kit.crypto import KeyRing, sha256_hex
from gerbang.kit.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from gerbang.kit.sql import Connection

REFRESH_TOKEN_TTL = timedelta(days=30)


class AdminRole(enum.StrEnum):
    SUPER_ADMIN = "SUPER_ADMIN"
    ADMIN = "ADMIN"
    FINANCE = "FINANCE"
    SUPPORT = "SUPPORT"
    VIEWER = "VIEWER"


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"


class AccountInactive(Forbidden):
    code = "account_inactive"


class InvalidRefreshToken(Unauthorized):
    code = "invalid_refresh_token"


class SessionEnded(Unauthorized):
    code = "session_ended"


class WeakPassword(UnprocessableEntity):
    code = "weak_password"


class AdminExists(Conflict):
    code = "admin_exists"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class AdminPrincipal:
    id: uuid.UUID
    email: str
    role: AdminRole
    session_id: uuid.UUID


async def create_admin(connection: Connection, *, email: str, password: str, role: AdminRole) -> uuid.UUID:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise UnprocessableEntity("an email address is required")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    admin_id = uuid.uuid4()
    created = await repository.insert_admin(
        connection, admin_id=admin_id, email=email, password_hash=hash_password(password), role=role.value
    )
    if not created:
        raise AdminExists("an admin with this email exists")
    return admin_id


async def _open_session(
    connection: Connection, secret_key: str, audience: Audience, subject_id: uuid.UUID, now: datetime
) -> TokenPair:
    session_id = uuid.uuid4()
    refresh_token = secrets.token_urlsafe(32)
    await repository.insert_session(
        connection,
        session_id=session_id,
        audience=audience.value,
        subject_id=subject_id,
        refresh_hash=sha256_hex(refresh_token.encode()),
        expires_at=now + REFRESH_TOKEN_TTL,
    )
    access = issue_access_token(secret_key, audience, subject_id, session_id, now)
    return TokenPair(access, refresh_token, expires_in=15 * 60)


async def admin_login(
    connection: Connection,
    secret_key: str,
    key_ring: KeyRing,
    *,
    email: str,
    password: str,
    otp: str | None,
    now: datetime,
) -> TokenPair:
    row = await repository.admin_by_email(connection, email.strip().lower())
    # verify_password runs even for an unknown email: both failures take the same time.
    if not verify_password(row["password_hash"] if row else None, password) or row is None:
        raise InvalidCredentials("wrong email or password")
    if row["status"] != "active":
        raise AccountInactive("this admin account is deactivated")
    if row["totp_secret_encrypted"] is not None:
        await check_second_factor(
            connection, key_ring, admin_id=row["id"], secret_encrypted=row["totp_secret_encrypted"],
            last_step=row["totp_last_step"], otp=otp, now=now,
        )  # fmt: skip
    await repository.touch_admin_login(connection, row["id"], now)
    return await _open_session(connection, secret_key, Audience.admin, row["id"], now)


async def refresh(
    connection: Connection, secret_key: str, *, audience: Audience, refresh_token: str, now: datetime
) -> TokenPair:
    """A new token pair; the refresh token used is spent (a second use is refused)."""
    new_refresh = secrets.token_urlsafe(32)
    row = await repository.rotate_refresh(
        connection,
        audience=audience.value,
        old_hash=sha256_hex(refresh_token.encode()),
        new_hash=sha256_hex(new_refresh.encode()),
        now=now,
    )
    if row is None:
        raise InvalidRefreshToken("the refresh token is unknown, spent, expired or revoked")
    if audience is Audience.admin:
        await current_admin(connection, row["subject_id"], row["id"], now)  # still active?
    access = issue_access_token(secret_key, audience, row["subject_id"], row["id"], now)
    return TokenPair(access, new_refresh, expires_in=15 * 60)


async def logout(connection: Connection, session_id: uuid.UUID, now: datetime) -> None:
    await repository.revoke_session(connection, session_id, now)


async def current_admin(
    connection: Connection, admin_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> AdminPrincipal:
    """Checked on every request: a deactivated admin or a closed session is refused at once."""
    row = await repository.admin_in_session(connection, admin_id, session_id)
    if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
        raise SessionEnded("this session has ended; log in again")
    if row["status"] != "active":
        raise AccountInactive("this admin account is deactivated")
    return AdminPrincipal(id=row["id"], email=row["email"], role=AdminRole(row["role"]), session_id=session_id)
