from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gerbang.auth.service import ApiKeyInfo, IssuedApiKey


class ApiKeyView(BaseModel):
    """An API key as it can be shown after creation: its public id and dates, never the key or secret."""

    model_config = ConfigDict(serialize_by_alias=True)

    id: uuid.UUID
    partner_id: uuid.UUID = Field(serialization_alias="partnerId")
    public_id: str = Field(serialization_alias="publicId")
    created_at: datetime = Field(serialization_alias="createdAt")
    expires_at: datetime | None = Field(serialization_alias="expiresAt")
    revoked_at: datetime | None = Field(serialization_alias="revokedAt")

    @classmethod
    def of(cls, key: ApiKeyInfo) -> ApiKeyView:
        return cls(
            id=key.id, partner_id=key.partner_id, public_id=key.public_id, created_at=key.created_at,
            expires_at=key.expires_at, revoked_at=key.revoked_at,
        )  # fmt: skip


class ApiKeyIssued(BaseModel):
    """A new API key and its signing secret, shown this once."""

    model_config = ConfigDict(serialize_by_alias=True)

    id: uuid.UUID
    api_key: str = Field(serialization_alias="apiKey")
    signing_secret: str = Field(serialization_alias="signingSecret")

    @classmethod
    def of(cls, issued: IssuedApiKey) -> ApiKeyIssued:
        return cls(id=issued.id, api_key=issued.api_key, signing_secret=issued.signing_secret)


class ApiKeyRotation(BaseModel):
    overlap_seconds: int = Field(default=24 * 3600, ge=0, le=7 * 24 * 3600, alias="overlapSeconds")
    """How long the old key keeps working (0: it stops now)."""


class WebhookSecretIssued(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    webhook_secret: str = Field(serialization_alias="webhookSecret")
    previous_valid_until: datetime = Field(serialization_alias="previousValidUntil")
    """Webhooks carry a signature with the previous secret too until then."""
