"""Each worker process keeps a row in `worker_heartbeats` fresh, and marks it stopped on a clean exit."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.sql.elements import BindParameter

from gerbang.db import Database
from gerbang.kit.sql import Query
from gerbang.kit.time import utcnow
from gerbang.models import WorkerHeartbeat
from gerbang.worker.runner import WorkerLoop, wait_or_stop

_ROW: dict[str, BindParameter[Any]] = {
    name: bindparam(name) for name in ("id", "hostname", "pid", "started_at", "last_seen_at")
}
# An upsert: after a database outage the supervisor restarts the loop with the same worker id.
_REGISTER = Query(
    insert(WorkerHeartbeat)
    .values(_ROW)
    .on_conflict_do_update(index_elements=["id"], set_={"last_seen_at": _ROW["last_seen_at"]})
)
_BEAT = Query(
    update(WorkerHeartbeat)
    .where(WorkerHeartbeat.id == bindparam("worker_id"))
    .values(last_seen_at=bindparam("now"), stopped_at=bindparam("stopped_at"))
)


def heartbeat_loop(database: Database, interval: timedelta, worker_id: uuid.UUID | None = None) -> WorkerLoop:
    """`worker_id` is the id the worker's other loops record their work under (`job_runs.worker_id`)."""
    worker_id = worker_id or uuid.uuid4()

    async def run(stop: asyncio.Event) -> None:
        now = utcnow()
        async with database.transaction() as connection:
            await _REGISTER.execute(
                connection,
                id=worker_id,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                started_at=now,
                last_seen_at=now,
            )
        while not stop.is_set():
            await wait_or_stop(stop, interval.total_seconds())
            now = utcnow()
            async with database.transaction() as connection:
                stopped_at = now if stop.is_set() else None
                await _BEAT.execute(connection, worker_id=worker_id, now=now, stopped_at=stopped_at)

    return WorkerLoop("heartbeat", run)
