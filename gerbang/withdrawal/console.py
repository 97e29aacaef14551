"""Withdrawal routes of the two consoles. Partner users (OWNER, FINANCE) withdraw from their own partner's
balance with their second factor, at `/api/v1/client/withdrawals` and, as the original system had them,
at `/api/v1/withdrawals`. Admins see every partner's withdrawals and change one only through an explicit
action with its ledger effect and an audit entry: there is no field edit."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gerbang.audit.context import AuditTrail
from gerbang.auth.permissions import PartnerPermission, Permission, require, require_partner
from gerbang.auth.sessions import AdminPrincipal, PartnerUserPrincipal
from gerbang.auth.two_factor import confirm_payout
from gerbang.db import DbConnection
from gerbang.exceptions import Conflict
from gerbang.kit.sql import Connection
from gerbang.kit.time import utcnow
from gerbang.partner import service as partner_service
from gerbang.provider.base import DisbursementStatus
from gerbang.withdrawal import repository, service
from gerbang.withdrawal.endpoints import payouts_of
from gerbang.withdrawal.schemas import AccountCheck, BankAccount, WithdrawalCreate, WithdrawalCreated, WithdrawalView

# Included twice by the API: under `/client/withdrawals` and `/withdrawals`.
client_router = APIRouter(tags=["partner console: withdrawals"])
admin_router = APIRouter(prefix="/withdrawals", tags=["admin: withdrawals"])

Withdrawer = Annotated[PartnerUserPrincipal, Depends(require_partner(PartnerPermission.withdrawals))]
WithdrawalsRead = Annotated[AdminPrincipal, Depends(require(Permission.withdrawals_read))]
WithdrawalsManage = Annotated[AdminPrincipal, Depends(require(Permission.withdrawals_manage))]
CSV_COLUMNS = (
    "id", "reference", "status", "amount", "fee", "net", "bank_code", "account_number", "account_holder",
    "provider_reference", "failure_reason", "created_at", "completed_at", "failed_at",
)  # fmt: skip
EXPORT_LIMIT = 10_000


class ConsoleWithdrawalCreate(WithdrawalCreate):
    otp: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = Field(
        default=None, description="A current TOTP code (or a recovery code) when the user has 2FA"
    )


class MarkFailed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


class MarkCompleted(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    provider_reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = Field(
        alias="providerReference", description="The provider's reference, as verified by hand"
    )


class NotOpen(Conflict):
    code = "withdrawal_not_open"


@dataclass
class WithdrawalFilters:
    status: Annotated[str | None, Query(pattern="^(PENDING|PROCESSING|COMPLETED|FAILED)$")] = None
    reference: Annotated[str | None, Query(max_length=100)] = None
    since: datetime | None = None
    until: datetime | None = None
    before: Annotated[datetime | None, Query(description="Page on: the last `createdAt` of the page before")] = None
    limit: Annotated[int, Query(ge=1, le=500)] = 100


Filters = Annotated[WithdrawalFilters, Depends()]


async def list_rows(
    connection: Connection, partner_ids: list[uuid.UUID] | None, filters: WithdrawalFilters, *, platform: bool = False
) -> list[Any]:
    query, values = repository.list_query(partner_ids=partner_ids, platform=platform, **asdict(filters))
    return await query.fetch(connection, **values)


def csv_response(rows: list[Any], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(["" if row[name] is None else row[name] for name in CSV_COLUMNS])
    return Response(
        out.getvalue(), media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@client_router.post(
    "/validate-account", operation_id="partner_user-withdrawals_validate_account", summary="Check a bank account"
)
async def validate_account(body: BankAccount, _: Withdrawer, request: Request) -> AccountCheck:
    return await service.validate_account(payouts_of(request), body.bank_code, body.account_number)


@client_router.post(
    "", operation_id="partner_user-withdrawals_create", summary="Withdraw to a bank account", status_code=201
)
async def create(
    body: ConsoleWithdrawalCreate, user: Withdrawer, request: Request, audit: AuditTrail
) -> WithdrawalCreated:
    payouts = payouts_of(request)
    async with payouts.database.transaction() as connection:  # the code is spent even if the payout is refused
        limits = await repository.limits(connection, user.partner_id)
        await confirm_payout(
            connection, payouts.key_ring, user_id=user.id, otp=body.otp, required=limits["withdrawal_requires_otp"],
            now=utcnow(),
        )  # fmt: skip
    created = await service.request(
        payouts, user.partner_id, WithdrawalCreate.model_validate(body.model_dump(exclude={"otp"})), source="console",
        requested_by=f"partner_user:{user.id}",
    )  # fmt: skip
    async with payouts.database.transaction() as connection:
        await audit.record(connection, "withdrawal.requested", "withdrawal", created.id)
    return WithdrawalCreated(result=created)


@client_router.get("", operation_id="partner_user-withdrawals_list", summary="Withdrawals, newest first")
async def list_withdrawals(user: Withdrawer, connection: DbConnection, filters: Filters) -> list[WithdrawalView]:
    visible = await partner_service.visible_partner_ids(connection, user.partner_id)
    return [service.view(row) for row in await list_rows(connection, visible, filters)]


@client_router.get(
    "/export",
    operation_id="partner_user-withdrawals_export",
    summary="Withdrawals as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export(user: Withdrawer, connection: DbConnection, filters: Filters) -> Response:
    visible = await partner_service.visible_partner_ids(connection, user.partner_id)
    filters.limit = EXPORT_LIMIT
    return csv_response(await list_rows(connection, visible, filters), "withdrawals.csv")


@client_router.get(
    "/{withdrawal_id}",
    operation_id="partner_user-withdrawals_get",
    summary="One withdrawal",
    responses={404: {"description": "`withdrawal_not_found`"}},
)
async def get_withdrawal(withdrawal_id: uuid.UUID, user: Withdrawer, connection: DbConnection) -> WithdrawalView:
    visible = await partner_service.visible_partner_ids(connection, user.partner_id)
    return await service.get_visible(connection, withdrawal_id, visible)


@client_router.post(
    "/{withdrawal_id}/retry",
    operation_id="partner_user-withdrawals_retry",
    summary="Try again a withdrawal the provider refused before accepting it",
    status_code=201,
    responses={409: {"description": "`withdrawal_not_retryable`"}},
)
async def retry(withdrawal_id: uuid.UUID, user: Withdrawer, request: Request, audit: AuditTrail) -> WithdrawalCreated:
    payouts = payouts_of(request)
    created = await service.retry(payouts, user.partner_id, withdrawal_id, requested_by=f"partner_user:{user.id}")
    async with payouts.database.transaction() as connection:
        await audit.record(
            connection, "withdrawal.retried", "withdrawal", created.id, changes={"retry_of": (None, str(withdrawal_id))}
        )
    return WithdrawalCreated(result=created)


@admin_router.get("", operation_id="admin-withdrawals_list", summary="Every partner's withdrawals, newest first")
async def admin_list(
    _: WithdrawalsRead,
    connection: DbConnection,
    filters: Filters,
    partner_id: Annotated[uuid.UUID | None, Query(alias="partnerId")] = None,
) -> list[WithdrawalView]:
    partner_ids = [partner_id] if partner_id else None
    return [service.view(row) for row in await list_rows(connection, partner_ids, filters)]


@admin_router.get(
    "/export",
    operation_id="admin-withdrawals_export",
    summary="Withdrawals as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def admin_export(
    _: WithdrawalsRead,
    connection: DbConnection,
    filters: Filters,
    partner_id: Annotated[uuid.UUID | None, Query(alias="partnerId")] = None,
) -> Response:
    partner_ids = [partner_id] if partner_id else None
    filters.limit = EXPORT_LIMIT
    return csv_response(await list_rows(connection, partner_ids, filters), "withdrawals.csv")


async def act(
    request: Request, withdrawal_id: uuid.UUID, status: DisbursementStatus, audit: AuditTrail, action: str, *,
    platform: bool = False, **details: str,
) -> asyncpg.Record:  # fmt: skip
    """An admin's explicit action on an open payout (a partner's, or with `platform` the platform's own): the
    provider's answer applied as if it had sent it, and an audit entry. Returns the payout afterwards."""
    payouts = payouts_of(request)
    async with payouts.database.transaction() as connection:
        row = await repository.get(connection, withdrawal_id, for_update=True)
        if row is None or service.is_platform(row) != platform:
            missing = service.PlatformPayoutNotFound if platform else service.WithdrawalNotFound
            raise missing(f"no {'platform payout' if platform else 'withdrawal'} {withdrawal_id}")
        if row["status"] not in ("PENDING", "PROCESSING"):
            raise NotOpen(f"withdrawal {withdrawal_id} is {row['status']}: it is final")
        await service.apply_status(
            connection, payouts, row, status, provider_reference=details.get("provider_reference"),
            reason=details.get("reason"),
        )  # fmt: skip
        await audit.record(
            connection, action, "withdrawal", withdrawal_id, partner_id=row["partner_id"],
            changes={"status": (row["status"], status.value), **{k: (None, v) for k, v in details.items()}},
        )  # fmt: skip
        after = await repository.get(connection, withdrawal_id)
    assert after is not None  # noqa: S101
    return after


