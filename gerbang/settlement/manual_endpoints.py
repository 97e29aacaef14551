"""`/api/v1/admin/settlement/manual`: preview, start, follow, cancel and export manual settlements
(FINANCE and above; docs/settlement.md, "Manual settlement")."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from gerbang.audit.context import AuditTrail
from gerbang.auth.permissions import Permission, require
from gerbang.auth.sessions import AdminPrincipal
from gerbang.db import Database, DbConnection
from gerbang.kit.time import to_jakarta, utcnow
from gerbang.settlement import manual
from gerbang.settlement.manual_schemas import ManualSettlement, ManualSettlementRequest, PreviewResponse, Status

router = APIRouter(prefix="/settlement/manual", tags=["admin: manual settlement"])

ManualRead = Annotated[AdminPrincipal, Depends(require(Permission.manual_settlement_read))]
ManualRun = Annotated[AdminPrincipal, Depends(require(Permission.manual_settlement_run))]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "`manual_settlement_not_found`"}}
_BAD_FILTERS: dict[int | str, dict[str, Any]] = {
    422: {"description": "`validation_error` (a field out of range), `invalid_date_range`, `invalid_hour_range`, "
          "`invalid_net_range`"},
}  # fmt: skip
_EXAMPLE = {
    "filters": {
        "dateFrom": "2026-11-01", "dateTo": "2026-11-30", "daysOfWeek": [1, 2, 3, 4, 5], "hourStart": 0,
        "hourEnd": 23, "partnerIds": ["4c8a2e6f-1b3d-4f5a-9c7e-0d1e2f3a4b5c"], "partnerMode": "exclude",
        "methods": ["qris"], "minNet": 10000,
    },
    "batchSize": 1500,
}  # fmt: skip
_EXAMPLES = {"november_weekdays": {"summary": "November's weekday QRIS payments but one partner's", "value": _EXAMPLE}}
_CHUNK = 64 * 1024
"""CSV characters sent at a time."""
CSV_COLUMNS = ("id", "reference", "partner_id", "partner_name", "amount", "fee", "net", "paid_at", "settled_at")


@router.post(
    "/preview",
    operation_id="admin-manual_settlement_preview",
    summary="What a manual settlement with these filters would settle now: counts, totals, the first 20",
    responses=_BAD_FILTERS,
    openapi_extra={"requestBody": {"content": {"application/json": {"examples": _EXAMPLES}}}},
)
async def preview(body: ManualSettlementRequest, _: ManualRun, connection: DbConnection) -> PreviewResponse:
    return await manual.preview(connection, body, utcnow())


@router.post(
    "",
    operation_id="admin-manual_settlement_start",
    summary="Start a manual settlement: queued, then run in batches by the settlement.manual job",
    status_code=202,
    responses=_BAD_FILTERS,
    openapi_extra={"requestBody": {"content": {"application/json": {"examples": _EXAMPLES}}}},
)
async def start(
    body: ManualSettlementRequest, admin: ManualRun, connection: DbConnection, audit: AuditTrail
) -> ManualSettlement:
    started = await manual.start(connection, body, created_by=f"admin:{admin.id}", now=utcnow())
    await audit.record(
        connection, "manual_settlement.started", manual.TARGET, started.id,
        changes={
            "filters": (None, started.filters.model_dump(mode="json", by_alias=True, exclude_defaults=True)),
            "batch_size": (None, started.batch_size), "expected_orders": (None, started.expected_orders),
            "expected_net": (None, started.expected_net),
        },
    )  # fmt: skip
    return started


@router.get("", operation_id="admin-manual_settlement_list", summary="Manual settlements, newest first")
async def list_settlements(
    _: ManualRead,
    connection: DbConnection,
    status: Status | None = None,
    before: Annotated[datetime | None, Query(description="Page on: the last `createdAt` of the page before")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ManualSettlement]:
    return await manual.page(connection, status=status, before=before, limit=limit)


@router.get(
    "/{settlement_id}",
    operation_id="admin-manual_settlement_get",
    summary="One manual settlement: status and progress",
    responses=_NOT_FOUND,
)
async def get(settlement_id: uuid.UUID, _: ManualRead, connection: DbConnection) -> ManualSettlement:
    return await manual.get(connection, settlement_id)


@router.post(
    "/{settlement_id}/cancel",
    operation_id="admin-manual_settlement_cancel",
    summary="Cancel: a queued one at once, a running one before its next batch",
    status_code=202,
    responses=_NOT_FOUND | {409: {"description": "`manual_settlement_finished`: completed, failed or cancelled"}},
)
async def cancel(
    settlement_id: uuid.UUID, admin: ManualRun, connection: DbConnection, audit: AuditTrail
) -> ManualSettlement:
    before, after = await manual.cancel(connection, settlement_id, by=f"admin:{admin.id}", now=utcnow())
    await audit.record(
        connection, "manual_settlement.cancel_requested", manual.TARGET, settlement_id,
        changes={"status": (before.status, after.status), "cancel_requested": (before.cancel_requested, True)},
    )  # fmt: skip
    return after


@router.get(
    "/{settlement_id}/export",
    operation_id="admin-manual_settlement_export",
    summary="The orders it settled (moved money for), as CSV; so far, while it runs",
    response_class=StreamingResponse,
    responses=_NOT_FOUND | {200: {"content": {"text/csv": {}}}},
)
async def export(
    settlement_id: uuid.UUID, _: ManualRead, connection: DbConnection, request: Request
) -> StreamingResponse:
    await manual.get(connection, settlement_id)  # 404 before the first byte
    database: Database = request.app.state.database
    return StreamingResponse(
        _csv(database, settlement_id), media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="manual-settlement-{settlement_id}.csv"'},
    )  # fmt: skip


async def _csv(database: Database, settlement_id: uuid.UUID) -> AsyncIterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    async for row in manual.settled_orders(database, settlement_id):
        writer.writerow(
            [to_jakarta(row[name]).isoformat() if name.endswith("_at") else row[name] for name in CSV_COLUMNS]
        )
        if out.tell() >= _CHUNK:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()
