"""Logins for admins and partner users: password check, sessions with rotating refresh tokens, logout,
password change, and the per-request check that the user is still active and the session still open.

One code serves both kinds of user; what differs (table, audience, role set, the partner) is carried
by `UserTable` and the principal types.
"""

from __future__ import annotations

import enum
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from gerbang.auth import user_repository as repository
from gerbang.auth.tokens import Audience, issue_access_token
from gerbang.auth.two_factor import check_second_factor, prove_second_factor
from gerbang.auth.user_repository import ADMINS, PARTNER_USERS, UserTable
from gerbang.exceptions import Conflict, Forbidden, Unauthorized, UnprocessableEntity
from gerbang.kit.crypto import KeyRing, sha256_hex
from gerbang.kit.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from gerbang.kit.sql import Connection

REFRESH_TOKEN_TTL = timedelta(days=30)
REQUIRE_ADMIN_2FA = "require_admin_2fa"
_TABLES = {Audience.admin: ADMINS, Audience.partner: PARTNER_USERS}


class AdminRole(enum.StrEnum):
    SUPER_ADMIN = "SUPER_ADMIN"
    ADMIN = "ADMIN"
    FINANCE = "FINANCE"
    SUPPORT = "SUPPORT"
    VIEWER = "VIEWER"


class PartnerRole(enum.StrEnum):
    OWNER = "OWNER"
    FINANCE = "FINANCE"
    DEVELOPER = "DEVELOPER"
    VIEWER = "VIEWER"


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"


class AccountInactive(Forbidden):
    code = "account_inactive"


class InvalidRefreshToken(Unauthorized):
    code = "invalid_refresh_token"


class RefreshTokenReused(InvalidRefreshToken):
    commits_transaction = True  # the session's revocation must stand


class SessionEnded(Unauthorized):
    code = "session_ended"


class WeakPassword(UnprocessableEntity):
    code = "weak_password"


class InvalidEmail(UnprocessableEntity):
    code = "invalid_email"


class UserExists(Conflict):
    code = "user_exists"


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
    missing_required_2fa: bool = False
    """2FA is required for all admins and this one has not enrolled: only enrolment is open to them."""


@dataclass(frozen=True)
class PartnerUserPrincipal:
    id: uuid.UUID
    email: str
    role: PartnerRole
    partner_id: uuid.UUID
    session_id: uuid.UUID


