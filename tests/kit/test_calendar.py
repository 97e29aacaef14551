from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from gerbang.kit.calendar import BusinessCalendar

CALENDAR = BusinessCalendar()


@pytest.mark.parametrize(
    ("day", "weekend_rate", "business"),
    [
        (date(2026, 11, 23), False, True),  # Monday
        (date(2026, 11, 27), True, True),  # Friday: weekend rate, still a business day
        (date(2026, 11, 28), True, False),  # Saturday
        (date(2026, 11, 29), False, False),  # Sunday: weekday rate (the original's rule), not a business day
        (date(2026, 8, 17), True, False),  # Independence Day, a Monday
        (date(2026, 3, 23), True, False),  # Eid al-Fitr joint leave (cuti bersama), a Monday
        (date(2026, 12, 24), True, False),  # Christmas joint leave, a Thursday
    ],
)
def test_weekend_rate_and_business_days(day: date, weekend_rate: bool, business: bool) -> None:
    assert (CALENDAR.is_weekend_rate(day), CALENDAR.is_business_day(day)) == (weekend_rate, business)


def test_the_rate_follows_the_jakarta_date_of_the_payment() -> None:
    # Thursday 18:00 UTC is Friday 01:00 in Jakarta.
    assert CALENDAR.is_weekend_rate_at(datetime(2026, 11, 26, 18, 0, tzinfo=UTC))
    assert not CALENDAR.is_weekend_rate_at(datetime(2026, 11, 26, 16, 0, tzinfo=UTC))


def test_admin_days_off_and_configured_weekend_days() -> None:
    tuesday = date(2026, 11, 24)
    calendar = BusinessCalendar.with_days_off([tuesday], weekend_rate_days=[5, 6])
    assert calendar.is_weekend_rate(tuesday)
    assert not calendar.is_business_day(tuesday)
    assert calendar.holiday_name(tuesday) == "day off"
    assert not calendar.is_weekend_rate(date(2026, 11, 27))  # Friday is a weekday rate here
    assert calendar.is_weekend_rate(date(2026, 11, 29))
    with pytest.raises(ValueError, match="weekday numbers"):
        BusinessCalendar.with_days_off([], weekend_rate_days=[7])
