"""Piro: QRIS pay-ins, bank-account validation and RTOL disbursements (seed inventory 4.5).

Every request carries HTTP Basic with Piro's daily credentials, computed per request: user
`piro-<millis>`, password `<millis>`, where `<millis>` is the start of the current day in Asia/Jakarta
(WIB) in milliseconds since the epoch. Headers `client_id`, `device_id`, `latitude`, `longitude` and
`x-signature`, lowercase hex MD5 of concatenated parts, amounts with two decimals (`150000.00`):
- QR (create a payment): MD5(clientId + value + orderId + clientSecret);
- transfer and account validation: MD5(clientId + deviceId + latitude + longitude + value +
  beneficiaryAccount + clientSecret);
- status (payment or disbursement): MD5(clientId + deviceId + latitude + longitude + clientSecret).
Credentials are per provider account (the original read the client id, secrets and position from global
environment variables, and only the merchant, store, terminal and channel per sub-merchant).

Callbacks: the pay-in callback (`POST /api/v1/transaction/callback/piro`: the original's sat behind partner
API-key auth, so Piro could never reach it) and the disbursement callback (`POST
/api/v1/withdrawals/callback/piro`) are signed `x-signature` (or `x-piro-signature`) = MD5(raw body +
signatureKey) with the signature key of the account that owns the order or withdrawal, compared in
constant time. That covers the whole body, status included, so a verified callback is acted on as it is
(`callbacks_confirmed` False); its amount is still checked against the order or withdrawal.

Assumptions (the reference leaves them open; confirm with Piro):
- answers are `{code, message, data: {...}}`; a 4xx is a refusal sorted by its message (409 or
  "duplicate": the id is known already); amounts in answers and callbacks are decimal strings or numbers;
- "secret" in the QR and transfer signatures is the account's `clientSecret`;
- `POST /v1/payments` carries our order id as both `referenceId` and `orderId`, the amount as the signed
  two-decimal string, and answers `data.paymentId` and the QR at `data.qrString`; `GET
  /v1/payments/{ref}` takes our order id; store, terminal and channel are sent only when the account has them;
- account validation is `{bankCode, accountNumber, amount}` for a nominal 10,000 (the signed value), and
  answers `data.accountName` (`data.bankCode`, `data.bankName`, `data.branchCode`, `data.bic`); an account
  that does not exist is a 4xx whose message says so ("account not found"), an unknown bank any other 4xx;
- `POST /v1/disbursements {merchantId, referenceId, bankCode, accountNumber, accountName, amount,
  description, callbackUrl}` with our withdrawal id as `referenceId`, answering `data.disbursementId`;
  the withdrawal status is `GET /v1/disbursements/{referenceId}` (assumed path), signed by the status scheme;
- callbacks are JSON: a payment's names the order at `orderId` (else `referenceId`) with `paymentId`; a
  disbursement's names the withdrawal at `referenceId` (else `reference_id`, `partnerReferenceId`,
  `externalId`, `ref_id`) with `disbursementId`; event id: the provider's id (else our id) + the status;
- no balance query is documented: `balance` raises `BalanceNotOffered`;
- a `callbackUrl` credential (the original had one per sub-merchant) is refused as unknown: the callback
  URL is always ours.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import aiohttp
import orjson

from gerbang.kit.crypto import equal
from gerbang.kit.time import to_jakarta, utcnow
from gerbang.provider.base import (
    AccountInquiry,
    AccountInquiryResult,
    Acknowledgement,
    BalanceNotOffered,
    Charge,
    ChargeRequest,
    Disbursement,
    DisbursementCallback,
    DisbursementRequest,
    DisbursementStatus,
    DisbursementStatusResult,
    InboundCallback,
    PaymentCallback,
    PaymentMethod,
    ProviderAccount,
    ProviderDuplicate,
    ProviderInvalidAccount,
    ProviderResponseInvalid,
    StatusResult,
)
from gerbang.provider.common import TimedAdapter, amount_of, call_json, credentials_of, refusal, text_of, unknown_status
from gerbang.provider.piro_common import (
    amount_signature,
    md5_hex,
    payment_status,
    presented_signature,
    time_of,
    two_decimals,
)

NAME = "piro"
INQUIRY_AMOUNT = 10_000
DEFAULT_DEVICE_ID = "web"
_COORDINATE = re.compile(r"-?[0-9]{1,3}(\.[0-9]{1,12})?")
_WITHDRAWAL_REFERENCES = ("referenceId", "reference_id", "partnerReferenceId", "externalId", "ref_id")


def day_start_millis(now: datetime) -> int:
    """The start of `now`'s day in Asia/Jakarta, in milliseconds since the epoch."""
    midnight = to_jakarta(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp()) * 1000


