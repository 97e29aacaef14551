"""Admin routes for partners: create, read, change (fees, methods, hierarchy, status), and their keys,
webhook secret and users."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from gerbang.audit.context import AuditTrail
from gerbang.audit.service import changes_between
from gerbang.auth.permissions import Permission, require
from gerbang.auth.sessions import AdminPrincipal
from gerbang.db import DbConnection
from gerbang.kit.time import utcnow
from gerbang.loan import service as loan_service
from gerbang.loan.schemas import BalancesWithAdvance
from gerbang.partner import service as partner_service
from gerbang.partner.management import management_router
from gerbang.partner.schemas import Partner, PartnerChanges

router = APIRouter(prefix="/partners")

PartnersRead = Annotated[AdminPrincipal, Depends(require(Permission.partners_read))]
PartnersWrite = Annotated[AdminPrincipal, Depends(require(Permission.partners_write))]
LedgerRead = Annotated[AdminPrincipal, Depends(require(Permission.ledger_read))]


class PartnerCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["Toko Sinar Jaya"])
    webhook_url: str | None = Field(default=None, alias="webhookUrl", max_length=2000)
    parent_id: uuid.UUID | None = Field(default=None, alias="parentId")


class PartnerCreated(BaseModel):
    """The new partner's secrets, shown this once."""

    partner_id: uuid.UUID = Field(serialization_alias="partnerId")
    api_key: str = Field(serialization_alias="apiKey")
    signing_secret: str = Field(serialization_alias="signingSecret")
    webhook_secret: str = Field(serialization_alias="webhookSecret")


@router.get("", operation_id="admin-partners_list", summary="List partners")
async def list_partners(_: PartnersRead, connection: DbConnection) -> list[Partner]:
    return await partner_service.list_partners(connection)


@router.post(
    "",
    operation_id="admin-partners_create",
    summary="Create a partner with its first API key",
    status_code=201,
    response_model_by_alias=True,
)
async def create_partner(
    body: PartnerCreate, _: PartnersWrite, request: Request, connection: DbConnection, audit: AuditTrail
) -> PartnerCreated:
    created = await partner_service.create_partner(
        connection, request.app.state.key_ring, name=body.name, webhook_url=body.webhook_url,
        parent_id=body.parent_id, require_https=request.app.state.settings.webhooks_require_https,
    )  # fmt: skip
    partner = await partner_service.get_partner(connection, created.partner_id)
    await audit.record(
        connection, "partner.created", "partner", partner.id, partner_id=partner.id,
        changes=changes_between(None, partner.audit_fields()),
    )  # fmt: skip
    return PartnerCreated(
        partner_id=created.partner_id,
        api_key=created.api_key,
        signing_secret=created.signing_secret,
        webhook_secret=created.webhook_secret,
    )


@router.get("/{partner_id}", operation_id="admin-partners_get", summary="One partner")
async def get_partner(partner_id: uuid.UUID, _: PartnersRead, connection: DbConnection) -> Partner:
    return await partner_service.get_partner(connection, partner_id)


@router.patch(
    "/{partner_id}",
    operation_id="admin-partners_update",
    summary="Change a partner: name, status, parent, webhook URL, fees, methods, provider preferences",
    responses={409: {"description": "`hierarchy_cycle`"}, 422: {"description": "`invalid_partner`"}},
)
async def update_partner(
    partner_id: uuid.UUID, body: PartnerChanges, _: PartnersWrite, request: Request, connection: DbConnection,
    audit: AuditTrail,
) -> Partner:  # fmt: skip
    before, after = await partner_service.update_partner(
        connection, partner_id, body, require_https=request.app.state.settings.webhooks_require_https, now=utcnow()
    )
    request.app.state.row_changes.changed()
    await audit.record(
        connection, "partner.updated", "partner", partner_id, partner_id=partner_id,
        changes=changes_between(before.audit_fields(), after.audit_fields()),
    )  # fmt: skip
    return after


@router.get("/{partner_id}/balances", operation_id="admin-partners_balances", summary="A partner's balances")
async def partner_balances(partner_id: uuid.UUID, _: LedgerRead, connection: DbConnection) -> BalancesWithAdvance:
    await partner_service.get_partner(connection, partner_id)
    return await loan_service.balances_with_advance(connection, partner_id)


def _existing_partner(permission: Permission) -> Callable[..., Awaitable[uuid.UUID]]:
    allowed = Depends(require(permission))  # a default value: postponed annotations cannot see locals

    async def resolve(partner_id: uuid.UUID, connection: DbConnection, _: AdminPrincipal = allowed) -> uuid.UUID:
        await partner_service.get_partner(connection, partner_id)
        return partner_id

    return resolve


router.include_router(
    management_router(
        "/{partner_id}",
        who="admin",
        keys=_existing_partner(Permission.partner_secrets),
        users_read=_existing_partner(Permission.partners_read),
        users_write=_existing_partner(Permission.partners_write),
    )
)
