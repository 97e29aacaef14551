"""The business calendar, in Asia/Jakarta: which days take the weekend fee rate and the weekend provider
schedule, and which days are business days (for settlement).

"Weekend" is a pricing notion inherited from the original system: by default Friday and Saturday
(money paid then settles after the weekend), plus Indonesia's public holidays and joint leave days
(cuti bersama, from the `holidays` package), plus dates an admin adds. A business day is Monday to
Friday that is neither a holiday nor a joint leave day nor an admin-added date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays

from gerbang.kit.time import to_jakarta

FRIDAY, SATURDAY, SUNDAY = 4, 5, 6
DEFAULT_WEEKEND_RATE_DAYS = frozenset({FRIDAY, SATURDAY})


@lru_cache(maxsize=64)
def indonesian_holidays(year: int) -> dict[date, str]:
    """Public holidays and joint leave days of one year, with their names."""
    found = holidays.country_holidays("ID", years=year, categories=("public", "government"))
    return dict(found.items())


@dataclass(frozen=True)
class BusinessCalendar:
    weekend_rate_days: frozenset[int] = DEFAULT_WEEKEND_RATE_DAYS
    """Weekdays (Monday 0 ... Sunday 6) that take the weekend rate and schedule."""
    extra_days_off: frozenset[date] = field(default_factory=frozenset)
    """Dates an admin declared off: weekend rate, and not a business day."""

    @classmethod
    def with_days_off(
        cls, days: Iterable[date], weekend_rate_days: Iterable[int] = DEFAULT_WEEKEND_RATE_DAYS
    ) -> BusinessCalendar:
        weekdays = frozenset(weekend_rate_days)
        if not weekdays <= set(range(7)):
            raise ValueError("weekend-rate days are weekday numbers 0 (Monday) to 6 (Sunday)")
        return cls(weekdays, frozenset(days))

    def holiday_name(self, day: date) -> str | None:
        if day in self.extra_days_off:
            return "day off"
        return indonesian_holidays(day.year).get(day)

    def is_weekend_rate(self, day: date) -> bool:
        return day.weekday() in self.weekend_rate_days or self.holiday_name(day) is not None

    def is_weekend_rate_at(self, moment: datetime) -> bool:
        """For fees: the weekend rate applies by the Jakarta date of `moment` (the payment time)."""
        return self.is_weekend_rate(to_jakarta(moment).date())

    def is_business_day(self, day: date) -> bool:
        """Monday to Friday, not a holiday, joint leave day or admin-added date (the weekend-rate days do not
        matter here: Friday is a business day)."""
        return day.weekday() < SATURDAY and self.holiday_name(day) is None

    def next_business_day(self, day: date) -> date:
        """The first business day after `day`."""
        following = day + timedelta(days=1)
        while not self.is_business_day(following):
            following += timedelta(days=1)
        return following

    def add_business_days(self, day: date, count: int) -> date:
        """The `count`-th business day after `day` (`day` itself for 0), whatever kind of day `day` is."""
        if count < 0:
            raise ValueError("count business days forward only")
        for _ in range(count):
            day = self.next_business_day(day)
        return day
