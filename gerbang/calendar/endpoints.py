"""`GET/PUT /api/v1/admin/settings/calendar`: the days admins declare off (docs/settlement.md, "Days off")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gerbang.audit.context import AuditTrail
from gerbang.auth.permissions import Permission, require
from gerbang.auth.sessions import AdminPrincipal
from gerbang.calendar import service
from gerbang.calendar.repository import DAYS_OFF_SETTING
from gerbang.db import Database, DbConnection
from gerbang.kit.time import utcnow

router = APIRouter(prefix="/settings/calendar", tags=["admin: settings"])

CalendarManage = Annotated[AdminPrincipal, Depends(require(Permission.calendar_manage))]
IsoDate = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class DaysOff(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True, extra="forbid")

    days_off: list[IsoDate] = Field(
        alias="daysOff", max_length=service.MAX_DAYS_OFF, examples=[["2026-12-24", "2026-12-31"]],
        description="Dates (Asia/Jakarta) that are off besides weekends, public holidays and joint leave: not "
        "business days for settlement, and the weekend fee rate and provider schedule for pay-ins. The whole list.",
    )  # fmt: skip


@router.get("", operation_id="admin-calendar_get", summary="The days off admins declared")
async def get_days_off(_: CalendarManage, connection: DbConnection) -> DaysOff:
    return DaysOff(days_off=[day.isoformat() for day in await service.days_off(connection)])


@router.put(
    "",
    operation_id="admin-calendar_set",
    summary="Replace the days off (settlement and pay-in fees use them at once)",
    responses={422: {"description": "`invalid_days_off` (not a date, listed twice), `validation_error`"}},
)
async def set_days_off(body: DaysOff, _: CalendarManage, request: Request, audit: AuditTrail) -> DaysOff:
    days = service.parse_days_off(body.days_off)
    database: Database = request.app.state.database
    async with database.transaction() as connection:  # committed before this process reads the calendar again
        before = await service.replace_days_off(connection, days, utcnow())
        await audit.record(
            connection, "settings.calendar_changed", "platform_setting", DAYS_OFF_SETTING,
            changes={"days_off": ([day.isoformat() for day in before], [day.isoformat() for day in days])},
        )  # fmt: skip
    request.app.state.row_changes.changed()  # this process at once; the others when notified
    return DaysOff(days_off=[day.isoformat() for day in days])
