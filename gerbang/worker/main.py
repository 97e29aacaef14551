"""The `gerbang worker` process: every background loop, stopped gracefully on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

from gerbang.access import service as access_service
from gerbang.auth import service as auth_service
from gerbang.config import Settings
from gerbang.db import Database
from gerbang.kit.time import utcnow
from gerbang.order.expiry import BATCH, expire_due_orders
from gerbang.worker.heartbeat import heartbeat_loop
from gerbang.worker.runner import WorkerLoop, periodic, run_loops


def worker_loops(database: Database, settings: Settings) -> list[WorkerLoop]:
    """Every loop a worker runs. Domain modules add their claim loops and jobs here."""

    async def forget_expired_signatures() -> None:
        async with database.transaction() as connection:
            await auth_service.forget_expired_signatures(connection, utcnow())

    async def purge_request_logs() -> None:
        async with database.transaction() as connection:
            await access_service.purge_request_logs(connection, utcnow() - settings.request_log_retention)

    async def expire_orders() -> None:
        while await expire_due_orders(database, utcnow()) == BATCH:
            pass

    return [
        heartbeat_loop(database, settings.worker_heartbeat_interval),
        periodic("orders.expire", timedelta(seconds=10), expire_orders),
        periodic("auth.forget_expired_signatures", timedelta(minutes=1), forget_expired_signatures),
        periodic("access.purge_request_logs", timedelta(hours=1), purge_request_logs),
    ]


async def run_worker(settings: Settings, database_url: str) -> None:
    database = await Database.connect(database_url, settings)
    stop = asyncio.Event()
    event_loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        event_loop.add_signal_handler(sig, stop.set)
    try:
        await run_loops(worker_loops(database, settings), stop, settings.shutdown_grace)
    finally:
        await database.dispose()
