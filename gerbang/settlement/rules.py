"""When a PAID order is due for settlement, by its provider account's rule (docs/settlement.md).

`business_days` with N >= 1: an order counts from its *value day*, the Jakarta date it was paid if that is a
business day and it was paid before the account's cut-off hour (if any), else the next business day; it is
due on the N-th business day after its value day. So with N = 1 a Friday-evening payment is due on Monday
(Tuesday if Monday is a holiday), and a Saturday payment on Tuesday, as banks count. With N = 0 an order
is due at the next run, whenever it was paid. `provider_reported`: due when the provider says so.

The due day never decreases as the payment time increases, so "due by today" is one cut in time per
account: every order paid before `due_before(...)` is due. The job selects on that, set-based.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta

from gerbang.kit.calendar import BusinessCalendar
from gerbang.kit.time import jakarta_midnight, to_jakarta

MAX_SETTLEMENT_DAYS = 30
_LOOK_BACK_DAYS = 400
"""Far enough back for 30 business days and every holiday season in between."""


class SettlementRule(enum.StrEnum):
    business_days = "business_days"
    provider_reported = "provider_reported"


def value_day(calendar: BusinessCalendar, paid_day: date, *, after_cutoff: bool) -> date:
    """The business day a payment on `paid_day` counts from."""
    if calendar.is_business_day(paid_day) and not after_cutoff:
        return paid_day
    return calendar.next_business_day(paid_day)


def due_day(calendar: BusinessCalendar, paid_at: datetime, days: int, cutoff_hour: int | None) -> date:
    """The Jakarta date an order paid at `paid_at` becomes due under `business_days` with N = `days` >= 1."""
    local = to_jakarta(paid_at)
    after_cutoff = cutoff_hour is not None and local.hour >= cutoff_hour
    return calendar.add_business_days(value_day(calendar, local.date(), after_cutoff=after_cutoff), days)


def due_before(calendar: BusinessCalendar, now: datetime, days: int, cutoff_hour: int | None) -> datetime | None:
    """Every order paid before the moment returned is due at `now`, and no other (None: none is)."""
    if days == 0:
        return now
    today = to_jakarta(now).date()
    for back in range(1, _LOOK_BACK_DAYS):
        day = today - timedelta(days=back)
        if calendar.add_business_days(value_day(calendar, day, after_cutoff=False), days) > today:
            continue
        # The latest paying day with due orders: all of it, or only what was paid before its cut-off.
        if cutoff_hour is not None:
            late = calendar.add_business_days(value_day(calendar, day, after_cutoff=True), days)
            if late > today:
                return jakarta_midnight(day) + timedelta(hours=cutoff_hour)
        return jakarta_midnight(day + timedelta(days=1))
    return None
