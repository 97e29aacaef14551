"""Gidi: QRIS MPM pay-ins and BI-FAST disbursements (seed inventory 4.3).

Signing, as documented: every request carries `signature` = sha256hex(merchantId + sha256hex(inner +
credentialKey)), where `inner` is, per call:
- `POST /QrisMpm/generateDynamic`: subMerchantId + requestId + transactionId + amount;
- `POST /Transfer/InquiryAccount`: requestId;
- `POST /Transfer/Bifast`: requestId + transactionId + channelId + methodFee + amount;
- `POST /Transfer/BifastQuery`: requestId + transactionId.

Every key is the provider account's own (merchantId, subMerchantId, credentialKey); nothing comes from the
environment (the original verified callbacks with global `GIDI_*` variables, forgeable when they were empty).

Pay-in ids. Gidi wants numeric ids that differ. `transactionId` is our order id's 128-bit value written in
decimal (up to 39 digits), so a callback naming it names the order, with no lookup and no stored mapping
(the original sent a random one, so its callbacks could not find their order). `requestId` is the time in
milliseconds and 6 random digits, as the original made it; on `DOUBLE_REQUEST_ID` a fresh one is made (up
to MAX_FRESH_REQUEST_IDS times). It is kept as the charge's provider reference: the status query names the
QR by the pair.

Callbacks (`POST /api/v1/transaction/callback/gidi`): `signature` (or `sign`) in the body = sha256hex(
merchantId + sha256hex(subMerchantId + invoiceId + amount + status + credentialKey)), with the keys of the
account that owns the order, compared in constant time. It covers the order, the amount and the status, so
a verified callback is believed (`callbacks_confirmed` False). Only `invoiceId`, the field the signature
covers, names the order (the original also took the unsigned `ref_id`/`refId`).

Withdrawals: `requestId` = `<withdrawal id>-r`, `transactionId` = the withdrawal id (the original's form;
numeric ids are documented for QRIS only), `channelId` = the bank's BI-FAST channel (`bifast_` + the bank's
short name, lower case; a `bifast_...` code is taken as it is), `methodFee` = `Merchant`. A resubmission
sends the same ids: Gidi's `DOUBLE_REQUEST_ID` then means it has the transfer, and BifastQuery is asked.

Assumptions (the reference leaves them open; confirm with Gidi):
- answers are `{responseCode, responseMessage, responseDetail}`, success being `responseCode` SUCCESS; the
  QR at `responseDetail.rawData`; `responseDetail.statusGenerate` "pending" means the QR is not ready: the
  same ids are asked again after 300, 600, 900 ms... for at most PENDING_WAIT_S;
- Gidi accepts a 39-digit `transactionId` (the original's were 19 digits: if Gidi limits the length, the
  order must be found by a stored reference instead) and echoes it as the callback's `invoiceId`;
- the QR status query is `POST /QrisMpm/queryDynamic {merchantId, subMerchantId, requestId, transactionId,
  signature}` with inner = requestId + transactionId (an earlier revision of the original names it so),
  answering `responseDetail.status` in the callback's vocabulary and `responseDetail.amount`;
- the callback's and the query's statuses: SUCCESS, PAID, DONE, COMPLETED, SETTLED (the original's) are
  paid; PENDING, WAITING, PROCESSING, CREATED pending; FAILED, FAILURE, CANCELLED, CANCELED, REJECTED
  failed; EXPIRED expired; anything else pending, logged (the original stored the raw value);
- the callback's payment time is not covered by the signature, so it is not believed: the payment time is
  when the verified callback arrives (a status answer's `datetimePayment`, WIB, is);
- the callback is acknowledged with `{"responseCode": "SUCCESS"}` (401 `INVALID_SIGNATURE` when refused);
- BifastQuery names the transfer by the ids it was made with (`<id>-r`, `<id>`); `statusTransfer` Success
  is completed, Failed failed (the original's), Pending/Process/Processing in progress, anything else
  pending, logged; Gidi sends no disbursement callback (none is documented): a withdrawal completes by the
  withdrawal module's polling of PROCESSING withdrawals (`disbursement_callbacks_signed` False, and
  `parse_disbursement_callback` refuses everything);
- an account inquiry has its own numeric requestId and answers `responseDetail.accountName`;
  `ACCOUNT_NOT_FOUND`/`INVALID_ACCOUNT` mean no such account, `INVALID_CHANNEL` an unknown bank;
  `INSUFFICIENT_BALANCE` on a transfer means this account cannot pay it;
- merchantId and subMerchantId are sent as JSON numbers (as the original did); a balance query is not
  documented: `balance` raises `BalanceNotOffered`.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import aiohttp
import orjson

from gerbang.kit.crypto import equal
from gerbang.kit.time import JAKARTA, to_jakarta
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

NAME = "gidi"
METHOD_FEE = "Merchant"
MAX_FRESH_REQUEST_IDS = 5
PENDING_WAIT_S = 3.0
PENDING_STEP_S = 0.3
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_DIGITS = re.compile(r"[0-9]{1,20}")
_CHANNEL = re.compile(r"bifast_[a-z][a-z0-9]{1,20}")
_TRANSACTION_ID = re.compile(r"[0-9]{1,39}")


def signature(merchant_id: str, inner: str, credential_key: str) -> str:
    """sha256hex(merchantId + sha256hex(inner + credentialKey)): every request and callback alike."""
    layer = hashlib.sha256((inner + credential_key).encode()).hexdigest()
    return hashlib.sha256((merchant_id + layer).encode()).hexdigest()


def transaction_id(order_id: uuid.UUID) -> str:
    """The numeric transactionId of an order: its 128 bits in decimal, so a callback naming it names the order."""
    return str(order_id.int)


def order_of(value: object) -> uuid.UUID:
    """The order a numeric transactionId names; ValueError for anything that is not one."""
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not _TRANSACTION_ID.fullmatch(text) or int(text) >= 1 << 128:
        raise ValueError("not a transactionId of ours")
    return uuid.UUID(int=int(text))


def request_id() -> str:
    """A fresh numeric requestId: the time in milliseconds and 6 random digits (the original's form)."""
    return f"{time.time_ns() // 1_000_000}{secrets.randbelow(1_000_000):06d}"


def bifast_channel(bank_code: str) -> str:
    """The BI-FAST channel of a bank (`BCA` -> `bifast_bca`); ProviderRejected for a code that is not a name."""
    code = bank_code.strip().lower()
    channel = code if code.startswith("bifast_") else f"bifast_{code}"
    if not _CHANNEL.fullmatch(channel):
        raise ProviderRejected(f"{NAME} needs a bank's short name (BCA) or BI-FAST channel, not {bank_code[:20]!r}")
    return channel


def js_text(value: object) -> str:
    """A JSON value as JavaScript's template string writes it, which the callback signature is computed over."""
    match value:
        case bool():
            return "true" if value else "false"
        case float() if value.is_integer():
            return str(int(value))
        case None:
            return "null"
        case _:
            return str(value)


def payment_status(value: object) -> PaymentStatus:
    """Gidi's QR statuses (callback and query) onto ours; an unknown one is logged and pending, never paid."""
    match value.strip().upper() if isinstance(value, str) else value:
        case "SUCCESS" | "PAID" | "DONE" | "COMPLETED" | "SETTLED":
            return PaymentStatus.paid
        case "PENDING" | "WAITING" | "PROCESSING" | "CREATED":
            return PaymentStatus.pending
        case "FAILED" | "FAILURE" | "CANCELLED" | "CANCELED" | "REJECTED":
            return PaymentStatus.failed
        case "EXPIRED":
            return PaymentStatus.expired
        case _:
            unknown_status(NAME, "payment", value)
            return PaymentStatus.pending


def transfer_status(value: object) -> DisbursementStatus:
    """Gidi's `statusTransfer` onto ours; an unknown one is logged and pending, never completed."""
    match value.strip().lower() if isinstance(value, str) else value:
        case "success":
            return DisbursementStatus.completed
        case "pending" | "process" | "processing":
            return DisbursementStatus.processing
        case "failed":
            return DisbursementStatus.failed
        case _:
            unknown_status(NAME, "transfer", value)
            return DisbursementStatus.pending


class RequestIdTaken(ProviderDuplicate):
    """`DOUBLE_REQUEST_ID`: Gidi has seen this requestId. For a QR a fresh one is made; for a transfer, whose
    ids are ours and fixed, it means Gidi has the transfer."""


def _refusal(status: int, code: str, message: str | None) -> ProviderRejected:
    """A refusal sorted by Gidi's `responseCode` first, then by its words."""
    reason = f"{NAME} refused ({code or status}): {(message or '')[:200]}"
    match code:
        case "DOUBLE_REQUEST_ID":
            return RequestIdTaken(reason)
        case "DOUBLE_TRANSACTION_ID":
            return ProviderDuplicate(reason)
        case "INSUFFICIENT_BALANCE":
            return ProviderInsufficientBalance(reason)
        case "ACCOUNT_NOT_FOUND" | "INVALID_ACCOUNT":
            return ProviderInvalidAccount(reason)
        case _:
            return refusal(NAME, status, f"{code}: {message or ''}")


def _paid_at(value: object) -> datetime | None:
    """`datetimePayment`, `YYYY-MM-DD HH:mm:ss` in WIB."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip(), TIME_FORMAT).replace(tzinfo=JAKARTA)
    except ValueError:
        return None


class GidiProvider(TimedAdapter):
    name: ClassVar[str] = NAME
    methods: ClassVar[frozenset[PaymentMethod]] = frozenset({PaymentMethod.qris})
    callbacks_signed: ClassVar[bool] = True
    callbacks_confirmed: ClassVar[bool] = False
    disbursement_callbacks_signed: ClassVar[bool] = False

    def check_credentials(self, credentials: Mapping[str, str]) -> dict[str, str]:
        found = credentials_of(credentials, {
            "merchant_id": ("merchantId",), "sub_merchant_id": ("subMerchantId",),
            "credential_key": ("credentialKey",),
        })  # fmt: skip
        for field in ("merchant_id", "sub_merchant_id"):
            if not _DIGITS.fullmatch(found[field]):
                raise ValueError(f"{field} must be digits")
        if len(found["credential_key"]) < 8:
            raise ValueError("credential_key is too short")
        return found

    def _sign(self, account: ProviderAccount, inner: str) -> str:
        return signature(account.credentials["merchant_id"], inner, account.credentials["credential_key"])

    async def _call(
        self, session: aiohttp.ClientSession, account: ProviderAccount, path: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """`responseDetail` of a SUCCESS answer; any other `responseCode` is a sorted refusal."""
        status, answer = await call_json(
            session, NAME, "POST", account.base_url.rstrip("/") + path, body=orjson.dumps(body),
            headers={"Content-Type": "application/json", "Accept": "application/json"}, limit=self.timeout,
        )  # fmt: skip
        if not isinstance(answer, dict):
            raise ProviderResponseInvalid(f"{NAME} answered {status} with something other than an object")
        code = text_of(answer.get("responseCode")) or ""
        if status >= 400 or code.upper() != "SUCCESS":
            raise _refusal(status, code.upper(), text_of(answer.get("responseMessage")))
        detail = answer.get("responseDetail")
        return detail if isinstance(detail, dict) else {}

    def _merchant(self, account: ProviderAccount) -> dict[str, int]:
        return {"merchantId": int(account.credentials["merchant_id"])}

    async def _generate(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: ChargeRequest, request_id: str
    ) -> dict[str, Any]:
        """One QR under `request_id`, asked again while Gidi says it is still being made."""
        transaction = transaction_id(request.order_id)
        sub = account.credentials["sub_merchant_id"]
        body = {
            **self._merchant(account), "subMerchantId": int(sub), "requestId": request_id,
            "transactionId": transaction, "amount": request.amount,
            "datetimeExpired": to_jakarta(request.expires_at).strftime(TIME_FORMAT),
            "signature": self._sign(account, f"{sub}{request_id}{transaction}{request.amount}"),
        }  # fmt: skip
        waited, step = 0.0, 0
        while True:
            detail = await self._call(session, account, "/QrisMpm/generateDynamic", body)
            if str(detail.get("statusGenerate", "")).lower() != "pending":
                return detail
            step += 1
            if waited + PENDING_STEP_S * step > PENDING_WAIT_S:
                raise ProviderUnavailable(f"{NAME} did not make the QR in {PENDING_WAIT_S:g} s")
            await asyncio.sleep(PENDING_STEP_S * step)
            waited += PENDING_STEP_S * step

    async def create_payment(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: ChargeRequest
    ) -> Charge:
        if request.method is not PaymentMethod.qris:
            raise refusal(NAME, 400, f"method {request.method.value} is not offered")
        for fresh in range(MAX_FRESH_REQUEST_IDS + 1):
            request_id_ = request_id()
            try:
                detail = await self._generate(session, account, request, request_id_)
                break
            except RequestIdTaken:  # another one
                if fresh == MAX_FRESH_REQUEST_IDS:
                    raise
        amount = amount_of(detail["amount"]) if "amount" in detail else request.amount
        echoed = detail.get("transactionId")
        if amount != request.amount or (echoed is not None and str(echoed) != transaction_id(request.order_id)):
            raise ProviderResponseInvalid(f"{NAME} answered for another amount or order")
        qr = text_of(detail.get("rawData"))
        if qr is None:
            raise ProviderResponseInvalid(f"{NAME} answered without a QR")
        return Charge(provider_reference=request_id_, amount=request.amount, qr_payload=qr, raw=detail)

    async def payment_status(
        self,
        session: aiohttp.ClientSession,
        account: ProviderAccount,
        order_id: uuid.UUID,
        provider_reference: str | None,
    ) -> StatusResult:
        if not provider_reference:
            raise ProviderRejected(f"{NAME} is asked about a QR by its requestId, and this order has none")
        transaction = transaction_id(order_id)
        body = {
            **self._merchant(account), "subMerchantId": int(account.credentials["sub_merchant_id"]),
            "requestId": provider_reference, "transactionId": transaction,
            "signature": self._sign(account, f"{provider_reference}{transaction}"),
        }  # fmt: skip
        detail = await self._call(session, account, "/QrisMpm/queryDynamic", body)
        echoed = detail.get("transactionId")
        if echoed is not None and str(echoed) != transaction:
            raise ProviderResponseInvalid(f"{NAME} answered for another order")
        return StatusResult(
            status=payment_status(detail.get("status")),
            amount=amount_of(detail.get("amount")),
            provider_reference=provider_reference,
            paid_at=_paid_at(detail.get("datetimePayment")),
        )

    def parse_callback(self, callback: InboundCallback) -> PaymentCallback:
        try:
            data = orjson.loads(callback.body)
            invoice, status = data["invoiceId"], data["status"]
            if not isinstance(status, str) or "amount" not in data:
                raise ValueError("not a payment callback")
            return PaymentCallback(
                event_id=f"{invoice}:{status.upper()}"[:200],
                order_id=order_of(invoice),
                provider_reference=text_of(data.get("requestId")),
                status=payment_status(status),
                amount=amount_of(data["amount"]),
                paid_at=None,  # not covered by the signature
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise ValueError("not a Gidi payment callback") from None

    def verify_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        try:
            data = orjson.loads(callback.body)
            presented = data.get("signature") or data.get("sign")
            signed = "".join(js_text(data[field]) for field in ("invoiceId", "amount", "status"))
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return False
        if not isinstance(presented, str) or not presented:
            return False
        expected = self._sign(account, account.credentials["sub_merchant_id"] + signed)
        return equal(presented.strip().lower(), expected)

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        if accepted:
            return Acknowledgement(200, orjson.dumps({"responseCode": "SUCCESS", "responseMessage": "received"}))
        return Acknowledgement(401, orjson.dumps({"responseCode": "INVALID_SIGNATURE", "responseMessage": "refused"}))

    async def account_inquiry(
        self, session: aiohttp.ClientSession, account: ProviderAccount, inquiry: AccountInquiry
    ) -> AccountInquiryResult:
        request_id_ = request_id()
        body = {
            **self._merchant(account), "requestId": request_id_, "channelId": bifast_channel(inquiry.bank_code),
            "accountNo": inquiry.account_number, "signature": self._sign(account, request_id_),
        }  # fmt: skip
        try:
            detail = await self._call(session, account, "/Transfer/InquiryAccount", body)
        except ProviderInvalidAccount as error:
            return AccountInquiryResult(False, None, inquiry.bank_code, inquiry.account_number, reason=str(error))
        if detail.get("accountNo") not in (None, inquiry.account_number):
            raise ProviderResponseInvalid(f"{NAME} answered an inquiry for another account")
        holder = text_of(detail.get("accountName"))
        if holder is None:
            raise ProviderResponseInvalid(f"{NAME} answered an inquiry without the holder's name")
        return AccountInquiryResult(True, holder, inquiry.bank_code, inquiry.account_number)

    def _transfer_ids(self, withdrawal_id: uuid.UUID) -> tuple[str, str]:
        return f"{withdrawal_id}-r", str(withdrawal_id)

    async def create_disbursement(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: DisbursementRequest
    ) -> Disbursement:
        request_id_, transaction = self._transfer_ids(request.withdrawal_id)
        channel = bifast_channel(request.bank_code)
        body = {
            **self._merchant(account), "requestId": request_id_, "transactionId": transaction, "channelId": channel,
            "accountNo": request.account_number, "methodFee": METHOD_FEE, "amount": request.amount,
            "transferNote": (request.note or "withdrawal")[:100],
            "signature": self._sign(account, f"{request_id_}{transaction}{channel}{METHOD_FEE}{request.amount}"),
        }  # fmt: skip
        try:
            detail = await self._call(session, account, "/Transfer/Bifast", body)
        except ProviderDuplicate:  # sent before (a retry of ours): what became of it is the answer
            known = await self.disbursement_status(session, account, request.withdrawal_id, None)
            if known.amount != request.amount:
                raise ProviderResponseInvalid(f"{NAME} holds another transfer under this id") from None
            return Disbursement(transaction, known.status, request.amount)
        amount = amount_of(detail["amount"]) if "amount" in detail else request.amount
        if amount != request.amount or str(detail.get("transactionId", transaction)) != transaction:
            raise ProviderResponseInvalid(f"{NAME} answered for another amount or withdrawal")
        status = transfer_status(detail.get("statusTransfer"))
        if status is DisbursementStatus.pending:
            status = DisbursementStatus.processing  # accepted: Gidi has it
        return Disbursement(provider_reference=transaction, status=status, amount=request.amount, raw=detail)

    async def disbursement_status(
        self,
        session: aiohttp.ClientSession,
        account: ProviderAccount,
        withdrawal_id: uuid.UUID,
        provider_reference: str | None,
    ) -> DisbursementStatusResult:
        request_id_, transaction = self._transfer_ids(withdrawal_id)
        body = {
            **self._merchant(account), "requestId": request_id_, "transactionId": transaction,
            "signature": self._sign(account, f"{request_id_}{transaction}"),
        }  # fmt: skip
        detail = await self._call(session, account, "/Transfer/BifastQuery", body)
        if str(detail.get("transactionId", transaction)) != transaction:
            raise ProviderResponseInvalid(f"{NAME} answered for another transfer")
        status = transfer_status(detail.get("statusTransfer"))
        return DisbursementStatusResult(
            status=status, amount=amount_of(detail.get("amount")), provider_reference=transaction,
            reason=text_of(detail.get("reason")) if status is DisbursementStatus.failed else None,
        )  # fmt: skip

    async def balance(self, session: aiohttp.ClientSession, account: ProviderAccount) -> int:
        raise BalanceNotOffered(f"{NAME} offers no balance query")

    def parse_disbursement_callback(self, callback: InboundCallback) -> DisbursementCallback:
        raise ValueError("Gidi sends no disbursement callback")  # completion comes from polling BifastQuery

    def verify_disbursement_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        return False  # none is documented (`disbursement_callbacks_signed` False)
