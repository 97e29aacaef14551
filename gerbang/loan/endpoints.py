"""Admin routes for loans (advances) under `/api/v1/admin/loans` (docs/settlement.md, "Loans (advances)").
Every change is one transaction with its audit entry."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response

from gerbang.audit.context import AuditTrail
from gerbang.auth.permissions import Permission, require
from gerbang.auth.sessions import AdminPrincipal
from gerbang.db import DbConnection
from gerbang.kit.time import to_jakarta
from gerbang.loan import service
from gerbang.loan.schemas import (
    AdvanceGrant,
    AdvanceView,
    LoanJob,
    MarkResult,
    MarkSettled,
    PartnerAdvances,
    RangePreview,
    RangePreviewRequest,
    RangeStart,
    Repayment,
    Revert,
    RevertResult,
)

router = APIRouter(prefix="/loans", tags=["admin: loans"])

LoansRead = Annotated[AdminPrincipal, Depends(require(Permission.loans_read))]
LoansManage = Annotated[AdminPrincipal, Depends(require(Permission.loans_manage))]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key", min_length=1, max_length=200,
        description="A fresh value per grant (a UUID): a repeat with the same key grants nothing more",
    ),
]  # fmt: skip
_PARTNER_404: dict[int | str, dict[str, Any]] = {404: {"description": "`partner_not_found`"}}
_JOB_404: dict[int | str, dict[str, Any]] = {404: {"description": "`loan_job_not_found`"}}
EXPORT_LIMIT = 10_000
CSV_COLUMNS = (
    "order_id", "reference", "amount", "net", "round", "job_id", "loan_settled_at", "revert_id", "reverted_at",
)  # fmt: skip


def _admin(admin: AdminPrincipal) -> str:
    return f"admin:{admin.id}"


@router.post(
    "/advances",
    operation_id="admin-loans_grant",
    summary="Grant a partner an advance (to its available balance)",
    status_code=201,
    responses=_PARTNER_404 | {409: {"description": "`advance_key_reused`: the key was used for another advance"}},
)
async def grant(
    body: AdvanceGrant, idempotency_key: IdempotencyKey, admin: LoansManage, connection: DbConnection,
    audit: AuditTrail,
) -> AdvanceView:  # fmt: skip
    advance, granted_now = await service.grant(connection, body, idempotency_key, _admin(admin))
    if granted_now:
        await audit.record(
            connection, "advance.granted", "advance", advance.id, partner_id=advance.partner_id,
            changes={"amount": (None, advance.amount), "note": (None, advance.note)},
        )  # fmt: skip
    return advance


@router.get(
    "/partners/{partner_id}/advances",
    operation_id="admin-loans_partner_advances",
    summary="A partner's advances and what it still owes on them",
    responses=_PARTNER_404,
)
async def partner_advances(
    partner_id: uuid.UUID, _: LoansRead, connection: DbConnection, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> PartnerAdvances:
    return await service.partner_advances(connection, partner_id, limit)


@router.post(
    "/mark-settled",
    operation_id="admin-loans_mark_settled",
    summary="Loan-settle PAID orders: their nets repay the partner's advance",
    description="Per id: `ok`, or `failed` with a reason (`not_found`, `other_partner`, `not_paid`, "
    "`already_loan_settled`, `exceeds_outstanding_advance`). Orders are taken oldest payment first while their "
    "nets fit in the outstanding advance.",
    responses=_PARTNER_404,
)
async def mark_settled(
    body: MarkSettled, admin: LoansManage, connection: DbConnection, audit: AuditTrail
) -> MarkResult:
    result = await service.mark_settled(connection, body, _admin(admin))
    await audit.record(
        connection, "loan.marked_settled", "partner", body.partner_id, partner_id=body.partner_id,
        changes={"orders": (None, result.ok), "amount": (None, result.amount), "note": (None, body.note)},
    )  # fmt: skip
    return result


@router.post(
    "/mark-settled/by-range",
    operation_id="admin-loans_preview_range",
    summary="Preview loan-settling a range of PAID orders (writes nothing)",
    responses={404: {"description": "`partner_not_found`, `provider_account_not_found`"}},
)
async def preview_range(body: RangePreviewRequest, _: LoansManage, connection: DbConnection) -> RangePreview:
    return await service.preview(connection, body)


@router.post(
    "/mark-settled/by-range/start",
    operation_id="admin-loans_start_range",
    summary="Queue a job that loan-settles a range of PAID orders",
    description="The `loan.settle` scheduled job (every 2 minutes by default; "
    "`POST /api/v1/admin/jobs/loan.settle/run` runs it now) works through it in batches. `dryRun: true` only counts.",
    status_code=202,
    responses={404: {"description": "`partner_not_found`, `provider_account_not_found`"}},
)
async def start_range(body: RangeStart, admin: LoansManage, connection: DbConnection, audit: AuditTrail) -> LoanJob:
    job = await service.start_job(connection, body, _admin(admin))
    await audit.record(
        connection, "loan_job.started", "loan_settlement_job", job.id, partner_id=job.partner_id,
        changes={
            "paid_from": (None, job.paid_from), "paid_to": (None, job.paid_to),
            "provider_account_id": (None, job.provider_account_id), "dry_run": (None, job.dry_run),
        },
    )  # fmt: skip
    return job


@router.get("/jobs", operation_id="admin-loans_jobs", summary="Loan settlement jobs, newest first")
async def list_jobs(
    _: LoansRead,
    connection: DbConnection,
    partner_id: Annotated[uuid.UUID | None, Query(alias="partnerId")] = None,
    status: Annotated[str | None, Query(pattern="^(queued|running|completed|failed|cancelled)$")] = None,
    before: Annotated[datetime | None, Query(description="Page on: the last `createdAt` of the page before")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[LoanJob]:
    return await service.list_jobs(connection, partner_id=partner_id, status=status, before=before, limit=limit)


@router.get("/jobs/{job_id}", operation_id="admin-loans_job", summary="One loan settlement job", responses=_JOB_404)
async def get_job(job_id: uuid.UUID, _: LoansRead, connection: DbConnection) -> LoanJob:
    return await service.get_job(connection, job_id)


@router.post(
    "/jobs/{job_id}/cancel",
    operation_id="admin-loans_cancel_job",
    summary="Cancel a loan settlement job (a running one stops at its next batch)",
    responses=_JOB_404 | {409: {"description": "`loan_job_finished`"}},
)
async def cancel_job(job_id: uuid.UUID, _: LoansManage, connection: DbConnection, audit: AuditTrail) -> LoanJob:
    job, before = await service.cancel_job(connection, job_id)
    await audit.record(
        connection, "loan_job.cancelled", "loan_settlement_job", job_id, partner_id=job.partner_id,
        changes={"status": (before, job.status), "cancel_requested_at": (None, job.cancel_requested_at)},
    )  # fmt: skip
    return job


@router.post(
    "/revert",
    operation_id="admin-loans_revert",
    summary="Revert loan-settled orders: back to PAID, their nets back in pending",
    description="Names the orders (`orderIds`) or a range job (`jobId`: every order it loan-settled). "
    "`GET /loans/repayments/export?partnerId=&revertId=` gives the affected orders as CSV.",
    responses={404: {"description": "`partner_not_found`, `loan_job_not_found`"}},
)
async def revert(body: Revert, admin: LoansManage, connection: DbConnection, audit: AuditTrail) -> RevertResult:
    result = await service.revert(connection, body, _admin(admin))
    await audit.record(
        connection, "loan.reverted", "loan_revert", result.revert_id, partner_id=body.partner_id,
        changes={
            "orders": (None, result.reverted), "amount": (None, result.amount), "job_id": (None, body.job_id),
            "note": (None, body.note),
        },
    )  # fmt: skip
    return result


RepaymentFilters = tuple[uuid.UUID, uuid.UUID | None, uuid.UUID | None, bool | None]


def _repayment_filters(
    partner_id: Annotated[uuid.UUID, Query(alias="partnerId")],
    job_id: Annotated[uuid.UUID | None, Query(alias="jobId")] = None,
    revert_id: Annotated[uuid.UUID | None, Query(alias="revertId")] = None,
    reverted: Annotated[bool | None, Query(description="true: reverted ones only; false: standing ones")] = None,
) -> RepaymentFilters:
    return partner_id, job_id, revert_id, reverted


Filters = Annotated[RepaymentFilters, Depends(_repayment_filters)]


async def _repayments(
    connection: DbConnection, filters: RepaymentFilters, before_id: int | None, limit: int
) -> list[Repayment]:
    partner_id, job_id, revert_id, reverted = filters
    return await service.repayments(
        connection, partner_id=partner_id, job_id=job_id, revert_id=revert_id, reverted=reverted, before_id=before_id,
        limit=limit,
    )  # fmt: skip


@router.get(
    "/repayments",
    operation_id="admin-loans_repayments",
    summary="A partner's loan-settled orders (and reverted ones), newest first",
    responses=_PARTNER_404,
)
async def list_repayments(
    _: LoansRead,
    connection: DbConnection,
    filters: Filters,
    before_id: Annotated[
        int | None, Query(alias="beforeId", ge=1, description="The last `id` of the page before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[Repayment]:
    return await _repayments(connection, filters, before_id, limit)


@router.get(
    "/repayments/export",
    operation_id="admin-loans_repayments_export",
    summary="A partner's loan-settled orders as CSV (with `revertId`: the orders one revert affected)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, 404: {"description": "`partner_not_found`"}},
)
async def export_repayments(_: LoansRead, connection: DbConnection, filters: Filters) -> Response:
    rows = await _repayments(connection, filters, None, EXPORT_LIMIT)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([
            row.order_id, row.reference, row.amount, row.net, row.round, row.job_id or "",
            to_jakarta(row.settled_at).isoformat(), row.revert_id or "",
            to_jakarta(row.reverted_at).isoformat() if row.reverted_at else "",
        ])  # fmt: skip
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="loan-repayments.csv"'},
    )
