"""A fake of Gidi's API (seed inventory 4.3), at `/sandbox/gidi/...`.

Merchants: any numeric merchant id, whose credential key is `fake_credential_key(merchant_id)` (the fake's
stand-in for the key Gidi hands out); any numeric sub-merchant id. Every request is a JSON POST whose
`signature` = sha256hex(merchantId + sha256hex(inner + credentialKey)); answers are `{responseCode,
responseMessage, responseDetail}`, a bad signature `INVALID_SIGNATURE`.

- `POST /QrisMpm/generateDynamic {merchantId, subMerchantId, requestId, transactionId, amount,
  datetimeExpired, signature}` (inner: subMerchantId + requestId + transactionId + amount) makes a QR
  (`responseDetail.rawData`). The ids are numeric and differ; a requestId used before for another
  transaction is `DOUBLE_REQUEST_ID`, a transactionId made before under another requestId (or amount, or
  merchant) `DOUBLE_TRANSACTION_ID`; the same pair again answers the same QR.
- `POST /QrisMpm/queryDynamic {merchantId, subMerchantId, requestId, transactionId, signature}` (inner:
  requestId + transactionId) answers `status` PENDING, SUCCESS, FAILED or EXPIRED, `amount`,
  `datetimePayment` (`YYYY-MM-DD HH:mm:ss`, WIB).
- Paying it (`POST /sandbox/orders/{ref}/pay`) sends the callback to
  `<gerbang>/api/v1/transaction/callback/gidi`: `{merchantId, subMerchantId, invoiceId, transactionId,
  requestId, amount, status, datetimePayment, signature}`, signed over subMerchantId + invoiceId + amount +
  status, `invoiceId` being the transactionId.
- `POST /Transfer/InquiryAccount` (inner: requestId), `POST /Transfer/Bifast` (inner: requestId +
  transactionId + channelId + methodFee + amount), `POST /Transfer/BifastQuery` (inner: requestId +
  transactionId): channels `bifast_<bank>` for the sandbox's banks; accounts as the sandbox's (numbers
  ending 0000 do not exist, 9999 fail at the bank); a transfer is `statusTransfer` Pending, then Success or
  Failed three seconds later or when forced (`/sandbox/disbursements/{ref}/complete`). A transfer whose ids
  were used before is `DOUBLE_REQUEST_ID`. Gidi sends no disbursement callback (none is documented).

The sandbox's tables key a charge by a UUID; Gidi's is a numeric transactionId, so the fake takes one of at
most 128 bits and keeps the charge under the UUID with that value (and a transfer's transactionId must be a
UUID). Test knobs (in this process): `POST /sandbox/gidi/transactions/{ref}/answer {status?, amount?}` makes
queries answer that; `POST /sandbox/gidi/knobs {double_request_ids?, pending_generates?}` makes the next n
generate calls answer `DOUBLE_REQUEST_ID`, or `statusGenerate: pending` before the QR.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gerbang.db import Database
from gerbang.kit.crypto import KeyRing, sha256_hex
from gerbang.kit.qris import QrisMerchant, dynamic_payload
from gerbang.kit.time import to_jakarta, utcnow
from gerbang.sandbox import payouts, repository
from gerbang.sandbox.banks import bank_name
from gerbang.sandbox.fakes import charge_context, json_body, send

PREFIX = "/sandbox/gidi"
_FAKE = "gidi"
CHARGE_PREFIX = "gidi_"
DISBURSEMENT_PREFIX = "gidid_"
DISBURSEMENT_DELAY = timedelta(seconds=3)
router = APIRouter(prefix=PREFIX, tags=["sandbox provider: Gidi"])
_answers: dict[uuid.UUID, dict[str, Any]] = {}
_requests: dict[tuple[str, str], str] = {}
"""(merchantId, requestId) -> the transactionId it was used for."""
_knobs: dict[str, int] = {"double_request_ids": 0, "pending_generates": 0}
_STATUS = {"PENDING": "PENDING", "PAID": "SUCCESS", "FAILED": "FAILED", "EXPIRED": "EXPIRED"}
_TRANSFER = {"PROCESSING": "Pending", "COMPLETED": "Success", "FAILED": "Failed"}


def fake_credential_key(merchant_id: str) -> str:
    """The credential key of merchant `merchant_id` at this fake."""
    return "gidi_ck_" + hashlib.sha256(f"gerbang-sandbox-gidi:{merchant_id}".encode()).hexdigest()[:32]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _signed(merchant_id: str, inner: str) -> str:
    return _sha256(merchant_id + _sha256(inner + fake_credential_key(merchant_id)))


def _answer(code: str, message: str, detail: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse({"responseCode": code, "responseMessage": message, "responseDetail": detail or {}})


def _numeric(value: object) -> str | None:
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    return text if text.isdigit() else None


def _merchant(body: dict[str, Any], *fields: str) -> str | None:
    """The merchant id of a request whose signature covers `fields` (in that order), or None."""
    merchant = _numeric(body.get("merchantId"))
    presented = body.get("signature")
    if merchant is None or not isinstance(presented, str) or any(field not in body for field in fields):
        return None
    inner = "".join(str(body[field]) for field in fields)
    return merchant if hmac.compare_digest(presented.lower(), _signed(merchant, inner)) else None


def _invalid_signature() -> JSONResponse:
    return _answer("INVALID_SIGNATURE", "Invalid signature")


def _wib(moment: datetime | None) -> str | None:
    return to_jakarta(moment).strftime("%Y-%m-%d %H:%M:%S") if moment is not None else None


def _qr(row: asyncpg.Record) -> dict[str, Any]:
    answer = _answers.get(row["merchant_ref"], {})
    merchant = QrisMerchant(name="GERBANG", city="Jakarta", nmid="ID1000000000007", merchant_pan="9360000000000000007")
    return {
        "transactionId": str(row["merchant_ref"].int), "amount": answer.get("amount", row["amount"]),
        "status": answer.get("status", _STATUS[row["status"]]), "statusGenerate": "success",
        "rawData": dynamic_payload(merchant, amount=row["amount"], reference=row["charge_id"]),
        "datetimeExpired": _wib(row["expires_at"]), "datetimePayment": _wib(row["paid_at"]),
    }  # fmt: skip


@router.post("/QrisMpm/generateDynamic", summary="Make a dynamic QRIS (Gidi)")
async def generate_dynamic(request: Request) -> JSONResponse:
    body = await json_body(request)
    merchant = _merchant(body, "subMerchantId", "requestId", "transactionId", "amount")
    if merchant is None:
        return _invalid_signature()
    sub, request_id, transaction = (_numeric(body[field]) for field in ("subMerchantId", "requestId", "transactionId"))
    amount = body["amount"]
    if sub is None or request_id is None or transaction is None or request_id == transaction:
        return _answer("INVALID_PARAMETER", "subMerchantId, requestId and transactionId are numeric and differ")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0 or int(transaction) >= 1 << 128:
        return _answer("INVALID_PARAMETER", "a positive amount and a transactionId this sandbox can keep")
    if _knobs["double_request_ids"] > 0:
        _knobs["double_request_ids"] -= 1
        return _answer("DOUBLE_REQUEST_ID", "Double Request Id")
    if _requests.setdefault((merchant, request_id), transaction) != transaction:
        return _answer("DOUBLE_REQUEST_ID", "Double Request Id")
    ref = uuid.UUID(int=int(transaction))
    database: Database = request.app.state.database
    ring: KeyRing = request.app.state.key_ring
    async with database.connection() as connection:
        row = await repository.insert_charge(
            connection, merchant_ref=ref, charge_id=CHARGE_PREFIX + secrets.token_hex(12), amount=amount,
            method="qris", channel=None, merchant_name=f"gidi {merchant}"[:100], settlement_delay_s=0,
            callback_url=str(request.base_url).rstrip("/") + "/api/v1/transaction/callback/gidi",
            expires_at=utcnow() + timedelta(minutes=30),
            merchant_key_encrypted=ring.encrypt(f"{merchant}:{sub}:{request_id}", context=charge_context(_FAKE, ref)),
        )  # fmt: skip
        if row is None:
            row = await repository.get_charge(connection, ref)
            assert row is not None  # noqa: S101 (charges are never deleted)
            if _maker(ring, row) != (merchant, sub, request_id) or row["amount"] != amount:
                return _answer("DOUBLE_TRANSACTION_ID", "Double Transaction Id")  # made once, by its own pair
    if _knobs["pending_generates"] > 0:
        _knobs["pending_generates"] -= 1
        return _answer("SUCCESS", "Success", {"transactionId": transaction, "statusGenerate": "pending"})
    return _answer("SUCCESS", "Success", _qr(row))


@router.post("/QrisMpm/queryDynamic", summary="A dynamic QRIS's status (Gidi)")
async def query_dynamic(request: Request) -> JSONResponse:
    body = await json_body(request)
    merchant = _merchant(body, "requestId", "transactionId")
    if merchant is None:
        return _invalid_signature()
    transaction = _numeric(body["transactionId"])
    if transaction is None or int(transaction) >= 1 << 128:
        return _answer("TRANSACTION_NOT_FOUND", "Transaction not found")
    ref = uuid.UUID(int=int(transaction))
    database: Database = request.app.state.database
    async with database.connection() as connection:
        row = await repository.get_charge(connection, ref)
    ring: KeyRing = request.app.state.key_ring
    # The QR is named by the merchant and the pair it was made with.
    if (
        row is None
        or not row["charge_id"].startswith(CHARGE_PREFIX)
        or _maker(ring, row)[::2] != (merchant, str(body["requestId"]))
    ):
        return _answer("TRANSACTION_NOT_FOUND", "Transaction not found")
    return _answer("SUCCESS", "Success", _qr(row))


def _maker(ring: KeyRing, row: asyncpg.Record) -> tuple[str, str, str]:
    """(merchantId, subMerchantId, requestId) the charge `row` was made with."""
    merchant, sub, request_id = ring.decrypt(
        row["merchant_key_encrypted"], context=charge_context(_FAKE, row["merchant_ref"])
    ).split(":")
    return merchant, sub, request_id


@router.post("/transactions/{ref}/answer", summary="Test knob: what queries answer for this charge")
async def set_answer(ref: uuid.UUID, answer: dict[str, Any]) -> dict[str, Any]:
    _answers[ref] = {key: answer[key] for key in ("status", "amount") if key in answer}
    return {"ref": str(ref), "answer": _answers[ref]}


@router.post("/knobs", summary="Test knob: DOUBLE_REQUEST_ID or a pending QR on the next generate calls")
async def set_knobs(knobs: dict[str, int]) -> dict[str, int]:
    for key in _knobs:
        if key in knobs:
            _knobs[key] = int(knobs[key])
    return dict(_knobs)


async def notify_payment(row: asyncpg.Record, ring: KeyRing) -> dict[str, Any]:
    merchant, sub, request_id = _maker(ring, row)
    invoice, status = str(row["merchant_ref"].int), _STATUS[row["status"]]
    event = {
        "merchantId": int(merchant), "subMerchantId": int(sub), "invoiceId": invoice, "transactionId": invoice,
        "requestId": request_id, "amount": row["amount"], "status": status, "datetimePayment": _wib(row["paid_at"]),
        "signature": _signed(merchant, f"{sub}{invoice}{row['amount']}{status}"),
    }  # fmt: skip
    return await send(row["callback_url"], json.dumps(event, separators=(",", ":")).encode(), {})


def _channel_bank(channel: object) -> str | None:
    if not isinstance(channel, str) or not channel.startswith("bifast_"):
        return None
    return bank_name(channel.removeprefix("bifast_"))


@router.post("/Transfer/InquiryAccount", summary="Check a bank account (Gidi BI-FAST)")
async def inquiry_account(request: Request) -> JSONResponse:
    body = await json_body(request)
    if _merchant(body, "requestId") is None:
        return _invalid_signature()
    bank, number = _channel_bank(body.get("channelId")), str(body.get("accountNo", ""))
    if bank is None:
        return _answer("INVALID_CHANNEL", "Channel not found")
    holder = payouts.holder_name(number) if number.isdigit() and 5 <= len(number) <= 20 else None
    if holder is None:
        return _answer("ACCOUNT_NOT_FOUND", "Account not found")
    return _answer("SUCCESS", "Success", {"channelId": body["channelId"], "accountNo": number, "accountName": holder})


def _key_hash(merchant: str) -> str:
    return sha256_hex(f"gidi:{merchant}".encode())


def _transfer(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "transactionId": str(row["merchant_ref"]), "amount": row["amount"],
        "channelId": f"bifast_{row['bank_code'].lower()}", "accountNo": row["account_number"],
        "statusTransfer": _TRANSFER[row["status"]], "reason": row["reason"],
    }  # fmt: skip


@router.post("/Transfer/Bifast", summary="Transfer over BI-FAST (Gidi)")
async def bifast(request: Request) -> JSONResponse:
    body = await json_body(request)
    merchant = _merchant(body, "requestId", "transactionId", "channelId", "methodFee", "amount")
    if merchant is None:
        return _invalid_signature()
    bank, number, amount = _channel_bank(body["channelId"]), str(body.get("accountNo", "")), body["amount"]
    try:
        ref = uuid.UUID(str(body["transactionId"]))
    except ValueError:
        return _answer("INVALID_PARAMETER", "this sandbox keeps transfers whose transactionId is a UUID")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return _answer("INVALID_PARAMETER", "a positive amount is required")
    if bank is None:
        return _answer("INVALID_CHANNEL", "Channel not found")
    if payouts.holder_name(number) is None:
        return _answer("ACCOUNT_NOT_FOUND", "Account not found")
    database: Database = request.app.state.database
    ring: KeyRing = request.app.state.key_ring
    complete_after = utcnow() + DISBURSEMENT_DELAY
    async with database.transaction() as connection:
        created = await repository.insert_disbursement(
            connection, merchant_ref=ref, disbursement_id=DISBURSEMENT_PREFIX + secrets.token_hex(12),
            merchant_key_hash=_key_hash(merchant),
            merchant_key_encrypted=ring.encrypt(merchant, context=f"sandbox-disbursement:{ref}"),
            amount=amount, bank_code=bank, account_number=number, holder_name="",
            note=str(body.get("transferNote", ""))[:255], callback_url="",
            outcome="FAILED" if number.endswith("9999") else "COMPLETED", complete_after=complete_after,
        )  # fmt: skip
        row = await repository.get_disbursement(connection, ref)
    if not created:
        return _answer("DOUBLE_REQUEST_ID", "Double Request Id")
    assert row is not None  # noqa: S101 (inserted above)
    payouts.finish_later(database, ring, ref, complete_after)
    return _answer("SUCCESS", "Success", _transfer(row))


@router.post("/Transfer/BifastQuery", summary="A BI-FAST transfer's status (Gidi)")
async def bifast_query(request: Request) -> JSONResponse:
    body = await json_body(request)
    merchant = _merchant(body, "requestId", "transactionId")
    if merchant is None:
        return _invalid_signature()
    try:
        ref = uuid.UUID(str(body["transactionId"]))
    except ValueError:
        return _answer("TRANSACTION_NOT_FOUND", "Transaction not found")
    row = await payouts.current(request.app.state.database, request.app.state.key_ring, ref)
    if row is None or row["merchant_key_hash"] != _key_hash(merchant):
        return _answer("TRANSACTION_NOT_FOUND", "Transaction not found")
    return _answer("SUCCESS", "Success", _transfer(row))


async def notify_disbursement(row: asyncpg.Record) -> dict[str, Any]:
    """Gidi sends no disbursement callback: gerbang learns the outcome by asking BifastQuery."""
    return {"status_code": None, "body": "Gidi sends no disbursement callback; ask /Transfer/BifastQuery"}
