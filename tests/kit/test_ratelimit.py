from __future__ import annotations

import pytest

from gerbang.kit.ratelimit import RateLimit, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_refusals_then_steady_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(60, 60.0), clock=clock)
    decisions = [limiter.check("k") for _ in range(61)]
    assert all(d.allowed for d in decisions[:60])
    assert [d.remaining for d in decisions[:3]] == [59, 58, 57]
    refused = decisions[60]
    assert (refused.allowed, refused.retry_after, refused.remaining) == (False, 1, 0)
    assert not limiter.check("k").allowed  # refusals do not push the window
    clock.now += 1.0
    assert limiter.check("k").allowed
    assert not limiter.check("k").allowed
    assert limiter.check("other").allowed  # keys are independent


def test_retry_after_rounds_up() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(1, 10.0), clock=clock)
    assert limiter.check("k").allowed
    assert limiter.check("k").retry_after == 10
    clock.now += 9.5
    assert limiter.check("k").retry_after == 1
    clock.now += 0.5
    assert limiter.check("k").allowed


def test_memory_is_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(10, 1.0), max_keys=100, clock=clock)
    for n in range(250):
        limiter.check(f"k{n}")
    assert len(limiter) <= 100
    clock.now += 5  # every key is rested: all can go
    limiter.check("fresh")
    assert len(limiter) == 1


@pytest.mark.parametrize(("requests", "period", "burst"), [(0, 1.0, None), (1, 0.0, None), (1, 1.0, 0)])
def test_invalid_limits(requests: int, period: float, burst: int | None) -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimit(requests, period, burst)
