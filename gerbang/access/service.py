"""Changing allow-lists and reading the request log."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gerbang.access import repository
from gerbang.access.allow_lists import ADMIN, GLOBAL, PARTNER
from gerbang.exceptions import Conflict, UnprocessableEntity
from gerbang.kit.netaccess import AllowList, InvalidNetwork, parse_network
from gerbang.kit.sql import Connection

MAX_ENTRIES = 500


class InvalidAllowList(UnprocessableEntity):
    code = "invalid_allow_list"


class WouldLockOut(Conflict):
    code = "would_lock_you_out"


class AllowEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network: str = Field(max_length=64, examples=["203.0.113.7", "10.20.0.0/16", "2001:db8::/48"])
    note: str | None = Field(default=None, max_length=200)


class RequestLogRow(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: int
    created_at: datetime = Field(alias="createdAt")
    partner_id: uuid.UUID = Field(alias="partnerId")
    api_key_id: uuid.UUID | None = Field(alias="apiKeyId")
    method: str
    path: str
    status: int
    latency_us: int = Field(alias="latencyUs")
    error_code: str | None = Field(alias="errorCode")
    request_body: object = Field(alias="requestBody")
    """Redacted: secret fields are `***`, long strings cut."""
    ip: str | None
    request_id: str | None = Field(alias="requestId")


async def allow_list(connection: Connection, scope: str, partner_id: uuid.UUID | None) -> list[AllowEntry]:
    rows = await repository.entries(connection, scope, partner_id)
    return [AllowEntry(network=row["network"], note=row["note"]) for row in rows]


async def replace_allow_list(
    connection: Connection,
    scope: str,
    partner_id: uuid.UUID | None,
    entries: list[AllowEntry],
    *,
    caller_ip: str | None,
    force: bool = False,
) -> tuple[list[AllowEntry], list[AllowEntry]]:
    """Replace a whole list (empty: allow every address); takes effect on every process at commit.

    Refuses to shut the caller out of the admin console (or everything) unless `force`.
    """
    if len(entries) > MAX_ENTRIES:
        raise InvalidAllowList(f"an allow-list has at most {MAX_ENTRIES} entries")
    normalised: dict[str, str | None] = {}
    for entry in entries:
        try:
            network = parse_network(entry.network)
        except InvalidNetwork as error:
            raise InvalidAllowList(str(error)) from None
        normalised.setdefault(str(network) if network.num_addresses > 1 else str(network.network_address), entry.note)
    locks_out = caller_ip is None or not AllowList.parse(list(normalised)).allows(caller_ip)
    if scope in (GLOBAL, ADMIN) and normalised and not force and locks_out:
        raise WouldLockOut(f"your address {caller_ip} is not on the new list; add it or send force=true")
    before = await allow_list(connection, scope, partner_id)
    await repository.replace_entries(
        connection, scope, partner_id if scope == PARTNER else None, list(normalised), list(normalised.values())
    )
    return before, [AllowEntry(network=network, note=note) for network, note in normalised.items()]


async def list_request_logs(
    connection: Connection,
    *,
    partner_ids: list[uuid.UUID] | None,
    status_min: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
    before: datetime | None = None,
) -> list[RequestLogRow]:
    query, values = repository.list_request_logs_query(
        partner_ids=partner_ids, status_min=status_min, before_id=before_id, limit=limit, before=before
    )
    return [RequestLogRow.model_validate(dict(row)) for row in await query.fetch(connection, **values)]


async def purge_request_logs(connection: Connection, before: datetime) -> int:
    return await repository.purge_request_logs(connection, before)
