from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class OutboxEventView(BaseModel):
    """A Kafka event as the outbox holds it (docs/events.md), and whether the relay has published it."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: int = Field(description="Outbox order: the relay publishes a key's events in this order")
    event_id: uuid.UUID = Field(alias="eventId", description="The envelope's `id`, which consumers dedupe by")
    topic: str
    key: str = Field(description="The message key: the order, withdrawal or partner the event is about")
    event: str
    version: int
    data: dict[str, Any]
    occurred_at: datetime = Field(alias="occurredAt")
    published_at: datetime | None = Field(
        alias="publishedAt", description="When the broker acknowledged it; null: not published (yet)"
    )
