"""Partners: creation with secrets shown once, changes, the parent/child hierarchy and webhook secret
rotation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from gerbang.auth import service as auth_service
from gerbang.db import RowCache
from gerbang.exceptions import Conflict, NotFound, UnprocessableEntity
from gerbang.kit.crypto import KeyRing, new_webhook_secret
from gerbang.kit.sql import Connection
from gerbang.partner import repository
from gerbang.partner.schemas import Fees, Partner, PartnerChanges

WEBHOOK_SECRET_OVERLAP = timedelta(hours=24)
"""After a rotation, webhooks are signed with the old secret too for this long (Standard Webhooks allows
several signatures), so a partner can deploy the new secret without losing a delivery."""


class InvalidPartner(UnprocessableEntity):
    code = "invalid_partner"


class PartnerNotFound(NotFound):
    code = "partner_not_found"


class HierarchyCycle(Conflict):
    code = "hierarchy_cycle"


@dataclass(frozen=True)
class CreatedPartner:
    partner_id: uuid.UUID
    api_key: str
    signing_secret: str
    webhook_secret: str


@dataclass(frozen=True)
class WebhookSecrets:
    current: str
    previous: str | None
    """Still valid until `previous_expires_at` (the rotation overlap)."""
    previous_expires_at: datetime | None


def webhook_secret_context(partner_id: uuid.UUID) -> str:
    return f"partner:{partner_id}:webhook_secret"


def check_webhook_url(url: str, *, require_https: bool) -> None:
    parts = urlsplit(url)
    allowed = {"https"} if require_https else {"https", "http"}
    if parts.scheme not in allowed or not parts.hostname or parts.username or parts.password:
        wanted = "an https URL" if require_https else "an http(s) URL"
        raise InvalidPartner(f"the webhook URL must be {wanted} with a host and no credentials")


def _partner(row: asyncpg.Record) -> Partner:
    values = dict(row)
    values["fees"] = Fees.model_validate({name: values.pop(name) for name in Fees.model_fields})
    return Partner.model_validate(values)


async def create_partner(
    connection: Connection,
    key_ring: KeyRing,
    *,
    name: str,
    webhook_url: str | None = None,
    parent_id: uuid.UUID | None = None,
    require_https: bool = True,
) -> CreatedPartner:
    """A partner with its first API key, signing secret and webhook secret (all shown once)."""
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise InvalidPartner("a partner name has 1 to 200 characters")
    if webhook_url is not None:
        check_webhook_url(webhook_url, require_https=require_https)
    if parent_id is not None:
        await get_partner(connection, parent_id)
    partner_id = uuid.uuid4()
    webhook_secret = new_webhook_secret()
    await repository.insert_partner(
        connection,
        partner_id=partner_id,
        name=name,
        parent_id=parent_id,
        webhook_url=webhook_url,
        webhook_secret_encrypted=key_ring.encrypt(webhook_secret, context=webhook_secret_context(partner_id)),
    )
    key = await auth_service.issue_api_key(connection, key_ring, partner_id=partner_id)
    return CreatedPartner(partner_id, key.api_key, key.signing_secret, webhook_secret)


async def list_partners(connection: Connection, limit: int = 500) -> list[Partner]:
    return [_partner(row) for row in await repository.list_partners(connection, limit)]


async def get_partner(
    connection: Connection, partner_id: uuid.UUID, *, cache: RowCache[uuid.UUID, Partner] | None = None
) -> Partner:
    """`cache`: for hot paths that may use a partner read moments ago (`gerbang.db.RowCache`)."""

    async def read() -> Partner | None:
        row = await repository.get_partner(connection, partner_id)
        return None if row is None else _partner(row)

    partner = await (read() if cache is None else cache.get(partner_id, read))
    if partner is None:
        raise PartnerNotFound(f"no partner {partner_id}")
    return partner


def _column_values(changes: PartnerChanges) -> dict[str, Any]:
    values = changes.model_dump(exclude_unset=True, exclude={"fees"})
    if changes.fees is not None:
        values.update(changes.fees.model_dump(by_alias=False))
    return values


async def update_partner(
    connection: Connection, partner_id: uuid.UUID, changes: PartnerChanges, *, require_https: bool, now: datetime
) -> tuple[Partner, Partner]:
    """Apply `changes`; returns the partner before and after (for the audit trail)."""
    values = _column_values(changes)
    if values.get("webhook_url") is not None:
        check_webhook_url(values["webhook_url"], require_https=require_https)
    for field in ("name", "status", "allow_unsigned_requests", "payment_methods", "provider_preferences"):
        if field in values and values[field] is None:
            raise InvalidPartner(f"{field} cannot be null")
    if "parent_id" in values:
        await repository.lock_hierarchy(connection)
        await _check_parent(connection, partner_id, values["parent_id"])
    row = await repository.get_partner(connection, partner_id, for_update=True)
    if row is None:
        raise PartnerNotFound(f"no partner {partner_id}")
    before = _partner(row)
    if values:
        await repository.update_partner(connection, partner_id, values, now)
    return before, await get_partner(connection, partner_id)


async def _check_parent(connection: Connection, partner_id: uuid.UUID, parent_id: uuid.UUID | None) -> None:
    if parent_id is None:
        return
    await get_partner(connection, parent_id)
    if parent_id in await repository.with_descendants(connection, partner_id):
        raise HierarchyCycle("a partner cannot be placed under itself or one of its children")


async def visible_partner_ids(connection: Connection, partner_id: uuid.UUID) -> list[uuid.UUID]:
    """The partner and all its descendants: what a parent may read."""
    return await repository.with_descendants(connection, partner_id)


async def list_visible_partners(connection: Connection, partner_id: uuid.UUID) -> list[Partner]:
    ids = await visible_partner_ids(connection, partner_id)
    return [_partner(row) for row in await repository.list_partners_in(connection, ids)]


async def rotate_webhook_secret(
    connection: Connection, key_ring: KeyRing, partner_id: uuid.UUID, *, overlap: timedelta, now: datetime
) -> str:
    """A new webhook secret (shown once); the old one keeps signing for `overlap`."""
    if await repository.get_partner(connection, partner_id, for_update=True) is None:
        raise PartnerNotFound(f"no partner {partner_id}")
    secret = new_webhook_secret()
    await repository.rotate_webhook_secret(
        connection, partner_id, secret_encrypted=key_ring.encrypt(secret, context=webhook_secret_context(partner_id)),
        previous_expires_at=now + overlap, now=now,
    )  # fmt: skip
    return secret


async def webhook_secrets(
    connection: Connection, key_ring: KeyRing, partner_id: uuid.UUID, now: datetime
) -> WebhookSecrets:
    """The secrets webhooks are signed with now: the current one, and the previous one during its overlap."""
    row = await repository.webhook_secrets(connection, partner_id)
    if row is None or row["webhook_secret_encrypted"] is None:
        raise PartnerNotFound(f"no partner {partner_id} with a webhook secret")
    context = webhook_secret_context(partner_id)
    previous = None
    expires_at = row["previous_webhook_secret_expires_at"]
    if row["previous_webhook_secret_encrypted"] is not None and expires_at is not None and expires_at > now:
        previous = key_ring.decrypt(row["previous_webhook_secret_encrypted"], context=context)
    return WebhookSecrets(
        key_ring.decrypt(row["webhook_secret_encrypted"], context=context), previous, expires_at if previous else None
    )
