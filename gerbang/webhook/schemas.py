from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EventType = Literal[
    "payment.paid", "payment.failed", "payment.expired", "withdrawal.completed", "withdrawal.failed",
    "settlement.completed", "test",
]  # fmt: skip
DeliveryStatus = Literal["pending", "delivered", "dead", "skipped"]


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class WebhookEndpoint(_Out):
    """A partner's webhook endpoint: where events go, which ones, in what order, and whether it is on."""

    url: str | None
    events: list[str] = Field(description="Subscribed event types; empty means every event")
    fifo: bool = Field(description="An event waits while an older one for this endpoint is still pending")
    enabled: bool
    disabled_at: datetime | None = Field(alias="disabledAt")
    disabled_reason: str | None = Field(alias="disabledReason")
    dead_streak: int = Field(alias="deadStreak", description="Events dead-lettered in a row")


class WebhookEndpointChanges(BaseModel):
    """Fields to change; absent fields stay. `enabled: true` turns a disabled endpoint back on."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    webhook_url: str | None = Field(default=None, alias="webhookUrl", max_length=2000,
                                    examples=["https://toko.example/gerbang"])  # fmt: skip
    events: list[EventType] | None = Field(default=None, max_length=16)
    fifo: bool | None = None
    enabled: bool | None = None


class Attempt(_Out):
    attempt: int
    url: str
    started_at: datetime = Field(alias="startedAt")
    duration_ms: int = Field(alias="durationMs")
    status_code: int | None = Field(alias="statusCode")
    response_body: str | None = Field(alias="responseBody", description="The first 2 KB of the answer")
    error: str | None
    outcome: str


class Delivery(_Out):
    """A webhook event and where its delivery stands."""

    id: uuid.UUID = Field(description="The event id: `webhook-id` and the payload's `id`")
    sequence: int = Field(description="Creation order; pass the last one as `beforeSequence` for the next page")
    partner_id: uuid.UUID = Field(alias="partnerId")
    event_type: str = Field(alias="eventType")
    object_id: uuid.UUID | None = Field(alias="objectId", description="The order or withdrawal")
    status: DeliveryStatus
    skip_reason: str | None = Field(alias="skipReason")
    attempts: int
    next_attempt_at: datetime | None = Field(alias="nextAttemptAt")
    last_attempt_at: datetime | None = Field(alias="lastAttemptAt")
    last_status_code: int | None = Field(alias="lastStatusCode")
    last_error: str | None = Field(alias="lastError")
    delivered_at: datetime | None = Field(alias="deliveredAt")
    created_at: datetime = Field(alias="createdAt")
    payload: dict[str, Any]


class DeliveryDetail(Delivery):
    attempt_log: list[Attempt] = Field(alias="attemptLog")


class ReplayRequest(BaseModel):
    """Every event of the endpoint in `[since, until)` whose status is in `statuses`, queued again."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    since: datetime
    until: datetime
    statuses: list[Literal["dead", "skipped", "delivered"]] = Field(default=["dead"], min_length=1)


class Replayed(_Out):
    replayed: int


class TestEvent(_Out):
    id: uuid.UUID


class ApiLogEntry(_Out):
    """One line of a partner's combined log: an API request of theirs, or a webhook attempt to them."""

    kind: Literal["request", "webhook"]
    at: datetime
    status: int | None
    duration_ms: float = Field(alias="durationMs")
    method: str | None = None
    path: str | None = None
    error_code: str | None = Field(default=None, alias="errorCode")
    event_id: uuid.UUID | None = Field(default=None, alias="eventId")
    event_type: str | None = Field(default=None, alias="eventType")
    url: str | None = None
    outcome: str | None = None
    error: str | None = None
