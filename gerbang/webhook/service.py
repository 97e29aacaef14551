"""Partner webhooks as partners and admins handle them: the endpoint's settings, test events, the
delivery log, and replays. Replays put the event back in the queue with a fresh retry schedule; the
worker then sends it freshly signed, as any attempt."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from gerbang.events import service as events
from gerbang.exceptions import Conflict, NotFound
from gerbang.kit.sql import Connection
from gerbang.partner import service as partner_service
from gerbang.partner.schemas import PartnerChanges
from gerbang.webhook import repository
from gerbang.webhook.schemas import (
    ApiLogEntry,
    Attempt,
    Delivery,
    DeliveryDetail,
    WebhookEndpoint,
    WebhookEndpointChanges,
)

REPLAY_LIMIT = 10_000
"""Events one bulk replay queues at most; call again for the rest."""


class DeliveryNotFound(NotFound):
    code = "delivery_not_found"


class AlreadyQueued(Conflict):
    code = "delivery_already_pending"


async def get_endpoint(connection: Connection, partner_id: uuid.UUID) -> WebhookEndpoint:
    row = await repository.endpoint(connection, partner_id)
    if row is None:
        raise partner_service.PartnerNotFound(f"no partner {partner_id}")
    return WebhookEndpoint(
        url=row["webhook_url"], events=list(row["webhook_events"]), fifo=row["webhook_fifo"],
        enabled=row["webhook_disabled_at"] is None, disabled_at=row["webhook_disabled_at"],
        disabled_reason=row["webhook_disabled_reason"], dead_streak=row["webhook_dead_streak"],
    )  # fmt: skip


async def change_endpoint(
    connection: Connection, partner_id: uuid.UUID, changes: WebhookEndpointChanges, *, require_https: bool,
    now: datetime,
) -> tuple[WebhookEndpoint, WebhookEndpoint]:  # fmt: skip
    """Applies the fields sent; returns the endpoint before and after (for the audit trail)."""
    before = await get_endpoint(connection, partner_id)
    sent = changes.model_fields_set
    if "webhook_url" in sent:
        await partner_service.update_partner(
            connection, partner_id, PartnerChanges(webhook_url=changes.webhook_url), require_https=require_https,
            now=now,
        )  # fmt: skip
    values: dict[str, Any] = {}
    if changes.events is not None:
        values["webhook_events"] = sorted(set(changes.events))
    if changes.fifo is not None:
        values["webhook_fifo"] = changes.fifo
    if changes.enabled is True:  # back on: the events that waited go out
        values |= {"webhook_disabled_at": None, "webhook_disabled_reason": None, "webhook_dead_streak": 0}
    elif changes.enabled is False and before.enabled:
        values |= {"webhook_disabled_at": now, "webhook_disabled_reason": "disabled by the partner"}
    if values:
        await repository.change_endpoint(connection, partner_id, values)
    return before, await get_endpoint(connection, partner_id)


async def send_test(connection: Connection, partner_id: uuid.UUID, now: datetime) -> uuid.UUID:
    """A `test` event, delivered like any other (whatever the endpoint subscribes to)."""
    return await events.webhook(
        connection, partner_id=partner_id, event="test", at=now,
        data={"message": "A test event from gerbang: your endpoint receives and verifies webhooks."},
    )  # fmt: skip


def _delivery(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"], "sequence": row["seq"], "partner_id": row["partner_id"], "event_type": row["event_type"],
        "object_id": row["object_id"], "status": row["status"], "skip_reason": row["skip_reason"],
        "attempts": row["attempts"], "next_attempt_at": row["next_attempt_at"] if row["status"] == "pending" else None,
        "last_attempt_at": row["last_attempt_at"], "last_status_code": row["last_status_code"],
        "last_error": row["last_error"], "delivered_at": row["delivered_at"], "created_at": row["created_at"],
        "payload": orjson.loads(row["body"]),
    }  # fmt: skip


async def list_deliveries(
    connection: Connection, *, partner_ids: Sequence[uuid.UUID] | None, event_type: str | None = None,
    status: str | None = None, since: datetime | None = None, until: datetime | None = None,
    object_id: uuid.UUID | None = None, before_sequence: int | None = None, limit: int = 100,
) -> list[Delivery]:  # fmt: skip
    query, values = repository.deliveries_query(
        partner_ids=partner_ids, event_type=event_type, status=status, since=since, until=until, object_id=object_id,
        before_seq=before_sequence, limit=limit,
    )  # fmt: skip
    return [Delivery.model_validate(_delivery(row)) for row in await query.fetch(connection, **values)]


async def _visible_event(
    connection: Connection, event_id: uuid.UUID, partner_ids: Sequence[uuid.UUID] | None
) -> asyncpg.Record:
    row = await repository.event(connection, event_id)
    if row is None or (partner_ids is not None and row["partner_id"] not in partner_ids):
        raise DeliveryNotFound(f"no webhook event {event_id}")
    return row


async def get_delivery(
    connection: Connection, event_id: uuid.UUID, *, partner_ids: Sequence[uuid.UUID] | None
) -> DeliveryDetail:
    """`partner_ids`: the partners the caller may see (None: an admin, every partner)."""
    row = await _visible_event(connection, event_id, partner_ids)
    attempts = [Attempt.model_validate(dict(attempt)) for attempt in await repository.attempts_of(connection, event_id)]
    return DeliveryDetail.model_validate(_delivery(row) | {"attempt_log": attempts})


async def resend(
    connection: Connection, event_id: uuid.UUID, *, partner_ids: Sequence[uuid.UUID] | None, now: datetime
) -> DeliveryDetail:
    """Queues the event again, to be sent at once and freshly signed, with a fresh retry schedule."""
    row = await _visible_event(connection, event_id, partner_ids)
    if not await repository.requeue(connection, event_id, now):
        raise AlreadyQueued(f"webhook event {event_id} is already waiting to be delivered")
    return await get_delivery(connection, row["id"], partner_ids=partner_ids)


async def replay(
    connection: Connection, partner_id: uuid.UUID, *, statuses: Sequence[str], since: datetime, until: datetime,
    now: datetime,
) -> int:  # fmt: skip
    """Queues again every event of the partner created in `[since, until)` with one of `statuses`."""
    return await repository.requeue_range(
        connection, partner_id=partner_id, statuses=statuses, since=since, until=until, now=now, limit=REPLAY_LIMIT
    )


async def api_log(
    connection: Connection, requests: Sequence[Any], partner_ids: Sequence[uuid.UUID], before: datetime | None,
    limit: int,
) -> list[ApiLogEntry]:  # fmt: skip
    """The partner's API requests (`requests`, newest first) and the webhook attempts to it, merged by time."""
    entries = [
        ApiLogEntry(
            kind="request",
            at=r.created_at,
            status=r.status,
            duration_ms=r.latency_us / 1000,
            method=r.method,
            path=r.path,
            error_code=r.error_code,
        )
        for r in requests
    ]
    for row in await repository.attempt_log(connection, partner_ids, before, limit):
        entries.append(
            ApiLogEntry(
                kind="webhook",
                at=row["started_at"],
                status=row["status_code"],
                duration_ms=row["duration_ms"],
                event_id=row["event_id"],
                event_type=row["event_type"],
                url=row["url"],
                outcome=row["outcome"],
                error=row["error"],
            )
        )
    return sorted(entries, key=lambda entry: entry.at, reverse=True)[:limit]
