"""Alerts as admins read them: filtered pages, newest first, and one alert."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from gerbang.alerts import repository
from gerbang.alerts.schemas import Alert, DeliveryStatus
from gerbang.events.alerts import Severity
from gerbang.exceptions import NotFound, UnprocessableEntity
from gerbang.kit.sql import Connection


class AlertNotFound(NotFound):
    code = "alert_not_found"


class InvalidDateRange(UnprocessableEntity):
    code = "invalid_date_range"


_UNDELIVERED: tuple[DeliveryStatus, ...] = ("pending", "failed", "skipped")


async def list_alerts(
    connection: Connection, *, kind: str | None = None, severity: Severity | None = None,
    partner_id: uuid.UUID | None = None, delivered: bool | None = None, status: DeliveryStatus | None = None,
    since: datetime | None = None, until: datetime | None = None, before_id: int | None = None, limit: int = 100,
) -> list[Alert]:  # fmt: skip
    """`delivered` false means every alert not (yet) delivered, whatever the reason; with `status` too, both
    must hold."""
    if since is not None and until is not None and since >= until:
        raise InvalidDateRange("`since` must be before `until`")
    statuses: list[str] | None = None
    if delivered is not None:
        statuses = ["delivered"] if delivered else list(_UNDELIVERED)
    if status is not None:
        statuses = [s for s in (statuses if statuses is not None else [status]) if s == status]
    query, values = repository.list_query(
        kind=kind, severity=severity.value if severity else None, partner_id=partner_id, statuses=statuses,
        since=since, until=until, before_id=before_id, limit=limit,
    )  # fmt: skip
    return [_alert(row) for row in await query.fetch(connection, **values)]


async def get_alert(connection: Connection, alert_id: int) -> Alert:
    row = await repository.one(connection, alert_id)
    if row is None:
        raise AlertNotFound(f"no alert {alert_id}")
    return _alert(row)


def _alert(row: asyncpg.Record) -> Alert:
    return Alert(
        id=row["id"], kind=row["kind"], severity=Severity(row["severity"]), partner_id=row["partner_id"],
        message=row["message"], created_at=row["created_at"], delivery_status=row["status"],
        attempts=row["attempts"], parts_sent=row["parts_sent"],
        next_attempt_at=row["next_attempt_at"] if row["status"] == "pending" else None,
        last_error=row["last_error"], delivered_at=row["delivered_at"],
    )  # fmt: skip
