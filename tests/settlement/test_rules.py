"""When an order is due under `business_days`: the calendar (weekends, public holidays, joint leave, admin
days off), the cut-off hour, and the one cut in time per account the job selects on."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

import pytest

from gerbang.kit.calendar import BusinessCalendar
from gerbang.kit.time import JAKARTA
from gerbang.settlement.rules import due_before, due_day

CALENDAR = BusinessCalendar()


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JAKARTA)


def test_business_days_skip_weekends_holidays_and_joint_leave() -> None:
    assert CALENDAR.next_business_day(date(2026, 11, 27)) == date(2026, 11, 30)  # Friday -> Monday
    assert CALENDAR.next_business_day(date(2026, 8, 14)) == date(2026, 8, 18)  # Independence Day, a Monday
    assert CALENDAR.next_business_day(date(2026, 12, 23)) == date(2026, 12, 28)  # joint leave, Christmas, weekend
    assert CALENDAR.add_business_days(date(2026, 11, 28), 0) == date(2026, 11, 28)
    assert CALENDAR.add_business_days(date(2026, 11, 26), 3) == date(2026, 12, 1)
    with pytest.raises(ValueError, match="forward"):
        CALENDAR.add_business_days(date(2026, 11, 26), -1)


def test_a_friday_evening_payment_settles_on_monday_at_d_plus_1() -> None:
    assert due_day(CALENDAR, wib(2026, 11, 27, 19, 30), 1, None) == date(2026, 11, 30)


def test_or_on_tuesday_when_monday_is_a_public_holiday() -> None:
    assert due_day(CALENDAR, wib(2026, 8, 14, 19, 30), 1, None) == date(2026, 8, 18)


def test_an_admin_day_off_behaves_as_a_holiday() -> None:
    monday = date(2026, 11, 30)
    calendar = BusinessCalendar.with_days_off([monday])
    assert not calendar.is_business_day(monday)
    assert due_day(calendar, wib(2026, 11, 27, 19, 30), 1, None) == date(2026, 12, 1)


def test_the_cutoff_hour_moves_a_late_payment_to_the_next_business_day() -> None:
    assert due_day(CALENDAR, wib(2026, 11, 26, 14, 59), 1, 15) == date(2026, 11, 27)  # Thursday before: Friday
    assert due_day(CALENDAR, wib(2026, 11, 26, 15, 0), 1, 15) == date(2026, 11, 30)  # at the cut-off: Monday
    assert due_day(CALENDAR, wib(2026, 11, 27, 16, 0), 1, 15) == date(2026, 12, 1)  # Friday after: Tuesday
    assert due_day(CALENDAR, wib(2026, 11, 26, 16, 0), 1, None) == date(2026, 11, 27)  # no cut-off


def test_weekend_payments_count_from_monday() -> None:
    assert due_day(CALENDAR, wib(2026, 11, 28, 10), 1, None) == date(2026, 12, 1)
    assert due_day(CALENDAR, wib(2026, 11, 29, 23), 2, 15) == date(2026, 12, 2)


def test_the_jakarta_date_counts_not_the_utc_one() -> None:
    # Friday 18:30 UTC is Saturday 01:30 in Jakarta: a weekend payment.
    assert due_day(CALENDAR, datetime.fromisoformat("2026-11-27T18:30:00+00:00"), 1, None) == date(2026, 12, 1)


def test_d_plus_0_is_due_at_the_next_run() -> None:
    now = wib(2026, 11, 28, 16)  # a Saturday: no calendar for N = 0
    assert due_before(CALENDAR, now, 0, None) == now


@pytest.mark.parametrize(("days", "cutoff"), [(1, None), (1, 15), (2, None), (3, 0), (5, 23)])
def test_the_cut_in_time_is_exactly_the_orders_due(days: int, cutoff: int | None) -> None:
    """For runs on every day of a month with holidays and a day off, and payments every 20 minutes of the
    weeks before: paid before `due_before(now)` exactly when due by the run's Jakarta date."""
    calendar = BusinessCalendar.with_days_off([date(2026, 12, 2)])
    start = wib(2026, 11, 10)
    payments = [start + timedelta(minutes=20 * n) for n in range(3 * 24 * 40)]
    for day in range(20):
        now = wib(2026, 12, 1, 16) + timedelta(days=day)
        before = due_before(calendar, now, days, cutoff)
        assert before is not None
        for paid_at in itertools.islice(payments, 0, None, 7):
            if paid_at >= now:
                break
            assert (paid_at < before) == (due_day(calendar, paid_at, days, cutoff) <= now.date()), (now, paid_at)
