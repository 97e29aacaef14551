"""Oy! (OY Indonesia): payment-routing QRIS pay-ins, remit (disbursement), account inquiry and balance
(seed inventory 4.2).

No request signature: every request carries `X-Oy-Username` and `X-Api-Key` (the account's credentials,
over HTTPS) and a JSON body. Oy! answers `{"status": {"code": "000", "message": ...}, ...}`.

Oy!'s payment callback (`POST /api/v1/transaction/callback/oy`) is not signed or authenticated at all, so
it is never believed (`callbacks_signed` False): the framework stores it unverified and asks
`POST /api/payment-routing/check-status` with the account that owns the order; only that answer, with its
amount checked against the order, moves the order. Remit callbacks (`POST /api/v1/withdrawals/callback`)
are treated the same way, answered by `POST /api/remit-status`. `GERBANG_OY_CALLBACK_IPS` can restrict the
source addresses on top.

Assumptions (from Oy!'s published API as we understand it; confirm with Oy!):
- payment-routing `payment_status`: CREATED, WAITING_PAYMENT, CHARGE_IN_PROGRESS (pending), COMPLETE
  (paid), EXPIRED, FAILED (and CANCELLED) ; the QR string at `payment_info.qris_string` (else
  `payment_info.qris_url`);
- remit `status.code`: 000 success, 101 and 102 processing, 301 pending (an unclear answer from the bank),
  300 failed; on create 203 duplicate `partner_trx_id`, 206 not enough balance, 209 unknown bank, 201/202/
  207/208 refused (user, IP or key), 990 bad parameters, 999 Oy!'s own error (unavailable);
- account inquiry: `POST /api/account-inquiry {bank_code, account_number}` answering `account_name`;
- balance: `GET /api/balance` answering `balance` (a decimal: rounded down to whole rupiah);
- the remit `email` is the account's optional `email` credential (the original hard-coded one);
- settlement: check-status's `settlement_status` (the callback's field of the same name, seed inventory 4.2)
  is WAITING until Oy! has settled the payment to us and SUCCESS after (with `settlement_time`); only
  SUCCESS is `StatusResult.settled`, what `provider_reported` settlement waits for.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import aiohttp
import orjson

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
    ProviderInsufficientBalance,
    ProviderInvalidAccount,
    ProviderRejected,
    ProviderResponseInvalid,
    ProviderUnavailable,
    StatusResult,
)
from gerbang.provider.common import TimedAdapter, amount_of, call_json, credentials_of, refusal, text_of, unknown_status

NAME = "oy"
_WIB = timezone(timedelta(hours=7))


def payment_status(value: object) -> PaymentStatus:
    """Oy!'s payment-routing statuses onto ours; an unknown one is logged and pending, never paid."""
    match value.upper() if isinstance(value, str) else value:
        case "COMPLETE" | "COMPLETED":
            return PaymentStatus.paid
        case "CREATED" | "WAITING_PAYMENT" | "CHARGE_IN_PROGRESS" | "PENDING":
            return PaymentStatus.pending
        case "FAILED" | "CANCELLED" | "CANCELED":
            return PaymentStatus.failed
        case "EXPIRED":
            return PaymentStatus.expired
        case _:
            unknown_status(NAME, "payment", value)
            return PaymentStatus.pending


def settlement_reported(value: object) -> bool:
    """Whether check-status's `settlement_status` says the money has reached us: SUCCESS only (WAITING, absent
    or anything else: not yet)."""
    return isinstance(value, str) and value.upper() == "SUCCESS"


def remit_status(code: object) -> DisbursementStatus:
    """Oy!'s remit status codes onto ours; an unknown one is logged and pending, never completed."""
    match code:
        case "000":
            return DisbursementStatus.completed
        case "101" | "102" | "301":
            return DisbursementStatus.processing
        case "300":
            return DisbursementStatus.failed
        case _:
            unknown_status(NAME, "remit", code)
            return DisbursementStatus.pending


def _code(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    status = data.get("status")
    if isinstance(status, Mapping):
        return text_of(status.get("code")), text_of(status.get("message"))
    return None, None


def _wib_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=_WIB)
    except ValueError:
        return None


def _refused(code: str | None, message: str | None) -> Exception:
    reason = f"{NAME} refused ({code}): {(message or '')[:200]}"
    match code:
        case "203":
            return ProviderDuplicate(reason)
        case "206":
            return ProviderInsufficientBalance(reason)
        case "209":
            return ProviderInvalidAccount(reason)
        case "999":
            return ProviderUnavailable(reason)
        case _:
            return ProviderRejected(reason)


