"""Managing admin accounts (SUPER_ADMIN only): list, create, change role or deactivate. The platform always
keeps one active SUPER_ADMIN, and nobody changes their own role or status."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import bindparam, select, update

from gerbang.auth.sessions import AdminRole
from gerbang.exceptions import Conflict, Forbidden, NotFound
from gerbang.kit.sql import Connection, Query
from gerbang.models import AdminUser

_COLUMNS = (
    AdminUser.id,
    AdminUser.email,
    AdminUser.role,
    AdminUser.status,
    (AdminUser.totp_secret_encrypted.is_not(None)).label("two_factor_enabled"),
    AdminUser.created_at,
    AdminUser.last_login_at,
)
_LIST = Query(select(*_COLUMNS).order_by(AdminUser.created_at))
_GET_FOR_UPDATE = Query(select(*_COLUMNS).where(AdminUser.id == bindparam("id")).with_for_update())
_ACTIVE_SUPER_ADMINS = Query(
    select(AdminUser.id).where(AdminUser.role == "SUPER_ADMIN", AdminUser.status == "active").with_for_update()
)
_SET = Query(
    update(AdminUser).where(AdminUser.id == bindparam("id")).values(role=bindparam("role"), status=bindparam("status"))
)


class AdminNotFound(NotFound):
    code = "admin_not_found"


class LastSuperAdmin(Conflict):
    code = "last_super_admin"


class SelfChange(Forbidden):
    code = "self_change_refused"


class Admin(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: uuid.UUID
    email: str
    role: AdminRole
    status: str
    two_factor_enabled: bool = Field(alias="twoFactorEnabled")
    created_at: datetime = Field(alias="createdAt")
    last_login_at: datetime | None = Field(alias="lastLoginAt")


async def list_admins(connection: Connection) -> list[Admin]:
    return [Admin.model_validate(dict(row)) for row in await _LIST.fetch(connection)]


async def get_admin(connection: Connection, admin_id: uuid.UUID) -> Admin:
    row = await _GET_FOR_UPDATE.fetchrow(connection, id=admin_id)
    if row is None:
        raise AdminNotFound("no such admin")
    return Admin.model_validate(dict(row))


async def change_admin(
    connection: Connection, actor_id: uuid.UUID, admin_id: uuid.UUID, *, role: AdminRole | None, status: str | None
) -> tuple[Admin, Admin]:
    if actor_id == admin_id:
        raise SelfChange("ask another SUPER_ADMIN to change your own role or status")
    super_admins = [row["id"] for row in await _ACTIVE_SUPER_ADMINS.fetch(connection)]
    before = await get_admin(connection, admin_id)
    after = before.model_copy(update={"role": role or before.role, "status": status or before.status})
    if super_admins == [admin_id] and (after.role is not AdminRole.SUPER_ADMIN or after.status != "active"):
        raise LastSuperAdmin("the platform keeps at least one active SUPER_ADMIN")
    await _SET.execute(connection, id=admin_id, role=after.role.value, status=after.status)
    return before, after
