from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=7, decimal_places=4, examples=["1.05"])]
Rupiah = Annotated[int, Field(ge=0, le=1_000_000_000, strict=True, examples=[500])]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9_]{2,32}$")]


class Fees(BaseModel):
    """Pay-in fees differ on weekdays and on weekend-rate days; withdrawals have their own fee."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True, extra="forbid")

    payin_weekday_percent: Percent = Field(default=Decimal(0), alias="payinWeekdayPercent")
    payin_weekday_flat: Rupiah = Field(default=0, alias="payinWeekdayFlat")
    payin_weekend_percent: Percent = Field(default=Decimal(0), alias="payinWeekendPercent")
    payin_weekend_flat: Rupiah = Field(default=0, alias="payinWeekendFlat")
    withdrawal_percent: Percent = Field(default=Decimal(0), alias="withdrawalPercent")
    withdrawal_flat: Rupiah = Field(default=0, alias="withdrawalFlat")


class Partner(BaseModel):
    """A partner as admins and its own users see it. Secrets are never part of it."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: uuid.UUID
    name: str
    status: str
    parent_id: uuid.UUID | None = Field(default=None, alias="parentId")
    webhook_url: str | None = Field(default=None, alias="webhookUrl")
    allow_unsigned_requests: bool = Field(alias="allowUnsignedRequests")
    fees: Fees
    payment_methods: list[str] = Field(alias="paymentMethods")
    """Empty: every method the platform offers."""
    provider_preferences: list[str] = Field(alias="providerPreferences")
    """Provider codes in the order routing tries them; empty: the platform's order."""
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")

    def audit_fields(self) -> dict[str, object]:
        """Flat field -> value, for before/after comparisons in the audit log."""
        values = self.model_dump(by_alias=False, exclude={"created_at", "updated_at", "fees"})
        return values | self.fees.model_dump(by_alias=False)


class PartnerChanges(BaseModel):
    """The fields to change; absent fields stay as they are."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    status: Annotated[str, StringConstraints(pattern="^(active|inactive)$")] | None = None
    parent_id: uuid.UUID | None = Field(default=None, alias="parentId")
    webhook_url: Annotated[str, StringConstraints(max_length=2000)] | None = Field(default=None, alias="webhookUrl")
    allow_unsigned_requests: bool | None = Field(default=None, alias="allowUnsignedRequests")
    fees: Fees | None = None
    payment_methods: list[Code] | None = Field(default=None, alias="paymentMethods", max_length=32)
    provider_preferences: list[Code] | None = Field(default=None, alias="providerPreferences", max_length=32)
