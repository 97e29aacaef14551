"""API keys: issued with their secrets shown once, and partner requests authenticated by them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from gerbang.auth import repository
from gerbang.auth.signing import TIMESTAMP_WINDOW, MissingSignatureHeaders, SignedRequest, check_timestamp, verify
from gerbang.db import RowCache
from gerbang.exceptions import Forbidden, NotFound, Unauthorized
from gerbang.kit.crypto import KeyRing, api_key_public_id, equal, new_api_key, new_signing_secret, sha256_hex
from gerbang.kit.sql import Connection


class MissingApiKey(Unauthorized):
    code = "missing_api_key"


class InvalidApiKey(Unauthorized):
    code = "invalid_api_key"


class ApiKeyRevoked(Unauthorized):
    code = "api_key_revoked"


class PartnerInactive(Forbidden):
    code = "partner_inactive"


class ReplayedRequest(Unauthorized):
    code = "replayed_request"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"


API_KEY_ROTATION_OVERLAP = timedelta(hours=24)
MAX_LIVE_API_KEYS = 10


class TooManyApiKeys(Forbidden):
    code = "too_many_api_keys"


@dataclass(frozen=True)
class IssuedApiKey:
    id: uuid.UUID
    api_key: str
    signing_secret: str
    """Both shown once, at creation; neither can be read back."""


@dataclass(frozen=True)
class AuthenticatedPartner:
    partner_id: uuid.UUID
    api_key_id: uuid.UUID
    signed: bool


def signing_secret_context(api_key_id: uuid.UUID) -> str:
    return f"api_key:{api_key_id}:signing_secret"


async def issue_api_key(connection: Connection, key_ring: KeyRing, *, partner_id: uuid.UUID) -> IssuedApiKey:
    key_id = uuid.uuid4()
    issued = new_api_key()
    signing_secret = new_signing_secret()
    await repository.insert_api_key(
        connection,
        key_id=key_id,
        partner_id=partner_id,
        public_id=issued.public_id,
        key_hash=issued.key_hash,
        signing_secret_encrypted=key_ring.encrypt(signing_secret, context=signing_secret_context(key_id)),
    )
    return IssuedApiKey(id=key_id, api_key=issued.key, signing_secret=signing_secret)


@dataclass(frozen=True)
class ApiKeyInfo:
    id: uuid.UUID
    partner_id: uuid.UUID
    public_id: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


async def list_api_keys(connection: Connection, partner_id: uuid.UUID) -> list[ApiKeyInfo]:
    return [ApiKeyInfo(**dict(row)) for row in await repository.list_keys(connection, partner_id)]


async def add_api_key(
    connection: Connection, key_ring: KeyRing, *, partner_id: uuid.UUID, now: datetime
) -> IssuedApiKey:
    if await repository.live_key_count(connection, partner_id, now) >= MAX_LIVE_API_KEYS:
        raise TooManyApiKeys(f"a partner has at most {MAX_LIVE_API_KEYS} live API keys; revoke one first")
    return await issue_api_key(connection, key_ring, partner_id=partner_id)


async def rotate_api_key(
    connection: Connection,
    key_ring: KeyRing,
    *,
    partner_id: uuid.UUID,
    key_id: uuid.UUID,
    overlap: timedelta,
    now: datetime,
) -> IssuedApiKey:
    """A new key and signing secret (shown once); the old key keeps working for `overlap`, then expires."""
    if not await repository.expire_key(connection, key_id, partner_id, now + overlap):
        raise ApiKeyNotFound("no live API key with this id")
    return await issue_api_key(connection, key_ring, partner_id=partner_id)


async def revoke_api_key(connection: Connection, *, partner_id: uuid.UUID, key_id: uuid.UUID, now: datetime) -> None:
    """At once: the next request with this key is refused."""
    if not await repository.revoke_key(connection, key_id, partner_id, now):
        raise ApiKeyNotFound("no unrevoked API key with this id")


async def authenticate(
    connection: Connection,
    key_ring: KeyRing,
    *,
    api_key: str | None,
    request: SignedRequest,
    now: datetime,
    unsigned_allowed: bool,
    identified: Callable[[uuid.UUID, uuid.UUID], None] | None = None,
    keys: RowCache[str, asyncpg.Record] | None = None,
) -> AuthenticatedPartner:
    """The partner behind a request, if its key is live and its signature valid and new.

    `unsigned_allowed` is the route's word (never on withdrawals); the partner's own setting must allow
    it too. An unsigned request still needs a fresh timestamp. `identified(partner_id, api_key_id)` is
    called as soon as the key is known to be genuine, before the signature is checked, so a refused
    request can still be shown in the partner's request log. `keys` keeps key rows (with their partner's
    status) between requests while nothing changed them (`gerbang.db.RowCache`).
    """
    if not api_key:
        raise MissingApiKey("X-API-Key is required")
    public_id = api_key_public_id(api_key)
    row = await _key_with_partner(connection, public_id, keys) if public_id else None
    if row is None or not equal(row["key_hash"], sha256_hex(api_key.encode())):
        raise InvalidApiKey("X-API-Key is not a valid key")
    if row["revoked_at"] is not None or (row["expires_at"] is not None and row["expires_at"] <= now):
        raise ApiKeyRevoked("this API key was revoked or has expired")
    if row["partner_status"] != "active":
        raise PartnerInactive("this partner account is not active")
    if identified is not None:
        identified(row["partner_id"], row["id"])

    if request.signature is None and unsigned_allowed and row["allow_unsigned_requests"]:
        check_timestamp(request.timestamp, now)
        return AuthenticatedPartner(partner_id=row["partner_id"], api_key_id=row["id"], signed=False)
    if request.signature is None:
        raise MissingSignatureHeaders("X-Timestamp and X-Signature are required")
    signing_secret = key_ring.decrypt(
        row["signing_secret_encrypted"], context=signing_secret_context(row["id"]), keep=True
    )
    verify(signing_secret, request, now)
    # Kept for twice the window: a timestamp may be up to one window old or one window ahead.
    expires_at = now + 2 * TIMESTAMP_WINDOW
    if not await repository.remember_signature(connection, row["id"], request.signature.lower(), expires_at):
        raise ReplayedRequest("this signed request was already received")
    return AuthenticatedPartner(partner_id=row["partner_id"], api_key_id=row["id"], signed=True)


async def _key_with_partner(
    connection: Connection, public_id: str, keys: RowCache[str, asyncpg.Record] | None
) -> asyncpg.Record | None:
    if keys is None:
        return await repository.key_with_partner(connection, public_id)
    return await keys.get(public_id, lambda: repository.key_with_partner(connection, public_id))


async def forget_expired_signatures(connection: Connection, now: datetime) -> int:
    return await repository.forget_expired_signatures(connection, now)
