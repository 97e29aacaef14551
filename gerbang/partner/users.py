"""A partner's users: created by an admin or by the partner's OWNER (there is no public registration),
their roles and their deactivation. A partner always keeps one active OWNER."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from gerbang.auth.sessions import PartnerRole, create_partner_user
from gerbang.exceptions import Conflict, NotFound
from gerbang.kit.sql import Connection
from gerbang.partner import user_repository as repository

MAX_USERS_PER_PARTNER = 100


class PartnerUserNotFound(NotFound):
    code = "partner_user_not_found"


class LastOwner(Conflict):
    code = "last_owner"


class TooManyUsers(Conflict):
    code = "too_many_users"


class PartnerUser(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: uuid.UUID
    partner_id: uuid.UUID = Field(alias="partnerId")
    email: str
    role: PartnerRole
    status: str
    two_factor_enabled: bool = Field(alias="twoFactorEnabled")
    created_at: datetime = Field(alias="createdAt")
    last_login_at: datetime | None = Field(alias="lastLoginAt")


def _user(row: asyncpg.Record) -> PartnerUser:
    return PartnerUser.model_validate(dict(row))


async def list_users(connection: Connection, partner_id: uuid.UUID) -> list[PartnerUser]:
    return [_user(row) for row in await repository.list_users(connection, partner_id)]


async def add_user(
    connection: Connection, partner_id: uuid.UUID, *, email: str, password: str, role: PartnerRole
) -> PartnerUser:
    if await repository.user_count(connection, partner_id) >= MAX_USERS_PER_PARTNER:
        raise TooManyUsers(f"a partner has at most {MAX_USERS_PER_PARTNER} users")
    user_id = await create_partner_user(connection, partner_id=partner_id, email=email, password=password, role=role)
    return next(user for user in await list_users(connection, partner_id) if user.id == user_id)


async def change_user(
    connection: Connection,
    partner_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    role: PartnerRole | None = None,
    status: str | None = None,
) -> tuple[PartnerUser, PartnerUser]:
    """Change a user's role or status; refuses to leave the partner without an active OWNER."""
    owners = await repository.active_owner_ids(connection, partner_id)
    row = await repository.get_user_for_update(connection, partner_id, user_id)
    if row is None:
        raise PartnerUserNotFound("no such user at this partner")
    before = _user(row)
    values: dict[str, str] = {}
    if role is not None:
        values["role"] = role.value
    if status is not None:
        values["status"] = status
    stays_owner = values.get("role", before.role.value) == "OWNER" and values.get("status", before.status) == "active"
    if owners == [user_id] and not stays_owner:
        raise LastOwner("a partner keeps at least one active OWNER")
    if values:
        await repository.update_user(connection, partner_id, user_id, values)
    after = before.model_copy(
        update={
            "role": PartnerRole(values.get("role", before.role.value)),
            "status": values.get("status", before.status),
        }
    )
    return before, after
