"""The partner API request log: one row per authenticated partner request, written in batches off the
request path (a log row is not worth a round trip per request; losing the last second of rows in a
crash is acceptable for a log, never for money)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from gerbang.access import repository
from gerbang.db import Database
from gerbang.kit.log import get_logger
from gerbang.kit.redact import redact
from gerbang.kit.tasks import cancel_and_wait

log = get_logger("gerbang.access")

_FLUSH_INTERVAL_S = 1.0
_MAX_BUFFER = 10_000
_MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class PartnerRequest:
    """Left in the request's state by partner authentication, for the log."""

    partner_id: uuid.UUID
    api_key_id: uuid.UUID
    body: bytes


def redacted_body(body: bytes) -> Any:
    if not body:
        return None
    if len(body) > _MAX_BODY_BYTES:
        return {"_omitted": f"{len(body)} bytes"}
    try:
        return redact(orjson.loads(body))
    except orjson.JSONDecodeError:
        return {"_omitted": "not JSON"}


class RequestLogBuffer:
    def __init__(self) -> None:
        self.database: Database | None = None
        """Set when the app starts; rows added before that wait for it."""
        self._rows: list[tuple[Any, ...]] = []
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def add(
        self, *, at: datetime, request: PartnerRequest, method: str, path: str, status: int, latency_us: int,
        error_code: str | None, ip: str | None, request_id: str | None,
    ) -> None:  # fmt: skip
        if len(self._rows) >= _MAX_BUFFER:  # the database is not keeping up: shed log rows, not requests
            self.dropped += 1
            return
        self._rows.append((
            at, request.partner_id, request.api_key_id, method[:8], path, status, latency_us, error_code,
            redacted_body(request.body), ip, request_id,
        ))  # fmt: skip

    async def flush(self) -> None:
        if self.database is None or not self._rows:
            return
        rows, self._rows = self._rows, []
        try:
            async with self.database.transaction() as connection:
                await repository.insert_request_logs(connection, rows)
        except Exception:
            log.exception("access.request_log_flush_failed", rows=len(rows))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="access.request_log_flush")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(_FLUSH_INTERVAL_S)
            await self.flush()
