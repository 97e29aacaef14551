"""SQL for API keys and the replay cache."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gerbang.kit.sql import Connection, Query
from gerbang.models import AdminRecoveryCode, AdminUser, ApiKey, AuthSession, Partner, SeenSignature

_INSERT_KEY = Query(
    insert(ApiKey).values(
        id=bindparam("id"),
        partner_id=bindparam("partner_id"),
        public_id=bindparam("public_id"),
        key_hash=bindparam("key_hash"),
        signing_secret_encrypted=bindparam("signing_secret_encrypted"),
    )
)
_KEY_WITH_PARTNER = Query(
    select(
        ApiKey.id,
        ApiKey.partner_id,
        ApiKey.key_hash,
        ApiKey.signing_secret_encrypted,
        ApiKey.expires_at,
        ApiKey.revoked_at,
        Partner.status.label("partner_status"),
        Partner.allow_unsigned_requests,
    )
    .join(Partner, Partner.id == ApiKey.partner_id)
    .where(ApiKey.public_id == bindparam("public_id"))
)
_REMEMBER_SIGNATURE = Query(
    pg_insert(SeenSignature)
    .values(api_key_id=bindparam("api_key_id"), signature=bindparam("signature"), expires_at=bindparam("expires_at"))
    .on_conflict_do_nothing()
    .returning(SeenSignature.api_key_id)
)
_FORGET_EXPIRED = Query(delete(SeenSignature).where(SeenSignature.expires_at < bindparam("now")))


async def insert_api_key(
    connection: Connection,
    *,
    key_id: uuid.UUID,
    partner_id: uuid.UUID,
    public_id: str,
    key_hash: str,
    signing_secret_encrypted: str,
) -> None:
    await _INSERT_KEY.execute(
        connection,
        id=key_id,
        partner_id=partner_id,
        public_id=public_id,
        key_hash=key_hash,
        signing_secret_encrypted=signing_secret_encrypted,
    )


async def key_with_partner(connection: Connection, public_id: str) -> asyncpg.Record | None:
    return await _KEY_WITH_PARTNER.fetchrow(connection, public_id=public_id)


async def remember_signature(
    connection: Connection, api_key_id: uuid.UUID, signature: str, expires_at: datetime
) -> bool:
    """False if this key already sent this signature (a replay)."""
    row = await _REMEMBER_SIGNATURE.fetchrow(
        connection, api_key_id=api_key_id, signature=signature, expires_at=expires_at
    )
    return row is not None


async def forget_expired_signatures(connection: Connection, now: datetime) -> int:
    status = await _FORGET_EXPIRED.execute(connection, now=now)
    return int(status.split()[-1])


# -- admin users and sessions ------------------------------------------------------------------------

_INSERT_ADMIN = Query(
    pg_insert(AdminUser)
    .values(
        id=bindparam("id"), email=bindparam("email"), password_hash=bindparam("password_hash"), role=bindparam("role")
    )
    .on_conflict_do_nothing(index_elements=["email"])
    .returning(AdminUser.id)
)
_ADMIN_BY_EMAIL = Query(
    select(
        AdminUser.id,
        AdminUser.password_hash,
        AdminUser.status,
        AdminUser.totp_secret_encrypted,
        AdminUser.totp_last_step,
    ).where(AdminUser.email == bindparam("email"))
)
_ADMIN_TOTP = Query(
    select(
        AdminUser.email, AdminUser.totp_secret_encrypted, AdminUser.totp_pending_encrypted, AdminUser.totp_last_step
    ).where(AdminUser.id == bindparam("id"))
)
_SET_PENDING_TOTP = Query(
    update(AdminUser).where(AdminUser.id == bindparam("id")).values(totp_pending_encrypted=bindparam("pending"))
)
_ACTIVATE_TOTP = Query(
    update(AdminUser)
    .where(AdminUser.id == bindparam("id"), AdminUser.totp_pending_encrypted == bindparam("pending"))
    .values(totp_secret_encrypted=bindparam("active"), totp_pending_encrypted=None, totp_last_step=bindparam("step"))
    .returning(AdminUser.id)
)
# Compare-and-set: of two logins with the same code, one wins.
_ADVANCE_TOTP_STEP = Query(
    update(AdminUser)
    .where(
        AdminUser.id == bindparam("id"),
        (AdminUser.totp_last_step.is_(None)) | (AdminUser.totp_last_step < bindparam("step")),
    )
    .values(totp_last_step=bindparam("step"))
    .returning(AdminUser.id)
)
_DELETE_RECOVERY_CODES = Query(delete(AdminRecoveryCode).where(AdminRecoveryCode.admin_id == bindparam("id")))
_INSERT_RECOVERY_CODES = Query(
    text(
        "INSERT INTO admin_recovery_codes (code_hash, admin_id) "
        "SELECT hash, :id FROM unnest(CAST(:hashes AS text[])) AS hash"
    )
)
_USE_RECOVERY_CODE = Query(
    update(AdminRecoveryCode)
    .where(
        AdminRecoveryCode.code_hash == bindparam("hash"),
        AdminRecoveryCode.admin_id == bindparam("id"),
        AdminRecoveryCode.used_at.is_(None),
    )
    .values(used_at=bindparam("now"))
    .returning(AdminRecoveryCode.code_hash)
)
_TOUCH_LOGIN = Query(update(AdminUser).where(AdminUser.id == bindparam("id")).values(last_login_at=bindparam("now")))
_INSERT_SESSION = Query(
    insert(AuthSession).values(
        id=bindparam("id"),
        audience=bindparam("audience"),
        subject_id=bindparam("subject_id"),
        refresh_hash=bindparam("refresh_hash"),
        expires_at=bindparam("expires_at"),
    )
)
# Compare-and-set: a refresh token works once; the second use finds no row.
_ROTATE_REFRESH = Query(
    update(AuthSession)
    .where(
        AuthSession.refresh_hash == bindparam("old_hash"),
        AuthSession.audience == bindparam("audience"),
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > bindparam("now"),
    )
    .values(refresh_hash=bindparam("new_hash"))
    .returning(AuthSession.id, AuthSession.subject_id)
)
_REVOKE_SESSION = Query(
    update(AuthSession)
    .where(AuthSession.id == bindparam("id"), AuthSession.revoked_at.is_(None))
    .values(revoked_at=bindparam("now"))
)
_ADMIN_IN_SESSION = Query(
    select(
        AdminUser.id,
        AdminUser.email,
        AdminUser.role,
        AdminUser.status,
        AuthSession.revoked_at,
        AuthSession.expires_at,
    )
    .join(AuthSession, (AuthSession.subject_id == AdminUser.id) & (AuthSession.audience == "admin"))
    .where(AdminUser.id == bindparam("admin_id"), AuthSession.id == bindparam("session_id"))
)


async def insert_admin(
    connection: Connection, *, admin_id: uuid.UUID, email: str, password_hash: str, role: str
) -> bool:
    """False if the email is taken."""
    row = await _INSERT_ADMIN.fetchrow(connection, id=admin_id, email=email, password_hash=password_hash, role=role)
    return row is not None


async def admin_by_email(connection: Connection, email: str) -> asyncpg.Record | None:
    return await _ADMIN_BY_EMAIL.fetchrow(connection, email=email)


async def touch_admin_login(connection: Connection, admin_id: uuid.UUID, now: datetime) -> None:
    await _TOUCH_LOGIN.execute(connection, id=admin_id, now=now)


async def insert_session(
    connection: Connection,
    *,
    session_id: uuid.UUID,
    audience: str,
    subject_id: uuid.UUID,
    refresh_hash: str,
    expires_at: datetime,
) -> None:
    await _INSERT_SESSION.execute(
        connection,
        id=session_id,
        audience=audience,
        subject_id=subject_id,
        refresh_hash=refresh_hash,
        expires_at=expires_at,
    )


async def rotate_refresh(
    connection: Connection, *, audience: str, old_hash: str, new_hash: str, now: datetime
) -> asyncpg.Record | None:
    return await _ROTATE_REFRESH.fetchrow(connection, audience=audience, old_hash=old_hash, new_hash=new_hash, now=now)


async def revoke_session(connection: Connection, session_id: uuid.UUID, now: datetime) -> None:
    await _REVOKE_SESSION.execute(connection, id=session_id, now=now)


async def admin_in_session(connection: Connection, admin_id: uuid.UUID, session_id: uuid.UUID) -> asyncpg.Record | None:
    return await _ADMIN_IN_SESSION.fetchrow(connection, admin_id=admin_id, session_id=session_id)


async def admin_totp(connection: Connection, admin_id: uuid.UUID) -> asyncpg.Record | None:
    return await _ADMIN_TOTP.fetchrow(connection, id=admin_id)


async def set_pending_totp(connection: Connection, admin_id: uuid.UUID, pending: str) -> None:
    await _SET_PENDING_TOTP.execute(connection, id=admin_id, pending=pending)


async def activate_totp(connection: Connection, admin_id: uuid.UUID, *, pending: str, active: str, step: int) -> bool:
    return await _ACTIVATE_TOTP.fetchrow(connection, id=admin_id, pending=pending, active=active, step=step) is not None


async def advance_totp_step(connection: Connection, admin_id: uuid.UUID, step: int) -> bool:
    return await _ADVANCE_TOTP_STEP.fetchrow(connection, id=admin_id, step=step) is not None


async def replace_recovery_codes(connection: Connection, admin_id: uuid.UUID, hashes: list[str]) -> None:
    await _DELETE_RECOVERY_CODES.execute(connection, id=admin_id)
    await _INSERT_RECOVERY_CODES.execute(connection, id=admin_id, hashes=hashes)


async def use_recovery_code(connection: Connection, admin_id: uuid.UUID, code_hash: str, now: datetime) -> bool:
    return await _USE_RECOVERY_CODE.fetchrow(connection, id=admin_id, hash=code_hash, now=now) is not None
