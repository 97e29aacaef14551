"""A fake of Genesis's QRIS SNAP "2gen" API (seed inventory 4.5), at `/sandbox/genesis/qrissnap2gen/v1/...`.

Merchants: any client id, whose client secret is `fake_secret(client_id)`. Requests carry `client_id` and
`x-signature`, MD5 hex of (clientId + value + orderId + clientSecret) to generate an order, of (clientId +
orderId + clientSecret) to query one; `value` is a decimal string with two decimals (`150000.00`). Answers
are flat: `{responseCode, responseMessage, ...}`.

- `POST /qrissnap2gen/v1/qr-mpm-generate-order {value, orderId}` creates a QRIS charge (`qrContent`,
  `referenceNo`); `POST /qrissnap2gen/v1/qr-mpm-query {orderId}` answers it (`status` PENDING, SUCCESS,
  FAILED, EXPIRED; `value`; `paidAt`).
- Paying it (`POST /sandbox/orders/{ref}/pay`) sends the callback `{orderId, amount, status, referenceNo,
  paidAt}` to `<gerbang>/api/v1/transaction/callback/genesis` (the callback URL is set up with Genesis, not
  sent per order), signed `x-signature` = MD5(clientId + amount + orderId + clientSecret).
- Test knob: `POST /sandbox/genesis/transactions/{ref}/answer {status?, value?}` makes queries answer that
  status or amount instead (in this process).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
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
from gerbang.sandbox import repository
from gerbang.sandbox.fakes import charge_context, json_body, own_charge, send

PREFIX = "/sandbox/genesis"
_FAKE = "genesis"
CHARGE_PREFIX = "gen_"
router = APIRouter(prefix=PREFIX, tags=["sandbox provider: Genesis"])
_answers: dict[uuid.UUID, dict[str, Any]] = {}
_STATUS = {"PENDING": "PENDING", "PAID": "SUCCESS", "FAILED": "FAILED", "EXPIRED": "EXPIRED"}
_VALUE = re.compile(r"[1-9][0-9]{0,11}\.00")


def fake_secret(client_id: str) -> str:
    """The client secret of client `client_id` at this fake."""
    return "gen_cs_" + sha256_hex(f"gerbang-sandbox-genesis:{client_id}".encode())[:32]


def _md5(*parts: str) -> str:
    return hashlib.md5("".join(parts).encode(), usedforsecurity=False).hexdigest()


def _answer(http_status: int, code: str, message: str, **fields: Any) -> JSONResponse:
    return JSONResponse({"responseCode": code, "responseMessage": message, **fields}, http_status)


def _signed(request: Request, *parts: str) -> str | None:
    """The client id of a request signed MD5(clientId + parts + clientSecret), else None."""
    client_id = request.headers.get("client_id", "")
    expected = _md5(client_id, *parts, fake_secret(client_id))
    return (
        client_id
        if client_id and hmac.compare_digest(request.headers.get("x-signature", "").lower(), expected)
        else None
    )


def _order(row: asyncpg.Record) -> dict[str, Any]:
    answer = _answers.get(row["merchant_ref"], {})
    return {
        "orderId": str(row["merchant_ref"]), "referenceNo": row["charge_id"],
        "value": answer.get("value", f"{row['amount']}.00"), "status": answer.get("status", _STATUS[row["status"]]),
        "paidAt": row["paid_at"].isoformat() if row["paid_at"] else None,
    }  # fmt: skip


@router.post("/qrissnap2gen/v1/qr-mpm-generate-order", summary="Generate a QRIS MPM order (Genesis)")
async def generate_order(request: Request) -> JSONResponse:
    body = await json_body(request)
    value, order_id = str(body.get("value", "")), str(body.get("orderId", ""))
    client_id = _signed(request, value, order_id)
    if client_id is None:
        return _answer(401, "4014700", "Unauthorized. Invalid signature")
    try:
        ref = uuid.UUID(order_id)
    except ValueError:
        return _answer(400, "4004701", "Invalid field format orderId")
    if not _VALUE.fullmatch(value):
        return _answer(400, "4004701", "Invalid field format value")
    database: Database = request.app.state.database
    ring: KeyRing = request.app.state.key_ring
    async with database.connection() as connection:
        row = await repository.insert_charge(
            connection, merchant_ref=ref, charge_id=CHARGE_PREFIX + secrets.token_hex(12), amount=int(value[:-3]),
            method="qris", channel=None, merchant_name="genesis", settlement_delay_s=0,
            callback_url=str(request.base_url).rstrip("/") + "/api/v1/transaction/callback/genesis",
            expires_at=utcnow() + timedelta(minutes=30),
            merchant_key_encrypted=ring.encrypt(client_id, context=charge_context(_FAKE, ref)),
        )  # fmt: skip
    if row is None:
        return _answer(409, "4094700", "Duplicate orderId")
    merchant = QrisMerchant(name="GERBANG", city="Jakarta", nmid="ID1000000000006", merchant_pan="9360000000000000006")
    qr = dynamic_payload(merchant, amount=row["amount"], reference=row["charge_id"])
    return _answer(200, "2004700", "Successful", **_order(row), qrContent=qr)


@router.post("/qrissnap2gen/v1/qr-mpm-query", summary="Query a QRIS MPM order (Genesis)")
async def query_order(request: Request) -> JSONResponse:
    body = await json_body(request)
    order_id = str(body.get("orderId", ""))
    client_id = _signed(request, order_id)
    if client_id is None:
        return _answer(401, "4015100", "Unauthorized. Invalid signature")
    try:
        ref = uuid.UUID(order_id)
    except ValueError:
        return _answer(400, "4005101", "Invalid field format orderId")
    row = await own_charge(request, _FAKE, CHARGE_PREFIX, client_id, ref)
    if row is None:
        return _answer(404, "4045101", "Transaction not found")
    return _answer(200, "2005100", "Successful", **_order(row))


@router.post("/transactions/{ref}/answer", summary="Test knob: what queries answer for this order")
async def set_answer(ref: uuid.UUID, answer: dict[str, Any]) -> dict[str, Any]:
    _answers[ref] = {key: answer[key] for key in ("status", "value") if key in answer}
    return {"orderId": str(ref), "answer": _answers[ref]}


async def notify_payment(row: asyncpg.Record, ring: KeyRing) -> dict[str, Any]:
    client_id = ring.decrypt(row["merchant_key_encrypted"], context=charge_context(_FAKE, row["merchant_ref"]))
    order = _order(row)
    amount = f"{row['amount']}.00"  # the order as it is (not as the test knob makes queries answer)
    event = {"orderId": order["orderId"], "amount": amount, "status": _STATUS[row["status"]],
             "referenceNo": order["referenceNo"], "paidAt": order["paidAt"]}  # fmt: skip
    body = json.dumps(event, separators=(",", ":")).encode()
    signature = _md5(client_id, amount, order["orderId"], fake_secret(client_id))
    return await send(row["callback_url"], body, {"x-signature": signature})
