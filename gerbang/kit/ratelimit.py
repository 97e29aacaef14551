"""An in-memory rate limiter (GCRA, the generic cell rate algorithm): one timestamp per key, smooth
refill, bursts up to a limit.

Limits are per process: each server process counts on its own, so N processes allow up to N times a
limit in total (say so in the configuration). Not thread-safe by design: one asyncio loop per process.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    requests: int
    period: float
    """Seconds over which `requests` are allowed at the steady rate."""
    burst: int | None = None
    """Requests allowed at once from a rested key; default `requests`."""

    def __post_init__(self) -> None:
        if self.requests <= 0 or self.period <= 0 or (self.burst is not None and self.burst <= 0):
            raise ValueError("a rate limit needs positive requests, period and burst")

    @property
    def size(self) -> int:
        return self.burst if self.burst is not None else self.requests


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int
    """Whole seconds to wait (rounded up); 0 when allowed."""
    remaining: int
    limit: int


class RateLimiter:
    def __init__(
        self, limit: RateLimit, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self._interval = limit.period / limit.requests
        self._tolerance = (limit.size - 1) * self._interval
        self._arrivals: dict[str, float] = {}  # key -> theoretical arrival time; insertion-ordered
        self._max_keys = max_keys
        self._clock = clock

    def check(self, key: str) -> Decision:
        """Count one request for `key` if it is within the limit; a refused request counts for nothing."""
        now = self._clock()
        tat = max(self._arrivals.get(key, now), now)
        wait = tat - self._tolerance - now
        if wait > 0:
            return Decision(False, max(1, math.ceil(wait)), 0, self.limit.size)
        new_tat = tat + self._interval
        if key not in self._arrivals and len(self._arrivals) >= self._max_keys:
            self._evict(now)
        self._arrivals[key] = new_tat
        remaining = int((self._tolerance - (new_tat - now)) // self._interval) + 1
        return Decision(True, 0, max(0, min(remaining, self.limit.size - 1)), self.limit.size)

    def _evict(self, now: float) -> None:
        # A key whose theoretical arrival is past is the same as a fresh key: forgetting it changes nothing.
        self._arrivals = {key: tat for key, tat in self._arrivals.items() if tat > now}
        while len(self._arrivals) >= self._max_keys:  # still full of busy keys: drop the oldest
            del self._arrivals[next(iter(self._arrivals))]

    def __len__(self) -> int:
        return len(self._arrivals)
