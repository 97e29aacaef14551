"""`GET /api/v1/admin/events`: the Kafka outbox as it stands, published or not (docs/events.md). Readable
whether or not Kafka is configured: without it, this is where the events are."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from gerbang.auth.permissions import Permission, require
from gerbang.auth.sessions import AdminPrincipal
from gerbang.db import DbConnection
from gerbang.events import outbox
from gerbang.events.schemas import OutboxEventView

router = APIRouter(prefix="/events", tags=["admin: events"])

EventsRead = Annotated[AdminPrincipal, Depends(require(Permission.events_read))]
_MAX_ID = 2**63 - 1


@router.get(
    "",
    operation_id="admin-events",
    summary="Kafka outbox events, newest first",
    description="Page on with `beforeId` (the last `id` of the page before). `since`/`until` bound `occurredAt` "
    "(`[since, until)`, with a time zone). `key` is the order's, withdrawal's or (settlements) partner's id.",
    responses={422: {"description": "`validation_error` (a bad filter), `invalid_date_range`"}},
)
async def list_events(
    _: EventsRead,
    connection: DbConnection,
    topic: Annotated[str | None, Query(max_length=64, examples=["payments.v1"])] = None,
    event: Annotated[str | None, Query(max_length=64, examples=["payment.completed"])] = None,
    key: Annotated[str | None, Query(max_length=64)] = None,
    published: Annotated[bool | None, Query(description="true: acknowledged by Kafka; false: not (yet)")] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    before_id: Annotated[int | None, Query(alias="beforeId", ge=1, le=_MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[OutboxEventView]:
    return await outbox.list_events(
        connection, topic=topic, event=event, key=key, published=published, since=since, until=until,
        before_id=before_id, limit=limit,
    )  # fmt: skip
