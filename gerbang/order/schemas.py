from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints, computed_field, field_validator

from gerbang.order.payloads import settlement_status
from gerbang.provider.base import PaymentMethod

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class PaymentCreate(BaseModel):
    """`POST /api/v1/payments` (with `method`) and `/payments/create-order` (the customer picks)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    amount: int = Field(
        gt=0, le=1_000_000_000, strict=True, validation_alias=AliasChoices("amount", "price"), examples=[150000]
    )
    method: PaymentMethod = PaymentMethod.qris
    channel: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{2,16}$", to_upper=True)] | None = Field(
        default=None, validation_alias=AliasChoices("channel", "paymentChannel"), examples=["BCA"]
    )
    reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = Field(
        default=None, description="Your own id for the order, unique among your orders", examples=["INV-2026-0001"]
    )
    player_id: Text | None = Field(default=None, validation_alias=AliasChoices("playerId", "player_id"))
    flow: Literal["embed", "redirect"] = "embed"
    customer_name: Text | None = Field(default=None, validation_alias=AliasChoices("customerName", "customerFullName"))
    customer_email: Annotated[str, StringConstraints(max_length=254)] | None = Field(
        default=None, validation_alias=AliasChoices("customerEmail", "customer_email")
    )
    customer_phone: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        default=None, validation_alias=AliasChoices("customerPhone", "customer_phone")
    )
    expires_in_minutes: int = Field(
        default=15, ge=1, le=1440, validation_alias=AliasChoices("expiresInMinutes", "expires_in_minutes")
    )
    return_url: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        default=None, validation_alias=AliasChoices("returnUrl", "return_url")
    )
    metadata: dict[str, Any] | None = None

    @field_validator("metadata")
    @classmethod
    def _small(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        import orjson

        if value is not None and len(orjson.dumps(value)) > 2048:
            raise ValueError("metadata is at most 2 KB of JSON")
        return value


class PaymentResult(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    order_id: uuid.UUID = Field(serialization_alias="orderId")
    reference: str
    status: str
    checkout_url: str = Field(serialization_alias="checkoutUrl")
    qr_payload: str | None = Field(serialization_alias="qrPayload")
    va_number: str | None = Field(serialization_alias="vaNumber")
    redirect_url: str | None = Field(serialization_alias="redirectUrl")
    amount: int
    expires_at: datetime = Field(serialization_alias="expiresAt")
    player_id: str | None = Field(serialization_alias="playerId")


class PaymentCreated(BaseModel):
    success: bool = True
    result: PaymentResult


class OrderView(BaseModel):
    """An order as its partner sees it."""

    model_config = ConfigDict(serialize_by_alias=True)

    id: uuid.UUID
    partner_id: uuid.UUID = Field(serialization_alias="partnerId")
    reference: str
    player_id: str | None = Field(serialization_alias="playerId")
    amount: int
    fee: int | None
    method: str | None
    channel: str | None
    status: str
    provider: str | None
    qr_payload: str | None = Field(serialization_alias="qrPayload")
    va_number: str | None = Field(serialization_alias="vaNumber")
    redirect_url: str | None = Field(serialization_alias="redirectUrl")
    return_url: str | None = Field(serialization_alias="returnUrl")
    metadata: dict[str, Any] | None
    expires_at: datetime = Field(serialization_alias="expiresAt")
    paid_at: datetime | None = Field(serialization_alias="paidAt")
    settled_at: datetime | None = Field(default=None, serialization_alias="settledAt")
    created_at: datetime = Field(serialization_alias="createdAt")

    @computed_field(alias="settlementStatus")  # type: ignore[prop-decorator]
    @property
    def settlement_status(self) -> str | None:
        return settlement_status(self.status)
