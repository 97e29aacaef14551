"""Partner self-service. Every route works on the caller's own partner (or, for reads, a partner below
it); ids of other partners are answered as not found, never as forbidden, so they leak nothing."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from gerbang.access import service as access_service
from gerbang.access.service import RequestLogRow
from gerbang.audit import service as audit_service
from gerbang.audit.schemas import AuditEvent
from gerbang.auth.dependencies import CurrentPartnerUser
from gerbang.auth.permissions import PartnerPermission, require_partner
from gerbang.auth.sessions import PartnerUserPrincipal
from gerbang.db import DbConnection
from gerbang.loan import service as loan_service
from gerbang.loan.schemas import BalancesWithAdvance
from gerbang.partner import service as partner_service
from gerbang.partner.management import management_router
from gerbang.partner.schemas import Partner
from gerbang.partner.service import PartnerNotFound
from gerbang.webhook import endpoints as webhook_endpoints
from gerbang.withdrawal import console as withdrawal_console

router = APIRouter(prefix="/client", tags=["partner console"])

AccountRead = Annotated[PartnerUserPrincipal, Depends(require_partner(PartnerPermission.account_read))]
Developer = Annotated[PartnerUserPrincipal, Depends(require_partner(PartnerPermission.developer))]
AuditRead = Annotated[PartnerUserPrincipal, Depends(require_partner(PartnerPermission.audit_read))]


class PartnerUserMe(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    id: uuid.UUID
    email: str
    role: str
    partner_id: uuid.UUID = Field(serialization_alias="partnerId")


@router.get("/me", operation_id="partner_user-me", summary="The logged-in partner user")
async def me(user: CurrentPartnerUser) -> PartnerUserMe:
    return PartnerUserMe(id=user.id, email=user.email, role=user.role.value, partner_id=user.partner_id)


@router.get("/partners", operation_id="partner_user-partners_list", summary="My partner and the partners below it")
async def list_partners(user: AccountRead, connection: DbConnection) -> list[Partner]:
    return await partner_service.list_visible_partners(connection, user.partner_id)


async def _visible(connection: DbConnection, user: PartnerUserPrincipal, partner_id: uuid.UUID) -> uuid.UUID:
    if partner_id not in await partner_service.visible_partner_ids(connection, user.partner_id):
        raise PartnerNotFound(f"no partner {partner_id}")
    return partner_id


@router.get(
    "/partners/{partner_id}/balances",
    operation_id="partner_user-partners_balances",
    summary="Balances of my partner or one below it",
    responses={404: {"description": "`partner_not_found`"}},
)
async def partner_balances(partner_id: uuid.UUID, user: AccountRead, connection: DbConnection) -> BalancesWithAdvance:
    return await loan_service.balances_with_advance(connection, await _visible(connection, user, partner_id))


@router.get("/audit-events", operation_id="partner_user-audit_list", summary="My partner's audit log, newest first")
async def list_audit_events(
    user: AuditRead,
    connection: DbConnection,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: Annotated[int | None, Query(alias="beforeId", ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditEvent]:
    visible = await partner_service.visible_partner_ids(connection, user.partner_id)
    return await audit_service.list_events(
        connection, partner_ids=visible, since=since, until=until, before_id=before_id, limit=limit
    )


@router.get("/request-logs", operation_id="partner_user-request_logs", summary="My API requests, newest first")
async def list_request_logs(
    user: Developer,
    connection: DbConnection,
    status_min: Annotated[int | None, Query(alias="statusMin", ge=100, le=599)] = None,
    before_id: Annotated[int | None, Query(alias="beforeId", ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[RequestLogRow]:
    visible = await partner_service.visible_partner_ids(connection, user.partner_id)
    return await access_service.list_request_logs(
        connection, partner_ids=visible, status_min=status_min, before_id=before_id, limit=limit
    )


def _own_partner(permission: PartnerPermission) -> Callable[..., Awaitable[uuid.UUID]]:
    allowed = Depends(require_partner(permission))  # a default value: postponed annotations cannot see locals

    async def resolve(user: PartnerUserPrincipal = allowed) -> uuid.UUID:
        return user.partner_id

    return resolve


router.include_router(
    management_router(
        "",
        who="partner_user",
        keys=_own_partner(PartnerPermission.developer),
        users_read=_own_partner(PartnerPermission.users_manage),
        users_write=_own_partner(PartnerPermission.users_manage),
    )
)

router.include_router(webhook_endpoints.client_router)
router.include_router(withdrawal_console.client_router, prefix="/withdrawals")
