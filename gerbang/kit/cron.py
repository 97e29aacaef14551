"""Five-field cron expressions, evaluated in Asia/Jakarta, with Vixie cron's semantics.

    minute  hour  day-of-month  month  day-of-week
    0-59    0-23  1-31          1-12   0-7 (0 and 7 are Sunday)
                                JAN-DEC SUN-SAT (names in any case, also in ranges and lists)

Each field is `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a comma-separated list of those.
As in Vixie cron, when day-of-month and day-of-week are both restricted a day matching either runs
(`0 0 13 * 5`: every 13th and every Friday); a field that starts with `*` (`*`, `*/2`) does not count
as restricted, so then both must match. Not supported, and refused with the field named: seconds (a
sixth field), `@daily`-style nicknames, Quartz's `?`, `L`, `W`, `#`, and a step without a range (`5/15`;
write `5-59/15`). An expression that can never fire (`0 0 30 2 *`) is refused too.

Asia/Jakarta has kept UTC+7 without daylight saving since 1964, so the search below works on wall-clock
time and attaches the zone at the end: there is no skipped or repeated local time to handle.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from gerbang.kit.time import JAKARTA, to_jakarta

MAX_LENGTH = 200
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_LONGEST_MONTH = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
_HORIZON_YEARS = 100
"""Far more than any valid expression needs: 29 February on a given weekday recurs within 40 years."""
_MINUTE = timedelta(minutes=1)


class InvalidCron(ValueError):
    """An expression we do not accept; `field` names the part that is wrong."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    names_from: int = 0


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTH_NAMES, 1),
    _Field("day-of-week", 0, 7, _WEEKDAY_NAMES, 0),
)


def _value(field: _Field, text: str) -> int:
    if text.isdigit():
        number = int(text)
    elif text.upper() in field.names:
        number = field.names.index(text.upper()) + field.names_from
    else:
        named = f" or a name ({field.names[0]}-{field.names[-1]})" if field.names else ""
        raise InvalidCron(field.name, f"{text!r} is not a number{named}")
    if not field.low <= number <= field.high:
        raise InvalidCron(field.name, f"{number} is out of range {field.low}-{field.high}")
    return number


def _part(field: _Field, part: str) -> range:
    span, slash, step_text = part.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or not 1 <= int(step_text) <= field.high - field.low + 1:
            raise InvalidCron(field.name, f"step {step_text!r} must be a number from 1 to {field.high - field.low + 1}")
        step = int(step_text)
    if span == "*":
        return range(field.low, field.high + 1, step)
    first_text, dash, last_text = span.partition("-")
    first = _value(field, first_text)
    if not dash:
        if slash:
            raise InvalidCron(field.name, f"a step needs a range: write {first}-{field.high}/{step}, not {part}")
        return range(first, first + 1)
    last = _value(field, last_text)
    if first > last:
        raise InvalidCron(field.name, f"range {span} starts after it ends")
    return range(first, last + 1, step)


def _values(field: _Field, text: str) -> frozenset[int]:
    found: set[int] = set()
    for part in text.split(","):
        if not part:
            raise InvalidCron(field.name, f"empty list item in {text!r}")
        found.update(_part(field, part))
    return frozenset(found)


@dataclass(frozen=True)
class Cron:
    expression: str
    """As given, with runs of whitespace made single spaces."""
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    """0 (Sunday) to 6 (Saturday); a 7 in the expression is stored as 0."""
    either_day: bool
    """Vixie: both day fields restricted, so a day matching either one matches."""

    @classmethod
    def parse(cls, expression: str) -> Cron:
        return _parse(" ".join(expression.split()))

    def matches(self, moment: datetime) -> bool:
        local = to_jakarta(moment)
        return (
            local.minute in self.minutes
            and local.hour in self.hours
            and local.month in self.months
            and self._day_matches(local.date())
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first time strictly after `moment` the expression fires, in Asia/Jakarta."""
        at = to_jakarta(moment).replace(tzinfo=None, second=0, microsecond=0) + _MINUTE
        until = at.year + _HORIZON_YEARS
        while at.year <= until:
            if at.month not in self.months:
                at = (at.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0)
            elif not self._day_matches(at.date()):
                at = at.replace(hour=0, minute=0) + timedelta(days=1)
            elif at.hour not in self.hours:
                hour = _after(self.hours, at.hour)
                at = (
                    at.replace(hour=0, minute=0) + timedelta(days=1)
                    if hour is None
                    else at.replace(hour=hour, minute=0)
                )
            elif at.minute not in self.minutes:
                minute = _after(self.minutes, at.minute)
                at = at.replace(minute=0) + timedelta(hours=1) if minute is None else at.replace(minute=minute)
            else:
                return at.replace(tzinfo=JAKARTA)
        raise AssertionError(f"{self.expression!r} has no time in {_HORIZON_YEARS} years")  # parse refuses those

    def last_at_or_before(self, moment: datetime) -> datetime:
        """The latest time at or before `moment` the expression fired, in Asia/Jakarta."""
        at = to_jakarta(moment).replace(tzinfo=None, second=0, microsecond=0)
        until = at.year - _HORIZON_YEARS
        while at.year >= until:
            if at.month not in self.months:
                at = at.replace(day=1, hour=0, minute=0) - _MINUTE
            elif not self._day_matches(at.date()):
                at = at.replace(hour=0, minute=0) - _MINUTE
            elif at.hour not in self.hours:
                hour = _before(self.hours, at.hour)
                at = at.replace(hour=0, minute=0) - _MINUTE if hour is None else at.replace(hour=hour, minute=59)
            elif at.minute not in self.minutes:
                minute = _before(self.minutes, at.minute)
                at = at.replace(minute=0) - _MINUTE if minute is None else at.replace(minute=minute)
            else:
                return at.replace(tzinfo=JAKARTA)
        raise AssertionError(f"{self.expression!r} has no time in {_HORIZON_YEARS} years")

    def _day_matches(self, day: date) -> bool:
        in_month = day.day in self.days
        in_week = day.isoweekday() % 7 in self.weekdays
        return (in_month or in_week) if self.either_day else (in_month and in_week)


def _after(values: tuple[int, ...], current: int) -> int | None:
    """The smallest of the sorted `values` above `current`, if any."""
    index = bisect.bisect_right(values, current)
    return values[index] if index < len(values) else None


def _before(values: tuple[int, ...], current: int) -> int | None:
    """The largest of the sorted `values` below `current`, if any."""
    index = bisect.bisect_left(values, current)
    return values[index - 1] if index > 0 else None


@lru_cache(maxsize=256)
def _parse(expression: str) -> Cron:
    if len(expression) > MAX_LENGTH:
        raise InvalidCron("expression", f"longer than {MAX_LENGTH} characters")
    texts = expression.split(" ") if expression else []
    if len(texts) != len(_FIELDS):
        raise InvalidCron(
            "expression", f"needs 5 fields (minute hour day-of-month month day-of-week), got {len(texts)}"
        )
    minutes, hours, days, months, weekdays = (_values(field, text) for field, text in zip(_FIELDS, texts, strict=True))
    either_day = not texts[2].startswith("*") and not texts[4].startswith("*")
    if not either_day and not any(day <= _LONGEST_MONTH[month] for month in months for day in days):
        raise InvalidCron("day-of-month", f"{texts[2]} never occurs in month {texts[3]}")
    return Cron(
        expression=expression,
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days=days,
        months=months,
        weekdays=frozenset(day % 7 for day in weekdays),
        either_day=either_day,
    )
