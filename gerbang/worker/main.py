"""The `gerbang worker` process: every background loop, stopped gracefully on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import gc
import signal
import uuid
from datetime import timedelta

import aiohttp
from prometheus_client import CollectorRegistry, start_http_server

from gerbang.alerts.delivery import AlertSender
from gerbang.alerts.metrics import AlertMetrics
from gerbang.auth import service as auth_service
from gerbang.calendar.service import CalendarCache
from gerbang.config import Settings
from gerbang.db import Database, RowChanges, asyncpg_dsn
from gerbang.kit.crypto import KeyRing
from gerbang.kit.http import client_session
from gerbang.kit.time import utcnow
from gerbang.order.expiry import BATCH, expire_due_orders
from gerbang.order.service import PayIn
from gerbang.order.status_check import poll_pending
from gerbang.provider.registry import apply_timeouts
from gerbang.scheduler.runner import Scheduler
from gerbang.webhook.metrics import WebhookMetrics
from gerbang.webhook.worker import DeliverySettings, DeliveryWorker
from gerbang.withdrawal.service import RECOVERY_BATCH, Payouts, recover_due
from gerbang.worker.heartbeat import heartbeat_loop
from gerbang.worker.jobs import JOBS
from gerbang.worker.outbox import relay_loops
from gerbang.worker.runner import WorkerLoop, periodic, run_loops


def worker_loops(database: Database, settings: Settings, dsn: str, registry: CollectorRegistry) -> list[WorkerLoop]:
    """Every loop a worker runs. Domain modules add their claim loops here, and their scheduled jobs to
    `gerbang.worker.jobs`."""
    worker_id = uuid.uuid4()
    deliveries = DeliveryWorker(
        database, KeyRing(settings.secret_keys), dsn,
        DeliverySettings(
            concurrency=settings.webhook_concurrency, timeout=settings.webhook_timeout, lease=settings.webhook_lease
        ),
        WebhookMetrics(registry),
    )  # fmt: skip

    alert_sender = AlertSender.from_settings(database, settings, AlertMetrics(registry))

    async def forget_expired_signatures() -> None:
        async with database.transaction() as connection:
            await auth_service.forget_expired_signatures(connection, utcnow())

    async def recover_withdrawals(stop: asyncio.Event) -> None:
        # One HTTP session for the loop's life: provider calls reuse its connections.
        async with client_session(timeout=aiohttp.ClientTimeout(total=10)) as session:
            payouts = Payouts.from_settings(database, KeyRing(settings.secret_keys), session, settings)

            async def recover() -> None:
                while await recover_due(payouts) == RECOVERY_BATCH:
                    pass

            await periodic("withdrawals.recover", timedelta(seconds=2), recover).run(stop)

    async def poll_pending_payins(stop: asyncio.Event) -> None:
        # The pay-in path as the API has it: one HTTP session, and the calendar kept while no setting changes.
        row_changes = RowChanges(dsn)
        await row_changes.start()
        try:
            async with client_session(connector=aiohttp.TCPConnector(limit=50)) as session:
                pay_in = PayIn(
                    database, KeyRing(settings.secret_keys), session, CalendarCache(row_changes),
                    settings.public_base_url,
                )  # fmt: skip

                async def poll() -> None:
                    await poll_pending(pay_in, utcnow(), settings.payin_poll_after)

                await periodic("orders.poll_pending", timedelta(seconds=15), poll).run(stop)
        finally:
            await row_changes.stop()

    async def expire_orders() -> None:
        while await expire_due_orders(database, utcnow()) == BATCH:
            pass

    return [
        heartbeat_loop(database, settings.worker_heartbeat_interval, worker_id),
        WorkerLoop("scheduler", Scheduler(database, settings, dsn, JOBS, worker_id=worker_id).run),
        WorkerLoop("webhooks.deliver", deliveries.run),
        periodic("webhooks.measure_queue", timedelta(seconds=5), deliveries.measure_queue),
        WorkerLoop("alerts.send", alert_sender.run),
        periodic("alerts.measure", timedelta(seconds=15), alert_sender.measure),
        periodic("orders.expire", timedelta(seconds=10), expire_orders),
        WorkerLoop("orders.poll_pending", poll_pending_payins),
        WorkerLoop("withdrawals.recover", recover_withdrawals),
        periodic("auth.forget_expired_signatures", timedelta(minutes=1), forget_expired_signatures),
        *relay_loops(database, settings, dsn, registry),
    ]


async def run_worker(settings: Settings, database_url: str) -> None:
    database = await Database.connect(database_url, settings)
    apply_timeouts(settings)
    stop = asyncio.Event()
    event_loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        event_loop.add_signal_handler(sig, stop.set)
    # The worker's own metrics (one registry per process: each loop's collectors register in it once).
    registry = CollectorRegistry()
    loops = worker_loops(database, settings, asyncpg_dsn(database_url), registry)
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr=settings.host, registry=registry)
    # What is loaded by now lives as long as the process: kept out of the collector's full passes, which then
    # take about 1 ms instead of about 100 ms of the event loop under the relay's churn (docs/PERFORMANCE.md).
    gc.freeze()
    try:
        await run_loops(loops, stop, settings.shutdown_grace)
    finally:
        await database.dispose()
