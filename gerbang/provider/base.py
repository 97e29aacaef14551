"""The provider protocol: the small steps every upstream provider is reduced to.

Adapters are pure I/O: a typed request in, a typed result out. They never read settings or touch the
database; the caller hands them the account (credentials decrypted) and an HTTP session. Errors are
sorted into the three kinds the caller acts on differently: the provider is unavailable (try the next
account), the provider refused this request (do not retry elsewhere blindly), or it answered something
we cannot trust (treat as unavailable, and alert).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

import aiohttp


class PaymentMethod(enum.StrEnum):
    qris = "qris"
    va = "va"
    ewallet = "ewallet"


class PaymentStatus(enum.StrEnum):
    """Our statuses, which every provider's vocabulary is mapped onto."""

    pending = "PENDING"
    paid = "PAID"
    failed = "FAILED"
    expired = "EXPIRED"


class ProviderError(Exception):
    """Something went wrong talking to a provider. The message never contains credentials."""


class ProviderUnavailable(ProviderError):
    """Network error, timeout or 5xx: the next account may be tried."""


class ProviderRejected(ProviderError):
    """The provider refused the request itself (4xx with a reason)."""


class BalanceNotOffered(ProviderRejected):
    """The provider has no balance query (or none is documented)."""


class ProviderResponseInvalid(ProviderUnavailable):
    """An answer we cannot trust (malformed, or an amount other than the one asked for)."""


class ProviderTimeout(ProviderUnavailable):
    """No answer in time: the request may or may not have been taken (a payout is asked about, not resent
    elsewhere)."""


class ProviderDuplicate(ProviderRejected):
    """The provider already has a request under this id (ours): ask for its status rather than resend."""


class ProviderInsufficientBalance(ProviderRejected):
    """The provider account cannot pay this out: another account may."""


class ProviderInvalidAccount(ProviderRejected):
    """The destination bank account does not exist or cannot receive: no account will pay it."""


@dataclass(frozen=True)
class ProviderAccount:
    """What an adapter needs of one provider account: where to call and with which credentials."""

    id: uuid.UUID
    provider: str
    base_url: str
    credentials: Mapping[str, str]
    merchant_name: str = "gerbang"


@dataclass(frozen=True)
class Customer:
    name: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class ChargeRequest:
    order_id: uuid.UUID
    amount: int
    method: PaymentMethod
    channel: str | None
    """Bank code for `va`, wallet code for `ewallet`."""
    expires_at: datetime
    callback_url: str
    return_url: str | None = None
    customer: Customer = field(default_factory=Customer)


@dataclass(frozen=True)
class Charge:
    provider_reference: str
    amount: int
    qr_payload: str | None = None
    va_number: str | None = None
    redirect_url: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    """The provider's answer, kept for support (never containing our credentials)."""


@dataclass(frozen=True)
class StatusResult:
    status: PaymentStatus
    amount: int | None
    provider_reference: str | None
    paid_at: datetime | None = None
    settled: bool = False
    """The provider says it has settled this paid charge to us: what `provider_reported` settlement waits
    for. False from providers that do not say."""


@dataclass(frozen=True)
class InboundCallback:
    headers: Mapping[str, str]
    """Lower-case names."""
    body: bytes
    """The exact bytes received: signatures are computed over them."""
    method: str = "POST"
    query: str = ""
    """The raw query string (without `?`): some providers call back with GET and the fields in it."""

    @property
    def recorded(self) -> bytes:
        """What is kept of it in `provider_callbacks`: the body, or for a bodiless GET (ING1) `?` + the query."""
        return self.body if self.body or not self.query else b"?" + self.query.encode()


@dataclass(frozen=True)
class PaymentCallback:
    """What a callback claims, before it is verified."""

    event_id: str
    """The provider's id for this notification: a retry of the same notification has the same id."""
    order_id: uuid.UUID | None
    provider_reference: str | None
    status: PaymentStatus
    amount: int | None
    paid_at: datetime | None


@dataclass(frozen=True)
class Acknowledgement:
    """The answer the provider expects, so it stops retrying."""

    status_code: int
    body: bytes
    content_type: str = "application/json"


