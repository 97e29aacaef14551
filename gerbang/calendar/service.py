"""Admin days off: validated, stored, and turned into the `BusinessCalendar` every caller uses.

Settlement reads the setting at the start of each run. Pay-ins decide a fee (and the provider accounts open
at weekends) on every payment, so each process keeps the calendar for `REFRESH` and reads it again after:
a change reaches every process within that time, and the process that saved it at once (`invalidate`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from gerbang.calendar import repository
from gerbang.exceptions import UnprocessableEntity
from gerbang.kit.calendar import BusinessCalendar
from gerbang.kit.sql import Connection

MAX_DAYS_OFF = 1_000
REFRESH = timedelta(seconds=30)
"""How long a process keeps the calendar before reading the days off again."""


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
    """One process's calendar for pay-ins, read again once older than `refresh`."""

    def __init__(self, refresh: timedelta = REFRESH) -> None:
        self._refresh_s = refresh.total_seconds()
        self._calendar: BusinessCalendar | None = None
        self._read_at = 0.0

    async def current(self, connection: Connection) -> BusinessCalendar:
        if self._calendar is None or time.monotonic() - self._read_at >= self._refresh_s:
            self._calendar = await load_calendar(connection)
            self._read_at = time.monotonic()
        return self._calendar

    def invalidate(self) -> None:
        """The days off changed (and committed): the next payment reads them."""
        self._calendar = None
