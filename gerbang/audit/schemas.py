from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: int
    occurred_at: datetime = Field(alias="occurredAt")
    actor_type: str = Field(alias="actorType")
    actor_id: uuid.UUID | None = Field(alias="actorId")
    actor_email: str | None = Field(alias="actorEmail")
    partner_id: uuid.UUID | None = Field(alias="partnerId")
    action: str
    target_type: str = Field(alias="targetType")
    target_id: str | None = Field(alias="targetId")
    changes: dict[str, Any]
    """`{field: {"before": ..., "after": ...}}`; secret fields show `***`."""
    ip: str | None
    request_id: str | None = Field(alias="requestId")