class PaymentProvider(Protocol):
    name: ClassVar[str]
    methods: ClassVar[frozenset[PaymentMethod]]
    callbacks_signed: ClassVar[bool]
    """False for a provider that does not sign its payment callbacks: the framework then never trusts a
    callback's body; it only prompts a `payment_status` query, whose answer alone moves the order."""
    callbacks_confirmed: ClassVar[bool]
    """True for a provider whose callback signature does not cover everything we act on (Hilogate's leaves
    out the status): a verified callback is then confirmed by a `payment_status` query, as an unsigned one."""
    timeout: aiohttp.ClientTimeout
    """How long one call to the provider may take: `GERBANG_<PROVIDER>_TIMEOUT` (`registry.apply_timeouts`)."""

    def check_credentials(self, credentials: Mapping[str, str]) -> dict[str, str]:
        """The credentials this provider needs, validated; raises ValueError naming what is wrong
        (never echoing a value)."""
        ...

    async def create_payment(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: ChargeRequest
    ) -> Charge: ...

    async def payment_status(
        self,
        session: aiohttp.ClientSession,
        account: ProviderAccount,
        order_id: uuid.UUID,
        provider_reference: str | None,
    ) -> StatusResult: ...

    def parse_callback(self, callback: InboundCallback) -> PaymentCallback:
        """What the callback claims; raises ValueError if it is not this provider's format."""
        ...

    def verify_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        """True only if the provider signed exactly these bytes (constant-time comparison)."""
        ...

    def acknowledge(self, accepted: bool) -> Acknowledgement: ...


# Payouts: the steps of a provider that also pays out to bank accounts (a separate protocol, so providers
# without payouts implement only `PaymentProvider`).


class DisbursementStatus(enum.StrEnum):
    """Our statuses for a payout, which every provider's vocabulary is mapped onto."""

    pending = "PENDING"
    processing = "PROCESSING"
    completed = "COMPLETED"
    failed = "FAILED"


@dataclass(frozen=True)
class AccountInquiry:
    bank_code: str
    """As the partner gave it; the provider answers with its normalised form."""
    account_number: str


@dataclass(frozen=True)
class AccountInquiryResult:
    valid: bool
    holder_name: str | None
    """The name the bank holds for the account (None when it is not valid)."""
    bank_code: str
    account_number: str
    reason: str | None = None
    """Why it is not valid, in the provider's words."""


@dataclass(frozen=True)
class DisbursementRequest:
    withdrawal_id: uuid.UUID
    """Our reference at the provider: repeating a request with it is the same disbursement."""
    amount: int
    bank_code: str
    account_number: str
    holder_name: str
    callback_url: str
    note: str | None = None


@dataclass(frozen=True)
class Disbursement:
    provider_reference: str
    status: DisbursementStatus
    amount: int
    raw: Mapping[str, Any] = field(default_factory=dict)
    """The provider's answer, kept for support (never containing our credentials)."""


@dataclass(frozen=True)
class DisbursementStatusResult:
    status: DisbursementStatus
    amount: int | None
    """As the provider reports it: the caller compares it with the withdrawal's."""
    provider_reference: str | None
    reason: str | None = None


@dataclass(frozen=True)
class DisbursementCallback:
    """What a disbursement callback claims, before it is verified."""

    event_id: str
    """The provider's id for this notification: a retry of the same notification has the same id."""
    withdrawal_id: uuid.UUID | None
    provider_reference: str | None
    status: DisbursementStatus
    amount: int | None
    reason: str | None


class PayoutProvider(Protocol):
    name: ClassVar[str]
    timeout: aiohttp.ClientTimeout
    disbursement_callbacks_signed: ClassVar[bool]
    """False for a provider whose disbursement callbacks are not signed (or not documented as signed): they
    only prompt a `disbursement_status` query, whose answer alone moves the withdrawal."""

    async def account_inquiry(
        self, session: aiohttp.ClientSession, account: ProviderAccount, inquiry: AccountInquiry
    ) -> AccountInquiryResult:
        """Whether the bank account exists and whose it is; an unknown bank is a `ProviderRejected`."""
        ...

    async def create_disbursement(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: DisbursementRequest
    ) -> Disbursement:
        """Idempotent by `request.withdrawal_id`; raises `ProviderResponseInvalid` if the provider answers
        for another amount or withdrawal."""
        ...

    async def disbursement_status(
        self,
        session: aiohttp.ClientSession,
        account: ProviderAccount,
        withdrawal_id: uuid.UUID,
        provider_reference: str | None,
    ) -> DisbursementStatusResult: ...

    async def balance(self, session: aiohttp.ClientSession, account: ProviderAccount) -> int:
        """What the account can still pay out, in whole rupiah."""
        ...

    def parse_disbursement_callback(self, callback: InboundCallback) -> DisbursementCallback:
        """What the callback claims; raises ValueError if it is not this provider's disbursement format
        (a payment callback included)."""
        ...

    def verify_disbursement_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        """True only if the provider signed exactly these bytes (constant-time comparison)."""
        ...

    def acknowledge(self, accepted: bool) -> Acknowledgement: ...
