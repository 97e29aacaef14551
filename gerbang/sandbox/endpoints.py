"""The sandbox PSP's HTTP side for pay-ins (payouts: `gerbang.sandbox.payouts`; `router` mounts both). It
behaves like an upstream provider, with rules that make every path reachable on purpose (README, "Sandbox
provider"):

- `POST /sandbox/api/charges` (Bearer merchant key) creates a charge: a valid dynamic QRIS payload, a VA
  number for the bank, or an e-wallet redirect URL. A merchant key starting `sbx_down` gets 503, to
  rehearse a provider outage.
- `GET /sandbox/api/charges/{merchant_ref}` answers the status, with `settled: true` for a paid charge once
  `sandbox_settlement_delay_s` (a create field, default 0) have passed since its payment: what a merchant
  whose provider account settles `provider_reported` waits for.
- `POST /sandbox/orders/{order_id}/pay`, `/fail`, `/expire` make the customer's move and send the
  callback, signed `X-Sandbox-Signature: hex(HMAC-SHA256(merchant key, raw body))`, to the charge's
  callback URL over HTTP (for a charge of a provider fake, `gerbang.sandbox.fakes`, that provider's own).
  Repeating a move re-sends the same callback (same `event_id`), as providers
  retry.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from gerbang.db import Database, DbConnection
from gerbang.exceptions import Conflict, NotFound
from gerbang.kit.crypto import KeyRing, equal
from gerbang.kit.qris import QrisMerchant, dynamic_payload
from gerbang.kit.time import utcnow
from gerbang.sandbox import fakes, payouts, repository
from gerbang.sandbox.banks import VA_BANKS as VA_BANKS  # re-exported: the checkout offers these banks
from gerbang.sandbox.fakes import genesis as fake_genesis
from gerbang.sandbox.fakes import gidi as fake_gidi
from gerbang.sandbox.fakes import gudangvoucher as fake_gudangvoucher
from gerbang.sandbox.fakes import hilogate as fake_hilogate
from gerbang.sandbox.fakes import ing1 as fake_ing1
from gerbang.sandbox.fakes import netzme as fake_netzme
from gerbang.sandbox.fakes import oy as fake_oy
from gerbang.sandbox.fakes import piro as fake_piro
from gerbang.sandbox.merchant import deliver, merchant_key

router = APIRouter()
"""The whole sandbox, for the app to mount: pay-ins (here) and payouts, each a router under `/sandbox` (so
every route's own path is the full one, as metrics label requests by it)."""
_pay_ins = APIRouter(prefix="/sandbox", tags=["sandbox provider"])

WALLETS = frozenset({"OVO", "DANA", "GOPAY", "SHOPEEPAY", "LINKAJA"})


class ChargeNotFound(NotFound):
    code = "charge_not_found"


class ChargeConflict(Conflict):
    code = "charge_conflict"


class ChargeCreate(BaseModel):
    merchant_ref: uuid.UUID
    amount: int = Field(gt=0, le=1_000_000_000, strict=True)
    method: str = Field(pattern="^(qris|va|ewallet)$")
    channel: str | None = Field(default=None, max_length=16)
    expires_at: datetime
    callback_url: str = Field(max_length=2000)
    merchant_name: str = Field(default="gerbang", max_length=100)
    sandbox_settlement_delay_s: int = Field(default=0, ge=0, le=30 * 86_400, strict=True)
    """How long after its payment the charge is reported settled: a sandbox-only field."""


def _context(merchant_ref: uuid.UUID) -> str:
    return f"sandbox:{merchant_ref}"


def _digits(seed: str, count: int) -> str:
    return str(int(hashlib.sha256(seed.encode()).hexdigest(), 16))[:count]


def _settled(row: Any) -> bool:
    return row["paid_at"] is not None and row["paid_at"] + timedelta(seconds=row["settlement_delay_s"]) <= utcnow()


def _charge_view(row: Any, request: Request) -> dict[str, Any]:
    view: dict[str, Any] = {
        "charge_id": row["charge_id"], "merchant_ref": str(row["merchant_ref"]), "amount": row["amount"],
        "method": row["method"], "channel": row["channel"], "status": row["status"],
        "expires_at": row["expires_at"].isoformat(), "paid_at": row["paid_at"].isoformat() if row["paid_at"] else None,
        "settled": row["status"] == "PAID" and _settled(row),
    }  # fmt: skip
    if row["method"] == "qris":
        merchant = QrisMerchant(
            name=row["merchant_name"], city="Jakarta",
            nmid="ID10" + _digits(row["charge_id"], 11), merchant_pan="93600" + _digits(row["charge_id"] + "p", 13),
        )  # fmt: skip
        view["qr_string"] = dynamic_payload(merchant, amount=row["amount"], reference=row["charge_id"])
    elif row["method"] == "va":
        view["va_number"] = "8" + VA_BANKS[row["channel"]] + _digits(str(row["merchant_ref"]), 12)
    else:
        view["redirect_url"] = str(request.base_url).rstrip("/") + f"/sandbox/wallet/{row['merchant_ref']}"
    return view


@_pay_ins.post("/api/charges", status_code=201, summary="Create a charge (as a provider's API would)")
async def create_charge(
    body: ChargeCreate, request: Request, authorization: Annotated[str | None, Header()] = None
) -> JSONResponse:
    key = merchant_key(authorization)
    if key.startswith("sbx_down"):
        return JSONResponse({"error": "maintenance", "message": "the sandbox is down for this merchant"}, 503)
    if body.method == "va" and body.channel not in VA_BANKS:
        return JSONResponse({"error": "unsupported_bank", "message": f"banks: {sorted(VA_BANKS)}"}, 400)
    if body.method == "ewallet" and body.channel not in WALLETS:
        return JSONResponse({"error": "unsupported_wallet", "message": f"wallets: {sorted(WALLETS)}"}, 400)
    ring: KeyRing = request.app.state.key_ring
    database: Database = request.app.state.database
    # One statement creates the charge and returns it, committed on its own: no transaction around it.
    async with database.connection() as connection:
        row = await repository.insert_charge(
            connection, merchant_ref=body.merchant_ref, charge_id="sbx_" + secrets.token_hex(12),
            amount=body.amount, method=body.method, channel=body.channel, merchant_name=body.merchant_name,
            callback_url=body.callback_url, expires_at=body.expires_at,
            settlement_delay_s=body.sandbox_settlement_delay_s,
            merchant_key_encrypted=ring.encrypt(key, context=_context(body.merchant_ref)),
        )  # fmt: skip
        if row is None:  # a retry of the same charge gets it again; anything else under this ref is refused
            row = await repository.get_charge(connection, body.merchant_ref)
            assert row is not None  # noqa: S101 (charges are never deleted)
            same = row["amount"] == body.amount and row["method"] == body.method
            if not (
                same and equal(ring.decrypt(row["merchant_key_encrypted"], context=_context(body.merchant_ref)), key)
            ):
                raise ChargeConflict("this merchant_ref already has another charge")
    return JSONResponse(_charge_view(row, request), 201)


async def _owned(connection: DbConnection, request: Request, merchant_ref: uuid.UUID, key: str) -> Any:
    row = await repository.get_charge(connection, merchant_ref)
    ring: KeyRing = request.app.state.key_ring
    if (
        row is None
        or not row["charge_id"].startswith("sbx_")  # a provider fake's charge is answered by that fake
        or not equal(ring.decrypt(row["merchant_key_encrypted"], context=_context(merchant_ref)), key)
    ):
        raise ChargeNotFound("no such charge for this merchant")
    return row


@_pay_ins.get("/api/charges/{merchant_ref}", summary="A charge's status")
async def charge_status(
    merchant_ref: uuid.UUID,
    request: Request,
    connection: DbConnection,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    return _charge_view(await _owned(connection, request, merchant_ref, merchant_key(authorization)), request)


async def _move(order_id: uuid.UUID, status: str, request: Request) -> dict[str, Any]:
    # The provider's own record commits before it notifies, as a real one would: no request-scoped
    # transaction here, one of our own, then the callback.
    database: Database = request.app.state.database
    async with database.transaction() as connection:
        row = await repository.get_charge(connection, order_id)
        if row is None:
            raise ChargeNotFound("the sandbox has no charge for this order")
        if row["status"] == "PENDING":
            moved = await repository.move_charge(connection, order_id, status, utcnow() if status == "PAID" else None)
            # None: another move got there first; its outcome is the charge's, and its callback is re-sent.
            row = moved or await repository.get_charge(connection, order_id)
            assert row is not None  # noqa: S101 (charges are never deleted)
        elif row["status"] != status:
            raise ChargeConflict(f"the charge is already {row['status']}")
    event = {
        "event_id": f"{row['charge_id']}:{row['status']}", "charge_id": row["charge_id"],
        "merchant_ref": str(row["merchant_ref"]), "status": row["status"], "amount": row["amount"],
        "paid_at": row["paid_at"].isoformat() if row["paid_at"] else None,
    }  # fmt: skip
    faked = await fakes.notify_payment(row, request.app.state.key_ring)  # a provider fake's own callback
    if faked is not None:
        return {"order_id": str(order_id), "status": row["status"], "callback": faked}
    key = request.app.state.key_ring.decrypt(row["merchant_key_encrypted"], context=_context(order_id))
    delivered = await deliver(row["callback_url"], key, event)
    return {"order_id": str(order_id), "status": row["status"], "callback": delivered}


@_pay_ins.post("/orders/{order_id}/pay", summary="The customer pays")
async def pay(order_id: uuid.UUID, request: Request) -> dict[str, Any]:
    return await _move(order_id, "PAID", request)


@_pay_ins.post("/orders/{order_id}/fail", summary="The payment fails")
async def fail(order_id: uuid.UUID, request: Request) -> dict[str, Any]:
    return await _move(order_id, "FAILED", request)


@_pay_ins.post("/orders/{order_id}/expire", summary="The charge expires unpaid")
async def expire(order_id: uuid.UUID, request: Request) -> dict[str, Any]:
    return await _move(order_id, "EXPIRED", request)


@_pay_ins.get("/wallet/{order_id}", response_class=HTMLResponse, summary="The e-wallet's approval page")
async def wallet_page(order_id: uuid.UUID) -> str:
    return (
        "<!doctype html><meta charset=utf-8><title>Sandbox wallet</title>"
        f"<h1>Sandbox e-wallet</h1><form method=post action=/sandbox/orders/{order_id}/pay>"
        "<button>Approve payment</button></form>"
    )


router.include_router(_pay_ins)
router.include_router(payouts.router)
router.include_router(fake_hilogate.router)
router.include_router(fake_oy.router)
router.include_router(fake_ing1.router)
router.include_router(fake_piro.router)
router.include_router(fake_genesis.router)
router.include_router(fake_gidi.router)
router.include_router(fake_gudangvoucher.router)
router.include_router(fake_netzme.router)
