"""Admin routes for the platform's doors: admin accounts, the 2FA policy and the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gerbang.access import service as access_service
from gerbang.access.service import AllowEntry, RequestLogRow
from gerbang.audit import service as audit_service
from gerbang.audit.context import AuditTrail
from gerbang.audit.schemas import AuditEvent
from gerbang.auth import admins, sessions
from gerbang.auth.admins import Admin
from gerbang.auth.permissions import Permission, require
from gerbang.auth.sessions import AdminPrincipal, AdminRole
from gerbang.db import DbConnection
from gerbang.kit.time import utcnow

router = APIRouter()

AdminsManage = Annotated[AdminPrincipal, Depends(require(Permission.admins_manage))]
SecurityManage = Annotated[AdminPrincipal, Depends(require(Permission.security_manage))]
AuditRead = Annotated[AdminPrincipal, Depends(require(Permission.audit_read))]
LogsRead = Annotated[AdminPrincipal, Depends(require(Permission.logs_read))]
PlatformScope = Annotated[str, Path(pattern="^(global|admin|s2s)$", description="`global`, `admin` or `s2s`")]


class AdminCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254, examples=["finance@gerbang.example"])
    password: str = Field(max_length=1024, description="An initial password (12+ characters)")
    role: AdminRole


class AdminChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: AdminRole | None = None
    status: Annotated[str, StringConstraints(pattern="^(active|inactive)$")] | None = None


class TwoFactorPolicy(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    require_admin_2fa: bool = Field(alias="requireAdmin2fa")
    """When on, an admin without 2FA can only log in, see themselves and enrol."""


@router.get("/admins", operation_id="admin-admins_list", summary="List admin accounts")
async def list_admins(_: AdminsManage, connection: DbConnection) -> list[Admin]:
    return await admins.list_admins(connection)


@router.post(
    "/admins",
    operation_id="admin-admins_create",
    summary="Create an admin account",
    status_code=201,
    responses={409: {"description": "`user_exists`"}, 422: {"description": "`weak_password`, `invalid_email`"}},
)
async def create_admin(body: AdminCreate, _: AdminsManage, connection: DbConnection, audit: AuditTrail) -> Admin:
    admin_id = await sessions.create_admin(connection, email=body.email, password=body.password, role=body.role)
    created = {"email": (None, body.email.strip().lower()), "role": (None, body.role.value), "password": (None, "***")}
    await audit.record(connection, "admin.created", "admin", admin_id, changes=created)
    return await admins.get_admin(connection, admin_id)


@router.patch(
    "/admins/{admin_id}",
    operation_id="admin-admins_change",
    summary="Change an admin's role or deactivate them (takes effect on their next request)",
    responses={403: {"description": "`self_change_refused`"}, 409: {"description": "`last_super_admin`"}},
)
async def change_admin(
    admin_id: uuid.UUID, body: AdminChange, actor: AdminsManage, connection: DbConnection, audit: AuditTrail
) -> Admin:
    before, after = await admins.change_admin(connection, actor.id, admin_id, role=body.role, status=body.status)
    await audit.record(
        connection, "admin.changed", "admin", admin_id,
        changes={"role": (before.role.value, after.role.value), "status": (before.status, after.status)},
    )  # fmt: skip
    return after


@router.get("/security/2fa-policy", operation_id="admin-2fa_policy_get", summary="Whether every admin needs 2FA")
async def get_two_factor_policy(_: SecurityManage, connection: DbConnection) -> TwoFactorPolicy:
    return TwoFactorPolicy(require_admin_2fa=await sessions.require_admin_2fa(connection))


@router.put("/security/2fa-policy", operation_id="admin-2fa_policy_set", summary="Require 2FA for every admin")
async def set_two_factor_policy(
    body: TwoFactorPolicy, _: SecurityManage, connection: DbConnection, audit: AuditTrail
) -> TwoFactorPolicy:
    before = await sessions.require_admin_2fa(connection)
    await sessions.set_require_admin_2fa(connection, body.require_admin_2fa, utcnow())
    await audit.record(
        connection, "security.2fa_policy_changed", "platform_setting", sessions.REQUIRE_ADMIN_2FA,
        changes={"require_admin_2fa": (before, body.require_admin_2fa)},
    )  # fmt: skip
    return body


@router.get("/audit-events", operation_id="admin-audit_list", summary="The audit log, newest first")
async def list_audit_events(
    _: AuditRead,
    connection: DbConnection,
    partner_id: Annotated[uuid.UUID | None, Query(alias="partnerId")] = None,
    actor_id: Annotated[uuid.UUID | None, Query(alias="actorId")] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target_type: Annotated[str | None, Query(alias="targetType", max_length=32)] = None,
    target_id: Annotated[str | None, Query(alias="targetId", max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: Annotated[int | None, Query(alias="beforeId", ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditEvent]:
    return await audit_service.list_events(
        connection, partner_ids=[partner_id] if partner_id else None, actor_id=actor_id, action=action,
        target_type=target_type, target_id=target_id, since=since, until=until, before_id=before_id, limit=limit,
    )  # fmt: skip


class AllowListBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[AllowEntry] = Field(max_length=access_service.MAX_ENTRIES)
    """IPs or CIDR ranges, IPv4 or IPv6; an empty list allows every address."""
    force: bool = False
    """Save even if it shuts out the address this request comes from."""


@router.get(
    "/security/allow-lists/{scope}", operation_id="admin-platform_allow_list_get", summary="A platform IP allow-list"
)
async def get_allow_list(scope: PlatformScope, _: SecurityManage, connection: DbConnection) -> list[AllowEntry]:
    return await access_service.allow_list(connection, scope, None)


@router.put(
    "/security/allow-lists/{scope}",
    operation_id="admin-platform_allow_list_set",
    summary="Replace a platform IP allow-list (every process applies it at once)",
    description="`global` guards all of `/api/v1` except provider callbacks; `admin` guards the admin API and "
    "admin login; `s2s` guards server-to-server payouts.",
    responses={409: {"description": "`would_lock_you_out`"}, 422: {"description": "`invalid_allow_list`"}},
)
async def set_allow_list(
    scope: PlatformScope, body: AllowListBody, _: SecurityManage, request: Request, connection: DbConnection,
    audit: AuditTrail,
) -> list[AllowEntry]:  # fmt: skip
    before, after = await access_service.replace_allow_list(
        connection, scope, None, body.entries, caller_ip=getattr(request.state, "client_ip", None), force=body.force
    )
    await audit.record(
        connection, "security.allow_list_replaced", "allow_list", scope,
        changes={"entries": ([e.network for e in before], [e.network for e in after])},
    )  # fmt: skip
    return after


@router.get("/request-logs", operation_id="admin-request_logs", summary="Partner API requests, newest first")
async def list_request_logs(
    _: LogsRead,
    connection: DbConnection,
    partner_id: Annotated[uuid.UUID | None, Query(alias="partnerId")] = None,
    status_min: Annotated[int | None, Query(alias="statusMin", ge=100, le=599)] = None,
    before_id: Annotated[int | None, Query(alias="beforeId", ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[RequestLogRow]:
    return await access_service.list_request_logs(
        connection, partner_ids=[partner_id] if partner_id else None, status_min=status_min, before_id=before_id,
        limit=limit,
    )  # fmt: skip
