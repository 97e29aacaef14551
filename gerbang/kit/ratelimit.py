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

_NANOSECONDS = 1_000_000_000


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@dataclass(frozen=True)
class RateLimit:
    requests: int
    period: float
    """Seconds over which `requests` are allowed at the steady rate."""
    burst: int | None = None
    """Requests allowed at once from a rested key; default `requests`."""

    def __post_init__(self) -> None:
        if not _is_count(self.requests):
            raise ValueError(f"a rate limit needs a positive whole number of requests, not {self.requests!r}")
        if not (math.isfinite(self.period) and self.period > 0):
            raise ValueError(f"a rate limit needs a positive, finite period, not {self.period!r}")
        if self.burst is not None and not _is_count(self.burst):
            raise ValueError(f"a rate limit burst must be a positive whole number, not {self.burst!r}")

    @property
    def burst_size(self) -> int:
        return self.burst if self.burst is not None else self.requests


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int
    """Whole seconds to wait before a request would be allowed, rounded up; 0 when allowed."""
    remaining: int
    """Requests the key could still make right now, after this one."""
    limit: int
    """The burst size: requests a rested key may make at once."""


class RateLimiter:
    """Counts requests per key against one `RateLimit`. Not thread-safe: use it from one event loop.

    Each key keeps its theoretical arrival time (TAT): when the key would be back to the steady rate. A request
    is allowed while the TAT is at most `burst - 1` intervals ahead of now, and moves it one interval on.

    Time is kept in integer ticks of 1/requests nanoseconds, so that one interval is a whole number of ticks
    (the period in nanoseconds): with floats, 3 requests per second would allow a burst of 2, as 1/3 + 1/3 + 1/3
    does not come back to 1.

    At most `max_keys` keys are remembered. A key whose TAT has passed is the same as a key never seen, so a full
    limiter first forgets those; if it is still nearly full, it forgets the earliest-added keys (which then start
    again with a full burst) until a tenth is free, so the sweep runs once per `max_keys / 10` new keys at most.
    """

    def __init__(
        self, limit: RateLimit, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not _is_count(max_keys):
            raise ValueError(f"a rate limiter needs max_keys of at least 1, not {max_keys!r}")
        self.limit = limit
        self._interval = max(1, round(limit.period * _NANOSECONDS))
        self._tolerance = (limit.burst_size - 1) * self._interval
        self._ticks_per_second = _NANOSECONDS * limit.requests
        self._arrivals: dict[str, int] = {}  # key -> theoretical arrival time in ticks; insertion-ordered
        self._max_keys = max_keys
        self._keys_after_sweep = max_keys - max(1, max_keys // 10)
        self._clock = clock

    def check(self, key: str) -> Decision:
        """Count one request for `key` if it is within the limit; a refused request counts for nothing."""
        now = round(self._clock() * _NANOSECONDS) * self.limit.requests
        tat = max(self._arrivals.get(key, now), now)
        wait = tat - self._tolerance - now
        if wait > 0:
            return Decision(False, -(-wait // self._ticks_per_second), 0, self.limit.burst_size)
        if key not in self._arrivals and len(self._arrivals) >= self._max_keys:
            self._sweep(now)
        new_tat = tat + self._interval
        self._arrivals[key] = new_tat
        remaining = (self._tolerance - (new_tat - now)) // self._interval + 1
        return Decision(True, 0, remaining, self.limit.burst_size)

    def _sweep(self, now: int) -> None:
        busy = [(key, tat) for key, tat in self._arrivals.items() if tat > now]
        # Rebuilt rather than deleted from: a dict never shrinks, and popping its first key again and again is
        # quadratic.
        self._arrivals = dict(busy[max(0, len(busy) - self._keys_after_sweep) :])

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._arrivals)
