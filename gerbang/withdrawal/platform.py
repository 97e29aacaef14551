"""The platform's own payouts: a SUPER_ADMIN takes the platform's fee income out of a provider account's
balance, proving their second factor on every request (and only from the admin IP list, which the perimeter
applies to every `/api/v1/admin/` path). Listed apart from partners' withdrawals; changed only through the
same explicit, audited actions."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gerbang.audit.context import AuditTrail
from gerbang.auth.permissions import Permission, require
from gerbang.auth.sessions import AdminPrincipal
from gerbang.auth.two_factor import confirm_payout
from gerbang.auth.user_repository import ADMINS
from gerbang.db import DbConnection
from gerbang.kit.time import utcnow
from gerbang.provider.base import DisbursementStatus
from gerbang.withdrawal import service
from gerbang.withdrawal.console import EXPORT_LIMIT, Filters, MarkCompleted, MarkFailed, act, csv_response, list_rows
from gerbang.withdrawal.endpoints import payouts_of
from gerbang.withdrawal.schemas import PlatformPayoutCreate, PlatformPayoutView

router = APIRouter(prefix="/platform-payouts", tags=["admin: platform payouts"])

PayoutsRead = Annotated[AdminPrincipal, Depends(require(Permission.platform_payouts_read))]
PayoutsManage = Annotated[AdminPrincipal, Depends(require(Permission.platform_payouts_manage))]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "`platform_payout_not_found`"}}


@router.post(
    "",
    operation_id="admin-platform_payouts_create",
    summary="Pay the platform's fee income out of a provider account",
    status_code=201,
    responses={
        401: {"description": "`otp_required`, `invalid_otp`"},
        403: {"description": "`two_factor_enrolment_required`: the admin has no second factor"},
        404: {"description": "`provider_account_not_found`"},
        422: {"description": "`insufficient_funds`, `invalid_bank_account`, `amount_out_of_range`"},
    },
)
async def create(
    body: PlatformPayoutCreate, admin: PayoutsManage, request: Request, audit: AuditTrail
) -> PlatformPayoutView:
    payouts = payouts_of(request)
    async with payouts.database.transaction() as connection:  # the code is spent even if the payout is refused
        await confirm_payout(
            connection, payouts.key_ring, user_id=admin.id, otp=body.otp, required=True, now=utcnow(), users=ADMINS
        )
    created = await service.request_platform_payout(payouts, body, requested_by=f"admin:{admin.id}")
    async with payouts.database.transaction() as connection:
        await audit.record(
            connection, "platform_payout.requested", "withdrawal", created.id,
            changes={"amount": (None, created.amount), "provider_account_id": (None, str(created.provider_account_id))},
        )  # fmt: skip
    return created


@router.get("", operation_id="admin-platform_payouts_list", summary="The platform's payouts, newest first")
async def list_payouts(_: PayoutsRead, connection: DbConnection, filters: Filters) -> list[PlatformPayoutView]:
    return [service.platform_view(row) for row in await list_rows(connection, None, filters, platform=True)]


@router.get(
    "/export",
    operation_id="admin-platform_payouts_export",
    summary="The platform's payouts as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export(_: PayoutsRead, connection: DbConnection, filters: Filters) -> Response:
    filters.limit = EXPORT_LIMIT
    return csv_response(await list_rows(connection, None, filters, platform=True), "platform-payouts.csv")


@router.get("/{payout_id}", operation_id="admin-platform_payouts_get", summary="One payout", responses=_NOT_FOUND)
async def get(payout_id: uuid.UUID, _: PayoutsRead, connection: DbConnection) -> PlatformPayoutView:
    return await service.get_platform_payout(connection, payout_id)


@router.post(
    "/{payout_id}/mark-failed",
    operation_id="admin-platform_payouts_mark_failed",
    summary="Mark an open platform payout failed (it moved no money)",
    responses=_NOT_FOUND | {409: {"description": "`withdrawal_not_open`"}},
)
async def mark_failed(
    payout_id: uuid.UUID, body: MarkFailed, _: PayoutsManage, request: Request, audit: AuditTrail
) -> PlatformPayoutView:
    row = await act(
        request, payout_id, DisbursementStatus.failed, audit, "platform_payout.marked_failed", platform=True,
        reason=body.reason,
    )  # fmt: skip
    return service.platform_view(row)


@router.post(
    "/{payout_id}/mark-completed",
    operation_id="admin-platform_payouts_mark_completed",
    summary="Mark an open platform payout completed, after checking with the provider by hand",
    responses=_NOT_FOUND | {409: {"description": "`withdrawal_not_open`"}},
)
async def mark_completed(
    payout_id: uuid.UUID, body: MarkCompleted, _: PayoutsManage, request: Request, audit: AuditTrail
) -> PlatformPayoutView:
    row = await act(
        request, payout_id, DisbursementStatus.completed, audit, "platform_payout.marked_completed", platform=True,
        provider_reference=body.provider_reference,
    )  # fmt: skip
    return service.platform_view(row)
