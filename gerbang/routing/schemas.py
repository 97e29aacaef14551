from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gerbang.provider.base import PaymentMethod

Rupiah = Annotated[int, Field(gt=0, le=10_000_000_000_000, strict=True)]
SettlementRule = Literal["business_days", "provider_reported"]
SettlementDays = Annotated[int, Field(ge=0, le=30, strict=True, description="N of D+N; 0: at the next run")]
CutoffHour = Annotated[
    int,
    Field(ge=0, le=23, strict=True, description="Asia/Jakarta; paid at or after it counts from the next business day"),
]


class AccountRules(BaseModel):
    """What routing checks before sending an order to the account."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True, extra="forbid")

    methods: list[PaymentMethod] = Field(min_length=1)
    weekday_enabled: bool = Field(default=True, alias="weekdayEnabled")
    weekend_enabled: bool = Field(default=True, alias="weekendEnabled")
    min_amount: Rupiah | None = Field(default=None, alias="minAmount")
    max_amount: Rupiah | None = Field(default=None, alias="maxAmount")
    daily_cap: Rupiah | None = Field(default=None, alias="dailyCap")
    priority: int = Field(default=100, ge=0, le=10_000)
    weight: int = Field(default=1, ge=1, le=1000)
    enabled: bool = True
    settlement_rule: SettlementRule = Field(
        default="business_days", alias="settlementRule",
        description="`business_days`: N business days after payment; `provider_reported`: when the provider's "
        "status answer says settled (docs/settlement.md)",
    )  # fmt: skip
    settlement_days: SettlementDays = Field(default=1, alias="settlementDays")
    settlement_cutoff_hour: CutoffHour | None = Field(default=None, alias="settlementCutoffHour")


class AccountCreate(AccountRules):
    provider: str = Field(max_length=32, examples=["sandbox"])
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    base_url: str | None = Field(
        default=None, alias="baseUrl", max_length=500, examples=["http://127.0.0.1:8000/sandbox"],
        description="Default: the provider's `GERBANG_<PROVIDER>_BASE_URL` (required for a provider without one)",
    )  # fmt: skip
    credentials: dict[str, str] = Field(description="Provider-specific; write-only (never returned)")


class AccountChanges(BaseModel):
    """Fields to change; absent fields stay. `credentials`, when sent, replace the stored ones whole."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    base_url: str | None = Field(default=None, alias="baseUrl", max_length=500)
    credentials: dict[str, str] | None = None
    methods: list[PaymentMethod] | None = Field(default=None, min_length=1)
    weekday_enabled: bool | None = Field(default=None, alias="weekdayEnabled")
    weekend_enabled: bool | None = Field(default=None, alias="weekendEnabled")
    min_amount: Rupiah | None = Field(default=None, alias="minAmount")
    max_amount: Rupiah | None = Field(default=None, alias="maxAmount")
    daily_cap: Rupiah | None = Field(default=None, alias="dailyCap")
    priority: int | None = Field(default=None, ge=0, le=10_000)
    weight: int | None = Field(default=None, ge=1, le=1000)
    enabled: bool | None = None
    settlement_rule: SettlementRule | None = Field(default=None, alias="settlementRule")
    settlement_days: SettlementDays | None = Field(default=None, alias="settlementDays")
    settlement_cutoff_hour: CutoffHour | None = Field(default=None, alias="settlementCutoffHour")


class Account(AccountRules):
    """A provider account as admins see it: never its credentials, only which fields are set."""

    id: uuid.UUID
    provider: str
    name: str
    base_url: str = Field(alias="baseUrl")
    credential_fields: list[str] = Field(alias="credentialFields")
    consecutive_failures: int = Field(alias="consecutiveFailures")
    circuit_opened_at: datetime | None = Field(alias="circuitOpenedAt")
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class ProviderBalance(BaseModel):
    """What a provider reports an account can still pay out, asked at `checkedAt` (not stored)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    account_id: uuid.UUID = Field(alias="accountId")
    provider: str = Field(examples=["hilogate"])
    balance: int = Field(description="Whole rupiah", examples=[12_500_000])
    currency: Literal["IDR"] = "IDR"
    checked_at: datetime = Field(alias="checkedAt")
