from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert

from gerbang.kit.sql import Connection, Query
from gerbang.kit.time import to_jakarta
from gerbang.models import OutboxEvent, WebhookEvent

_WEBHOOK = Query(
    insert(WebhookEvent).values(
        id=bindparam("id"), partner_id=bindparam("partner_id"), event_type=bindparam("event_type"),
        payload=bindparam("payload"), created_at=bindparam("at"),
    )
)  # fmt: skip
_OUTBOX = Query(
    insert(OutboxEvent).values(
        event_id=bindparam("event_id"), topic=bindparam("topic"), key=bindparam("key"), event=bindparam("event"),
        data=bindparam("data"), occurred_at=bindparam("at"),
    )
)  # fmt: skip


async def webhook(
    connection: Connection, *, partner_id: uuid.UUID, event: str, data: dict[str, Any], at: datetime
) -> uuid.UUID:
    """A partner webhook event, its payload frozen now (`event`, `id`, `timestamp` in +07:00, then `data`)."""
    event_id = uuid.uuid4()
    payload = {"event": event, "id": str(event_id), "timestamp": to_jakarta(at).isoformat(), **data}
    await _WEBHOOK.execute(connection, id=event_id, partner_id=partner_id, event_type=event, payload=payload, at=at)
    return event_id


async def outbox(
    connection: Connection, *, topic: str, key: str, event: str, data: dict[str, Any], at: datetime
) -> uuid.UUID:
    """A Kafka event; `key` keeps one aggregate's events in order (one partition)."""
    event_id = uuid.uuid4()
    await _OUTBOX.execute(connection, event_id=event_id, topic=topic, key=key, event=event, data=data, at=at)
    return event_id
