from __future__ import annotations

import math

import pytest

from gerbang.kit.ratelimit import Decision, RateLimit, RateLimiter


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _exhaust(limiter: RateLimiter, key: str) -> list[Decision]:
    decisions = []
    while (decision := limiter.check(key)).allowed:
        decisions.append(decision)
    return decisions


@pytest.mark.parametrize(
    ("limit", "burst", "retry_after"),
    [
        (RateLimit(60, 60.0), 60, 1),
        (RateLimit(1, 10.0), 1, 10),
        (RateLimit(3, 1.0), 3, 1),  # 1/3 + 1/3 + 1/3 in floats is not 1: the burst must still be 3
        (RateLimit(10, 3.0), 10, 1),
        (RateLimit(100, 60.0), 100, 1),
        (RateLimit(7, 1.0), 7, 1),
        (RateLimit(5, 60.0, burst=2), 2, 12),
        (RateLimit(2, 1.0, burst=10), 10, 1),
        (RateLimit(1, 0.25), 1, 1),
        (RateLimit(10, 3600.0), 10, 360),
        (RateLimit(3, 10.0), 3, 4),  # 3.33 s rounds up
    ],
)
def test_a_burst_then_refusal_with_retry_after(limit: RateLimit, burst: int, retry_after: int) -> None:
    limiter = RateLimiter(limit, clock=Clock())
    allowed = _exhaust(limiter, "k")
    assert len(allowed) == burst
    assert [d.remaining for d in allowed] == list(range(burst - 1, -1, -1))
    assert all(d.retry_after == 0 and d.limit == burst for d in allowed)
    assert limiter.check("k") == Decision(allowed=False, retry_after=retry_after, remaining=0, limit=burst)


@pytest.mark.parametrize("start", [0.0, 1000.0, 1e7, 1e9])
def test_the_burst_is_exact_however_long_the_clock_has_run(start: float) -> None:
    limiter = RateLimiter(RateLimit(3, 1.0, burst=30), clock=Clock(start))
    assert len(_exhaust(limiter, "k")) == 30


def test_refill_at_the_steady_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(10, 5.0), clock=clock)  # one every 0.5 s, 10 at once
    _exhaust(limiter, "k")
    clock.now += 0.5
    assert limiter.check("k") == Decision(allowed=True, retry_after=0, remaining=0, limit=10)
    assert not limiter.check("k").allowed
    clock.now += 1.5
    assert len(_exhaust(limiter, "k")) == 3
    clock.now += 0.4
    assert not limiter.check("k").allowed


def test_requests_at_exactly_the_steady_rate_are_never_refused() -> None:
    clock = Clock(123_456.0)
    limiter = RateLimiter(RateLimit(4, 1.0, burst=1), clock=clock)
    for _ in range(1000):
        assert limiter.check("k").allowed
        clock.now += 0.25


def test_a_rested_key_gets_its_burst_back_and_no_more() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(5, 1.0), clock=clock)
    _exhaust(limiter, "k")
    clock.now += 3600
    assert limiter.check("k").remaining == 4
    assert len(_exhaust(limiter, "k")) == 4


def test_retry_after_counts_down_in_whole_seconds_rounded_up() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(1, 10.0), clock=clock)
    assert limiter.check("k").allowed
    waits = []
    for elapsed in [0.0, 0.1, 3.0, 8.9, 9.0, 9.5, 9.999]:
        clock.now = 1000.0 + elapsed
        waits.append(limiter.check("k").retry_after)
    assert waits == [10, 10, 7, 2, 1, 1, 1]
    clock.now = 1010.0
    assert limiter.check("k").allowed


def test_refused_requests_do_not_push_the_window() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(1, 10.0), clock=clock)
    assert limiter.check("k").allowed
    for _ in range(100):
        clock.now += 0.05
        assert not limiter.check("k").allowed
    clock.now = 1010.0
    assert limiter.check("k").allowed


def test_keys_are_independent() -> None:
    limiter = RateLimiter(RateLimit(2, 60.0), clock=Clock())
    _exhaust(limiter, "a")
    assert not limiter.check("a").allowed
    assert limiter.check("b").remaining == 1
    assert limiter.check("b").remaining == 0
    assert not limiter.check("b").allowed


def test_memory_is_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(10, 1.0), max_keys=100, clock=clock)
    for n in range(250):
        assert limiter.check(f"k{n}").allowed
        assert len(limiter) <= 100
    clock.now += 5  # every key is rested: all can go
    limiter.check("fresh")
    assert len(limiter) == 1


def test_rested_keys_are_forgotten_before_busy_ones() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(1, 10.0), max_keys=100, clock=clock)
    for n in range(50):
        limiter.check(f"rested{n}")
    clock.now += 20
    for n in range(50):
        limiter.check(f"busy{n}")
    assert len(limiter) == 100
    assert limiter.check("new").allowed
    assert len(limiter) == 51
    assert all(not limiter.check(f"busy{n}").allowed for n in range(50))  # still limited: nothing busy was lost


def test_when_every_key_is_busy_the_earliest_added_are_forgotten() -> None:
    limiter = RateLimiter(RateLimit(1, 10.0), max_keys=20, clock=Clock())
    for n in range(20):
        limiter.check(f"k{n}")
    limiter.check("k20")  # full of busy keys: the earliest tenth goes
    assert len(limiter) == 19
    assert not limiter.check("k2").allowed
    assert not limiter.check("k20").allowed
    assert limiter.check("k1").allowed  # forgotten, so it starts afresh
    assert limiter.check("k0").allowed


def test_a_limiter_of_one_key() -> None:
    limiter = RateLimiter(RateLimit(1, 10.0), max_keys=1, clock=Clock())
    assert limiter.check("a").allowed
    assert not limiter.check("a").allowed
    assert limiter.check("b").allowed
    assert len(limiter) == 1


def test_sweeps_are_amortised(monkeypatch: pytest.MonkeyPatch) -> None:
    limiter = RateLimiter(RateLimit(1, 10.0), max_keys=1000, clock=Clock())
    sweep = limiter._sweep
    sweeps = []

    def counted(now: int) -> None:
        sweeps.append(len(limiter))
        sweep(now)

    monkeypatch.setattr(limiter, "_sweep", counted)
    for n in range(10_000):
        limiter.check(f"k{n}")  # every key stays busy: nothing is rested
        assert len(limiter) <= 1000
    assert len(sweeps) <= math.ceil(9000 / 100)


@pytest.mark.parametrize(
    ("requests", "period", "burst", "message"),
    [
        (0, 1.0, None, "requests"),
        (-1, 1.0, None, "requests"),
        (1.5, 1.0, None, "requests"),
        (True, 1.0, None, "requests"),
        (1, 0.0, None, "period"),
        (1, -1.0, None, "period"),
        (1, math.nan, None, "period"),
        (1, math.inf, None, "period"),
        (1, 1.0, 0, "burst"),
        (1, 1.0, -2, "burst"),
        (1, 1.0, 2.5, "burst"),
    ],
)
def test_invalid_limits_are_refused(requests: int, period: float, burst: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RateLimit(requests, period, burst)


def test_burst_defaults_to_requests() -> None:
    assert RateLimit(60, 60.0).burst_size == 60
    assert RateLimit(60, 60.0, burst=5).burst_size == 5


@pytest.mark.parametrize("max_keys", [0, -1])
def test_a_limiter_must_remember_at_least_one_key(max_keys: int) -> None:
    with pytest.raises(ValueError, match="max_keys"):
        RateLimiter(RateLimit(1, 1.0), max_keys=max_keys)
