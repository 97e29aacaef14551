"""Admin routes for provider accounts (the original's "sub-merchants")."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from gerbang.audit.context import AuditTrail
from gerbang.audit.service import changes_between
from gerbang.auth.permissions import Permission, require
from gerbang.auth.sessions import AdminPrincipal
from gerbang.db import DbConnection
from gerbang.kit.time import utcnow
from gerbang.routing import accounts
from gerbang.routing.schemas import Account, AccountChanges, AccountCreate, ProviderBalance

router = APIRouter(prefix="/provider-accounts")

ProvidersRead = Annotated[AdminPrincipal, Depends(require(Permission.providers_read))]
ProvidersWrite = Annotated[AdminPrincipal, Depends(require(Permission.providers_write))]
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "`provider_account_not_found`"},
    422: {"description": "`invalid_provider_account`, `invalid_settlement_rule`, `validation_error`"},
}


def _audit_view(account: Account) -> dict[str, object]:
    values = account.model_dump(
        by_alias=False, exclude={"created_at", "updated_at", "consecutive_failures", "circuit_opened_at"}
    )
    values["credentials"] = "***"  # which fields are set is visible; their values never
    return values


@router.get("", operation_id="admin-provider_accounts_list", summary="List provider accounts")
async def list_accounts(_: ProvidersRead, request: Request, connection: DbConnection) -> list[Account]:
    return await accounts.list_accounts(connection, request.app.state.key_ring)


@router.post(
    "",
    operation_id="admin-provider_accounts_create",
    summary="Add a provider account",
    status_code=201,
    responses=_ERRORS,
)
async def create_account(
    body: AccountCreate, _: ProvidersWrite, request: Request, connection: DbConnection, audit: AuditTrail
) -> Account:
    default_base_url = request.app.state.settings.provider_base_url(body.provider)
    created = await accounts.create_account(
        connection, request.app.state.key_ring, body, utcnow(), default_base_url=default_base_url
    )
    request.app.state.row_changes.changed()  # routing's copy of the accounts (other processes: the trigger)
    await audit.record(
        connection,
        "provider_account.created",
        "provider_account",
        created.id,
        changes=changes_between(None, _audit_view(created)),
    )
    return created


@router.get(
    "/{account_id}", operation_id="admin-provider_accounts_get", summary="One provider account", responses=_ERRORS
)
async def get_account(account_id: uuid.UUID, _: ProvidersRead, request: Request, connection: DbConnection) -> Account:
    return await accounts.get_account(connection, request.app.state.key_ring, account_id)


@router.patch(
    "/{account_id}",
    operation_id="admin-provider_accounts_update",
    summary="Change a provider account",
    responses=_ERRORS,
)
async def update_account(
    account_id: uuid.UUID, body: AccountChanges, _: ProvidersWrite, request: Request, connection: DbConnection,
    audit: AuditTrail,
) -> Account:  # fmt: skip
    before, after = await accounts.update_account(connection, request.app.state.key_ring, account_id, body, utcnow())
    request.app.state.row_changes.changed()
    changes = changes_between(_audit_view(before), _audit_view(after))
    if body.credentials is not None:
        changes["credentials"] = ("***", "***")
    await audit.record(connection, "provider_account.updated", "provider_account", account_id, changes=changes)
    return after


@router.get(
    "/{account_id}/balance",
    operation_id="admin-provider_accounts_balance",
    summary="Ask the provider what this account can still pay out",
    responses={
        404: {"description": "`provider_account_not_found`"},
        422: {"description": "`balance_not_offered` (the provider has no balance query), `provider_rejected`"},
        502: {"description": "`provider_unavailable`: no answer, or not one we can read"},
    },
)
async def provider_balance(account_id: uuid.UUID, _: ProvidersRead, request: Request) -> ProviderBalance:
    pay_in = request.app.state.pay_in
    return await accounts.provider_balance(pay_in.database, pay_in.key_ring, pay_in.session, account_id)