@admin_router.get(
    "/{withdrawal_id}",
    operation_id="admin-withdrawals_get",
    summary="One withdrawal",
    responses={404: {"description": "`withdrawal_not_found`"}},
)
async def admin_get(withdrawal_id: uuid.UUID, _: WithdrawalsRead, request: Request) -> WithdrawalView:
    return await service.get(payouts_of(request).database, withdrawal_id)


@admin_router.post(
    "/{withdrawal_id}/mark-failed",
    operation_id="admin-withdrawals_mark_failed",
    summary="Mark an open withdrawal failed (its hold goes back to available)",
    responses={409: {"description": "`withdrawal_not_open`"}},
)
async def mark_failed(
    withdrawal_id: uuid.UUID, body: MarkFailed, _: WithdrawalsManage, request: Request, audit: AuditTrail
) -> WithdrawalView:
    return service.view(
        await act(
            request, withdrawal_id, DisbursementStatus.failed, audit, "withdrawal.marked_failed", reason=body.reason
        )
    )


@admin_router.post(
    "/{withdrawal_id}/mark-completed",
    operation_id="admin-withdrawals_mark_completed",
    summary="Mark an open withdrawal completed, after checking with the provider by hand",
    responses={409: {"description": "`withdrawal_not_open`"}},
)
async def mark_completed(
    withdrawal_id: uuid.UUID, body: MarkCompleted, _: WithdrawalsManage, request: Request, audit: AuditTrail
) -> WithdrawalView:
    return service.view(
        await act(
            request, withdrawal_id, DisbursementStatus.completed, audit, "withdrawal.marked_completed",
            provider_reference=body.provider_reference,
        )
    )  # fmt: skip
