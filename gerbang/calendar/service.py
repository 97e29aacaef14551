"""Admin days off: validated, stored, and turned into the `BusinessCalendar` every caller uses.

Settlement reads the setting at the start of each run. Pay-ins decide a fee (and the provider accounts open
at weekends) on every payment, so each process keeps the calendar until a platform setting changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from gerbang.calendar import repository
from gerbang.db import RowCache, RowChanges
from gerbang.exceptions import UnprocessableEntity
from gerbang.kit.calendar import BusinessCalendar
from gerbang.kit.sql import Connection

MAX_DAYS_OFF = 1_000


class InvalidDaysOff(UnprocessableEntity):
    code = "invalid_days_off"


async def load_calendar(connection: Connection) -> BusinessCalendar:
    """Business days: weekends, Indonesia's holidays and joint leave, and the days off admins added."""
    return BusinessCalendar.with_days_off(await repository.days_off(connection))


def parse_days_off(values: Sequence[str]) -> list[date]:
    """ISO dates (`2026-12-24`), each once; returned sorted."""
    days = []
    for value in values:
        try:
            days.append(date.fromisoformat(value))
        except ValueError:
            raise InvalidDaysOff(f"{value!r} is not a date (YYYY-MM-DD)") from None
    if len(set(days)) != len(days):
        raise InvalidDaysOff("each day off may be listed once")
    if len(days) > MAX_DAYS_OFF:
        raise InvalidDaysOff(f"at most {MAX_DAYS_OFF} days off")
    return sorted(days)


async def days_off(connection: Connection) -> list[date]:
    return await repository.days_off(connection)


async def replace_days_off(connection: Connection, days: list[date], now: datetime) -> list[date]:
    """Stores `days` (sorted, unique) as the days off; returns the ones they replace."""
    before = await repository.days_off(connection)
    await repository.put_days_off(connection, days, now)
    return before


class CalendarCache:
    """One process's calendar for pay-ins, kept while `RowChanges` says no platform setting changed: a change
    saved by any process reaches this one when its notification arrives (`gerbang.db.RowChanges`)."""

    def __init__(self, changes: RowChanges) -> None:
        self._cache = RowCache[str, BusinessCalendar](changes, max_entries=1)

    async def current(self, connection: Connection) -> BusinessCalendar:
        calendar = await self._cache.get("calendar", lambda: load_calendar(connection))
        if calendar is None:  # load_calendar always has one; the cache's type allows for a missing row
            raise RuntimeError("no calendar")
        return calendar