def _checked_credentials(email: str, password: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254:
        raise InvalidEmail("a valid email address is required")
    check_password_strength(password)
    return email


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH or len(password) > 1024:
        raise WeakPassword(f"a password has {MIN_PASSWORD_LENGTH} to 1024 characters")


async def create_admin(connection: Connection, *, email: str, password: str, role: AdminRole) -> uuid.UUID:
    email = _checked_credentials(email, password)
    admin_id = uuid.uuid4()
    if not await repository.insert_admin(
        connection, admin_id=admin_id, email=email, password_hash=hash_password(password), role=role.value
    ):
        raise UserExists("a user with this email exists")
    return admin_id


async def create_partner_user(
    connection: Connection, *, partner_id: uuid.UUID, email: str, password: str, role: PartnerRole
) -> uuid.UUID:
    email = _checked_credentials(email, password)
    user_id = uuid.uuid4()
    if not await repository.insert_partner_user(
        connection, user_id=user_id, partner_id=partner_id, email=email,
        password_hash=hash_password(password), role=role.value,
    ):  # fmt: skip
        raise UserExists("a user with this email exists")
    return user_id


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


async def login(
    connection: Connection,
    secret_key: str,
    key_ring: KeyRing,
    audience: Audience,
    *,
    email: str,
    password: str,
    otp: str | None,
    now: datetime,
) -> TokenPair:
    users = _TABLES[audience]
    row = await users.by_email(connection, email.strip().lower())
    # verify_password runs even for an unknown email: both failures take the same time.
    if not verify_password(row["password_hash"] if row else None, password) or row is None:
        raise InvalidCredentials("wrong email or password")
    if row["status"] != "active" or row.get("partner_status", "active") != "active":
        raise AccountInactive("this account is deactivated")
    if row["totp_secret_encrypted"] is not None:
        await check_second_factor(
            connection, key_ring, users, user_id=row["id"], secret_encrypted=row["totp_secret_encrypted"],
            last_step=row["totp_last_step"], otp=otp, now=now,
        )  # fmt: skip
    await users.touch_login(connection, row["id"], now)
    return await _open_session(connection, secret_key, audience, row["id"], now)


async def refresh(
    connection: Connection, secret_key: str, *, audience: Audience, refresh_token: str, now: datetime
) -> TokenPair:
    """A new token pair; the refresh token used is spent. Presenting a spent token again ends the session."""
    new_refresh = secrets.token_urlsafe(32)
    old_hash = sha256_hex(refresh_token.encode())
    row = await repository.rotate_refresh(
        connection, audience=audience.value, old_hash=old_hash, new_hash=sha256_hex(new_refresh.encode()), now=now
    )
    if row is None:
        if await repository.revoke_reused(connection, old_hash, now):
            raise RefreshTokenReused("this refresh token was already used; the session has been ended")
        raise InvalidRefreshToken("the refresh token is unknown, spent, expired or revoked")
    await _current_row(connection, _TABLES[audience], row["subject_id"], row["id"], now)  # still active?
    access = issue_access_token(secret_key, audience, row["subject_id"], row["id"], now)
    return TokenPair(access, new_refresh, expires_in=15 * 60)


async def logout(connection: Connection, session_id: uuid.UUID, now: datetime) -> None:
    await repository.revoke_session(connection, session_id, now)


async def change_password(
    connection: Connection,
    key_ring: KeyRing,
    audience: Audience,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    current_password: str,
    new_password: str,
    otp: str | None,
    now: datetime,
) -> None:
    """Needs the current password (and a 2FA code when enrolled); ends every other session of the user."""
    users = _TABLES[audience]
    if not verify_password(await users.password_hash(connection, user_id), current_password):
        raise InvalidCredentials("the current password is wrong")
    await prove_second_factor(connection, key_ring, users, user_id=user_id, proof=otp, now=now)
    check_password_strength(new_password)
    await users.set_password(connection, user_id, hash_password(new_password), now)
    await repository.revoke_other_sessions(
        connection, audience=audience.value, subject_id=user_id, except_id=session_id, now=now
    )


async def _current_row(
    connection: Connection, users: UserTable, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> asyncpg.Record:
    row = await users.in_session(connection, user_id, session_id)
    if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
        raise SessionEnded("this session has ended; log in again")
    if row["status"] != "active" or row.get("partner_status", "active") != "active":
        raise AccountInactive("this account is deactivated")
    return row


async def current_admin(
    connection: Connection, admin_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> AdminPrincipal:
    """Checked on every request: a deactivated admin or a closed session is refused at once."""
    row = await _current_row(connection, ADMINS, admin_id, session_id, now)
    missing_2fa = row["totp_secret_encrypted"] is None and bool(
        await repository.get_setting(connection, REQUIRE_ADMIN_2FA)
    )
    return AdminPrincipal(
        id=admin_id, email=str(row["email"]), role=AdminRole(row["role"]), session_id=session_id,
        missing_required_2fa=missing_2fa,
    )  # fmt: skip


async def current_partner_user(
    connection: Connection, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> PartnerUserPrincipal:
    row = await _current_row(connection, PARTNER_USERS, user_id, session_id, now)
    return PartnerUserPrincipal(
        id=user_id, email=str(row["email"]), role=PartnerRole(row["role"]),
        partner_id=row["partner_id"], session_id=session_id,
    )  # fmt: skip


async def set_require_admin_2fa(connection: Connection, required: bool, now: datetime) -> None:
    await repository.put_setting(connection, REQUIRE_ADMIN_2FA, required, now)


async def require_admin_2fa(connection: Connection) -> bool:
    return bool(await repository.get_setting(connection, REQUIRE_ADMIN_2FA))
