"""Time: UTC inside, Asia/Jakarta (WIB, UTC+7) for people and business days."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_jakarta(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: gerbang stores and compares aware datetimes only")
    return moment.astimezone(JAKARTA)
