"""Each worker process keeps a row in `worker_heartbeats` fresh, and marks it stopped on a clean exit."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from gerbang.db import Database
from gerbang.kit.time import utcnow
from gerbang.models import WorkerHeartbeat
from gerbang.worker.runner import WorkerLoop, wait_or_stop


def heartbeat_loop(database: Database, interval: timedelta) -> WorkerLoop:
    worker_id = uuid.uuid4()

    async def run(stop: asyncio.Event) -> None:
        now = utcnow()
        # An upsert: after a database outage the supervisor restarts this loop with the same id.
        statement = insert(WorkerHeartbeat).values(
            id=worker_id, hostname=socket.gethostname(), pid=os.getpid(), started_at=now, last_seen_at=now
        )
        async with database.sessionmaker.begin() as session:
            await session.execute(statement.on_conflict_do_update(index_elements=["id"], set_={"last_seen_at": now}))
        while not stop.is_set():
            await wait_or_stop(stop, interval.total_seconds())
            async with database.sessionmaker.begin() as session:
                values = {"last_seen_at": utcnow()} | ({"stopped_at": utcnow()} if stop.is_set() else {})
                await session.execute(update(WorkerHeartbeat).where(WorkerHeartbeat.id == worker_id).values(values))

    return WorkerLoop("heartbeat", run)
