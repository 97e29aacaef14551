from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import bindparam, delete, select, text

from gerbang.kit.sql import Connection, Query
from gerbang.models import ApiRequestLog, IpAllowEntry

NOTIFY_CHANNEL = "gerbang_access"

_ALL_ENTRIES = Query(
    select(IpAllowEntry.scope, IpAllowEntry.partner_id, IpAllowEntry.network).order_by(IpAllowEntry.id)
)
_IN_SCOPE = (
    IpAllowEntry.scope == bindparam("scope"),
    IpAllowEntry.partner_id.is_not_distinct_from(bindparam("partner_id")),
)
_ENTRIES = Query(select(IpAllowEntry.network, IpAllowEntry.note).where(*_IN_SCOPE).order_by(IpAllowEntry.id))
_DELETE = Query(delete(IpAllowEntry).where(*_IN_SCOPE))
_INSERT = Query(
    text(
        "INSERT INTO ip_allow_entries (scope, partner_id, network, note) "
        "SELECT :scope, :partner_id, network, note FROM unnest(CAST(:networks AS text[]), CAST(:notes AS text[])) "
        "AS entry(network, note)"
    )
)
# Delivered to every listening process when the transaction commits, not before.
_NOTIFY = Query(text(f"SELECT pg_notify('{NOTIFY_CHANNEL}', :payload)"))

_LOG_COLUMNS = [
    "created_at", "partner_id", "api_key_id", "method", "path", "status", "latency_us", "error_code",
    "request_body", "ip", "request_id",
]  # fmt: skip
_INSERT_LOG = (
    f"INSERT INTO {ApiRequestLog.__tablename__} ({', '.join(_LOG_COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(_LOG_COLUMNS) + 1))})"
)
_PURGE_LOGS = Query(text("DELETE FROM api_request_logs WHERE created_at < :before"))


async def all_entries(connection: Connection) -> list[asyncpg.Record]:
    return await _ALL_ENTRIES.fetch(connection)


async def entries(connection: Connection, scope: str, partner_id: uuid.UUID | None) -> list[asyncpg.Record]:
    return await _ENTRIES.fetch(connection, scope=scope, partner_id=partner_id)


async def replace_entries(
    connection: Connection, scope: str, partner_id: uuid.UUID | None, networks: list[str], notes: list[str | None]
) -> None:
    await _DELETE.execute(connection, scope=scope, partner_id=partner_id)
    await _INSERT.execute(connection, scope=scope, partner_id=partner_id, networks=networks, notes=notes)
    await _NOTIFY.execute(connection, payload=scope)


async def insert_request_logs(connection: Connection, rows: list[tuple[Any, ...]]) -> None:
    await connection.executemany(_INSERT_LOG, rows)


async def purge_request_logs(connection: Connection, before: datetime) -> int:
    return int((await _PURGE_LOGS.execute(connection, before=before)).split()[-1])


def list_request_logs_query(
    *,
    partner_ids: list[uuid.UUID] | None,
    status_min: int | None,
    before_id: int | None,
    limit: int,
    before: datetime | None = None,
) -> tuple[Query, dict[str, Any]]:
    statement = select(
        ApiRequestLog.id, ApiRequestLog.created_at, ApiRequestLog.partner_id, ApiRequestLog.api_key_id,
        ApiRequestLog.method, ApiRequestLog.path, ApiRequestLog.status, ApiRequestLog.latency_us,
        ApiRequestLog.error_code, ApiRequestLog.request_body, ApiRequestLog.ip, ApiRequestLog.request_id,
    ).order_by(ApiRequestLog.id.desc()).limit(bindparam("limit"))  # fmt: skip
    values: dict[str, Any] = {"limit": limit}
    if partner_ids is not None:
        statement = statement.where(ApiRequestLog.partner_id == bindparam("partner_ids").any_())
        values["partner_ids"] = partner_ids
    if status_min is not None:
        statement = statement.where(ApiRequestLog.status >= bindparam("status_min"))
        values["status_min"] = status_min
    if before_id is not None:
        statement = statement.where(ApiRequestLog.id < bindparam("before_id"))
        values["before_id"] = before_id
    if before is not None:
        statement = statement.where(ApiRequestLog.created_at < bindparam("before"))
        values["before"] = before
    return Query(statement), values
