from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from gerbang.auth.permissions import Permission, require
from gerbang.auth.sessions import AdminPrincipal
from gerbang.config import Environment
from gerbang.db import DbConnection
from gerbang.ledger import service as ledger_service
from gerbang.ledger.schemas import PartnerBalances, ReconcileReport
from gerbang.partner import service as partner_service
from gerbang.partner.schemas import Partner

router = APIRouter(prefix="/admin", tags=["admin"])

PartnersRead = Annotated[AdminPrincipal, Depends(require(Permission.partners_read))]
PartnersWrite = Annotated[AdminPrincipal, Depends(require(Permission.partners_write))]
LedgerRead = Annotated[AdminPrincipal, Depends(require(Permission.ledger_read))]
LedgerReconcile = Annotated[AdminPrincipal, Depends(require(Permission.ledger_reconcile))]


class PartnerCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["Toko Sinar Jaya"])
    webhook_url: str | None = Field(default=None, alias="webhookUrl", max_length=2000)


class PartnerCreated(BaseModel):
    """The new partner's secrets, shown this once."""

    partner_id: uuid.UUID = Field(serialization_alias="partnerId")
    api_key: str = Field(serialization_alias="apiKey")
    signing_secret: str = Field(serialization_alias="signingSecret")
    webhook_secret: str = Field(serialization_alias="webhookSecret")


@router.get("/ledger/reconcile", operation_id="admin-ledger_reconcile", summary="Check the ledger against itself")
async def reconcile_ledger(_: LedgerReconcile, connection: DbConnection) -> ReconcileReport:
    # Each check is one statement with its own consistent snapshot, so a posting committing meanwhile
    # cannot show as drift (`gerbang reconcile` also reads all checks from one snapshot).
    return await ledger_service.reconcile(connection)


@router.get("/partners", operation_id="admin-partners_list", summary="List partners")
async def list_partners(_: PartnersRead, connection: DbConnection) -> list[Partner]:
    return await partner_service.list_partners(connection)


@router.post(
    "/partners",
    operation_id="admin-partners_create",
    summary="Create a partner with its first API key",
    status_code=201,
    response_model_by_alias=True,
)
async def create_partner(
    body: PartnerCreate, _: PartnersWrite, request: Request, connection: DbConnection
) -> PartnerCreated:
    settings = request.app.state.settings
    created = await partner_service.create_partner(
        connection, request.app.state.key_ring, name=body.name, webhook_url=body.webhook_url,
        require_https=settings.env is Environment.production,
    )  # fmt: skip
    return PartnerCreated(
        partner_id=created.partner_id,
        api_key=created.api_key,
        signing_secret=created.signing_secret,
        webhook_secret=created.webhook_secret,
    )


@router.get("/partners/{partner_id}/balances", operation_id="admin-partners_balances", summary="A partner's balances")
async def partner_balances(partner_id: uuid.UUID, _: LedgerRead, connection: DbConnection) -> PartnerBalances:
    await partner_service.get_partner(connection, partner_id)
    return await ledger_service.partner_balances(connection, partner_id)
