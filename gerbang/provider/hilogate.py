"""Hilogate: QRIS pay-ins, bank-account validation, withdrawals and balance (seed inventory 4.1).

Signing, as documented: every request carries `X-Merchant-ID`, `X-Environment` and `X-Signature` =
lowercase hex MD5 of (request path + the exact JSON body sent + secret key), or of (path + secret key) when
there is no body. The secret key itself is never sent (the original put it in an `X-Merchant-Key` header).

Pay-in callbacks (`POST /api/v1/transactions/callback`, also accepted at the singular
`/api/v1/transaction/callback`): `X-Signature` = MD5 of ("/api/v1/transactions" + compact JSON of exactly
`{"ref_id", "amount", "method"}` in that order + the secret key of the account that owns the order),
compared in constant time. That string does not cover `status`, so a signed callback could be replayed with
another status: a verified callback is therefore only a prompt (`callbacks_confirmed`), and the order moves
on Hilogate's answer to `GET /api/v1/transactions/{ref_id}`.

Assumptions (the reference does not say; confirm with Hilogate):
- answers are `{"code": ..., "message": ..., "data": {...}}` (the QR string at `data.qr_string`);
- an amount may come as an integer, an integral float or a decimal string;
- the withdrawal status is `GET /api/v1/withdrawals/{ref_id}`, and disbursement callbacks (at
  `POST /api/v1/withdrawals/callback`, a JSON body with `ref_id` and a text `status`) are not documented as
  signed: they only prompt that status query (`disbursement_callbacks_signed` False);
- Hilogate has no id per notification: the event id is `ref_id:status`;
- `GET /api/v1/transactions/{ref_id}` answers "status and settlement" (the reference): a transaction is
  settled to us when its `settlement_status` is SETTLED, DONE or SUCCESS, or its status is SETTLED
  (`StatusResult.settled`, what `provider_reported` settlement waits for); PENDING or absent: not yet.
"""

from __future__ import annotations

import hashlib
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
    ProviderDuplicate,
    ProviderResponseInvalid,
    StatusResult,
)
from gerbang.provider.common import TimedAdapter, amount_of, call_json, credentials_of, refusal, text_of, unknown_status

NAME = "hilogate"
CALLBACK_SIGNED_PATH = "/api/v1/transactions"
SIGNATURE_HEADER = "x-signature"
_ENVIRONMENTS = {"sandbox": "sandbox", "production": "production", "live": "production"}


def signature(path: str, body: str | None, secret_key: str) -> str:
    """MD5 hex of path + body + secret (path + secret with no body): requests and callbacks alike."""
    return hashlib.md5((path + (body or "") + secret_key).encode(), usedforsecurity=False).hexdigest()


def callback_signed_string(ref_id: object, amount: object, method: object) -> str:
    """The compact JSON the callback signature covers: `{"ref_id":..,"amount":..,"method":..}` in that
    order, as JavaScript's `JSON.stringify` writes it (an integral amount without a decimal point)."""
    if isinstance(amount, float) and amount.is_integer():
        amount = int(amount)
    return orjson.dumps({"ref_id": ref_id, "amount": amount, "method": method}).decode()


def payment_status(value: object) -> PaymentStatus:
    """Hilogate's transaction statuses onto ours; an unknown one is logged and pending, never paid."""
    match str(value).upper() if isinstance(value, str) else value:
        case "SUCCESS" | "DONE" | "COMPLETED" | "PAID" | "SETTLED":
            return PaymentStatus.paid
        case "PENDING" | "WAITING" | "PROCESSING" | "CREATED":
            return PaymentStatus.pending
        case "FAILED" | "CANCELLED" | "CANCELED" | "REJECTED":
            return PaymentStatus.failed
        case "EXPIRED":
            return PaymentStatus.expired
        case _:
            unknown_status(NAME, "payment", value)
            return PaymentStatus.pending


def settlement_reported(status: object, settlement_status: object) -> bool:
    """Whether Hilogate says a transaction's money has reached us: its `settlement_status` (SETTLED, DONE or
    SUCCESS), or the transaction's own status SETTLED. Anything else (PENDING, absent, unknown) is not yet."""
    if isinstance(settlement_status, str) and settlement_status.upper() in ("SETTLED", "DONE", "SUCCESS"):
        return True
    return isinstance(status, str) and status.upper() == "SETTLED"


