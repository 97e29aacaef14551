"""Background tasks of a long-lived object (listeners, flushers, heartbeats)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and return once it has ended: its own cancellation is the expected way out."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
