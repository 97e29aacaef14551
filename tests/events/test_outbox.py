"""The outbox without Kafka: every event listed through the admin API with its filters, newest first, page by
page; the retention job deleting published rows past the retention and never an unpublished one."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx

from gerbang.auth.sessions import AdminRole
from gerbang.config import Settings
from gerbang.db import Database
from gerbang.events import service as events
from gerbang.events.outbox import purge_published_events
from gerbang.kit.time import utcnow
from gerbang.scheduler.base import JobContext
from gerbang.worker.outbox import EVENTS_RETENTION
from tests.auth.people import admin_headers

LIST = "/api/v1/admin/events"


async def _write(database: Database, *, key: str, event: str, days_ago: float, topic: str = "payments.v1") -> None:
    async with database.transaction() as connection:
        await events.outbox(
            connection, topic=topic, key=key, event=event, data={"key": key}, at=utcnow() - timedelta(days=days_ago)
        )


async def test_events_are_listed_with_filters_newest_first(client: httpx.AsyncClient, database: Database) -> None:
    order, withdrawal = str(uuid.uuid4()), str(uuid.uuid4())
    await _write(database, key=order, event="payment.created", days_ago=2)
    await _write(database, key=order, event="payment.completed", days_ago=1)
    await _write(database, key=withdrawal, event="withdraw.requested", days_ago=0.5, topic="withdraws.v1")
    async with database.transaction() as connection:
        await connection.execute("UPDATE outbox_events SET published_at = now() WHERE event = 'payment.created'")
    headers = await admin_headers(client, database, AdminRole.SUPPORT)

    async def names(**params: str) -> list[str]:
        response = await client.get(LIST, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [event["event"] for event in response.json()]

    assert await names() == ["withdraw.requested", "payment.completed", "payment.created"]
    assert await names(key=order) == ["payment.completed", "payment.created"]
    assert await names(topic="withdraws.v1") == ["withdraw.requested"]
    assert await names(event="payment.created") == ["payment.created"]
    assert await names(published="false") == ["withdraw.requested", "payment.completed"]
    assert await names(published="true") == ["payment.created"]
    since = (utcnow() - timedelta(days=1.5)).isoformat()
    until = (utcnow() - timedelta(days=0.75)).isoformat()
    assert await names(since=since, until=until) == ["payment.completed"]

    first = (await client.get(LIST, params={"limit": 2}, headers=headers)).json()
    rest = (await client.get(LIST, params={"limit": 2, "beforeId": first[-1]["id"]}, headers=headers)).json()
    assert [e["event"] for e in first + rest] == ["withdraw.requested", "payment.completed", "payment.created"]
    one = rest[0]
    assert set(one) == {"id", "eventId", "topic", "key", "event", "version", "data", "occurredAt", "publishedAt"}
    assert (one["key"], one["data"], one["version"]) == (order, {"key": order}, 1)
    assert one["publishedAt"] is not None

    refused = await client.get(LIST, params={"since": until, "until": since}, headers=headers)
    assert (refused.status_code, refused.json()["error"]) == (422, "invalid_date_range")
    viewer = await admin_headers(client, database, AdminRole.VIEWER)
    assert (await client.get(LIST, headers=viewer)).status_code == 403  # payloads carry bank accounts


async def test_retention_deletes_old_published_rows_only(database: Database, settings: Settings) -> None:
    for days_ago, key in ((10, "old-published"), (10, "old-unpublished"), (1, "new-published")):
        await _write(database, key=key, event="payment.created", days_ago=days_ago)
    async with database.transaction() as connection:
        await connection.execute("UPDATE outbox_events SET published_at = now() WHERE key LIKE '%-published'")
    assert await purge_published_events(database, timedelta(days=7)) == 1

    async def keys() -> list[str]:
        async with database.connection() as connection:
            return [row["key"] for row in await connection.fetch("SELECT key FROM outbox_events ORDER BY id")]

    assert await keys() == ["old-unpublished", "new-published"]
    # The scheduled job does the same with GERBANG_EVENTS_RETENTION.
    context = JobContext(database, settings.model_copy(update={"events_retention": timedelta(hours=1)}), uuid.uuid4(),
                         "manual", asyncio.Event())  # fmt: skip
    assert (await EVENTS_RETENTION.run(context)).counts == {"purged": 1}
    assert await keys() == ["old-unpublished"]
    assert (EVENTS_RETENTION.name, EVENTS_RETENTION.default_cron) == ("events.purge_published", "30 3 * * *")