def daily_credentials(now: datetime) -> tuple[str, str]:
    """Piro's HTTP Basic user and password for `now`'s WIB day: `piro-<millis>` and `<millis>`."""
    millis = str(day_start_millis(now))
    return f"piro-{millis}", millis


def basic_authorization(now: datetime) -> str:
    """The `Authorization` header of a request made at `now`."""
    user, password = daily_credentials(now)
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def transfer_signature(credentials: Mapping[str, str], value: str, account_number: str) -> str:
    """MD5(clientId + deviceId + latitude + longitude + value + beneficiaryAccount + clientSecret)."""
    return md5_hex(
        credentials["client_id"], credentials["device_id"], credentials["latitude"], credentials["longitude"], value,
        account_number, credentials["client_secret"],
    )  # fmt: skip


def status_signature(credentials: Mapping[str, str]) -> str:
    """MD5(clientId + deviceId + latitude + longitude + clientSecret)."""
    return md5_hex(
        credentials["client_id"], credentials["device_id"], credentials["latitude"], credentials["longitude"],
        credentials["client_secret"],
    )  # fmt: skip


def callback_signature(body: bytes, signature_key: str) -> str:
    """MD5(raw body + signatureKey): both of Piro's callbacks."""
    return md5_hex(body, signature_key)


def disbursement_status(value: object) -> DisbursementStatus:
    """Piro's disbursement statuses onto ours; an unknown one is logged and pending, never completed."""
    match value.strip().upper() if isinstance(value, str) else value:
        case "SUCCESS" | "COMPLETED" | "PAID" | "DONE" | "SETTLED":
            return DisbursementStatus.completed
        case "PROCESSING" | "PROCESS" | "IN_PROCESS" | "ON_PROCESS":
            return DisbursementStatus.processing
        case "PENDING" | "CREATED" | "WAITING":
            return DisbursementStatus.pending
        case "FAILED" | "REJECTED" | "ERROR" | "CANCELLED" | "CANCELED" | "VOID":
            return DisbursementStatus.failed
        case _:
            unknown_status(NAME, "disbursement", value)
            return DisbursementStatus.pending


def _json_object(body: bytes) -> dict[str, Any]:
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return data


def _check_coordinate(name: str, value: str, limit: int) -> None:
    if not _COORDINATE.fullmatch(value) or abs(float(value)) > limit:
        raise ValueError(f"{name} must be a decimal number between -{limit} and {limit}")


