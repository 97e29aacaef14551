from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    CTE,
    DateTime,
    Insert,
    String,
    Text,
    Uuid,
    any_,
    bindparam,
    case,
    exists,
    func,
    insert,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB

from gerbang.kit.sql import Connection, Query
from gerbang.kit.time import to_jakarta
from gerbang.models import OutboxEvent, Partner, WebhookEvent

_PARTNER = Partner
_EVENT_TYPE = bindparam("event_type", type_=String)
# The delivery decision is taken with the event, from the partner's endpoint as it is now: no URL, or an
# event type outside its subscription (`test` is always wanted), and the event is kept but not sent.
_SKIP_REASON = case(
    (_PARTNER.webhook_url.is_(None), "no_endpoint"),
    (
        (func.cardinality(_PARTNER.webhook_events) > 0)
        & (_EVENT_TYPE != "test")
        & ~(any_(_PARTNER.webhook_events) == _EVENT_TYPE),
        "unsubscribed",
    ),
    else_=null(),
)


def _webhook_insert(gate: CTE | None = None) -> Insert:
    chosen = select(
        bindparam("id", type_=Uuid), _PARTNER.id, _EVENT_TYPE, bindparam("object_id", type_=Uuid),
        bindparam("body", type_=Text), case((_SKIP_REASON.is_(None), "pending"), else_="skipped"), _SKIP_REASON,
        bindparam("at", type_=DateTime(timezone=True)), bindparam("at", type_=DateTime(timezone=True)),
    ).where(_PARTNER.id == bindparam("partner_id"))  # fmt: skip
    if gate is not None:
        chosen = chosen.where(exists(select(gate)))
    return (
        insert(WebhookEvent)
        .from_select(
            ["id", "partner_id", "event_type", "object_id", "body", "status", "skip_reason", "next_attempt_at",
             "created_at"],
            chosen,
        )
        .returning(WebhookEvent.status)
    )  # fmt: skip


def _outbox_insert(gate: CTE | None = None) -> Insert:
    if gate is None:
        return insert(OutboxEvent).values(
            event_id=bindparam("event_id"), topic=bindparam("topic"), key=bindparam("key"), event=bindparam("event"),
            data=bindparam("data"), occurred_at=bindparam("at"),
        )  # fmt: skip
    return insert(OutboxEvent).from_select(
        ["event_id", "topic", "key", "event", "data", "occurred_at"],
        select(
            bindparam("event_id", type_=Uuid), bindparam("topic", type_=String), bindparam("key", type_=String),
            bindparam("event", type_=String), bindparam("data", type_=JSONB),
            bindparam("at", type_=DateTime(timezone=True)),
        ).where(exists(select(gate))),
    )  # fmt: skip


_WEBHOOK = Query(_webhook_insert())
_OUTBOX = Query(_outbox_insert())
# Both rows in one statement (one round trip): most changes a partner hears of are published on Kafka too.
_BOTH = Query(select(_webhook_insert().cte("webhook").c.status).add_cte(_outbox_insert().cte("outbox")))


def webhook_and_outbox_ctes(gate: CTE) -> tuple[CTE, CTE]:
    """`webhook_and_outbox`'s two rows as CTEs of another statement, written only if its data-modifying CTE
    `gate` returned a row; parameters as `event_values(...)`'s (so the gate must not use `id`, `at`,
    `event_id`, ... for its own)."""
    return _webhook_insert(gate).cte("webhook"), _outbox_insert(gate).cte("outbox")


def outbox_cte(gate: CTE) -> CTE:
    """The outbox event of `outbox_values(...)` as a CTE of another statement, written only if `gate` returned
    a row (whose parameters must not be the event's)."""
    return _outbox_insert(gate).cte("outbox")


def gated_webhook_and_outbox(gate: CTE) -> Query:
    """One statement: the data-modifying CTE `gate` (a compare-and-set `... RETURNING`), and only if it
    returned a row, `webhook_and_outbox`'s two rows (`webhook_and_outbox_ctes`); it returns what `gate`
    returned."""
    return Query(select(gate).add_cte(*webhook_and_outbox_ctes(gate)))


def gated_outbox(gate: CTE) -> Query:
    """One statement: the data-modifying CTE `gate` and, only if it returned a row, the outbox event
    (`outbox_cte`); it returns what `gate` returned."""
    return Query(select(gate).add_cte(outbox_cte(gate)))


ENVELOPE = frozenset({"event", "id", "timestamp"})


def _webhook_body(event_id: uuid.UUID, event: str, data: dict[str, Any], at: datetime) -> str:
    if ENVELOPE & data.keys():  # an object field must never pass for the event's own id or time
        raise ValueError(f"webhook data may not use the envelope's names {sorted(ENVELOPE & data.keys())}")
    body = orjson.dumps({"event": event, "id": str(event_id), "timestamp": to_jakarta(at).isoformat(), **data})
    return body.decode()


async def webhook(
    connection: Connection, *, partner_id: uuid.UUID, event: str, data: dict[str, Any], at: datetime,
    object_id: uuid.UUID | None = None,
) -> uuid.UUID:  # fmt: skip
    """A partner webhook event, its body frozen now (`event`, `id`, `timestamp` in +07:00, then `data`).
    A trigger on the table wakes the delivery workers when the transaction commits."""
    event_id = uuid.uuid4()
    await _WEBHOOK.execute(
        connection, id=event_id, partner_id=partner_id, event_type=event, object_id=object_id,
        body=_webhook_body(event_id, event, data, at), at=at,
    )  # fmt: skip
    return event_id


async def webhook_and_outbox(
    connection: Connection, *, partner_id: uuid.UUID, webhook_event: str, object_id: uuid.UUID, topic: str, key: str,
    outbox_event: str, data: dict[str, Any], at: datetime,
) -> None:  # fmt: skip
    """`webhook(...)` and `outbox(...)` of the same `data`, in one statement."""
    await _BOTH.execute(
        connection, **event_values(
            partner_id=partner_id, webhook_event=webhook_event, object_id=object_id, topic=topic, key=key,
            outbox_event=outbox_event, data=data, at=at,
        ),
    )  # fmt: skip


def event_values(
    *,
    partner_id: uuid.UUID,
    webhook_event: str,
    object_id: uuid.UUID,
    topic: str,
    key: str,
    outbox_event: str,
    data: dict[str, Any],
    at: datetime,
) -> dict[str, Any]:
    """The parameters of `webhook_and_outbox`'s rows, for its statement or one of `gated_webhook_and_outbox`."""
    webhook_id = uuid.uuid4()
    return {
        "id": webhook_id, "partner_id": partner_id, "event_type": webhook_event, "object_id": object_id,
        "body": _webhook_body(webhook_id, webhook_event, data, at),
    } | outbox_values(topic=topic, key=key, event=outbox_event, data=data, at=at)  # fmt: skip


def outbox_values(*, topic: str, key: str, event: str, data: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The parameters of `outbox`'s row, for its statement or one of `gated_outbox`."""
    return {"event_id": uuid.uuid4(), "topic": topic, "key": key, "event": event, "data": data, "at": at}


async def outbox(
    connection: Connection, *, topic: str, key: str, event: str, data: dict[str, Any], at: datetime
) -> uuid.UUID:
    """A Kafka event; `key` keeps one aggregate's events in order (one partition)."""
    values = outbox_values(topic=topic, key=key, event=event, data=data, at=at)
    await _OUTBOX.execute(connection, **values)
    event_id: uuid.UUID = values["event_id"]
    return event_id
