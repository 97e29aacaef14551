"""SQL for API keys and the replay cache."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gerbang.kit.sql import Connection, Query
from gerbang.models import ApiKey, Partner, SeenSignature

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
_LIST_KEYS = Query(
    select(ApiKey.id, ApiKey.partner_id, ApiKey.public_id, ApiKey.created_at, ApiKey.expires_at, ApiKey.revoked_at)
    .where(ApiKey.partner_id == bindparam("partner_id"))
    .order_by(ApiKey.created_at.desc())
)
# Compare-and-set, scoped to the partner: a key id from another partner matches nothing.
_EXPIRE_KEY = Query(
    update(ApiKey)
    .where(
        ApiKey.id == bindparam("id"),
        ApiKey.partner_id == bindparam("partner_id"),
        ApiKey.revoked_at.is_(None),
        (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > bindparam("expires_at")),
    )
    .values(expires_at=bindparam("expires_at"))
    .returning(ApiKey.id)
)
_REVOKE_KEY = Query(
    update(ApiKey)
    .where(ApiKey.id == bindparam("id"), ApiKey.partner_id == bindparam("partner_id"), ApiKey.revoked_at.is_(None))
    .values(revoked_at=bindparam("now"))
    .returning(ApiKey.id)
)
_LIVE_KEY_COUNT = Query(
    select(func.count())
    .select_from(ApiKey)
    .where(
        ApiKey.partner_id == bindparam("partner_id"),
        ApiKey.revoked_at.is_(None),
        (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > bindparam("now")),
    )
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


async def list_keys(connection: Connection, partner_id: uuid.UUID) -> list[asyncpg.Record]:
    return await _LIST_KEYS.fetch(connection, partner_id=partner_id)


async def expire_key(connection: Connection, key_id: uuid.UUID, partner_id: uuid.UUID, expires_at: datetime) -> bool:
    return await _EXPIRE_KEY.fetchrow(connection, id=key_id, partner_id=partner_id, expires_at=expires_at) is not None


async def revoke_key(connection: Connection, key_id: uuid.UUID, partner_id: uuid.UUID, now: datetime) -> bool:
    return await _REVOKE_KEY.fetchrow(connection, id=key_id, partner_id=partner_id, now=now) is not None


async def live_key_count(connection: Connection, partner_id: uuid.UUID, now: datetime) -> int:
    return int(await _LIVE_KEY_COUNT.fetchval(connection, partner_id=partner_id, now=now))
