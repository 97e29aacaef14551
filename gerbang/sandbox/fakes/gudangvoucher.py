"""A fake of GudangVoucher's QRIS API (seed inventory 4.8), at `/sandbox/gudangvoucher/payment_channel/...`.

Merchants: any `merchantid`, whose merchant key is `fake_merchant_key(merchantid)` (the fake's stand-in for
the key GudangVoucher hands out). Requests are form posts (`application/x-www-form-urlencoded`); answers are
JSON `{"status_code", "status_desc", "responddata"}`, `status_code "00"` on success.

- `POST /payment_channel/gv_connect/qris/create_qr {merchantid, amount, custom, custom_callback?, ...,
  signature}`, `signature` = MD5(merchantid + amount + merchant key + custom): a QRIS charge
  (`responddata.data_qr`, `reference_label`). The charge is kept under `custom` read as a UUID (the order
  id gerbang sends), so `/sandbox/orders/{id}/pay` finds it; a `custom` that is not one is refused.
- `POST /payment_channel/gv_connect/qris/check_status {merchantid, custom, signature}`, `signature` =
  MD5(merchant key + merchantid + custom): `responddata.status` PENDING, SUCCESS, FAILED or EXPIRED,
  `amount`, `payment_time` (WIB).
- Paying it (`POST /sandbox/orders/{ref}/pay`) marks it SUCCESS, so the status query says so, and posts an
  unsigned form (`merchantid, custom, reference_label, amount, status, payment_time`) to the charge's
  `custom_callback` (by default `<gerbang>/api/v1/transaction/callback/gudangvoucher`).
- Test knob: `POST /sandbox/gudangvoucher/transactions/{ref}/answer {status?, amount?}` makes status
  queries answer that instead (in this process).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import urllib.parse
import uuid
from datetime import timedelta, timezone
from typing import Any

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gerbang.db import Database
from gerbang.kit.crypto import KeyRing
from gerbang.kit.qris import QrisMerchant, dynamic_payload
from gerbang.kit.time import utcnow
from gerbang.sandbox import repository
from gerbang.sandbox.fakes import charge_context, own_charge, send

PREFIX = "/sandbox/gudangvoucher"
_FAKE = "gudangvoucher"
CHARGE_PREFIX = "gv_"
router = APIRouter(prefix=PREFIX, tags=["sandbox provider: GudangVoucher"])
_WIB = timezone(timedelta(hours=7))
_answers: dict[uuid.UUID, dict[str, Any]] = {}
_STATUS = {"PENDING": "PENDING", "PAID": "SUCCESS", "FAILED": "FAILED", "EXPIRED": "EXPIRED"}


def fake_merchant_key(merchant_id: str) -> str:
    """The merchant key of merchant `merchant_id` at this fake."""
    return "gv_mk_" + hashlib.sha256(f"gerbang-sandbox-gudangvoucher:{merchant_id}".encode()).hexdigest()[:24]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _answer(code: str, message: str, status: int = 200, **data: Any) -> JSONResponse:
    return JSONResponse({"status_code": code, "status_desc": message, **data}, status)


async def _form(request: Request) -> dict[str, str]:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    try:
        return dict(urllib.parse.parse_qsl((await request.body()).decode(), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        return {}


def _signed(form: dict[str, str], expected: str) -> bool:
    return hmac.compare_digest(form.get("signature", "").lower(), expected)


def _transaction(row: asyncpg.Record, merchant: str) -> dict[str, Any]:
    answer = _answers.get(row["merchant_ref"], {})
    paid = row["paid_at"].astimezone(_WIB).strftime("%Y-%m-%d %H:%M:%S") if row["paid_at"] else None
    return {
        "merchantid": merchant, "custom": row["merchant_ref"].hex, "reference_label": row["charge_id"],
        "amount": answer.get("amount", row["amount"]), "status": answer.get("status", _STATUS[row["status"]]),
        "payment_time": paid,
    }  # fmt: skip


@router.post("/payment_channel/gv_connect/qris/create_qr", summary="Create a QRIS charge (GudangVoucher)")
async def create_qr(request: Request) -> JSONResponse:
    form = await _form(request)
    merchant, amount, custom = form.get("merchantid", ""), form.get("amount", ""), form.get("custom", "")
    if not merchant or not amount.isdigit() or int(amount) <= 0 or len(custom) != 32:
        return _answer("30", "merchantid, a positive amount and custom are required")
    if not _signed(form, _md5(merchant + amount + fake_merchant_key(merchant) + custom)):
        return _answer("05", "invalid signature", 401)
    try:
        ref = uuid.UUID(hex=custom)
    except ValueError:
        return _answer("30", "custom is not a reference this fake can keep")
    callback = form.get("custom_callback") or (
        str(request.base_url).rstrip("/") + "/api/v1/transaction/callback/gudangvoucher"
    )
    database: Database = request.app.state.database
    ring: KeyRing = request.app.state.key_ring
    async with database.connection() as connection:
        row = await repository.insert_charge(
            connection, merchant_ref=ref, charge_id=CHARGE_PREFIX + secrets.token_hex(12), amount=int(amount),
            method="qris", channel=None, merchant_name="gudangvoucher", settlement_delay_s=0,
            callback_url=callback[:2000], expires_at=utcnow() + timedelta(minutes=30),
            merchant_key_encrypted=ring.encrypt(merchant, context=charge_context(_FAKE, ref)),
        )  # fmt: skip
    if row is None:
        return _answer("13", "duplicate custom")
    merchant_info = QrisMerchant(name="GERBANG", city="Jakarta", nmid="ID1000000000008",
                                 merchant_pan="9360000000000000008")  # fmt: skip
    qr = dynamic_payload(merchant_info, amount=int(amount), reference=row["charge_id"])
    expires = row["expires_at"].astimezone(_WIB).strftime("%Y-%m-%d %H:%M:%S")
    data = {"custom": custom, "reference_label": row["charge_id"], "merchant_id": merchant,
            "amount": int(amount), "expired_time": expires, "data_qr": qr}  # fmt: skip
    return _answer("00", "Success", responddata=data)


@router.post("/payment_channel/gv_connect/qris/check_status", summary="A QRIS charge's status (GudangVoucher)")
async def check_status(request: Request) -> JSONResponse:
    form = await _form(request)
    merchant, custom = form.get("merchantid", ""), form.get("custom", "")
    if not merchant or not _signed(form, _md5(fake_merchant_key(merchant) + merchant + custom)):
        return _answer("05", "invalid signature", 401)
    try:
        ref = uuid.UUID(hex=custom)
    except ValueError:
        return _answer("14", "transaction not found")
    row = await own_charge(request, _FAKE, CHARGE_PREFIX, merchant, ref)
    if row is None:
        return _answer("14", "transaction not found")
    return _answer("00", "Success", responddata=_transaction(row, merchant))


@router.post("/transactions/{ref}/answer", summary="Test knob: what status queries answer for this charge")
async def set_answer(ref: uuid.UUID, answer: dict[str, Any]) -> dict[str, Any]:
    _answers[ref] = {key: answer[key] for key in ("status", "amount") if key in answer}
    return {"custom": ref.hex, "answer": _answers[ref]}


async def notify_payment(row: asyncpg.Record, ring: KeyRing) -> dict[str, Any]:
    merchant = ring.decrypt(row["merchant_key_encrypted"], context=charge_context(_FAKE, row["merchant_ref"]))
    # Unsigned, as far as anyone documented: the charge as it is (not as the test knob makes queries answer).
    event = _transaction(row, merchant) | {"amount": row["amount"], "status": _STATUS[row["status"]]}
    body = urllib.parse.urlencode({key: "" if value is None else str(value) for key, value in event.items()})
    return await send(row["callback_url"], body.encode(), {"Content-Type": "application/x-www-form-urlencoded"})