class PiroProvider(TimedAdapter):
    name: ClassVar[str] = NAME
    methods: ClassVar[frozenset[PaymentMethod]] = frozenset({PaymentMethod.qris})
    callbacks_signed: ClassVar[bool] = True
    callbacks_confirmed: ClassVar[bool] = False
    disbursement_callbacks_signed: ClassVar[bool] = True

    def check_credentials(self, credentials: Mapping[str, str]) -> dict[str, str]:
        found = credentials_of(
            credentials,
            {
                "merchant_id": ("merchantId",), "store_id": ("storeId",), "terminal_id": ("terminalId",),
                "channel": (), "client_id": ("clientId",), "client_secret": ("clientSecret",),
                "signature_key": ("signatureKey",), "device_id": ("deviceId",), "latitude": (), "longitude": (),
            },
            optional=("store_id", "terminal_id", "channel", "device_id"),
        )  # fmt: skip
        _check_coordinate("latitude", found["latitude"], 90)
        _check_coordinate("longitude", found["longitude"], 180)
        for secret in ("client_secret", "signature_key"):
            if len(found[secret]) < 8:
                raise ValueError(f"{secret} is too short")
        return {"device_id": DEFAULT_DEVICE_ID} | found

    def _headers(self, credentials: Mapping[str, str], signature: str) -> dict[str, str]:
        return {
            "Content-Type": "application/json", "Accept": "application/json",
            "Authorization": basic_authorization(utcnow()), "client_id": credentials["client_id"],
            "device_id": credentials["device_id"],
            "latitude": credentials["latitude"], "longitude": credentials["longitude"], "x-signature": signature,
        }  # fmt: skip

    async def _call(
        self, session: aiohttp.ClientSession, account: ProviderAccount, method: str, path: str, signature: str,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        status, answer = await call_json(
            session, NAME, method, account.base_url.rstrip("/") + path,
            body=orjson.dumps(body) if body is not None else None,
            headers=self._headers(account.credentials, signature), limit=self.timeout,
        )  # fmt: skip
        message = text_of(answer.get("message")) if isinstance(answer, dict) else None
        if status >= 400:
            raise refusal(NAME, status, message)
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict):
            raise ProviderResponseInvalid(f"{NAME} answered {status} without data")
        return data

    async def create_payment(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: ChargeRequest
    ) -> Charge:
        if request.method is not PaymentMethod.qris:
            raise refusal(NAME, 400, f"method {request.method.value} is not offered")
        credentials, order_id, value = account.credentials, str(request.order_id), two_decimals(request.amount)
        customer = {"name": request.customer.name, "email": request.customer.email, "phone": request.customer.phone}
        body: dict[str, Any] = {
            "merchantId": credentials["merchant_id"], "referenceId": order_id, "orderId": order_id, "amount": value,
            "description": f"order {order_id}", "callbackUrl": request.callback_url,
            "customer": {key: text for key, text in customer.items() if text},
        }  # fmt: skip
        for field, name in (("store_id", "storeId"), ("terminal_id", "terminalId"), ("channel", "channel")):
            if credentials.get(field):
                body[name] = credentials[field]
        signature = amount_signature(credentials["client_id"], value, order_id, credentials["client_secret"])
        data = await self._call(session, account, "POST", "/v1/payments", signature, body)
        if amount_of(data.get("amount")) != request.amount or data.get("orderId") != order_id:
            raise ProviderResponseInvalid(f"{NAME} answered for another amount or order")
        qr = text_of(data.get("qrString"))
        if qr is None:
            raise ProviderResponseInvalid(f"{NAME} answered without a QR string")
        return Charge(provider_reference=text_of(data.get("paymentId")) or order_id, amount=request.amount,
                      qr_payload=qr, raw=data)  # fmt: skip

    async def payment_status(
        self,
        session: aiohttp.ClientSession,
        account: ProviderAccount,
        order_id: uuid.UUID,
        provider_reference: str | None,
    ) -> StatusResult:
        signature = status_signature(account.credentials)
        data = await self._call(session, account, "GET", f"/v1/payments/{order_id}", signature)
        if data.get("orderId", data.get("referenceId")) != str(order_id):
            raise ProviderResponseInvalid(f"{NAME} answered for another order")
        return StatusResult(
            status=payment_status(data.get("status"), provider=NAME),
            amount=amount_of(data.get("amount")),
            provider_reference=text_of(data.get("paymentId")) or provider_reference,
            paid_at=time_of(data.get("paidAt")),
        )

    def parse_callback(self, callback: InboundCallback) -> PaymentCallback:
        try:
            data = _json_object(callback.body)
            ref, status = data.get("orderId", data.get("referenceId")), data["status"]
            if not isinstance(status, str) or "disbursementId" in data:
                raise ValueError("not a payment callback")
            payment_id = text_of(data.get("paymentId"))
            return PaymentCallback(
                event_id=f"{payment_id or ref}:{status.upper()}"[:200],
                order_id=uuid.UUID(str(ref)),
                provider_reference=payment_id,
                status=payment_status(status, provider=NAME),
                amount=amount_of(data.get("amount")),
                paid_at=time_of(data.get("paidAt")),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise ValueError("not a Piro payment callback") from None

    def verify_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        presented = presented_signature(callback.headers)
        expected = callback_signature(callback.body, account.credentials["signature_key"])
        return presented is not None and equal(presented, expected)

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        return Acknowledgement(200 if accepted else 401, orjson.dumps({"status": "ok" if accepted else "rejected"}))

    async def account_inquiry(
        self, session: aiohttp.ClientSession, account: ProviderAccount, inquiry: AccountInquiry
    ) -> AccountInquiryResult:
        value = two_decimals(INQUIRY_AMOUNT)
        body = {"bankCode": inquiry.bank_code, "accountNumber": inquiry.account_number, "amount": value}
        signature = transfer_signature(account.credentials, value, inquiry.account_number)
        try:
            data = await self._call(session, account, "POST", "/v1/disbursements/account-validation", signature, body)
        except ProviderInvalidAccount as invalid:
            return AccountInquiryResult(valid=False, holder_name=None, bank_code=inquiry.bank_code,
                                        account_number=inquiry.account_number, reason=str(invalid))  # fmt: skip
        if data.get("accountNumber") not in (None, inquiry.account_number):
            raise ProviderResponseInvalid(f"{NAME} answered a validation for another account")
        holder = text_of(data.get("accountName"))
        if holder is None:
            raise ProviderResponseInvalid(f"{NAME} answered a validation without the holder's name")
        return AccountInquiryResult(valid=True, holder_name=holder, bank_code=text_of(data.get("bankCode")) or
                                    inquiry.bank_code, account_number=inquiry.account_number)  # fmt: skip

    async def create_disbursement(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: DisbursementRequest
    ) -> Disbursement:
        reference, value = str(request.withdrawal_id), two_decimals(request.amount)
        body = {
            "merchantId": account.credentials["merchant_id"], "referenceId": reference, "bankCode": request.bank_code,
            "accountNumber": request.account_number, "accountName": request.holder_name, "amount": value,
            "description": (request.note or "withdrawal")[:100], "callbackUrl": request.callback_url,
        }  # fmt: skip
        signature = transfer_signature(account.credentials, value, request.account_number)
        try:
            data = await self._call(session, account, "POST", "/v1/disbursements", signature, body)
        except ProviderDuplicate:  # sent before (a retry of ours): what became of it is the answer
            known = await self.disbursement_status(session, account, request.withdrawal_id, None)
            if known.amount != request.amount or known.provider_reference is None:
                raise ProviderResponseInvalid(f"{NAME} holds another disbursement under this id") from None
            return Disbursement(known.provider_reference, known.status, request.amount)
        if amount_of(data.get("amount")) != request.amount or data.get("referenceId") != reference:
            raise ProviderResponseInvalid(f"{NAME} answered for another amount or withdrawal")
        status = disbursement_status(data.get("status"))
        if status is DisbursementStatus.pending:
            status = DisbursementStatus.processing  # accepted: Piro has it
        return Disbursement(provider_reference=text_of(data.get("disbursementId")) or reference, status=status,
                            amount=request.amount, raw=data)  # fmt: skip

    async def disbursement_status(
        self,
        session: aiohttp.ClientSession,
        account: ProviderAccount,
        withdrawal_id: uuid.UUID,
        provider_reference: str | None,
    ) -> DisbursementStatusResult:
        signature = status_signature(account.credentials)
        data = await self._call(session, account, "GET", f"/v1/disbursements/{withdrawal_id}", signature)
        if data.get("referenceId") != str(withdrawal_id):
            raise ProviderResponseInvalid(f"{NAME} answered for another withdrawal")
        status = disbursement_status(data.get("status"))
        return DisbursementStatusResult(
            status=status, amount=amount_of(data.get("amount")),
            provider_reference=text_of(data.get("disbursementId")) or provider_reference,
            reason=text_of(data.get("reason")) if status is DisbursementStatus.failed else None,
        )  # fmt: skip

    async def balance(self, session: aiohttp.ClientSession, account: ProviderAccount) -> int:
        raise BalanceNotOffered(f"{NAME} offers no balance query")

    def parse_disbursement_callback(self, callback: InboundCallback) -> DisbursementCallback:
        try:
            data = _json_object(callback.body)
            ref = next(data[key] for key in _WITHDRAWAL_REFERENCES if data.get(key))
            status = data["status"]
            if not isinstance(status, str) or "paymentId" in data:
                raise ValueError("not a disbursement callback")
            disbursement_id = text_of(data.get("disbursementId"))
            return DisbursementCallback(
                event_id=f"{disbursement_id or ref}:{status.upper()}"[:200],
                withdrawal_id=uuid.UUID(str(ref)),
                provider_reference=disbursement_id,
                status=disbursement_status(status),
                amount=amount_of(data.get("amount")),
                reason=text_of(data.get("reason")) or text_of(data.get("message")),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, StopIteration):
            raise ValueError("not a Piro disbursement callback") from None

    def verify_disbursement_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        return self.verify_callback(account, callback)
