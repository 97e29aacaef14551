"""The admin console's alert routes (`/api/v1/admin/alerts`): every admin role may read them
(docs/security.md, `alerts.read`). Alerts are listed whether or not Telegram is configured."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime

from gerbang.alerts import service
from gerbang.alerts.schemas import Alert, DeliveryStatus
from gerbang.auth.permissions import Permission, require
from gerbang.auth.sessions import AdminPrincipal
from gerbang.db import DbConnection
from gerbang.events.alerts import Severity

# Included by the admin router (`/api/v1/admin`).
admin_router = APIRouter(prefix="/alerts", tags=["admin: alerts"])

AlertsRead = Annotated[AdminPrincipal, Depends(require(Permission.alerts_read))]
_MAX_ID = 2**63 - 1


@admin_router.get(
    "",
    operation_id="admin-alerts",
    summary="Alerts for operators, newest first",
    description="Page on with `beforeId` (the last `id` of the page before). `since`/`until` bound `createdAt` "
    "(`[since, until)`, with a time zone).",
    responses={422: {"description": "`validation_error` (a bad filter), `invalid_date_range`"}},
)
async def list_alerts(
    _: AlertsRead,
    connection: DbConnection,
    kind: Annotated[str | None, Query(max_length=64, examples=["withdrawal_contradicted"])] = None,
    severity: Severity | None = None,
    partner_id: Annotated[uuid.UUID | None, Query(alias="partnerId")] = None,
    delivered: Annotated[bool | None, Query(description="true: delivered; false: anything else")] = None,
    status: Annotated[DeliveryStatus | None, Query(alias="deliveryStatus")] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    before_id: Annotated[int | None, Query(alias="beforeId", ge=1, le=_MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[Alert]:
    return await service.list_alerts(
        connection, kind=kind, severity=severity, partner_id=partner_id, delivered=delivered, status=status,
        since=since, until=until, before_id=before_id, limit=limit,
    )  # fmt: skip


@admin_router.get(
    "/{alert_id}", operation_id="admin-alerts_get", summary="One alert",
    responses={404: {"description": "`alert_not_found`"}},
)  # fmt: skip
async def get_alert(alert_id: Annotated[int, Path(ge=1, le=_MAX_ID)], _: AlertsRead, connection: DbConnection) -> Alert:
    return await service.get_alert(connection, alert_id)
