from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gerbang.events.alerts import Severity

DeliveryStatus = Literal["pending", "delivered", "failed", "skipped"]


class Alert(BaseModel):
    """An alert for operators, and where its delivery to Telegram stands."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: int
    kind: str
    severity: Severity
    partner_id: uuid.UUID | None = Field(alias="partnerId")
    message: str
    created_at: datetime = Field(alias="createdAt")
    delivery_status: DeliveryStatus = Field(
        alias="deliveryStatus",
        description="`pending` (to be sent; stays so while Telegram is not configured), `delivered`, `failed` "
        "(refused by Telegram, or retried until the limits ran out: see `lastError`) or `skipped` (below "
        "`GERBANG_TELEGRAM_MIN_SEVERITY`)",
    )
    attempts: int = Field(description="Tries at sending it to Telegram")
    parts_sent: int = Field(alias="partsSent", description="Telegram messages sent so far (a long alert is several)")
    next_attempt_at: datetime | None = Field(alias="nextAttemptAt", description="While pending: the next try")
    last_error: str | None = Field(alias="lastError")
    delivered_at: datetime | None = Field(alias="deliveredAt")
