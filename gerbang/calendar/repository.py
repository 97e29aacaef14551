"""The `calendar.days_off` platform setting: a JSON list of ISO dates."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gerbang.kit.sql import Connection, Query
from gerbang.models import PlatformSetting

DAYS_OFF_SETTING = "calendar.days_off"
"""Platform setting: the dates admins declared off (a JSON list of ISO dates): not business days, and the
weekend fee rate."""

_GET = Query(select(PlatformSetting.value).where(PlatformSetting.key == DAYS_OFF_SETTING))
_PUT = Query(
    pg_insert(PlatformSetting)
    .values(key=DAYS_OFF_SETTING, value=bindparam("value"), updated_at=bindparam("now"))
    .on_conflict_do_update(index_elements=["key"], set_={"value": bindparam("value"), "updated_at": bindparam("now")})
)


async def days_off(connection: Connection) -> list[date]:
    value = await _GET.fetchval(connection)
    return [date.fromisoformat(day) for day in value or []]


async def put_days_off(connection: Connection, days: list[date], now: datetime) -> None:
    await _PUT.execute(connection, value=[day.isoformat() for day in days], now=now)