class OyProvider(TimedAdapter):
    name: ClassVar[str] = NAME
    methods: ClassVar[frozenset[PaymentMethod]] = frozenset({PaymentMethod.qris})
    callbacks_signed: ClassVar[bool] = False
    callbacks_confirmed: ClassVar[bool] = True
    disbursement_callbacks_signed: ClassVar[bool] = False

    def check_credentials(self, credentials: Mapping[str, str]) -> dict[str, str]:
        found = credentials_of(
            credentials,
            {
                "username": ("merchantId", "merchant_id", "userName"),
                "api_key": ("apiKey", "secretKey", "secret_key"),
                "email": (),
            },
            optional=("email",),
        )
        if len(found["api_key"]) < 8:
            raise ValueError("api_key is too short")
        return found

    async def _call(
        self, session: aiohttp.ClientSession, account: ProviderAccount, method: str, path: str, body: Any = None
    ) -> dict[str, Any]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Oy-Username": account.credentials["username"],
            "X-Api-Key": account.credentials["api_key"],
        }
        raw = orjson.dumps(body) if body is not None else None
        status, data = await call_json(
            session, NAME, method, account.base_url.rstrip("/") + path, body=raw, headers=headers, limit=self.timeout
        )
        if not isinstance(data, dict):
            raise ProviderResponseInvalid(f"{NAME} answered {status} with something other than an object")
        if status >= 400:
            code, message = _code(data)
            raise refusal(NAME, status, message or code)
        return data

    async def create_payment(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: ChargeRequest
    ) -> Charge:
        if request.method is not PaymentMethod.qris:
            raise refusal(NAME, 400, f"method {request.method.value} is not offered")
        body = {
            "partner_trx_id": str(request.order_id), "receive_amount": request.amount,
            "partner_user_id": str(request.order_id), "need_frontend": False,
            "list_enable_payment_method": "QRIS", "list_enable_sof": "QRIS",
            "expiration": request.expires_at.astimezone(_WIB).strftime("%Y-%m-%d %H:%M:%S"),
        }  # fmt: skip
        data = await self._call(session, account, "POST", "/api/payment-routing/create-transaction", body)
        code, message = _code(data)
        if code != "000":
            raise _refused(code, message)
        if amount_of(data.get("receive_amount")) != request.amount or data.get("partner_trx_id") != str(
            request.order_id
        ):
            raise ProviderResponseInvalid(f"{NAME} answered for another amount or order")
        info = data.get("payment_info")
        info = info if isinstance(info, Mapping) else {}
        qr = text_of(info.get("qris_string")) or text_of(info.get("qris_url"))
        if qr is None:
            raise ProviderResponseInvalid(f"{NAME} answered without a QR")
        return Charge(
            provider_reference=text_of(data.get("trx_id")) or str(request.order_id),
            amount=request.amount,
            qr_payload=qr,
            redirect_url=text_of(info.get("payment_checkout_url")),
            raw=data,
        )

    async def payment_status(
        self,
        session: aiohttp.ClientSession,
        account: ProviderAccount,
        order_id: uuid.UUID,
        provider_reference: str | None,
    ) -> StatusResult:
        body = {"partner_trx_id": str(order_id), "send_callback": False}
        data = await self._call(session, account, "POST", "/api/payment-routing/check-status", body)
        code, message = _code(data)
        if code != "000":
            raise _refused(code, message)
        if data.get("partner_trx_id") != str(order_id):
            raise ProviderResponseInvalid(f"{NAME} answered for another order")
        return StatusResult(
            status=payment_status(data.get("payment_status")),
            amount=amount_of(data.get("receive_amount")),
            provider_reference=text_of(data.get("trx_id")) or provider_reference,
            paid_at=_wib_time(data.get("payment_received_time")),
            settled=settlement_reported(data.get("settlement_status")),
        )

    def parse_callback(self, callback: InboundCallback) -> PaymentCallback:
        """What the callback claims, to know which order to ask about: never acted on by itself."""
        try:
            data = orjson.loads(callback.body)
            ref, status = data["partner_trx_id"], data["payment_status"]
            if not isinstance(status, str):
                raise ValueError("not a payment callback")
            return PaymentCallback(
                event_id=f"{ref}:{status.upper()}",
                order_id=uuid.UUID(str(ref)),
                provider_reference=text_of(data.get("trx_id")),
                status=payment_status(status),
                amount=amount_of(data.get("receive_amount")),
                paid_at=_wib_time(data.get("payment_received_time")),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise ValueError("not an Oy! payment callback") from None

    def verify_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        return False  # Oy! does not sign: the framework asks Oy! instead (`callbacks_signed` False)

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        return Acknowledgement(200 if accepted else 400, orjson.dumps({"success": accepted}))

    async def account_inquiry(
        self, session: aiohttp.ClientSession, account: ProviderAccount, inquiry: AccountInquiry
    ) -> AccountInquiryResult:
        data = await self._call(session, account, "POST", "/api/account-inquiry", {
            "bank_code": inquiry.bank_code, "account_number": inquiry.account_number,
        })  # fmt: skip
        code, message = _code(data)
        if code == "209":
            raise ProviderRejected(f"{NAME} does not know bank {inquiry.bank_code!r}")
        if code in ("201", "202", "207", "208", "990", "999"):
            raise _refused(code, message)
        if data.get("account_number") not in (None, inquiry.account_number):
            raise ProviderResponseInvalid(f"{NAME} answered an inquiry for another account")
        holder = text_of(data.get("account_name"))
        valid = code == "000" and holder is not None
        return AccountInquiryResult(
            valid=valid,
            holder_name=holder if valid else None,
            bank_code=text_of(data.get("bank_code")) or inquiry.bank_code,
            account_number=inquiry.account_number,
            reason=None if valid else (message or "account_not_found"),
        )

    async def create_disbursement(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: DisbursementRequest
    ) -> Disbursement:
        body: dict[str, Any] = {
            "recipient_bank": request.bank_code, "recipient_account": request.account_number,
            "amount": request.amount, "note": (request.note or "withdrawal")[:200],
            "partner_trx_id": str(request.withdrawal_id),
        }  # fmt: skip
        if account.credentials.get("email"):
            body["email"] = account.credentials["email"]
        data = await self._call(session, account, "POST", "/api/remit", body)
        code, message = _code(data)
        if code not in ("000", "101", "102", "301", "300"):
            error = _refused(code, message)
            if not isinstance(error, ProviderDuplicate):
                raise error
            # Sent before (a retry of ours): what became of it is the answer.
            known = await self.disbursement_status(session, account, request.withdrawal_id, None)
            if known.amount != request.amount or known.provider_reference is None:
                raise ProviderResponseInvalid(f"{NAME} holds another remit under this id")
            return Disbursement(known.provider_reference, known.status, request.amount)
        if amount_of(data.get("amount")) != request.amount or data.get("partner_trx_id") != str(request.withdrawal_id):
            raise ProviderResponseInvalid(f"{NAME} answered for another amount or withdrawal")
        return Disbursement(
            provider_reference=text_of(data.get("trx_id")) or str(request.withdrawal_id),
            status=remit_status(code),
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
        body = {"partner_trx_id": str(withdrawal_id), "send_callback": False}
        data = await self._call(session, account, "POST", "/api/remit-status", body)
        code, message = _code(data)
        if code in ("204", "201", "202", "207", "208", "990", "999"):
            raise _refused(code, message)
        if data.get("partner_trx_id") != str(withdrawal_id):
            raise ProviderResponseInvalid(f"{NAME} answered for another remit")
        return DisbursementStatusResult(
            status=remit_status(code),
            amount=amount_of(data.get("amount")),
            provider_reference=text_of(data.get("trx_id")) or provider_reference,
            reason=message if code == "300" else None,
        )

    async def balance(self, session: aiohttp.ClientSession, account: ProviderAccount) -> int:
        data = await self._call(session, account, "GET", "/api/balance")
        code, message = _code(data)
        if code != "000":
            raise _refused(code, message)
        value = data.get("balance")
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ProviderResponseInvalid(f"{NAME} answered a balance that is not an amount")
        try:
            # Decimal, not float: a balance is money (whole rupiah, any fraction dropped as before).
            return int(Decimal(str(value)))
        except (ValueError, InvalidOperation):
            raise ProviderResponseInvalid(f"{NAME} answered a balance that is not an amount") from None

    def parse_disbursement_callback(self, callback: InboundCallback) -> DisbursementCallback:
        """What a remit callback claims, to know which withdrawal to ask about: never acted on by itself."""
        try:
            data = orjson.loads(callback.body)
            ref, status = data["partner_trx_id"], data["status"]
            if not isinstance(status, Mapping) or "payment_status" in data:
                raise ValueError("not a remit callback")
            code = text_of(status.get("code"))
            return DisbursementCallback(
                event_id=f"{ref}:{code}",
                withdrawal_id=uuid.UUID(str(ref)),
                provider_reference=text_of(data.get("trx_id")),
                status=remit_status(code),
                amount=amount_of(data.get("amount")),
                reason=text_of(status.get("message")),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise ValueError("not an Oy! remit callback") from None

    def verify_disbursement_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        return False  # not signed: only ever a prompt to ask (`disbursement_callbacks_signed` False)
