"""Admin routes for the platform's doors: admin accounts, the 2FA policy and the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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
