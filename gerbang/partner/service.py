"""Creating partners. Their secrets are generated here and returned once, never again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from gerbang.auth import service as auth_service
from gerbang.exceptions import NotFound, UnprocessableEntity
from gerbang.kit.crypto import KeyRing, new_webhook_secret
from gerbang.kit.sql import Connection
from gerbang.partner import repository
from gerbang.partner.schemas import Partner


class InvalidPartner(UnprocessableEntity):
    code = "invalid_partner"


class PartnerNotFound(NotFound):
    code = "partner_not_found"


@dataclass(frozen=True)
class CreatedPartner:
    partner_id: uuid.UUID
    api_key: str
    signing_secret: str
    webhook_secret: str


def webhook_secret_context(partner_id: uuid.UUID) -> str:
    return f"partner:{partner_id}:webhook_secret"


def _check_webhook_url(url: str, *, require_https: bool) -> None:
    parts = urlsplit(url)
    allowed = {"https"} if require_https else {"https", "http"}
    if parts.scheme not in allowed or not parts.hostname:
        wanted = "an https URL" if require_https else "an http(s) URL"
        raise InvalidPartner(f"the webhook URL must be {wanted} with a host")


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
        _check_webhook_url(webhook_url, require_https=require_https)
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
    return [Partner.model_validate(dict(row)) for row in await repository.list_partners(connection, limit)]


async def get_partner(connection: Connection, partner_id: uuid.UUID) -> Partner:
    row = await repository.get_partner(connection, partner_id)
    if row is None:
        raise PartnerNotFound(f"no partner {partner_id}")
    return Partner.model_validate(dict(row))
