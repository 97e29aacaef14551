"""A fake of Piro's API (seed inventory 4.5), at `/sandbox/piro/v1/...`.

Merchants: any client id, whose client secret and signature key are `fake_credentials(client_id)` (the
fake's stand-in for what Piro's onboarding hands out). Every request must carry HTTP Basic with the day's
credentials (`piro-<millis>` / `<millis>`, the millis of the start of today in Asia/Jakarta), the headers
`client_id`, `device_id`, `latitude`, `longitude`, and `x-signature`, MD5 hex of:
- creating a payment: clientId + amount + orderId + clientSecret;
- account validation and disbursements: clientId + deviceId + latitude + longitude + amount +
  accountNumber + clientSecret;
- status queries: clientId + deviceId + latitude + longitude + clientSecret;
amounts as decimal strings with two decimals (`150000.00`).

- `POST /v1/payments {merchantId, referenceId, orderId, amount, callbackUrl, ...}` creates a QRIS charge
  (`data.paymentId`, `data.qrString`); `GET /v1/payments/{orderId}` answers it (PENDING, SUCCESS, FAILED,
  EXPIRED).
- Paying it (`POST /sandbox/orders/{ref}/pay`) sends the callback to the payment's `callbackUrl`, signed
  `x-signature` = MD5(raw body + signatureKey).
- `POST /v1/disbursements/account-validation`, `POST /v1/disbursements`, `GET /v1/disbursements/{referenceId}`:
  accounts as the sandbox's (numbers ending 0000 do not exist: 404 "account not found"; 9999 fail at the
  bank); a disbursement is final 3 s later or when forced (`/sandbox/disbursements/{ref}/complete`), and its
  callback, signed `x-piro-signature` = MD5(raw body + signatureKey), goes to its `callbackUrl`.
- Test knob: `POST /sandbox/piro/transactions/{ref}/answer {status?, amount?}` makes status queries answer
  that status or amount instead (in this process).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gerbang.db import Database
from gerbang.kit.crypto import KeyRing, sha256_hex
from gerbang.kit.qris import QrisMerchant, dynamic_payload
from gerbang.kit.time import utcnow
from gerbang.sandbox import payouts, repository
from gerbang.sandbox.banks import bank_name
from gerbang.sandbox.fakes import charge_context, json_body, own_charge, send

PREFIX = "/sandbox/piro"
_FAKE = "piro"
CHARGE_PREFIX = "piro_"
DISBURSEMENT_PREFIX = "pirod_"
DISBURSEMENT_DELAY = timedelta(seconds=3)
router = APIRouter(prefix=PREFIX, tags=["sandbox provider: Piro"])
_answers: dict[uuid.UUID, dict[str, Any]] = {}
_STATUS = {"PENDING": "PENDING", "PAID": "SUCCESS", "FAILED": "FAILED", "EXPIRED": "EXPIRED",
           "PROCESSING": "PROCESSING", "COMPLETED": "SUCCESS"}  # fmt: skip
_AMOUNT = re.compile(r"[1-9][0-9]{0,11}\.00")
_WIB = ZoneInfo("Asia/Jakarta")


def _merchant_hash(client_id: str) -> str:
    """What the fake keeps of a merchant (its disbursements' `merchant_key_hash`); its keys derive from it."""
    return sha256_hex(f"gerbang-sandbox-piro:{client_id}".encode())


def _keys_of(merchant_hash: str) -> dict[str, str]:
    return {
        "client_secret": "piro_cs_" + sha256_hex(f"{merchant_hash}:client-secret".encode())[:32],
        "signature_key": "piro_sk_" + sha256_hex(f"{merchant_hash}:signature-key".encode())[:32],
    }


def fake_credentials(client_id: str) -> dict[str, str]:
    """The client secret and signature key of client `client_id` at this fake."""
    return _keys_of(_merchant_hash(client_id))


def _md5(*parts: str | bytes) -> str:
    return hashlib.md5(
        b"".join(p.encode() if isinstance(p, str) else p for p in parts), usedforsecurity=False
    ).hexdigest()


def _refuse(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status)


def _ok(data: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse({"code": "00", "message": "success", "data": data}, status)


def _todays_basic() -> str:
    midnight = datetime.now(_WIB).replace(hour=0, minute=0, second=0, microsecond=0)
    millis = int(midnight.timestamp()) * 1000
    return "Basic " + base64.b64encode(f"piro-{millis}:{millis}".encode()).decode()


class _Caller:
    """A request's merchant as its headers say, before its signature is checked."""

    def __init__(self, request: Request) -> None:
        headers = request.headers
        self.client_id = headers.get("client_id", "")
        self.position = headers.get("device_id", "") + headers.get("latitude", "") + headers.get("longitude", "")
        self.signature = headers.get("x-signature", "").lower()
        self.keys = fake_credentials(self.client_id)
        self.authorised = hmac.compare_digest(headers.get("authorization", ""), _todays_basic())
        self.complete = bool(self.client_id and headers.get("device_id") and headers.get("latitude")
                             and headers.get("longitude"))  # fmt: skip

    def refusal(self, *signed: str) -> JSONResponse | None:
        """None if the request is authorised and signed MD5(clientId + signed parts + clientSecret)."""
        if not self.authorised:
            return _refuse(401, "UNAUTHORIZED", "invalid basic credentials")
        if not self.complete:
            return _refuse(400, "BAD_REQUEST", "client_id, device_id, latitude and longitude are required")
        expected = _md5(self.client_id, *signed, self.keys["client_secret"])
        if not hmac.compare_digest(self.signature, expected):
            return _refuse(401, "INVALID_SIGNATURE", "invalid signature")
        return None


def _whole(amount: object) -> int | None:
    return int(amount[:-3]) if isinstance(amount, str) and _AMOUNT.fullmatch(amount) else None


def _charge(row: asyncpg.Record) -> dict[str, Any]:
    answer = _answers.get(row["merchant_ref"], {})
    merchant = QrisMerchant(name="GERBANG", city="Jakarta", nmid="ID1000000000005", merchant_pan="9360000000000000005")
    return {
        "paymentId": row["charge_id"], "referenceId": str(row["merchant_ref"]), "orderId": str(row["merchant_ref"]),
        "amount": answer.get("amount", f"{row['amount']}.00"), "status": answer.get("status", _STATUS[row["status"]]),
        "qrString": dynamic_payload(merchant, amount=row["amount"], reference=row["charge_id"]),
        "paidAt": row["paid_at"].isoformat() if row["paid_at"] else None,
        "expiredAt": row["expires_at"].isoformat(),
    }  # fmt: skip


@router.post("/v1/payments", summary="Create a QRIS payment (Piro)")
async def create_payment(request: Request) -> JSONResponse:
    caller, body = _Caller(request), await json_body(request)
    amount, order_id, callback_url = _whole(body.get("amount")), str(body.get("orderId", "")), body.get("callbackUrl")
    refused = caller.refusal(str(body.get("amount", "")), order_id)
    if refused is not None:
        return refused
    try:
        ref = uuid.UUID(order_id)
    except ValueError:
        return _refuse(400, "BAD_REQUEST", "orderId must be the merchant's order id")
    if amount is None or not body.get("merchantId") or not str(callback_url).startswith(("http://", "https://")):
        return _refuse(400, "BAD_REQUEST", "merchantId, an amount with two decimals and a callbackUrl are required")
    database: Database = request.app.state.database
    ring: KeyRing = request.app.state.key_ring
    async with database.connection() as connection:
        row = await repository.insert_charge(
            connection, merchant_ref=ref, charge_id=CHARGE_PREFIX + secrets.token_hex(12), amount=amount,
            method="qris", channel=None, merchant_name=str(body["merchantId"])[:100],
            callback_url=str(callback_url)[:2000], expires_at=utcnow() + timedelta(minutes=30), settlement_delay_s=0,
            merchant_key_encrypted=ring.encrypt(caller.client_id, context=charge_context(_FAKE, ref)),
        )  # fmt: skip
    if row is None:
        return _refuse(409, "DUPLICATE", "duplicate orderId")
    return _ok(_charge(row), 201)


@router.get("/v1/payments/{ref}", summary="A payment's status (Piro)")
async def payment_status(ref: uuid.UUID, request: Request) -> JSONResponse:
    caller = _Caller(request)
    refused = caller.refusal(caller.position)
    if refused is not None:
        return refused
    row = await own_charge(request, _FAKE, CHARGE_PREFIX, caller.client_id, ref)
    if row is None:
        return _refuse(404, "NOT_FOUND", "payment not found")
    return _ok(_charge(row))


@router.post("/transactions/{ref}/answer", summary="Test knob: what status queries answer for this payment")
async def set_answer(ref: uuid.UUID, answer: dict[str, Any]) -> dict[str, Any]:
    _answers[ref] = {key: answer[key] for key in ("status", "amount") if key in answer}
    return {"orderId": str(ref), "answer": _answers[ref]}


async def notify_payment(row: asyncpg.Record, ring: KeyRing) -> dict[str, Any]:
    client_id = ring.decrypt(row["merchant_key_encrypted"], context=charge_context(_FAKE, row["merchant_ref"]))
    # The payment as it is (not as the test knob makes status queries answer).
    event = _charge(row) | {"amount": f"{row['amount']}.00", "status": _STATUS[row["status"]]}
    del event["qrString"]
    body = json.dumps(event, separators=(",", ":")).encode()
    return await send(
        row["callback_url"], body, {"x-signature": _md5(body, fake_credentials(client_id)["signature_key"])}
    )


def _holder(number: str) -> str | None:
    return payouts.holder_name(number) if number.isdigit() and 5 <= len(number) <= 20 else None


@router.post("/v1/disbursements/account-validation", summary="Validate a bank account (Piro)")
async def validate_account(request: Request) -> JSONResponse:
    caller, body = _Caller(request), await json_body(request)
    number = str(body.get("accountNumber", ""))
    refused = caller.refusal(caller.position, str(body.get("amount", "")), number)
    if refused is not None:
        return refused
    bank = bank_name(str(body.get("bankCode", "")))
    if bank is None:
        return _refuse(400, "BANK_NOT_SUPPORTED", "unknown bankCode")
    holder = _holder(number)
    if holder is None:
        return _refuse(404, "ACCOUNT_NOT_FOUND", "account not found")
    return _ok({"accountNumber": number, "accountName": holder, "bankCode": bank, "bankName": bank,
                "branchCode": "0001", "bic": f"{bank}IDJA"[:11], "status": "valid"})  # fmt: skip


def _disbursement(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "disbursementId": row["disbursement_id"], "referenceId": str(row["merchant_ref"]),
        "amount": f"{row['amount']}.00", "status": _STATUS[row["status"]], "reason": row["reason"],
    }  # fmt: skip


@router.post("/v1/disbursements", summary="Create a disbursement (Piro)")
async def create_disbursement(request: Request) -> JSONResponse:
    caller, body = _Caller(request), await json_body(request)
    number, amount = str(body.get("accountNumber", "")), _whole(body.get("amount"))
    refused = caller.refusal(caller.position, str(body.get("amount", "")), number)
    if refused is not None:
        return refused
    try:
        ref = uuid.UUID(str(body.get("referenceId")))
    except ValueError:
        return _refuse(400, "BAD_REQUEST", "referenceId must be the merchant's id")
    bank, callback_url = bank_name(str(body.get("bankCode", ""))), str(body.get("callbackUrl", ""))
    if amount is None or bank is None or not callback_url.startswith(("http://", "https://")):
        return _refuse(400, "BAD_REQUEST", "an amount with two decimals, a known bankCode and a callbackUrl")
    if _holder(number) is None:
        return _refuse(400, "ACCOUNT_INVALID", "account not found")
    database: Database = request.app.state.database
    ring: KeyRing = request.app.state.key_ring
    complete_after = utcnow() + DISBURSEMENT_DELAY
    async with database.transaction() as connection:
        created = await repository.insert_disbursement(
            connection, merchant_ref=ref, disbursement_id=DISBURSEMENT_PREFIX + secrets.token_hex(12),
            merchant_key_hash=_merchant_hash(caller.client_id),
            merchant_key_encrypted=ring.encrypt(caller.client_id, context=f"sandbox-disbursement:{ref}"),
            amount=amount, bank_code=bank, account_number=number, holder_name=str(body.get("accountName", ""))[:100],
            note=str(body.get("description", ""))[:255], callback_url=callback_url[:2000],
            outcome="FAILED" if number.endswith("9999") else "COMPLETED", complete_after=complete_after,
        )  # fmt: skip
        row = await repository.get_disbursement(connection, ref)
    if not created:
        return _refuse(409, "DUPLICATE", "duplicate referenceId")
    assert row is not None  # noqa: S101 (inserted above)
    payouts.finish_later(database, ring, ref, complete_after)
    return _ok(_disbursement(row), 201)


@router.get("/v1/disbursements/{ref}", summary="A disbursement's status (Piro)")
async def disbursement_status(ref: uuid.UUID, request: Request) -> JSONResponse:
    caller = _Caller(request)
    refused = caller.refusal(caller.position)
    if refused is not None:
        return refused
    row = await payouts.current(request.app.state.database, request.app.state.key_ring, ref)
    if row is None or row["merchant_key_hash"] != _merchant_hash(caller.client_id):
        return _refuse(404, "NOT_FOUND", "disbursement not found")
    return _ok(_disbursement(row))


async def notify_disbursement(row: asyncpg.Record) -> dict[str, Any]:
    body = json.dumps(_disbursement(row), separators=(",", ":")).encode()
    key = _keys_of(row["merchant_key_hash"])["signature_key"]
    return await send(row["callback_url"], body, {"x-piro-signature": _md5(body, key)})
