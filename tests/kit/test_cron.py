"""Cron expressions: worked examples, the refusals, and properties checked against a minute-by-minute search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gerbang.kit.cron import Cron, InvalidCron
from gerbang.kit.time import JAKARTA


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=JAKARTA)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # The original's settlement default: 16:00 every day.
        ("0 16 * * *", wib(2026, 12, 1, 15, 59), wib(2026, 12, 1, 16, 0)),
        ("0 16 * * *", wib(2026, 12, 1, 16, 0), wib(2026, 12, 2, 16, 0)),
        ("0 16 * * *", wib(2026, 12, 31, 16, 0, 1), wib(2027, 1, 1, 16, 0)),
        # The loan job's default: every even minute.
        ("*/2 * * * *", wib(2026, 12, 1, 10, 1), wib(2026, 12, 1, 10, 2)),
        ("*/2 * * * *", wib(2026, 12, 1, 10, 2, 30), wib(2026, 12, 1, 10, 4)),
        ("*/2 * * * *", wib(2026, 12, 1, 23, 59), wib(2026, 12, 2, 0, 0)),
        # Weekdays at 09:00: Friday after nine goes to Monday.
        ("0 9 * * 1-5", wib(2026, 12, 4, 10, 0), wib(2026, 12, 7, 9, 0)),
        ("0 9 * * MON-FRI", wib(2026, 12, 5, 8, 0), wib(2026, 12, 7, 9, 0)),
        # Month ends: the 31st skips the months without one.
        ("0 0 31 * *", wib(2027, 1, 31, 0, 0), wib(2027, 3, 31, 0, 0)),
        ("0 0 31 * *", wib(2027, 3, 31, 0, 0), wib(2027, 5, 31, 0, 0)),
        ("59 23 28-31 2 *", wib(2027, 2, 28, 23, 59), wib(2028, 2, 28, 23, 59)),
        # 29 February: leap years only, and 2100 is not one.
        ("0 0 29 2 *", wib(2025, 3, 1), wib(2028, 2, 29)),
        ("0 0 29 2 *", wib(2096, 3, 1), wib(2104, 2, 29)),
        # Vixie: both day fields restricted, either matches (the 13th, or a Friday).
        ("0 0 13 * 5", wib(2026, 12, 1), wib(2026, 12, 4)),
        ("0 0 13 * 5", wib(2026, 12, 11, 1), wib(2026, 12, 13)),
        # ...but a field starting with `*` is not restricted: odd days that are Mondays.
        ("0 0 */2 * 1", wib(2026, 12, 1), wib(2026, 12, 7)),
        # 7 is Sunday as well as 0; names in any case.
        ("30 8 * * 7", wib(2026, 12, 1), wib(2026, 12, 6, 8, 30)),
        ("30 8 * * sun", wib(2026, 12, 1), wib(2026, 12, 6, 8, 30)),
        ("0 0 1 jan,Jul *", wib(2026, 12, 1), wib(2027, 1, 1)),
        ("0 12 * FEB-APR/2 *", wib(2027, 2, 28, 12, 0), wib(2027, 4, 1, 12, 0)),
        ("5,10-12,50-59/3 * * * *", wib(2026, 12, 1, 10, 12), wib(2026, 12, 1, 10, 50)),
    ],
)
def test_next_after(expression: str, after: datetime, expected: datetime) -> None:
    found = Cron.parse(expression).next_after(after)
    assert found == expected
    assert found.utcoffset() == timedelta(hours=7)


def test_times_in_any_zone_are_read_as_jakarta_and_answered_in_jakarta() -> None:
    # 08:30 UTC is 15:30 in Jakarta: the 16:00 run is half an hour away, at 09:00 UTC.
    found = Cron.parse("0 16 * * *").next_after(datetime(2026, 12, 1, 8, 30, tzinfo=UTC))
    assert found == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert found.tzinfo is JAKARTA


def test_last_at_or_before_includes_the_moment_itself() -> None:
    cron = Cron.parse("0 16 * * *")
    assert cron.last_at_or_before(wib(2026, 12, 1, 16, 0, 59)) == wib(2026, 12, 1, 16, 0)
    assert cron.last_at_or_before(wib(2026, 12, 1, 15, 59)) == wib(2026, 11, 30, 16, 0)
    assert Cron.parse("0 0 29 2 *").last_at_or_before(wib(2103, 1, 1)) == wib(2096, 2, 29)


def test_whitespace_is_normalised() -> None:
    assert Cron.parse("  0\t16  * * *\n").expression == "0 16 * * *"


@pytest.mark.parametrize(
    ("expression", "field"),
    [
        ("60 * * * *", "minute"),
        ("* 24 * * *", "hour"),
        ("* * 0 * *", "day-of-month"),
        ("* * 32 * *", "day-of-month"),
        ("* * * 13 *", "month"),
        ("* * * FOO *", "month"),
        ("* * * * 8", "day-of-week"),
        ("* * * * MON-", "day-of-week"),
        ("5-1 * * * *", "minute"),
        ("*/0 * * * *", "minute"),
        ("*/x * * * *", "minute"),
        ("1/5 * * * *", "minute"),
        ("1,,2 * * * *", "minute"),
        ("-1 * * * *", "minute"),
        ("0 0 L * *", "day-of-month"),
        ("0 0 ? * *", "day-of-month"),
        ("0 0 * * 5#3", "day-of-week"),
        ("0 0 30 2 *", "day-of-month"),  # never happens
        ("0 0 31 4,6,9,11 *", "day-of-month"),
        ("* * * *", "expression"),
        ("0 * * * * *", "expression"),  # seconds: five fields only, as the original insisted
        ("@daily", "expression"),
        ("", "expression"),
        ("1," * 150 + "1 * * * *", "expression"),
    ],
)
def test_refusals_name_the_field(expression: str, field: str) -> None:
    with pytest.raises(InvalidCron) as refused:
        Cron.parse(expression)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")


def test_the_31st_on_a_restricted_weekday_is_fine_because_either_matches() -> None:
    # Vixie's OR: "the 30th of February, or any Monday" runs every Monday in February.
    assert Cron.parse("0 0 30 2 1").next_after(wib(2027, 1, 1)) == wib(2027, 2, 1)


# Properties. Expressions are built from random fields; moments from a few centuries around now.

_FIELD_BOUNDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


@st.composite
def _field(draw: st.DrawFn, low: int, high: int) -> str:
    def one() -> st.SearchStrategy[str]:
        number = st.integers(low, high)
        step = st.integers(1, high - low + 1)
        return st.one_of(
            st.just("*"),
            number.map(str),
            st.tuples(number, number).map(lambda ab: f"{min(ab)}-{max(ab)}"),
            step.map(lambda n: f"*/{n}"),
            st.tuples(number, number, step).map(lambda abn: f"{min(abn[:2])}-{max(abn[:2])}/{abn[2]}"),
        )

    return ",".join(draw(st.lists(one(), min_size=1, max_size=3)))


@st.composite
def expressions(draw: st.DrawFn) -> Cron:
    fields = [draw(_field(low, high)) for low, high in _FIELD_BOUNDS]
    try:
        return Cron.parse(" ".join(fields))
    except InvalidCron as refused:
        # Only "never occurs" may refuse a well-formed expression built from in-range parts.
        if refused.field != "day-of-month" or "never occurs" not in refused.problem:
            raise
        return draw(st.nothing())


# Hypothesis takes naive bounds and attaches the zone itself.
moments = st.datetimes(
    min_value=datetime(1970, 1, 1),  # noqa: DTZ001
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@given(expressions(), moments)
@settings(max_examples=400, deadline=None)
def test_next_and_last_agree_and_match(cron: Cron, moment: datetime) -> None:
    after = cron.next_after(moment)
    before = cron.last_at_or_before(moment)
    assert before <= moment < after
    assert cron.matches(after)
    assert cron.matches(before)
    assert after.second == after.microsecond == before.second == before.microsecond == 0
    # Nothing fires strictly between them, seen from either side.
    assert cron.next_after(before) == after
    assert cron.last_at_or_before(after - timedelta(minutes=1)) == before


@st.composite
def frequent_expressions(draw: st.DrawFn) -> Cron:
    """Expressions that fire at least daily, so a brute-force search over minutes stays short."""
    minute, hour = draw(_field(0, 59)), draw(_field(0, 23))
    return Cron.parse(f"{minute} {hour} * * *")


@given(frequent_expressions(), moments)
@settings(max_examples=150, deadline=None)
def test_next_after_is_the_first_matching_minute(cron: Cron, moment: datetime) -> None:
    candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while not cron.matches(candidate):
        candidate += timedelta(minutes=1)
    assert cron.next_after(moment) == candidate


@given(
    st.sets(st.integers(0, 59), min_size=1, max_size=10),
    st.integers(0, 23),
    st.integers(0, 23),
    st.integers(1, 24),
    st.sets(st.integers(0, 7), min_size=1, max_size=8),
)
def test_parsing_lists_ranges_and_steps(
    minutes: set[int], first: int, last: int, step: int, weekdays: set[int]
) -> None:
    low, high = min(first, last), max(first, last)
    cron = Cron.parse(f"{','.join(map(str, sorted(minutes)))} {low}-{high}/{step} * * {','.join(map(str, weekdays))}")
    assert set(cron.minutes) == minutes
    assert set(cron.hours) == set(range(low, high + 1, step))
    assert cron.weekdays == {day % 7 for day in weekdays}
    assert cron.days == set(range(1, 32))
    assert cron.months == set(range(1, 13))


@given(st.integers(0, 200), st.sampled_from(range(5)))
def test_numbers_out_of_range_are_refused_with_their_field(number: int, position: int) -> None:
    low, high = _FIELD_BOUNDS[position]
    fields = ["*"] * 5
    fields[position] = str(number)
    if low <= number <= high:
        Cron.parse(" ".join(fields))
    else:
        with pytest.raises(InvalidCron) as refused:
            Cron.parse(" ".join(fields))
        assert refused.value.field == ("minute", "hour", "day-of-month", "month", "day-of-week")[position]
