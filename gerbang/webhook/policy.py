"""What an attempt's answer means, and when to try again.

2xx is delivered. 408, 425, 429, 5xx, timeouts and connection errors are retried on `SCHEDULE` (about two
days in all, each wait jittered by up to 20% so a recovering receiver is not hit by a synchronized herd),
or after the receiver's `Retry-After` when it sends one. 410 Gone means the endpoint is gone: the event is
dead-lettered and the endpoint disabled. Any other answer is the receiver refusing this event on purpose:
dead-lettered at once, as the original system did.
"""

from __future__ import annotations

import enum
import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

SCHEDULE = tuple(timedelta(seconds=s) for s in (5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600))
"""Waits after the 1st, 2nd, ... failed attempt; after the last one the event is dead-lettered."""
JITTER = 0.2
MAX_RETRY_AFTER = timedelta(hours=24)
MIN_RETRY_AFTER = timedelta(seconds=1)
"""A receiver answering `Retry-After: 0` must not burn through every attempt in a moment."""
_RETRIED_STATUSES = frozenset({408, 425, 429})


class Outcome(enum.StrEnum):
    delivered = "delivered"
    retry = "retry"
    dead = "dead"
    gone = "gone"


def classify(status_code: int | None) -> Outcome:
    """`None`: no answer (timeout, connection refused or reset)."""
    if status_code is None or status_code in _RETRIED_STATUSES or status_code >= 500:
        return Outcome.retry
    if 200 <= status_code < 300:
        return Outcome.delivered
    if status_code == 410:
        return Outcome.gone
    return Outcome.dead


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A `Retry-After` header (seconds or an HTTP date), capped; None if absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        wait = timedelta(seconds=int(text))
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        wait = max(when - now, timedelta(0))
    return min(max(wait, MIN_RETRY_AFTER), MAX_RETRY_AFTER)


def next_wait(failed_attempts: int, asked: timedelta | None, rng: random.Random) -> timedelta | None:
    """How long until the next attempt after `failed_attempts` failures in this round; None: give up."""
    if failed_attempts > len(SCHEDULE):
        return None
    if asked is not None:
        return asked
    base = SCHEDULE[failed_attempts - 1]
    return base * (1 + rng.uniform(-JITTER, JITTER))
