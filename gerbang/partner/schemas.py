from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Partner(BaseModel):
    """A partner as admins see it. Secrets are never part of it."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: uuid.UUID
    name: str
    status: str
    parent_id: uuid.UUID | None = Field(default=None, alias="parentId")
    webhook_url: str | None = Field(default=None, alias="webhookUrl")
    allow_unsigned_requests: bool = Field(alias="allowUnsignedRequests")
    created_at: datetime = Field(alias="createdAt")
