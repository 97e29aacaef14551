from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

BankCode = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z0-9_]{2,16}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
AccountNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{5,20}$")]


class BankAccount(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    bank_code: BankCode = Field(alias="bankCode", examples=["BCA"], description="Short name (`BCA`) or 3-digit code")
    account_number: AccountNumber = Field(alias="accountNumber", examples=["1234567890"])


class WithdrawalCreate(BankAccount):
    """A payout of `amount` (gross, whole rupiah) to a bank account; the fee comes out of it."""

    amount: int = Field(gt=0, le=10_000_000_000, strict=True, examples=[1_500_000])
    account_holder_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None
    ) = Field(default=None, alias="accountHolderName", description="Checked against the bank's name for the account")
    reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = Field(
        default=None, description="Your own id for the withdrawal, unique among yours", examples=["WD-2026-0001"]
    )
    note: Annotated[str, StringConstraints(max_length=255)] | None = None


class AccountCheck(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    valid: bool
    bank_code: str = Field(alias="bankCode")
    account_number: str = Field(alias="accountNumber")
    account_holder: str | None = Field(alias="accountHolder")
    reason: str | None


class PlatformPayoutCreate(WithdrawalCreate):
    """The platform's own payout from a provider account's balance (no fee: it is our money)."""

    provider_account_id: uuid.UUID = Field(alias="providerAccountId", description="The account the money leaves")
    otp: Annotated[str, StringConstraints(strip_whitespace=True, min_length=6, max_length=32)] = Field(
        description="A current TOTP code (or a recovery code) of the requesting admin"
    )


class _PayoutView(BaseModel):
    """What every payout shows, a partner's withdrawal or the platform's own."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True, extra="ignore")

    id: uuid.UUID
    reference: str
    status: str = Field(description="PENDING, PROCESSING, COMPLETED or FAILED")
    amount: int
    bank_code: str = Field(alias="bankCode")
    account_number: str = Field(alias="accountNumber")
    account_holder: str = Field(alias="accountHolder", description="As the bank holds it")
    supplied_holder_name: str | None = Field(alias="suppliedHolderName")
    holder_name_mismatch: bool = Field(alias="holderNameMismatch")
    note: str | None
    provider_reference: str | None = Field(alias="providerReference")
    failure_reason: str | None = Field(alias="failureReason")
    created_at: datetime = Field(alias="createdAt")
    completed_at: datetime | None = Field(alias="completedAt")
    failed_at: datetime | None = Field(alias="failedAt")


class WithdrawalView(_PayoutView):
    partner_id: uuid.UUID = Field(alias="partnerId")
    source: str
    fee: int
    net: int = Field(alias="netAmount")
    retry_of: uuid.UUID | None = Field(alias="retryOf")


class PlatformPayoutView(_PayoutView):
    provider_account_id: uuid.UUID = Field(alias="providerAccountId")
    requested_by: str | None = Field(alias="requestedBy", description="`admin:<id>`")


class WithdrawalCreated(BaseModel):
    success: bool = True
    result: WithdrawalView


class Balance(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    available: int
    pending: int
    held: int
    advance_outstanding: int = Field(alias="advanceOutstanding", description="What you still owe on advances")