def disbursement_status(value: object) -> DisbursementStatus:
    """Hilogate's withdrawal statuses onto ours; an unknown one is logged and pending, never completed."""
    match str(value).upper() if isinstance(value, str) else value:
        case "SUCCESS" | "DONE" | "COMPLETED":
            return DisbursementStatus.completed
        case "PROCESSING" | "PROCESS" | "ON_PROCESS":
            return DisbursementStatus.processing
        case "PENDING" | "WAITING" | "CREATED":
            return DisbursementStatus.pending
        case "FAILED" | "REJECTED" | "CANCELLED" | "CANCELED" | "ERROR":
            return DisbursementStatus.failed
        case _:
            unknown_status(NAME, "disbursement", value)
            return DisbursementStatus.pending


def _paid_at(data: Mapping[str, Any]) -> datetime | None:
    for key in ("paid_at", "updated_at"):
        value = data.get(key)
        if isinstance(value, Mapping):
            value = value.get("value")
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                continue
            if parsed.tzinfo is not None:
                return parsed
    return None


class HilogateProvider(TimedAdapter):
    name: ClassVar[str] = NAME
    methods: ClassVar[frozenset[PaymentMethod]] = frozenset({PaymentMethod.qris})
    callbacks_signed: ClassVar[bool] = True
    callbacks_confirmed: ClassVar[bool] = True
    disbursement_callbacks_signed: ClassVar[bool] = False

    def check_credentials(self, credentials: Mapping[str, str]) -> dict[str, str]:
        found = credentials_of(
            credentials,
            {"merchant_id": ("merchantId",), "secret_key": ("secretKey",), "env": ("environment",)},
            optional=("env",),
        )
        env = found.get("env", "production").lower()
        if env not in _ENVIRONMENTS:
            raise ValueError("env must be sandbox, production or live")
        if len(found["secret_key"]) < 8:
            raise ValueError("secret_key is too short")
        return {"merchant_id": found["merchant_id"], "secret_key": found["secret_key"], "env": _ENVIRONMENTS[env]}

    async def _call(
        self, session: aiohttp.ClientSession, account: ProviderAccount, method: str, path: str, body: Any = None
    ) -> dict[str, Any]:
        raw = orjson.dumps(body) if body is not None else None
        headers = {
            "Content-Type": "application/json",
            "X-Merchant-ID": account.credentials["merchant_id"],
            "X-Environment": account.credentials.get("env", "production"),
            "X-Signature": signature(path, raw.decode() if raw else None, account.credentials["secret_key"]),
        }
        status, data = await call_json(
            session, NAME, method, account.base_url.rstrip("/") + path, body=raw, headers=headers, limit=self.timeout
        )
        message = text_of(data.get("message")) if isinstance(data, dict) else None
        if status >= 400:
            raise refusal(NAME, status, message)
        inner = data.get("data") if isinstance(data, dict) else None
        if not isinstance(inner, dict):
            raise ProviderResponseInvalid(f"{NAME} answered {status} without data")
        return inner

    async def create_payment(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: ChargeRequest
    ) -> Charge:
        if request.method is not PaymentMethod.qris:
            raise refusal(NAME, 400, f"method {request.method.value} is not offered")
        body = {"ref_id": str(request.order_id), "amount": request.amount, "method": "qris"}
        data = await self._call(session, account, "POST", "/api/v1/transactions", body)
        if amount_of(data.get("amount")) != request.amount or data.get("ref_id") != str(request.order_id):
            raise ProviderResponseInvalid(f"{NAME} answered for another amount or order")
        qr = text_of(data.get("qr_string"))
        if qr is None:
            raise ProviderResponseInvalid(f"{NAME} answered without a QR string")
        return Charge(
            provider_reference=text_of(data.get("id")) or str(request.order_id),
            amount=request.amount,
            qr_payload=qr,
            raw=data,
        )

    async def payment_status(
        self,
        session: aiohttp.ClientSession,
        account: ProviderAccount,
        order_id: uuid.UUID,
        provider_reference: str | None,
    ) -> StatusResult:
        data = await self._call(session, account, "GET", f"/api/v1/transactions/{order_id}")
        if data.get("ref_id") != str(order_id):
            raise ProviderResponseInvalid(f"{NAME} answered for another order")
        return StatusResult(
            status=payment_status(data.get("status")),
            amount=amount_of(data.get("amount")),
            provider_reference=text_of(data.get("id")) or provider_reference,
            paid_at=_paid_at(data),
            settled=settlement_reported(data.get("status"), data.get("settlement_status")),
        )

    def parse_callback(self, callback: InboundCallback) -> PaymentCallback:
        try:
            data = orjson.loads(callback.body)
            ref, status = data["ref_id"], data["status"]
            if not isinstance(status, str) or "method" not in data:
                raise ValueError("not a payment callback")
            return PaymentCallback(
                event_id=f"{ref}:{status.upper()}",
                order_id=uuid.UUID(str(ref)),
                provider_reference=text_of(data.get("id")),
                status=payment_status(status),
                amount=amount_of(data.get("amount")),
                paid_at=_paid_at(data),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise ValueError("not a Hilogate payment callback") from None

    def verify_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        presented = callback.headers.get(SIGNATURE_HEADER, "")
        try:
            data = orjson.loads(callback.body)
            signed = callback_signed_string(data["ref_id"], data["amount"], data["method"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return False
        expected = signature(CALLBACK_SIGNED_PATH, signed, account.credentials["secret_key"])
        return bool(presented) and equal(presented.strip().lower(), expected)

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        return Acknowledgement(200 if accepted else 401, orjson.dumps({"status": "ok" if accepted else "rejected"}))

    async def account_inquiry(
        self, session: aiohttp.ClientSession, account: ProviderAccount, inquiry: AccountInquiry
    ) -> AccountInquiryResult:
        data = await self._call(session, account, "POST", "/api/v1/bank-accounts/validate", {
            "account_number": inquiry.account_number, "bank_code": inquiry.bank_code,
        })  # fmt: skip
        if data.get("account_number") not in (None, inquiry.account_number):
            raise ProviderResponseInvalid(f"{NAME} answered an inquiry for another account")
        valid = data.get("status") == "valid"
        holder = text_of(data.get("account_holder"))
        if valid and holder is None:
            raise ProviderResponseInvalid(f"{NAME} answered a valid account without its holder")
        return AccountInquiryResult(
            valid=valid,
            holder_name=holder if valid else None,
            bank_code=text_of(data.get("bank_code")) or inquiry.bank_code,
            account_number=inquiry.account_number,
            reason=None if valid else (text_of(data.get("reason")) or text_of(data.get("status")) or "invalid"),
        )

    async def create_disbursement(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: DisbursementRequest
    ) -> Disbursement:
        body = {
            "ref_id": str(request.withdrawal_id), "amount": request.amount, "currency": "IDR",
            "account_number": request.account_number, "account_name": request.holder_name,
            "account_name_alias": request.holder_name, "bank_code": request.bank_code,
            "bank_name": request.bank_code, "branch_name": "", "description": request.note or "withdrawal",
        }  # fmt: skip
        try:
            data = await self._call(session, account, "POST", "/api/v1/withdrawals", body)
        except ProviderDuplicate:  # sent before (a retry of ours): what became of it is the answer
            known = await self.disbursement_status(session, account, request.withdrawal_id, None)
            if known.amount != request.amount or known.provider_reference is None:
                raise ProviderResponseInvalid(f"{NAME} holds another withdrawal under this id") from None
            return Disbursement(known.provider_reference, known.status, request.amount)
        if amount_of(data.get("amount")) != request.amount or data.get("ref_id") != str(request.withdrawal_id):
            raise ProviderResponseInvalid(f"{NAME} answered for another amount or withdrawal")
        return Disbursement(
            provider_reference=text_of(data.get("id")) or str(request.withdrawal_id),
            status=disbursement_status(data.get("status")),
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
        data = await self._call(session, account, "GET", f"/api/v1/withdrawals/{withdrawal_id}")
        if data.get("ref_id") != str(withdrawal_id):
            raise ProviderResponseInvalid(f"{NAME} answered for another withdrawal")
        return DisbursementStatusResult(
            status=disbursement_status(data.get("status")),
            amount=amount_of(data.get("amount")),
            provider_reference=text_of(data.get("id")) or provider_reference,
            reason=text_of(data.get("reason")),
        )

    async def balance(self, session: aiohttp.ClientSession, account: ProviderAccount) -> int:
        data = await self._call(session, account, "GET", "/api/v1/balance")
        active = data.get("active_balance")
        balance = amount_of(active) if not isinstance(active, float) else int(active)
        if balance is None:
            raise ProviderResponseInvalid(f"{NAME} answered a balance that is not an amount")
        return balance

    def parse_disbursement_callback(self, callback: InboundCallback) -> DisbursementCallback:
        try:
            data = orjson.loads(callback.body)
            ref, status = data["ref_id"], data["status"]
            if not isinstance(status, str) or "method" in data or "partner_trx_id" in data:
                raise ValueError("not a disbursement callback")
            return DisbursementCallback(
                event_id=f"{ref}:{status.upper()}",
                withdrawal_id=uuid.UUID(str(ref)),
                provider_reference=text_of(data.get("id")),
                status=disbursement_status(status),
                amount=amount_of(data.get("amount")),
                reason=text_of(data.get("reason")),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise ValueError("not a Hilogate disbursement callback") from None

    def verify_disbursement_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        return False  # not documented as signed: only ever a prompt to ask (`disbursement_callbacks_signed`)
