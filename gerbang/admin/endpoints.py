"""The admin API under `/api/v1/admin`: each route declares the permission it needs (docs/security.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from gerbang.admin import events, partners, provider_accounts, security
from gerbang.alerts import endpoints as alert_endpoints
from gerbang.auth.permissions import Permission, require
from gerbang.auth.sessions import AdminPrincipal
from gerbang.calendar import endpoints as calendar_endpoints
from gerbang.db import DbConnection
from gerbang.ledger import service as ledger_service
from gerbang.ledger.schemas import ReconcileReport
from gerbang.loan import endpoints as loan_endpoints
from gerbang.settlement import adjustment_endpoints
from gerbang.settlement import manual_endpoints as manual_settlement
from gerbang.webhook import endpoints as webhook_endpoints
from gerbang.withdrawal import console as withdrawal_console
from gerbang.withdrawal import platform as platform_payouts

router = APIRouter(prefix="/admin", tags=["admin"])

LedgerReconcile = Annotated[AdminPrincipal, Depends(require(Permission.ledger_reconcile))]


@router.get("/ledger/reconcile", operation_id="admin-ledger_reconcile", summary="Check the ledger against itself")
async def reconcile_ledger(_: LedgerReconcile, connection: DbConnection) -> ReconcileReport:
    # Each check is one statement with its own consistent snapshot, so a posting committing meanwhile
    # cannot show as drift (`gerbang reconcile` also reads all checks from one snapshot).
    return await ledger_service.reconcile(connection)


router.include_router(partners.router)
router.include_router(security.router)
router.include_router(provider_accounts.router)
router.include_router(webhook_endpoints.admin_router)
router.include_router(alert_endpoints.admin_router)
router.include_router(withdrawal_console.admin_router)
router.include_router(platform_payouts.router)
router.include_router(events.router)
router.include_router(loan_endpoints.router)
router.include_router(manual_settlement.router)
router.include_router(adjustment_endpoints.router)
router.include_router(calendar_endpoints.router)
