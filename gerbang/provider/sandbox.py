"""The adapter for the sandbox provider (`gerbang.sandbox`), written as for any real one: bearer-key
requests, callbacks signed with HMAC-SHA256 of the raw body under the merchant key. It pays in and pays
out (`PaymentProvider` and `PayoutProvider`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import aiohttp
import orjson

from gerbang.kit.crypto import equal
from gerbang.provider.base import (
    AccountInquiry,
    AccountInquiryResult,
    Acknowledgement,
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
    PaymentStatus,
    ProviderAccount,
    ProviderRejected,
    ProviderResponseInvalid,
    ProviderUnavailable,
    StatusResult,
)
from gerbang.sandbox.protocol import SIGNATURE_HEADER, sign


def _status(value: object) -> PaymentStatus:
    match value:
        case "PENDING":
            return PaymentStatus.pending
        case "PAID":
            return PaymentStatus.paid
        case "FAILED":
            return PaymentStatus.failed
        case "EXPIRED":
            return PaymentStatus.expired
        case _:
            raise ProviderResponseInvalid(f"unknown sandbox status {value!r}")


def _disbursement_status(value: object) -> DisbursementStatus:
    # The sandbox accepts a disbursement straight into PROCESSING: it never reports PENDING.
    match value:
        case "PROCESSING":
            return DisbursementStatus.processing
        case "COMPLETED":
            return DisbursementStatus.completed
        case "FAILED":
            return DisbursementStatus.failed
        case _:
            raise ProviderResponseInvalid(f"unknown sandbox disbursement status {value!r}")


def _amount(value: object) -> int | None:
    """Whole rupiah, or None: a float, a string or a bool (an int to Python) is not an amount."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


