"""SQL for people who log in (admins and partner users), their sessions and their recovery codes.

Both user tables have the same login columns (`gerbang.models.user.UserColumns`), so one `UserTable`
compiles the same statements against either.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gerbang.kit.sql import Connection, Query
from gerbang.models import AdminUser, AuthSession, Partner, PartnerUser, PlatformSetting, RecoveryCode
from gerbang.models.user import UserColumns


class UserTable:
    """The statements every login needs, compiled once for one user table."""

    def __init__(self, model: type[AdminUser] | type[PartnerUser], audience: str) -> None:
        self.audience = audience
        m: type[UserColumns] = model
        # A partner user also stops working when their partner is deactivated.
        is_partner = model is PartnerUser
        partner_columns = [PartnerUser.partner_id, Partner.status.label("partner_status")] if is_partner else []
        by_email = select(m.id, m.password_hash, m.status, m.totp_secret_encrypted, m.totp_last_step, *partner_columns)
        in_session = select(
            m.id,
            m.email,
            m.role,
            m.status,
            m.totp_secret_encrypted,
            *partner_columns,
            AuthSession.revoked_at,
            AuthSession.expires_at,
        ).join(AuthSession, (AuthSession.subject_id == m.id) & (AuthSession.audience == audience))
        if is_partner:
            by_email = by_email.join(Partner, Partner.id == PartnerUser.partner_id)
            in_session = in_session.join(Partner, Partner.id == PartnerUser.partner_id)
        self._by_email = Query(by_email.where(m.email == bindparam("email")))
        self._in_session = Query(
            in_session.where(m.id == bindparam("user_id"), AuthSession.id == bindparam("session_id"))
        )
        self._password_hash = Query(select(m.password_hash).where(m.id == bindparam("id")))
        self._totp = Query(
            select(m.email, m.totp_secret_encrypted, m.totp_pending_encrypted, m.totp_last_step).where(
                m.id == bindparam("id")
            )
        )
        self._set_pending_totp = Query(
            update(m).where(m.id == bindparam("id")).values(totp_pending_encrypted=bindparam("pending"))
        )
        self._activate_totp = Query(
            update(m)
            .where(m.id == bindparam("id"), m.totp_pending_encrypted == bindparam("pending"))
            .values(
                totp_secret_encrypted=bindparam("active"), totp_pending_encrypted=None, totp_last_step=bindparam("step")
            )
            .returning(m.id)
        )
        # Compare-and-set: of two logins with the same code, one wins.
        self._advance_totp_step = Query(
            update(m)
            .where(m.id == bindparam("id"), (m.totp_last_step.is_(None)) | (m.totp_last_step < bindparam("step")))
            .values(totp_last_step=bindparam("step"))
            .returning(m.id)
        )
        self._touch_login = Query(update(m).where(m.id == bindparam("id")).values(last_login_at=bindparam("now")))
        self._set_password = Query(
            update(m)
            .where(m.id == bindparam("id"))
            .values(password_hash=bindparam("password_hash"), password_changed_at=bindparam("now"))
        )

    async def by_email(self, connection: Connection, email: str) -> asyncpg.Record | None:
        return await self._by_email.fetchrow(connection, email=email)

    async def password_hash(self, connection: Connection, user_id: uuid.UUID) -> str | None:
        value: str | None = await self._password_hash.fetchval(connection, id=user_id)
        return value

    async def totp_state(self, connection: Connection, user_id: uuid.UUID) -> asyncpg.Record | None:
        return await self._totp.fetchrow(connection, id=user_id)

    async def set_pending_totp(self, connection: Connection, user_id: uuid.UUID, pending: str) -> None:
        await self._set_pending_totp.execute(connection, id=user_id, pending=pending)

    async def activate_totp(self, connection: Connection, user_id: uuid.UUID, *, pending: str, step: int) -> bool:
        row = await self._activate_totp.fetchrow(connection, id=user_id, pending=pending, active=pending, step=step)
        return row is not None

    async def advance_totp_step(self, connection: Connection, user_id: uuid.UUID, step: int) -> bool:
        return await self._advance_totp_step.fetchrow(connection, id=user_id, step=step) is not None

    async def touch_login(self, connection: Connection, user_id: uuid.UUID, now: datetime) -> None:
        await self._touch_login.execute(connection, id=user_id, now=now)

    async def set_password(self, connection: Connection, user_id: uuid.UUID, password_hash: str, now: datetime) -> None:
        await self._set_password.execute(connection, id=user_id, password_hash=password_hash, now=now)

    async def in_session(
        self, connection: Connection, user_id: uuid.UUID, session_id: uuid.UUID
    ) -> asyncpg.Record | None:
        return await self._in_session.fetchrow(connection, user_id=user_id, session_id=session_id)


ADMINS = UserTable(AdminUser, "admin")
PARTNER_USERS = UserTable(PartnerUser, "partner")


# -- creating users ----------------------------------------------------------------------------------

_INSERT_ADMIN = Query(
    pg_insert(AdminUser)
    .values(
        id=bindparam("id"), email=bindparam("email"), password_hash=bindparam("password_hash"), role=bindparam("role")
    )
    .on_conflict_do_nothing(index_elements=["email"])
    .returning(AdminUser.id)
)
_INSERT_PARTNER_USER = Query(
    pg_insert(PartnerUser)
    .values(
        id=bindparam("id"),
        partner_id=bindparam("partner_id"),
        email=bindparam("email"),
        password_hash=bindparam("password_hash"),
        role=bindparam("role"),
    )
    .on_conflict_do_nothing(index_elements=["email"])
    .returning(PartnerUser.id)
)


async def insert_admin(
    connection: Connection, *, admin_id: uuid.UUID, email: str, password_hash: str, role: str
) -> bool:
    """False if the email is taken."""
    row = await _INSERT_ADMIN.fetchrow(connection, id=admin_id, email=email, password_hash=password_hash, role=role)
    return row is not None


async def insert_partner_user(
    connection: Connection, *, user_id: uuid.UUID, partner_id: uuid.UUID, email: str, password_hash: str, role: str
) -> bool:
    """False if the email is taken."""
    row = await _INSERT_PARTNER_USER.fetchrow(
        connection, id=user_id, partner_id=partner_id, email=email, password_hash=password_hash, role=role
    )
    return row is not None


# -- sessions ----------------------------------------------------------------------------------------

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
    .values(refresh_hash=bindparam("new_hash"), previous_refresh_hash=bindparam("old_hash"))
    .returning(AuthSession.id, AuthSession.subject_id)
)
# A spent token presented again: whoever holds it is not the session's owner, or the owner's token was
# copied. Either way the session ends for both.
_REVOKE_REUSED = Query(
    update(AuthSession)
    .where(AuthSession.previous_refresh_hash == bindparam("hash"), AuthSession.revoked_at.is_(None))
    .values(revoked_at=bindparam("now"))
    .returning(AuthSession.id)
)
_REVOKE_SESSION = Query(
    update(AuthSession)
    .where(AuthSession.id == bindparam("id"), AuthSession.revoked_at.is_(None))
    .values(revoked_at=bindparam("now"))
)
_REVOKE_USER_SESSIONS = Query(
    update(AuthSession)
    .where(
        AuthSession.audience == bindparam("audience"),
        AuthSession.subject_id == bindparam("subject_id"),
        AuthSession.id != bindparam("except_id"),
        AuthSession.revoked_at.is_(None),
    )
    .values(revoked_at=bindparam("now"))
)


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


async def revoke_reused(connection: Connection, refresh_hash: str, now: datetime) -> bool:
    return await _REVOKE_REUSED.fetchrow(connection, hash=refresh_hash, now=now) is not None


async def revoke_session(connection: Connection, session_id: uuid.UUID, now: datetime) -> None:
    await _REVOKE_SESSION.execute(connection, id=session_id, now=now)


async def revoke_other_sessions(
    connection: Connection, *, audience: str, subject_id: uuid.UUID, except_id: uuid.UUID, now: datetime
) -> None:
    await _REVOKE_USER_SESSIONS.execute(
        connection, audience=audience, subject_id=subject_id, except_id=except_id, now=now
    )


# -- recovery codes ----------------------------------------------------------------------------------

_DELETE_RECOVERY_CODES = Query(
    delete(RecoveryCode).where(
        RecoveryCode.audience == bindparam("audience"), RecoveryCode.subject_id == bindparam("id")
    )
)
_INSERT_RECOVERY_CODES = Query(
    text(
        "INSERT INTO recovery_codes (code_hash, audience, subject_id) "
        "SELECT hash, :audience, :id FROM unnest(CAST(:hashes AS text[])) AS hash"
    )
)
_USE_RECOVERY_CODE = Query(
    update(RecoveryCode)
    .where(
        RecoveryCode.code_hash == bindparam("hash"),
        RecoveryCode.audience == bindparam("audience"),
        RecoveryCode.subject_id == bindparam("id"),
        RecoveryCode.used_at.is_(None),
    )
    .values(used_at=bindparam("now"))
    .returning(RecoveryCode.code_hash)
)


async def replace_recovery_codes(connection: Connection, audience: str, user_id: uuid.UUID, hashes: list[str]) -> None:
    await _DELETE_RECOVERY_CODES.execute(connection, audience=audience, id=user_id)
    await _INSERT_RECOVERY_CODES.execute(connection, audience=audience, id=user_id, hashes=hashes)


async def use_recovery_code(
    connection: Connection, audience: str, user_id: uuid.UUID, code_hash: str, now: datetime
) -> bool:
    row = await _USE_RECOVERY_CODE.fetchrow(connection, audience=audience, id=user_id, hash=code_hash, now=now)
    return row is not None


# -- platform settings -------------------------------------------------------------------------------

_GET_SETTING = Query(select(PlatformSetting.value).where(PlatformSetting.key == bindparam("key")))
_PUT_SETTING = Query(
    pg_insert(PlatformSetting)
    .values(key=bindparam("key"), value=bindparam("value"), updated_at=bindparam("now"))
    .on_conflict_do_update(index_elements=["key"], set_={"value": bindparam("value"), "updated_at": bindparam("now")})
)


async def get_setting(connection: Connection, key: str) -> Any:
    return await _GET_SETTING.fetchval(connection, key=key)


async def put_setting(connection: Connection, key: str, value: Any, now: datetime) -> None:
    await _PUT_SETTING.execute(connection, key=key, value=value, now=now)
