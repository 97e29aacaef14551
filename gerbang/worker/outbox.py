"""The outbox's part of `gerbang worker`: the Kafka relay (when `GERBANG_KAFKA_BOOTSTRAP_SERVERS` is set) and
the retention job. Here rather than in `gerbang.events`, which sits below the scheduler's layer."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry

from gerbang.config import Settings
from gerbang.db import Database
from gerbang.events.metrics import RelayMetrics
from gerbang.events.outbox import purge_published_events
from gerbang.events.relay import Relay
from gerbang.scheduler.base import Job, JobContext, JobResult
from gerbang.worker.runner import WorkerLoop, periodic


def relay_loops(database: Database, settings: Settings, dsn: str, registry: CollectorRegistry) -> list[WorkerLoop]:
    """The relay and its lag gauge; none without Kafka (the events stay in the outbox, listed by the admin API)."""
    if not settings.kafka_enabled:
        return []
    relay = Relay.from_settings(database, settings, dsn, RelayMetrics(registry))
    return [WorkerLoop("outbox.relay", relay.run), periodic("outbox.measure", timedelta(seconds=5), relay.measure)]


async def purge_published(ctx: JobContext) -> JobResult:
    return JobResult(counts={"purged": await purge_published_events(ctx.database, ctx.settings.events_retention)})


EVENTS_RETENTION = Job(
    name="events.purge_published",
    default_cron="30 3 * * *",
    description="Delete published outbox events older than GERBANG_EVENTS_RETENTION (never unpublished ones)",
    run=purge_published,
)
