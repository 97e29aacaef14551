"""`Idempotency-Key` for the partner API's creating routes (orders, withdrawals): the same key and body
within 24 hours return the first response; another body under the same key is refused; a duplicate arriving
while the first is still running gets 409 rather than a second order or withdrawal.

The key is claimed and committed before the work starts (that is what lets a concurrent duplicate see
it), and the response is stored after. A request that fails releases its key, so the partner may retry
it. Every step is single statements, each a compare-and-set that commits on its own: no transaction
around them is needed, so none is opened.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gerbang.db import Database
from gerbang.exceptions import BadRequest, Conflict, GerbangError, UnprocessableEntity
from gerbang.kit.crypto import sha256_hex
from gerbang.kit.sql import Query
from gerbang.kit.time import utcnow
from gerbang.models import IdempotencyKey

KEEP_FOR = timedelta(hours=24)

_KEY = IdempotencyKey
_CLAIM = Query(
    pg_insert(_KEY)
    .values(
        partner_id=bindparam("partner_id"),
        key=bindparam("key"),
        request_hash=bindparam("hash"),
        created_at=bindparam("now"),
    )
    .on_conflict_do_nothing()
    .returning(_KEY.key)
)
_GET = Query(
    select(_KEY.request_hash, _KEY.status_code, _KEY.response_body, _KEY.created_at).where(
        _KEY.partner_id == bindparam("partner_id"), _KEY.key == bindparam("key")
    )
)
_REPLACE_EXPIRED = Query(
    update(IdempotencyKey)
    .where(
        IdempotencyKey.partner_id == bindparam("partner_id"), IdempotencyKey.key == bindparam("key"),
        IdempotencyKey.created_at < bindparam("expired_before"),
    )
    .values(request_hash=bindparam("hash"), status_code=None, response_body=None, created_at=bindparam("now"))
    .returning(IdempotencyKey.key)
)  # fmt: skip
_COMPLETE = Query(
    update(IdempotencyKey)
    .where(IdempotencyKey.partner_id == bindparam("partner_id"), IdempotencyKey.key == bindparam("key"))
    .values(status_code=bindparam("status_code"), response_body=bindparam("body"))
)
_RELEASE = Query(
    delete(IdempotencyKey).where(
        IdempotencyKey.partner_id == bindparam("partner_id"), IdempotencyKey.key == bindparam("key")
    )
)
_PURGE = Query(delete(IdempotencyKey).where(IdempotencyKey.created_at < bindparam("before")))


class InvalidIdempotencyKey(BadRequest):
    code = "invalid_idempotency_key"


class IdempotencyMismatch(UnprocessableEntity):
    code = "idempotency_mismatch"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: Any


async def claim(
    database: Database, partner_id: uuid.UUID, key: str, request_body: bytes, path: str, now: datetime
) -> Replay | None:
    """None: go ahead (the key is ours). A `Replay`: answer with the stored response."""
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise InvalidIdempotencyKey("Idempotency-Key is 1 to 200 printable characters")
    request_hash = sha256_hex(path.encode() + b"\n" + request_body)
    values = {"partner_id": partner_id, "key": key, "hash": request_hash, "now": now}
    async with database.connection() as connection:
        if await _CLAIM.fetchrow(connection, **values):
            return None
        if await _REPLACE_EXPIRED.fetchrow(connection, **values, expired_before=now - KEEP_FOR):
            return None
        row = await _GET.fetchrow(connection, partner_id=partner_id, key=key)
    if row is None:  # released meanwhile by a failed first attempt: a retry may go ahead next time
        raise IdempotencyInProgress("a request with this Idempotency-Key is being processed; retry shortly")
    if row["request_hash"] != request_hash:
        raise IdempotencyMismatch("this Idempotency-Key was used with another request body")
    if row["status_code"] is None:
        raise IdempotencyInProgress("a request with this Idempotency-Key is being processed; retry shortly")
    return Replay(row["status_code"], row["response_body"])


async def complete(database: Database, partner_id: uuid.UUID, key: str, status_code: int, body: Any) -> None:
    async with database.connection() as connection:
        await _COMPLETE.execute(connection, partner_id=partner_id, key=key, status_code=status_code, body=body)


async def release(database: Database, partner_id: uuid.UUID, key: str) -> None:
    async with database.connection() as connection:
        await _RELEASE.execute(connection, partner_id=partner_id, key=key)


async def once(
    database: Database, partner_id: uuid.UUID, key: str | None, request_body: bytes, path: str, status_code: int,
    produce: Callable[[], Awaitable[Any]],
) -> tuple[int, Any]:  # fmt: skip
    """`produce()` (the JSON content of a `status_code` answer) at most once per key; a replay answers with the
    stored status and content. Without a key it simply runs. A refusal releases the key for a retry."""
    if key is None:
        return status_code, await produce()
    replay = await claim(database, partner_id, key, request_body, path, utcnow())
    if replay is not None:
        return replay.status_code, replay.body
    try:
        content = await produce()
    except GerbangError:
        await release(database, partner_id, key)
        raise
    await complete(database, partner_id, key, status_code, content)
    return status_code, content


async def purge(database: Database, now: datetime) -> int:
    async with database.connection() as connection:
        return int((await _PURGE.execute(connection, before=now - KEEP_FOR)).split()[-1])
