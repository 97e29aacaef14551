"""Time: UTC inside, Asia/Jakarta (WIB, UTC+7) for people and business days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")


def utcnow() -> datetime:
    return datetime.now(UTC)


def jakarta_midnight(day: date) -> datetime:
    """The start of `day` in Asia/Jakarta."""
    return datetime.combine(day, time.min, tzinfo=JAKARTA)


def jakarta_days(first: date, last: date) -> tuple[datetime, datetime]:
    """`[start, end)` of the Asia/Jakarta days `first` to `last`, both included."""
    return jakarta_midnight(first), jakarta_midnight(last + timedelta(days=1))


def to_jakarta(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: gerbang stores and compares aware datetimes only")
    return moment.astimezone(JAKARTA)
