"""A fake of Hilogate's API (seed inventory 4.1), at `/sandbox/hilogate/api/v1/...`.

Merchants: any merchant id, whose secret key is `fake_secret(merchant_id)` (the fake's stand-in for the
keys Hilogate's dashboard hands out). Every request must carry `X-Merchant-ID` and `X-Signature` = MD5 hex
of (path + raw body + secret), the path as Hilogate sees it (`/api/v1/...`); a request carrying the secret
itself in `X-Merchant-Key` is refused, as the original did that.

- `POST /api/v1/transactions {ref_id, amount, method}` creates a QRIS charge; `GET /api/v1/transactions/{ref}`
  answers it (SUCCESS, PENDING, FAILED, EXPIRED), with `settlement_status` PENDING once paid and SETTLED
  `SETTLEMENT_DELAY_S` after the payment (what a `provider_reported` account waits for).
- Paying it (`POST /sandbox/orders/{ref}/pay`) sends the callback to `<gerbang>/api/v1/transactions/callback`
  with `X-Signature` = MD5("/api/v1/transactions" + `{"ref_id":..,"amount":..,"method":..}` compact + secret).
- `POST /api/v1/bank-accounts/validate`, `POST /api/v1/withdrawals`, `GET /api/v1/withdrawals/{ref}`,
  `GET /api/v1/balance`: accounts as the sandbox's (numbers ending 0000 do not exist, 9999 fail at the bank);
  a withdrawal is final 3 s later or when forced (`/sandbox/disbursements/{ref}/complete`), and its callback
  (`{id, ref_id, amount, status, reason}`, unsigned) goes to `<gerbang>/api/v1/withdrawals/callback`.
- Test knob: `POST /sandbox/hilogate/transactions/{ref}/answer {status?, amount?}` makes status queries
  answer that status or amount instead (in this process), to rehearse an unknown status or a wrong amount.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gerbang.db import Database
from gerbang.kit.crypto import KeyRing, sha256_hex
from gerbang.kit.qris import QrisMerchant, dynamic_payload
from gerbang.kit.time import utcnow
from gerbang.sandbox import payouts, repository
from gerbang.sandbox.banks import bank_name
from gerbang.sandbox.fakes import charge_context, own_charge, send, settled

PREFIX = "/sandbox/hilogate"
_FAKE = "hilogate"
CHARGE_PREFIX = "hlg_"
DISBURSEMENT_PREFIX = "hlgd_"
DISBURSEMENT_DELAY = timedelta(seconds=3)
SETTLEMENT_DELAY_S = 60
"""How long after its payment a charge is reported `settlement_status: SETTLED` (fixed when it is created)."""
router = APIRouter(prefix=PREFIX, tags=["sandbox provider: Hilogate"])
_answers: dict[uuid.UUID, dict[str, Any]] = {}
_STATUS = {"PENDING": "PENDING", "PAID": "SUCCESS", "FAILED": "FAILED", "EXPIRED": "EXPIRED"}
_DISBURSEMENT_STATUS = {"PROCESSING": "PROCESSING", "COMPLETED": "SUCCESS", "FAILED": "FAILED"}


def fake_secret(merchant_id: str) -> str:
    """The secret key of merchant `merchant_id` at this fake."""
    return "hlg_sk_" + hashlib.sha256(f"gerbang-sandbox-hilogate:{merchant_id}".encode()).hexdigest()[:32]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _refuse(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": status, "message": message}, status)


def _ok(data: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse({"code": status, "message": "success", "data": data}, status)


async def _merchant(request: Request) -> tuple[str | None, bytes, JSONResponse | None]:
    """The merchant id of a correctly signed request, the raw body, or the refusal to answer."""
    body = await request.body()
    if "x-merchant-key" in request.headers:
        return None, body, _refuse(400, "the secret key must never be sent")
    merchant = request.headers.get("x-merchant-id", "")
    presented = request.headers.get("x-signature", "")
    path = request.url.path.removeprefix(PREFIX)
    expected = _md5(path + body.decode("utf-8", errors="replace") + fake_secret(merchant))
    if not merchant or not hmac.compare_digest(presented.lower(), expected):
        return None, body, _refuse(401, "invalid signature")
    return merchant, body, None


def _settlement_status(row: asyncpg.Record) -> str | None:
    if row["status"] != "PAID":
        return None
    return "SETTLED" if settled(row) else "PENDING"


def _charge(row: asyncpg.Record) -> dict[str, Any]:
    answer = _answers.get(row["merchant_ref"], {})
    merchant = QrisMerchant(name="GERBANG", city="Jakarta", nmid="ID1000000000001", merchant_pan="9360000000000000001")
    return {
        "id": row["charge_id"], "ref_id": str(row["merchant_ref"]), "amount": answer.get("amount", row["amount"]),
        "method": "qris", "status": answer.get("status", _STATUS[row["status"]]),
        "qr_string": dynamic_payload(merchant, amount=row["amount"], reference=row["charge_id"]),
        "settlement_status": _settlement_status(row),
        "updated_at": {"value": (row["paid_at"] or row["created_at"]).isoformat()},
        "expires_at": {"value": row["expires_at"].isoformat()},
    }  # fmt: skip


@router.post("/api/v1/transactions", summary="Create a QRIS transaction (Hilogate)")
async def create_transaction(request: Request) -> JSONResponse:
    merchant, raw, refused = await _merchant(request)
    if refused is not None or merchant is None:
        return refused or _refuse(401, "invalid signature")
    try:
        body = json.loads(raw)
        ref, amount = uuid.UUID(str(body["ref_id"])), body["amount"]
        if body.get("method") != "qris" or not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ValueError("bad request")
    except (ValueError, KeyError, TypeError):
        return _refuse(400, "ref_id, a positive amount and method qris are required")
    database: Database = request.app.state.database
    ring: KeyRing = request.app.state.key_ring
    async with database.connection() as connection:
        row = await repository.insert_charge(
            connection, merchant_ref=ref, charge_id=CHARGE_PREFIX + secrets.token_hex(12), amount=amount,
            method="qris", channel=None, merchant_name=merchant[:100],
            callback_url=str(request.base_url).rstrip("/") + "/api/v1/transactions/callback",
            expires_at=utcnow() + timedelta(minutes=30), settlement_delay_s=SETTLEMENT_DELAY_S,
            merchant_key_encrypted=ring.encrypt(merchant, context=charge_context(_FAKE, ref)),
        )  # fmt: skip
        if row is None:
            row = await repository.get_charge(connection, ref)
            assert row is not None  # noqa: S101 (charges are never deleted)
            owner = ring.decrypt(row["merchant_key_encrypted"], context=charge_context(_FAKE, ref))
            if row["amount"] != amount or owner != merchant:
                return _refuse(409, "duplicate ref_id")
    return _ok(_charge(row), 201)


@router.get("/api/v1/transactions/{ref}", summary="A transaction's status (Hilogate)")
async def transaction_status(ref: uuid.UUID, request: Request) -> JSONResponse:
    merchant, _, refused = await _merchant(request)
    if refused is not None or merchant is None:
        return refused or _refuse(401, "invalid signature")
    row = await own_charge(request, _FAKE, CHARGE_PREFIX, merchant, ref)
    return _ok(_charge(row)) if row is not None else _refuse(404, "transaction not found")


@router.post("/transactions/{ref}/answer", summary="Test knob: what status queries answer for this charge")
async def set_answer(ref: uuid.UUID, answer: dict[str, Any]) -> dict[str, Any]:
    _answers[ref] = {key: answer[key] for key in ("status", "amount") if key in answer}
    return {"ref_id": str(ref), "answer": _answers[ref]}


async def notify_payment(row: asyncpg.Record, ring: KeyRing) -> dict[str, Any]:
    merchant = ring.decrypt(row["merchant_key_encrypted"], context=charge_context(_FAKE, row["merchant_ref"]))
    # The charge as it is (not as the test knob makes status queries answer).
    event = _charge(row) | {"amount": row["amount"], "status": _STATUS[row["status"]], "net_amount": row["amount"],
                            "total_fee": 0, "rrn": row["charge_id"][-12:]}  # fmt: skip
    body = json.dumps(event, separators=(",", ":")).encode()
    signed = json.dumps({"ref_id": event["ref_id"], "amount": row["amount"], "method": "qris"}, separators=(",", ":"))
    return await send(
        row["callback_url"], body, {"X-Signature": _md5("/api/v1/transactions" + signed + fake_secret(merchant))}
    )


def _key_hash(merchant: str) -> str:
    return sha256_hex(f"hilogate:{merchant}".encode())


@router.post("/api/v1/bank-accounts/validate", summary="Validate a bank account (Hilogate)")
async def validate_account(request: Request) -> JSONResponse:
    merchant, raw, refused = await _merchant(request)
    if refused is not None or merchant is None:
        return refused or _refuse(401, "invalid signature")
    try:
        body = json.loads(raw)
        number, bank = str(body["account_number"]), bank_name(str(body["bank_code"]))
    except (ValueError, KeyError, TypeError):
        return _refuse(400, "account_number and bank_code are required")
    if bank is None:
        return _refuse(400, "unknown bank_code")
    holder = payouts.holder_name(number) if number.isdigit() and 5 <= len(number) <= 20 else None
    return _ok({"account_number": number, "bank_code": bank, "status": "valid" if holder else "invalid",
                "account_holder": holder})  # fmt: skip


def _withdrawal(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["disbursement_id"], "ref_id": str(row["merchant_ref"]), "amount": row["amount"],
        "status": _DISBURSEMENT_STATUS[row["status"]], "reason": row["reason"],
    }  # fmt: skip


@router.post("/api/v1/withdrawals", summary="Create a withdrawal (Hilogate)")
async def create_withdrawal(request: Request) -> JSONResponse:
    merchant, raw, refused = await _merchant(request)
    if refused is not None or merchant is None:
        return refused or _refuse(401, "invalid signature")
    try:
        body = json.loads(raw)
        ref, amount, number = uuid.UUID(str(body["ref_id"])), body["amount"], str(body["account_number"])
        bank = bank_name(str(body["bank_code"]))
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0 or body.get("currency") != "IDR":
            raise ValueError("bad amount")
    except (ValueError, KeyError, TypeError):
        return _refuse(400, "ref_id, a positive IDR amount, account_number and bank_code are required")
    if bank is None or payouts.holder_name(number) is None:
        return _refuse(400, "invalid account")
    database: Database = request.app.state.database
    ring: KeyRing = request.app.state.key_ring
    complete_after = utcnow() + DISBURSEMENT_DELAY
    async with database.transaction() as connection:
        created = await repository.insert_disbursement(
            connection, merchant_ref=ref, disbursement_id=DISBURSEMENT_PREFIX + secrets.token_hex(12),
            merchant_key_hash=_key_hash(merchant),
            merchant_key_encrypted=ring.encrypt(merchant, context=f"sandbox-disbursement:{ref}"),
            amount=amount, bank_code=bank, account_number=number, holder_name=str(body.get("account_name", ""))[:100],
            note=str(body.get("description", ""))[:255],
            callback_url=str(request.base_url).rstrip("/") + "/api/v1/withdrawals/callback",
            outcome="FAILED" if number.endswith("9999") else "COMPLETED", complete_after=complete_after,
        )  # fmt: skip
        row = await repository.get_disbursement(connection, ref)
    if not created:
        return _refuse(409, "duplicate ref_id")
    assert row is not None  # noqa: S101 (inserted above)
    payouts.finish_later(database, ring, ref, complete_after)
    return _ok(_withdrawal(row), 201)


@router.get("/api/v1/withdrawals/{ref}", summary="A withdrawal's status (Hilogate)")
async def withdrawal_status(ref: uuid.UUID, request: Request) -> JSONResponse:
    merchant, _, refused = await _merchant(request)
    if refused is not None or merchant is None:
        return refused or _refuse(401, "invalid signature")
    row = await payouts.current(request.app.state.database, request.app.state.key_ring, ref)
    if row is None or row["merchant_key_hash"] != _key_hash(merchant):
        return _refuse(404, "withdrawal not found")
    return _ok(_withdrawal(row))


@router.get("/api/v1/balance", summary="The merchant's balance (Hilogate)")
async def balance(request: Request) -> JSONResponse:
    merchant, _, refused = await _merchant(request)
    if refused is not None or merchant is None:
        return refused or _refuse(401, "invalid signature")
    database: Database = request.app.state.database
    async with database.connection() as connection:
        paid_out = await repository.disbursed(connection, _key_hash(merchant), utcnow())
    return _ok({"active_balance": payouts.STARTING_BALANCE - paid_out, "pending_balance": 0,
                "total_withdrawal": paid_out, "pending_withdrawal": 0})  # fmt: skip


async def notify_disbursement(row: asyncpg.Record) -> dict[str, Any]:
    body = json.dumps(_withdrawal(row), separators=(",", ":")).encode()
    return await send(row["callback_url"], body, {})
