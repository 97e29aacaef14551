"""SQL for API keys and the replay cache."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gerbang.kit.sql import Connection, Query
from gerbang.models import AdminUser, ApiKey, AuthSession, Partner, SeenSignature

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
    select(AdminUser.id, AdminUser.password_hash, AdminUser.status).where(AdminUser.email == bindparam("email"))
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
