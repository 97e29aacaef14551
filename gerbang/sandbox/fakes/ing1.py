"""A fake of ING1's ("Billers Engine") API (seed inventory 4.4), at `/sandbox/ing1/<version>/...`.

Merchants: any `email` with a `password` of 8 characters or more (the pair is the merchant). Every call but
the login needs `Authorization: Bearer <token>`; answers are `{rc, message, reff?, client_reff?, data}`.

- `POST user/login {email, password}` issues a JWT-shaped token (`header.payload.signature`, base64url;
  the payload carries `exp`) valid TOKEN_TTL_S seconds; an expired or unknown token is answered `rc 98`.
- `POST transaction/cashin/create` creates a QRIS charge (`reff`, `data.content`, `data.payment_url`,
  `data.expired_at`); `POST transaction/cashin/check {reff, client_reff}` answers rc 91 (pending), 0 (paid) or
  99 (failed, expired) with `data.status`, `data.amount`, `data.paid_at`.
- Paying it (`POST /sandbox/orders/{ref}/pay`) marks it paid and sends ING1's unsigned GET callback to
  `<gerbang>/api/v1/transaction/callback/ing1?client_reff&reff&rc&status&amount&paid_at`.
- `POST transaction/cashout/inquiry {bank_code, account_no, amount, client_reff}` answers a `reff` and
  `data.account_name` (accounts as the sandbox's: numbers ending 0000 do not exist, 9999 fail at the bank);
  the same `client_reff` again gets the same `reff`. `POST transaction/cashout/payment {reff, client_reff,
  amount}` answers rc 91 (processing; again: its current state), then it completes three seconds later or
  when forced at `/sandbox/disbursements/{ref}/complete`; `POST transaction/cashout/check`. The cash-out
  callback is a GET to `<gerbang>/api/v1/withdrawals/callback/ing1` with the same fields.
- Test knobs (in this process): `POST /sandbox/ing1/transactions/{ref}/answer {rc?, status?, amount?}`
  makes status queries answer that; `POST /sandbox/ing1/knobs {token_ttl_s?, reject_next_token?}` sets the
  life of new tokens and makes the next authenticated call answer `rc 98` once; `GET /sandbox/ing1/knobs`
  counts the logins.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.parse
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
from gerbang.sandbox.fakes import charge_context, json_body, own_charge
from gerbang.sandbox.merchant import call_back

PREFIX = "/sandbox/ing1"
_FAKE = "ing1"
CHARGE_PREFIX = "ing1_"
DISBURSEMENT_PREFIX = "ing1d_"
DISBURSEMENT_DELAY = timedelta(seconds=3)
TOKEN_TTL_S = 600
router = APIRouter(prefix=PREFIX, tags=["sandbox provider: ING1"])
_answers: dict[uuid.UUID, dict[str, Any]] = {}
_tokens: dict[str, tuple[str, float]] = {}
_inquiries: dict[str, dict[str, Any]] = {}
_knobs: dict[str, Any] = {"token_ttl_s": TOKEN_TTL_S, "reject_next_token": False, "logins": 0}
_RC = {"PENDING": (91, "PENDING"), "PAID": (0, "PAID"), "FAILED": (99, "FAILED"), "EXPIRED": (99, "EXPIRED"),
       "PROCESSING": (91, "PROCESSING"), "COMPLETED": (0, "SUCCESS")}  # fmt: skip


def _answer(rc: int, message: str, **fields: Any) -> JSONResponse:
    return JSONResponse({"rc": rc, "message": message, **fields})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _merchant(request: Request) -> str | None:
    """The merchant of a valid bearer token; None (answered rc 98) for a missing, unknown or expired one,
    or once when told to."""
    header = request.headers.get("authorization", "")
    token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
    if _knobs["reject_next_token"]:
        _knobs["reject_next_token"] = False
        return None
    found = _tokens.get(token)
    if found is None or found[1] <= time.time():
        return None
    return found[0]


def _invalid_token() -> JSONResponse:
    return _answer(98, "Invalid token")


@router.post("/{version}/user/login", summary="Log in for a bearer token (ING1)")
async def login(version: str, request: Request) -> JSONResponse:
    body = await json_body(request)
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not isinstance(password, str) or not email or len(password) < 8:
        return _answer(401, "Invalid email or password")
    exp = int(time.time()) + int(_knobs["token_ttl_s"])
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps({"sub": email, "exp": exp, "jti": secrets.token_hex(8)}).encode())
    token = f"{header}.{payload}.{_b64(secrets.token_bytes(32))}"
    _tokens[token] = (sha256_hex(f"ing1:{email}:{password}".encode()), float(exp))
    _knobs["logins"] += 1
    return _answer(0, "Success", data={"token": token, "expired_at": exp})


def _charge(row: asyncpg.Record) -> dict[str, Any]:
    answer = _answers.get(row["merchant_ref"], {})
    rc, status = _RC[row["status"]]
    return {
        "rc": answer.get("rc", rc), "message": "Success", "reff": row["charge_id"],
        "client_reff": str(row["merchant_ref"]),
        "data": {
            "status": answer.get("status", status), "amount": answer.get("amount", row["amount"]),
            "paid_at": row["paid_at"].isoformat() if row["paid_at"] else None,
            "expired_at": row["expires_at"].isoformat(),
        },
    }  # fmt: skip


@router.post("/{version}/transaction/cashin/create", summary="Create a QRIS cash-in (ING1)")
async def cashin_create(version: str, request: Request) -> JSONResponse:
    merchant = _merchant(request)
    if merchant is None:
        return _invalid_token()
    body = await json_body(request)
    try:
        ref, amount = uuid.UUID(str(body["client_reff"])), body["amount"]
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0 or not body.get("product_code"):
            raise ValueError("bad amount")
    except (ValueError, KeyError, TypeError):
        return _answer(14, "Invalid parameter")
    database: Database = request.app.state.database
    ring: KeyRing = request.app.state.key_ring
    async with database.connection() as connection:
        row = await repository.insert_charge(
            connection, merchant_ref=ref, charge_id=CHARGE_PREFIX + secrets.token_hex(12), amount=amount,
            method="qris", channel=None, merchant_name="ing1", settlement_delay_s=0,
            callback_url=str(request.base_url).rstrip("/") + "/api/v1/transaction/callback/ing1",
            expires_at=utcnow() + timedelta(minutes=30),
            merchant_key_encrypted=ring.encrypt(merchant, context=charge_context(_FAKE, ref)),
        )  # fmt: skip
    if row is None:
        return _answer(17, "Duplicate client_reff")
    merchant_info = QrisMerchant(name="GERBANG", city="Jakarta", nmid="ID1000000000003",
                                 merchant_pan="9360000000000000003")  # fmt: skip
    qr = dynamic_payload(merchant_info, amount=amount, reference=row["charge_id"])
    answer = _charge(row)
    answer["data"] |= {"content": qr, "payment_url": f"{request.base_url}sandbox/wallet/{ref}"}
    return JSONResponse(answer)


@router.post("/{version}/transaction/cashin/check", summary="A cash-in's status (ING1)")
async def cashin_check(version: str, request: Request) -> JSONResponse:
    merchant = _merchant(request)
    if merchant is None:
        return _invalid_token()
    body = await json_body(request)
    try:
        ref = uuid.UUID(str(body["client_reff"]))
    except (ValueError, KeyError, TypeError):
        return _answer(14, "Invalid parameter")
    row = await own_charge(request, _FAKE, CHARGE_PREFIX, merchant, ref)
    if row is None:
        return _answer(14, "Transaction not found")
    return JSONResponse(_charge(row))


@router.post("/transactions/{ref}/answer", summary="Test knob: what status queries answer for this charge")
async def set_answer(ref: uuid.UUID, answer: dict[str, Any]) -> dict[str, Any]:
    _answers[ref] = {key: answer[key] for key in ("rc", "status", "amount") if key in answer}
    return {"client_reff": str(ref), "answer": _answers[ref]}


@router.post("/knobs", summary="Test knob: token life, and one rc 98 on the next call")
async def set_knobs(knobs: dict[str, Any]) -> dict[str, Any]:
    if "token_ttl_s" in knobs:
        _knobs["token_ttl_s"] = int(knobs["token_ttl_s"])
    if "reject_next_token" in knobs:
        _knobs["reject_next_token"] = bool(knobs["reject_next_token"])
    return dict(_knobs)


@router.get("/knobs", summary="Test knob: the knobs, and how many logins there were")
async def get_knobs() -> dict[str, Any]:
    return dict(_knobs)


async def _get(url: str, fields: dict[str, Any]) -> dict[str, Any]:
    """ING1 calls back with a plain GET, the fields in the query; unsigned."""
    query = urllib.parse.urlencode({key: "" if value is None else str(value) for key, value in fields.items()})
    return await call_back("GET", f"{url}?{query}")


async def notify_payment(row: asyncpg.Record, ring: KeyRing) -> dict[str, Any]:
    rc, status = _RC[row["status"]]
    return await _get(row["callback_url"], {
        "client_reff": str(row["merchant_ref"]), "reff": row["charge_id"], "rc": rc, "status": status,
        "amount": row["amount"], "paid_at": row["paid_at"].isoformat() if row["paid_at"] else None,
        "expired_at": row["expires_at"].isoformat(),
    })  # fmt: skip


@router.post("/{version}/transaction/cashout/inquiry", summary="Check a bank account before a cash-out (ING1)")
async def cashout_inquiry(version: str, request: Request) -> JSONResponse:
    merchant = _merchant(request)
    if merchant is None:
        return _invalid_token()
    body = await json_body(request)
    bank, number = bank_name(str(body.get("bank_code", ""))), str(body.get("account_no", ""))
    amount, client_reff = body.get("amount"), body.get("client_reff")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0 or not isinstance(client_reff, str):
        return _answer(14, "Invalid parameter")
    if bank is None:
        return _answer(14, "Bank code is not found")
    holder = payouts.holder_name(number) if number.isdigit() and 5 <= len(number) <= 20 else None
    if holder is None:
        return _answer(14, "Account not found")
    reff = next(
        (
            ref
            for ref, known in _inquiries.items()
            if known["merchant"] == merchant and known["client_reff"] == client_reff
        ),
        None,
    )
    if reff is None:  # the same client_reff again: the same reff
        reff = DISBURSEMENT_PREFIX + secrets.token_hex(12)
        _inquiries[reff] = {"merchant": merchant, "client_reff": client_reff, "amount": amount, "bank": bank,
                            "number": number, "holder": holder}  # fmt: skip
    data = {"bank_code": bank, "account_no": number, "account_name": holder, "amount": amount}
    return _answer(0, "Success", reff=reff, client_reff=client_reff, data=data)


def _cashout(row: asyncpg.Record) -> dict[str, Any]:
    rc, status = _RC[row["status"]]
    return {
        "rc": rc, "message": row["reason"] or "Success", "reff": row["disbursement_id"],
        "client_reff": str(row["merchant_ref"]),
        "data": {"status": status, "amount": row["amount"], "bank_code": row["bank_code"],
                 "account_no": row["account_number"]},
    }  # fmt: skip


@router.post("/{version}/transaction/cashout/payment", summary="Confirm an inquired cash-out (ING1)")
async def cashout_payment(version: str, request: Request) -> JSONResponse:
    merchant = _merchant(request)
    if merchant is None:
        return _invalid_token()
    body = await json_body(request)
    inquiry = _inquiries.get(str(body.get("reff", "")))
    if inquiry is None or inquiry["merchant"] != merchant or inquiry["client_reff"] != body.get("client_reff"):
        return _answer(14, "Inquiry not found")
    if body.get("amount") != inquiry["amount"]:
        return _answer(14, "Amount differs from the inquiry")
    try:
        ref = uuid.UUID(inquiry["client_reff"])
    except ValueError:
        return _answer(14, "Invalid client_reff")
    database: Database = request.app.state.database
    ring: KeyRing = request.app.state.key_ring
    complete_after = utcnow() + DISBURSEMENT_DELAY
    async with database.transaction() as connection:
        created = await repository.insert_disbursement(
            connection, merchant_ref=ref, disbursement_id=str(body["reff"]), merchant_key_hash=merchant,
            merchant_key_encrypted=ring.encrypt(merchant, context=f"sandbox-disbursement:{ref}"),
            amount=inquiry["amount"], bank_code=inquiry["bank"], account_number=inquiry["number"], holder_name="",
            note=str(body.get("remark", ""))[:255],
            callback_url=str(request.base_url).rstrip("/") + "/api/v1/withdrawals/callback/ing1",
            outcome="FAILED" if inquiry["number"].endswith("9999") else "COMPLETED", complete_after=complete_after,
        )  # fmt: skip
        row = await repository.get_disbursement(connection, ref)
    assert row is not None  # noqa: S101 (inserted above, or there already)
    if created:
        payouts.finish_later(database, ring, ref, complete_after)
    return JSONResponse(_cashout(row))  # a repeated payment answers the cash-out as it stands


@router.post("/{version}/transaction/cashout/check", summary="A cash-out's status (ING1)")
async def cashout_check(version: str, request: Request) -> JSONResponse:
    merchant = _merchant(request)
    if merchant is None:
        return _invalid_token()
    body = await json_body(request)
    try:
        ref = uuid.UUID(str(body["client_reff"]))
    except (ValueError, KeyError, TypeError):
        return _answer(14, "Invalid parameter")
    row = await payouts.current(request.app.state.database, request.app.state.key_ring, ref)
    if (
        row is None
        or row["merchant_key_hash"] != merchant
        or not row["disbursement_id"].startswith(DISBURSEMENT_PREFIX)
    ):
        return _answer(14, "Transaction not found")
    return JSONResponse(_cashout(row))


async def notify_disbursement(row: asyncpg.Record) -> dict[str, Any]:
    rc, status = _RC[row["status"]]
    return await _get(row["callback_url"], {
        "client_reff": str(row["merchant_ref"]), "reff": row["disbursement_id"], "rc": rc, "status": status,
        "amount": row["amount"],
    })  # fmt: skip
