"""A fake of Oy!'s API (seed inventory 4.2), at `/sandbox/oy/api/...`.

Merchants: any `X-Oy-Username` with an `X-Api-Key` of 8 characters or more (the pair is the merchant).
Answers carry `{"status": {"code", "message"}}`.

- `POST /api/payment-routing/create-transaction` creates a QRIS charge (`payment_info.qris_string`);
  `POST /api/payment-routing/check-status` answers it: `payment_status` WAITING_PAYMENT, COMPLETE, FAILED or
  EXPIRED, `receive_amount`, `payment_received_time` (`YYYY-MM-DD HH:mm:ss`, WIB), and once paid
  `settlement_status` WAITING, then SUCCESS (with `settlement_time`) `SETTLEMENT_DELAY_S` after the payment.
- Paying it (`POST /sandbox/orders/{ref}/pay`) marks it COMPLETE, so the status query says so, and sends
  Oy!'s unsigned callback to `<gerbang>/api/v1/transaction/callback/oy`.
- `POST /api/account-inquiry`, `POST /api/remit` (code 101, then 000 or 300 three seconds later or when
  forced at `/sandbox/disbursements/{ref}/complete`), `POST /api/remit-status`, `GET /api/balance`; accounts
  as the sandbox's (numbers ending 0000 do not exist, 9999 fail at the bank). The remit callback (the
  remit-status body, unsigned) goes to `<gerbang>/api/v1/withdrawals/callback`.
- Test knob: `POST /sandbox/oy/transactions/{ref}/answer {payment_status?, receive_amount?}` makes status
  queries answer that instead (in this process).
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import datetime, timedelta, timezone
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
from gerbang.sandbox.fakes import charge_context, json_body, own_charge, send, settled

PREFIX = "/sandbox/oy"
_FAKE = "oy"
CHARGE_PREFIX = "oy_"
DISBURSEMENT_PREFIX = "oyd_"
DISBURSEMENT_DELAY = timedelta(seconds=3)
SETTLEMENT_DELAY_S = 60
"""How long after its payment a charge is reported `settlement_status: SUCCESS` (fixed when it is created)."""
router = APIRouter(prefix=PREFIX, tags=["sandbox provider: Oy!"])
_WIB = timezone(timedelta(hours=7))
_answers: dict[uuid.UUID, dict[str, Any]] = {}
_STATUS = {"PENDING": "WAITING_PAYMENT", "PAID": "COMPLETE", "FAILED": "FAILED", "EXPIRED": "EXPIRED"}
_REMIT_CODE = {"PROCESSING": ("101", "Request is Processed"), "COMPLETED": ("000", "Success"),
               "FAILED": ("300", "Failed")}  # fmt: skip


def _answer(code: str, message: str, **data: Any) -> JSONResponse:
    return JSONResponse({"status": {"code": code, "message": message}, **data})


def _merchant(request: Request) -> str | None:
    username, key = request.headers.get("x-oy-username", ""), request.headers.get("x-api-key", "")
    return sha256_hex(f"oy:{username}:{key}".encode()) if username and len(key) >= 8 else None


def _wib(moment: datetime) -> str:
    return moment.astimezone(_WIB).strftime("%Y-%m-%d %H:%M:%S")


def _charge(row: asyncpg.Record) -> dict[str, Any]:
    answer = _answers.get(row["merchant_ref"], {})
    paid = _wib(row["paid_at"]) if row["paid_at"] else None
    done = settled(row)
    return {
        "partner_trx_id": str(row["merchant_ref"]), "trx_id": row["charge_id"],
        "receive_amount": answer.get("receive_amount", row["amount"]),
        "payment_status": answer.get("payment_status", _STATUS[row["status"]]),
        "payment_received_time": paid, "settlement_status": "SUCCESS" if done else "WAITING" if paid else None,
        "settlement_time": _wib(row["paid_at"] + timedelta(seconds=row["settlement_delay_s"])) if done else None,
    }  # fmt: skip


@router.post("/api/payment-routing/create-transaction", summary="Create a payment-routing QRIS charge (Oy!)")
async def create_transaction(request: Request) -> JSONResponse:
    merchant = _merchant(request)
    if merchant is None:
        return JSONResponse({"status": {"code": "208", "message": "API Key is not valid"}}, 401)
    body = await json_body(request)
    try:
        ref, amount = uuid.UUID(str(body["partner_trx_id"])), body["receive_amount"]
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ValueError("bad amount")
    except (ValueError, KeyError, TypeError):
        return _answer("990", "Parameter request is not complete")
    database: Database = request.app.state.database
    ring: KeyRing = request.app.state.key_ring
    async with database.connection() as connection:
        row = await repository.insert_charge(
            connection, merchant_ref=ref, charge_id=CHARGE_PREFIX + secrets.token_hex(12), amount=amount,
            method="qris", channel=None, merchant_name="oy", settlement_delay_s=SETTLEMENT_DELAY_S,
            callback_url=str(request.base_url).rstrip("/") + "/api/v1/transaction/callback/oy",
            expires_at=utcnow() + timedelta(minutes=30),
            merchant_key_encrypted=ring.encrypt(merchant, context=charge_context(_FAKE, ref)),
        )  # fmt: skip
        if row is None:
            return _answer("203", "Duplicate Partner Tx Id")
    merchant_info = QrisMerchant(name="GERBANG", city="Jakarta", nmid="ID1000000000002",
                                 merchant_pan="9360000000000000002")  # fmt: skip
    qr = dynamic_payload(merchant_info, amount=amount, reference=row["charge_id"])
    return _answer("000", "Success", **_charge(row), payment_info={"qris_string": qr})


@router.post("/api/payment-routing/check-status", summary="A payment-routing charge's status (Oy!)")
async def check_status(request: Request) -> JSONResponse:
    merchant = _merchant(request)
    if merchant is None:
        return JSONResponse({"status": {"code": "208", "message": "API Key is not valid"}}, 401)
    body = await json_body(request)
    try:
        ref = uuid.UUID(str(body["partner_trx_id"]))
    except (ValueError, KeyError, TypeError):
        return _answer("990", "Parameter request is not complete")
    row = await own_charge(request, _FAKE, CHARGE_PREFIX, merchant, ref)
    if row is None:
        return _answer("204", "Partner Tx ID is not found")
    return _answer("000", "Success", **_charge(row))


@router.post("/transactions/{ref}/answer", summary="Test knob: what status queries answer for this charge")
async def set_answer(ref: uuid.UUID, answer: dict[str, Any]) -> dict[str, Any]:
    _answers[ref] = {key: answer[key] for key in ("payment_status", "receive_amount") if key in answer}
    return {"partner_trx_id": str(ref), "answer": _answers[ref]}


async def notify_payment(row: asyncpg.Record, ring: KeyRing) -> dict[str, Any]:
    # Oy! signs nothing: the callback is the charge as it stands, plainly.
    event = _charge(row) | {"payment_status": _STATUS[row["status"]], "receive_amount": row["amount"]}
    return await send(row["callback_url"], json.dumps(event, separators=(",", ":")).encode(), {})


@router.post("/api/account-inquiry", summary="Check a bank account (Oy!)")
async def account_inquiry(request: Request) -> JSONResponse:
    if _merchant(request) is None:
        return JSONResponse({"status": {"code": "208", "message": "API Key is not valid"}}, 401)
    body = await json_body(request)
    bank, number = bank_name(str(body.get("bank_code", ""))), str(body.get("account_number", ""))
    if bank is None:
        return _answer("209", "Bank Code is not found")
    holder = payouts.holder_name(number) if number.isdigit() and 5 <= len(number) <= 20 else None
    if holder is None:
        return _answer("300", "Account not found", bank_code=bank, account_number=number)
    return _answer("000", "Success", bank_code=bank, account_number=number, account_name=holder)


def _remit(row: asyncpg.Record) -> dict[str, Any]:
    code, message = _REMIT_CODE[row["status"]]
    return {
        "status": {"code": code, "message": message}, "partner_trx_id": str(row["merchant_ref"]),
        "trx_id": row["disbursement_id"], "amount": row["amount"], "recipient_bank": row["bank_code"],
        "recipient_account": row["account_number"], "timestamp": row["complete_after"].isoformat(),
    }  # fmt: skip


@router.post("/api/remit", summary="Pay out to a bank account (Oy!)")
async def remit(request: Request) -> JSONResponse:
    merchant = _merchant(request)
    if merchant is None:
        return JSONResponse({"status": {"code": "208", "message": "API Key is not valid"}}, 401)
    body = await json_body(request)
    try:
        ref, amount = uuid.UUID(str(body["partner_trx_id"])), body["amount"]
        bank, number = bank_name(str(body["recipient_bank"])), str(body["recipient_account"])
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ValueError("bad amount")
    except (ValueError, KeyError, TypeError):
        return _answer("990", "Parameter request is not complete")
    if bank is None or payouts.holder_name(number) is None:
        return _answer("209", "Bank or account is not found")
    database: Database = request.app.state.database
    ring: KeyRing = request.app.state.key_ring
    complete_after = utcnow() + DISBURSEMENT_DELAY
    async with database.transaction() as connection:
        created = await repository.insert_disbursement(
            connection, merchant_ref=ref, disbursement_id=DISBURSEMENT_PREFIX + secrets.token_hex(12),
            merchant_key_hash=merchant,
            merchant_key_encrypted=ring.encrypt(merchant, context=f"sandbox-disbursement:{ref}"),
            amount=amount, bank_code=bank, account_number=number, holder_name="", note=str(body.get("note", ""))[:255],
            callback_url=str(request.base_url).rstrip("/") + "/api/v1/withdrawals/callback",
            outcome="FAILED" if number.endswith("9999") else "COMPLETED", complete_after=complete_after,
        )  # fmt: skip
        row = await repository.get_disbursement(connection, ref)
    if not created:
        return _answer("203", "Duplicate Partner Tx Id")
    assert row is not None  # noqa: S101 (inserted above)
    payouts.finish_later(database, ring, ref, complete_after)
    return JSONResponse(_remit(row))


@router.post("/api/remit-status", summary="A remit's status (Oy!)")
async def remit_status(request: Request) -> JSONResponse:
    merchant = _merchant(request)
    if merchant is None:
        return JSONResponse({"status": {"code": "208", "message": "API Key is not valid"}}, 401)
    body = await json_body(request)
    try:
        ref = uuid.UUID(str(body["partner_trx_id"]))
    except (ValueError, KeyError, TypeError):
        return _answer("990", "Parameter request is not complete")
    row = await payouts.current(request.app.state.database, request.app.state.key_ring, ref)
    if row is None or row["merchant_key_hash"] != merchant:
        return _answer("204", "Partner Tx ID is not found")
    return JSONResponse(_remit(row))


@router.get("/api/balance", summary="The merchant's balance (Oy!)")
async def balance(request: Request) -> JSONResponse:
    merchant = _merchant(request)
    if merchant is None:
        return JSONResponse({"status": {"code": "208", "message": "API Key is not valid"}}, 401)
    database: Database = request.app.state.database
    async with database.connection() as connection:
        paid_out = await repository.disbursed(connection, merchant, utcnow())
    return _answer("000", "Success", balance=float(payouts.STARTING_BALANCE - paid_out), overdraft_balance=0.0)


async def notify_disbursement(row: asyncpg.Record) -> dict[str, Any]:
    return await send(row["callback_url"], json.dumps(_remit(row), separators=(",", ":")).encode(), {})
