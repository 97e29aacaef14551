"""Routes for managing one partner's API keys, webhook secret and users. Admins reach them under
`/admin/partners/{partner_id}/...`, a partner's own users under `/client/...`; one definition serves both,
and the caller's dependency decides which partner (and whether they may)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gerbang.access import service as access_service
from gerbang.access.allow_lists import PARTNER
from gerbang.access.service import AllowEntry
from gerbang.audit.context import AuditTrail
from gerbang.auth import service as auth_service
from gerbang.auth.schemas import ApiKeyIssued, ApiKeyRotation, ApiKeyView, WebhookSecretIssued
from gerbang.auth.sessions import PartnerRole
from gerbang.db import DbConnection
from gerbang.kit.time import utcnow
from gerbang.partner import service, users
from gerbang.partner.users import PartnerUser

PartnerResolver = Callable[..., Awaitable[uuid.UUID]]


class UserCreate(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    email: str = Field(max_length=254, examples=["finance@toko.example"])
    password: str = Field(max_length=1024, description="An initial password (12+ characters) to hand over safely")
    role: PartnerRole


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: PartnerRole | None = None
    status: Annotated[str, StringConstraints(pattern="^(active|inactive)$")] | None = None


class WebhookRotation(BaseModel):
    overlap_seconds: int = Field(default=24 * 3600, ge=0, le=7 * 24 * 3600, alias="overlapSeconds")


def management_router(
    prefix: str, *, who: str, keys: PartnerResolver, users_read: PartnerResolver, users_write: PartnerResolver
) -> APIRouter:
    """`keys` resolves the partner whose keys and webhook secret the caller may manage; `users_*` likewise
    for its users."""
    router = APIRouter(prefix=prefix)
    # Route signatures are read from strings (postponed annotations), which cannot see this function's
    # locals: the dependencies go in as default values.
    keys_partner = Depends(keys)
    users_read_partner = Depends(users_read)
    users_write_partner = Depends(users_write)

    @router.get("/api-keys", operation_id=f"{who}-api_keys_list", summary="List API keys (never the keys themselves)")
    async def list_api_keys(*, partner_id: uuid.UUID = keys_partner, connection: DbConnection) -> list[ApiKeyView]:
        return [ApiKeyView.of(key) for key in await auth_service.list_api_keys(connection, partner_id)]

    @router.post(
        "/api-keys", operation_id=f"{who}-api_keys_add", summary="Add an API key (shown once)", status_code=201
    )
    async def add_api_key(
        *, partner_id: uuid.UUID = keys_partner, request: Request, connection: DbConnection, audit: AuditTrail
    ) -> ApiKeyIssued:
        issued = await auth_service.add_api_key(
            connection, request.app.state.key_ring, partner_id=partner_id, now=utcnow()
        )
        await audit.record(connection, "api_key.created", "api_key", issued.id, partner_id=partner_id)
        return ApiKeyIssued.of(issued)

    @router.post(
        "/api-keys/{key_id}/rotate",
        operation_id=f"{who}-api_keys_rotate",
        summary="Replace an API key; the old one keeps working during the overlap",
        status_code=201,
        responses={404: {"description": "`api_key_not_found`"}},
    )
    async def rotate_api_key(
        *,
        key_id: uuid.UUID,
        body: ApiKeyRotation,
        partner_id: uuid.UUID = keys_partner,
        request: Request,
        connection: DbConnection,
        audit: AuditTrail,
    ) -> ApiKeyIssued:
        now = utcnow()
        overlap = timedelta(seconds=body.overlap_seconds)
        issued = await auth_service.rotate_api_key(
            connection, request.app.state.key_ring, partner_id=partner_id, key_id=key_id, overlap=overlap, now=now
        )
        request.app.state.row_changes.changed()
        await audit.record(
            connection,
            "api_key.rotated",
            "api_key",
            key_id,
            partner_id=partner_id,
            changes={"expires_at": (None, now + overlap), "replaced_by": (None, issued.id)},
        )
        return ApiKeyIssued.of(issued)

    @router.delete(
        "/api-keys/{key_id}",
        operation_id=f"{who}-api_keys_revoke",
        summary="Revoke an API key at once",
        status_code=204,
        responses={404: {"description": "`api_key_not_found`"}},
    )
    async def revoke_api_key(
        *,
        key_id: uuid.UUID,
        partner_id: uuid.UUID = keys_partner,
        request: Request,
        connection: DbConnection,
        audit: AuditTrail,
    ) -> None:
        now = utcnow()
        await auth_service.revoke_api_key(connection, partner_id=partner_id, key_id=key_id, now=now)
        # Every process forgets the key when the trigger's notification reaches it; this one at once.
        request.app.state.row_changes.changed()
        await audit.record(
            connection, "api_key.revoked", "api_key", key_id, partner_id=partner_id, changes={"revoked_at": (None, now)}
        )

    @router.post(
        "/webhook-secret/rotate",
        operation_id=f"{who}-webhook_secret_rotate",
        summary="Replace the webhook secret (shown once); the old one keeps signing during the overlap",
        response_model_by_alias=True,
    )
    async def rotate_webhook_secret(
        *,
        body: WebhookRotation,
        partner_id: uuid.UUID = keys_partner,
        request: Request,
        connection: DbConnection,
        audit: AuditTrail,
    ) -> WebhookSecretIssued:
        now = utcnow()
        overlap = timedelta(seconds=body.overlap_seconds)
        secret = await service.rotate_webhook_secret(
            connection, request.app.state.key_ring, partner_id, overlap=overlap, now=now
        )
        await audit.record(
            connection,
            "partner.webhook_secret_rotated",
            "partner",
            partner_id,
            partner_id=partner_id,
            changes={"webhook_secret": ("***", "***")},
        )
        return WebhookSecretIssued(webhook_secret=secret, previous_valid_until=now + overlap)

    @router.get(
        "/allow-list", operation_id=f"{who}-allow_list_get", summary="The addresses this partner's API keys work from"
    )
    async def get_allow_list(*, partner_id: uuid.UUID = keys_partner, connection: DbConnection) -> list[AllowEntry]:
        return await access_service.allow_list(connection, PARTNER, partner_id)

    @router.put(
        "/allow-list",
        operation_id=f"{who}-allow_list_set",
        summary="Replace the addresses this partner's API keys work from (empty: any address)",
        responses={422: {"description": "`invalid_allow_list`"}},
    )
    async def set_allow_list(
        *, body: list[AllowEntry], partner_id: uuid.UUID = keys_partner, connection: DbConnection, audit: AuditTrail
    ) -> list[AllowEntry]:
        before, after = await access_service.replace_allow_list(connection, PARTNER, partner_id, body, caller_ip=None)
        await audit.record(
            connection, "partner.allow_list_replaced", "partner", partner_id, partner_id=partner_id,
            changes={"allow_list": ([e.network for e in before], [e.network for e in after])},
        )  # fmt: skip
        return after

    @router.get("/users", operation_id=f"{who}-users_list", summary="List the partner's users")
    async def list_users(*, partner_id: uuid.UUID = users_read_partner, connection: DbConnection) -> list[PartnerUser]:
        return await users.list_users(connection, partner_id)

    @router.post(
        "/users",
        operation_id=f"{who}-users_add",
        summary="Add a user to the partner",
        status_code=201,
        responses={
            409: {"description": "`user_exists`, `too_many_users`"},
            422: {"description": "`weak_password`, `invalid_email`"},
        },
    )
    async def add_user(
        *, body: UserCreate, partner_id: uuid.UUID = users_write_partner, connection: DbConnection, audit: AuditTrail
    ) -> PartnerUser:
        user = await users.add_user(connection, partner_id, email=body.email, password=body.password, role=body.role)
        await audit.record(
            connection,
            "partner_user.created",
            "partner_user",
            user.id,
            partner_id=partner_id,
            changes={"email": (None, user.email), "role": (None, user.role.value), "password": (None, "***")},
        )
        return user

    @router.patch(
        "/users/{user_id}",
        operation_id=f"{who}-users_change",
        summary="Change a user's role or deactivate them",
        responses={404: {"description": "`partner_user_not_found`"}, 409: {"description": "`last_owner`"}},
    )
    async def change_user(
        *,
        user_id: uuid.UUID,
        body: UserChange,
        partner_id: uuid.UUID = users_write_partner,
        connection: DbConnection,
        audit: AuditTrail,
    ) -> PartnerUser:
        before, after = await users.change_user(connection, partner_id, user_id, role=body.role, status=body.status)
        await audit.record(
            connection,
            "partner_user.changed",
            "partner_user",
            user_id,
            partner_id=partner_id,
            changes={"role": (before.role.value, after.role.value), "status": (before.status, after.status)},
        )
        return after

    return router
