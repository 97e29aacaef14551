"""`/api/v1/admin/settlement/adjustments`: preview a fee adjustment, then apply it (docs/settlement.md)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from gerbang.audit.context import AuditTrail
from gerbang.auth.permissions import Permission, require
from gerbang.auth.sessions import AdminPrincipal
from gerbang.db import DbConnection
from gerbang.kit.time import utcnow
from gerbang.settlement import adjustment
from gerbang.settlement.adjustment import AdjustmentCreate, AdjustmentView

router = APIRouter(prefix="/settlement/adjustments", tags=["admin: settlement"])

SettlementAdjust = Annotated[AdminPrincipal, Depends(require(Permission.settlement_adjust))]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "`adjustment_not_found`"}}
_PREVIEW_EXAMPLES = {
    "by ids, a new rate": {
        "value": {"orderIds": ["0b6f3c1e-4a39-4a8e-9d52-2f0d6f1e9a10"], "fee": {"percent": "1.25", "flat": 0}}
    },
    "a day of an account, the partners' rates": {
        "value": {
            "range": {
                "providerAccountId": "6f1d2c3b-8a4e-4f5d-9c7b-1a2b3c4d5e6f",
                "by": "paid",
                "dateFrom": "2026-12-01",
                "dateTo": "2026-12-01",
            },
            "fee": {"partnerFees": True},
        }
    },
}


@router.post(
    "/preview",
    operation_id="admin-settlement_adjustment_preview",
    summary="Recompute the fees of some orders and keep the result to apply (moves nothing)",
    status_code=201,
    responses={
        422: {
            "description": "`invalid_adjustment`, `orders_not_adjustable`, `no_orders_selected`, "
            "`adjustment_too_large`, `validation_error`"
        }
    },
    openapi_extra={"requestBody": {"content": {"application/json": {"examples": _PREVIEW_EXAMPLES}}}},
)
async def preview(
    body: AdjustmentCreate, admin: SettlementAdjust, connection: DbConnection, audit: AuditTrail
) -> AdjustmentView:
    previewed = await adjustment.preview(connection, body, created_by=admin.id, now=utcnow())
    await audit.record(
        connection, "settlement_adjustment.previewed", "settlement_adjustment", previewed.id,
        changes={"orders": (None, previewed.order_count), "difference": (None, previewed.difference)},
    )  # fmt: skip
    return previewed


@router.get("", operation_id="admin-settlement_adjustments_list", summary="Adjustments, newest first")
async def list_adjustments(
    _: SettlementAdjust,
    connection: DbConnection,
    status: Literal["previewed", "applied"] | None = None,
    before: Annotated[AwareDatetime | None, Query(description="Created before this (the last createdAt)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[AdjustmentView]:
    return await adjustment.list_adjustments(connection, status=status, before=before, limit=limit)


@router.get(
    "/{adjustment_id}",
    operation_id="admin-settlement_adjustment_get",
    summary="One adjustment with every order",
    responses=_NOT_FOUND,
)
async def get(adjustment_id: uuid.UUID, _: SettlementAdjust, connection: DbConnection) -> AdjustmentView:
    return await adjustment.get(connection, adjustment_id)


@router.post(
    "/{adjustment_id}/apply",
    operation_id="admin-settlement_adjustment_apply",
    summary="Post every order's fee difference and set its new fee (once: applying again posts nothing)",
    responses=_NOT_FOUND
    | {
        409: {"description": "`adjustment_stale`: an order's fee or status changed since the preview"},
        422: {"description": "`insufficient_funds`: a partner's balance cannot pay a fee rise"},
    },
)
async def apply(
    adjustment_id: uuid.UUID, admin: SettlementAdjust, connection: DbConnection, audit: AuditTrail
) -> AdjustmentView:
    applied, now_applied = await adjustment.apply(connection, adjustment_id, applied_by=admin.id, now=utcnow())
    if now_applied:
        await audit.record(
            connection, "settlement_adjustment.applied", "settlement_adjustment", adjustment_id,
            changes={"status": ("previewed", "applied"), "difference": (None, applied.difference)},
        )  # fmt: skip
    return applied