class SandboxProvider:
    name: ClassVar[str] = "sandbox"
    methods: ClassVar[frozenset[PaymentMethod]] = frozenset(PaymentMethod)
    callbacks_signed: ClassVar[bool] = True
    callbacks_confirmed: ClassVar[bool] = False
    disbursement_callbacks_signed: ClassVar[bool] = True

    def __init__(self, disbursement_delay_ms: int | None = None, settlement_delay_s: int | None = None) -> None:
        # The sandbox's own fields for how long a disbursement stays PROCESSING and how long after its payment
        # a charge is reported settled (None: the sandbox's defaults), so tests and demos choose their pace; a
        # real provider takes what it takes.
        self.disbursement_delay_ms = disbursement_delay_ms
        self.settlement_delay_s = settlement_delay_s
        self.timeout = aiohttp.ClientTimeout(total=10)

    def check_credentials(self, credentials: Mapping[str, str]) -> dict[str, str]:
        key = credentials.get("merchant_key")
        if not isinstance(key, str) or not 16 <= len(key) <= 200:
            raise ValueError("merchant_key is required (16 to 200 characters)")
        unknown = set(credentials) - {"merchant_key"}
        if unknown:
            raise ValueError(f"unknown credential fields: {sorted(unknown)}")
        return {"merchant_key": key}

    async def _call(
        self, session: aiohttp.ClientSession, account: ProviderAccount, method: str, path: str, body: Any = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {account.credentials['merchant_key']}"}
        data = None
        if body is not None:
            data = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            async with session.request(
                method, account.base_url.rstrip("/") + path, data=data, headers=headers, timeout=self.timeout
            ) as response:
                payload = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ProviderUnavailable(f"sandbox unreachable: {type(error).__name__}") from None
        if status >= 500:
            raise ProviderUnavailable(f"sandbox answered {status}")
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise ProviderResponseInvalid(f"sandbox answered {status} with a body that is not JSON") from None
        if status >= 400 or not isinstance(data, dict):
            reason = data.get("error") if isinstance(data, dict) else None
            raise ProviderRejected(f"sandbox refused ({status}): {reason}")
        return data

    async def create_payment(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: ChargeRequest
    ) -> Charge:
        body: dict[str, Any] = {
            "merchant_ref": str(request.order_id),
            "amount": request.amount,
            "method": request.method.value,
            "channel": request.channel,
            "expires_at": request.expires_at.isoformat(),
            "callback_url": request.callback_url,
            "merchant_name": account.merchant_name,
        }
        if self.settlement_delay_s is not None:
            body["sandbox_settlement_delay_s"] = self.settlement_delay_s
        data = await self._call(session, account, "POST", "/api/charges", body)
        if data.get("amount") != request.amount or data.get("merchant_ref") != str(request.order_id):
            raise ProviderResponseInvalid("sandbox answered for another amount or order")
        return Charge(
            provider_reference=str(data["charge_id"]),
            amount=request.amount,
            qr_payload=data.get("qr_string"),
            va_number=data.get("va_number"),
            redirect_url=data.get("redirect_url"),
            raw=data,
        )

    async def payment_status(
        self,
        session: aiohttp.ClientSession,
        account: ProviderAccount,
        order_id: uuid.UUID,
        provider_reference: str | None,
    ) -> StatusResult:
        data = await self._call(session, account, "GET", f"/api/charges/{order_id}")
        paid_at = data.get("paid_at")
        return StatusResult(
            status=_status(data.get("status")),
            amount=_amount(data.get("amount")),
            provider_reference=str(data.get("charge_id")),
            paid_at=datetime.fromisoformat(paid_at) if isinstance(paid_at, str) else None,
            settled=data.get("settled") is True,
        )

    def parse_callback(self, callback: InboundCallback) -> PaymentCallback:
        try:
            data = orjson.loads(callback.body)
            if data.get("type") is not None:  # pay-in callbacks carry no type; payout ones say "disbursement"
                raise ValueError("a sandbox callback of another kind")
            paid_at = data.get("paid_at")
            return PaymentCallback(
                event_id=str(data["event_id"]),
                order_id=uuid.UUID(str(data["merchant_ref"])),
                provider_reference=str(data["charge_id"]),
                status=_status(data["status"]),
                amount=_amount(data["amount"]),
                paid_at=datetime.fromisoformat(paid_at) if isinstance(paid_at, str) else None,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, ProviderResponseInvalid):
            raise ValueError("not a sandbox callback") from None

    def verify_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        presented = callback.headers.get(SIGNATURE_HEADER, "")
        return bool(presented) and equal(presented.lower(), sign(account.credentials["merchant_key"], callback.body))

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        return Acknowledgement(200 if accepted else 401, orjson.dumps({"received": accepted}))

    async def account_inquiry(
        self, session: aiohttp.ClientSession, account: ProviderAccount, inquiry: AccountInquiry
    ) -> AccountInquiryResult:
        data = await self._call(session, account, "POST", "/api/account-inquiry", {
            "bank_code": inquiry.bank_code, "account_number": inquiry.account_number,
        })  # fmt: skip
        valid, bank, name = data.get("valid"), _text(data.get("bank_code")), data.get("holder_name")
        if data.get("account_number") != inquiry.account_number or not isinstance(valid, bool) or bank is None:
            raise ProviderResponseInvalid("sandbox answered an inquiry for another account")
        if valid and not isinstance(name, str):
            raise ProviderResponseInvalid("sandbox answered a valid account without its holder")
        return AccountInquiryResult(
            valid=valid,
            holder_name=name if valid else None,
            bank_code=bank,
            account_number=inquiry.account_number,
            reason=_text(data.get("reason")),
        )

    async def create_disbursement(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: DisbursementRequest
    ) -> Disbursement:
        body: dict[str, Any] = {
            "merchant_ref": str(request.withdrawal_id), "amount": request.amount, "bank_code": request.bank_code,
            "account_number": request.account_number, "holder_name": request.holder_name,
            "callback_url": request.callback_url, "note": request.note,
        }  # fmt: skip
        if self.disbursement_delay_ms is not None:
            body["sandbox_delay_ms"] = self.disbursement_delay_ms
        data = await self._call(session, account, "POST", "/api/disbursements", body)
        if _amount(data.get("amount")) != request.amount or data.get("merchant_ref") != str(request.withdrawal_id):
            raise ProviderResponseInvalid("sandbox answered for another amount or withdrawal")
        reference = _text(data.get("disbursement_id"))
        if not reference:
            raise ProviderResponseInvalid("sandbox answered without a disbursement id")
        return Disbursement(
            provider_reference=reference,
            status=_disbursement_status(data.get("status")),
            amount=request.amount,
            raw=data,
        )

    async def disbursement_status(
        self,
        session: aiohttp.ClientSession,
        account: ProviderAccount,
        withdrawal_id: uuid.UUID,
        provider_reference: str | None,
    ) -> DisbursementStatusResult:
        data = await self._call(session, account, "GET", f"/api/disbursements/{withdrawal_id}")
        reference = _text(data.get("disbursement_id"))
        if data.get("merchant_ref") != str(withdrawal_id) or provider_reference not in (None, reference):
            raise ProviderResponseInvalid("sandbox answered for another disbursement")
        return DisbursementStatusResult(
            status=_disbursement_status(data.get("status")),
            amount=_amount(data.get("amount")),
            provider_reference=reference,
            reason=_text(data.get("reason")),
        )

    async def balance(self, session: aiohttp.ClientSession, account: ProviderAccount) -> int:
        data = await self._call(session, account, "GET", "/api/balance")
        balance = _amount(data.get("balance"))
        if balance is None or data.get("currency") != "IDR":
            raise ProviderResponseInvalid("sandbox answered a balance that is not whole rupiah")
        return balance

    def parse_disbursement_callback(self, callback: InboundCallback) -> DisbursementCallback:
        try:
            data = orjson.loads(callback.body)
            if data["type"] != "disbursement":
                raise ValueError("a sandbox callback of another kind")
            return DisbursementCallback(
                event_id=str(data["event_id"]),
                withdrawal_id=uuid.UUID(str(data["merchant_ref"])),
                provider_reference=str(data["disbursement_id"]),
                status=_disbursement_status(data["status"]),
                amount=_amount(data["amount"]),
                reason=_text(data.get("reason")),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, ProviderResponseInvalid):
            raise ValueError("not a sandbox disbursement callback") from None

    def verify_disbursement_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        # Signed exactly as payment callbacks are.
        return self.verify_callback(account, callback)
