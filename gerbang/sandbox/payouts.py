"""The sandbox PSP's HTTP side for payouts, with rules that make every path reachable on purpose (README,
"Sandbox provider"). The API takes the bearer merchant key as charges do; a key starting `sbx_down` gets
503, to rehearse an outage.

- `POST /sandbox/api/account-inquiry` {bank_code, account_number}: a bank by short name or 3-digit code,
  answered by short name; an account number is 5 to 20 digits. Every account exists, held by a name
  derived from its number, except numbers ending `0000` (`valid: false`, reason `account_not_found`).
- `POST /sandbox/api/disbursements`: idempotent by `merchant_ref` (the same again is the same
  disbursement; another amount or account for it is 409). An account ending `0000` is refused at once;
  any other is accepted PROCESSING and is final `sandbox_delay_ms` later (default 2000, at most 60000):
  COMPLETED, or FAILED (`bank_rejected`) for numbers ending `9999`. A signed callback then goes to its
  `callback_url`.
- `GET /sandbox/api/disbursements/{merchant_ref}` answers the status; `GET /sandbox/api/balance` what the
  merchant can still pay out.
- `POST /sandbox/disbursements/{merchant_ref}/complete`, `/fail` force the move at once and (re)send the
  callback.

The row's `complete_after` is the truth, not the timer: whoever finds a due disbursement first (the timer
task, a status query, a repeat, a forced move) moves it by compare-and-set, and whoever moved it sends the
callback. A restart can lose a callback, never the completion.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import uuid
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, Field

from gerbang.db import Database, DbConnection
from gerbang.exceptions import BadRequest, Conflict, NotFound, ServiceUnavailable
from gerbang.kit.crypto import KeyRing, equal, sha256_hex
from gerbang.kit.log import get_logger
from gerbang.kit.time import utcnow
from gerbang.sandbox import repository
from gerbang.sandbox.banks import BANKS, bank_name
from gerbang.sandbox.merchant import deliver, merchant_key

router = APIRouter(prefix="/sandbox", tags=["sandbox provider"])
log = get_logger("gerbang.sandbox")

FAILED_REASON = "bank_rejected"
STARTING_BALANCE = 10_000_000_000
"""Every merchant's balance before its disbursements, in rupiah: more than any test or demo pays out."""
_ACCOUNT_NUMBER = re.compile(r"[0-9]{5,20}")
_FIRST_NAMES = (
    "Budi", "Siti", "Agus", "Dewi", "Rudi", "Sri", "Andi", "Rina", "Joko", "Wati", "Hendra", "Putri", "Eko", "Ayu",
    "Bambang", "Lestari", "Yusuf", "Intan", "Dimas", "Nur",
)  # fmt: skip
_LAST_NAMES = (
    "Santoso", "Wijaya", "Pratama", "Saputra", "Hidayat", "Kusuma", "Nugroho", "Rahayu", "Setiawan", "Halim",
    "Gunawan", "Susanto", "Wibowo", "Siregar", "Nasution", "Lubis",
)  # fmt: skip
# Background work (timers, callbacks) held here so the event loop's weak references do not lose it.
_background: set[asyncio.Task[object]] = set()


class SandboxDown(ServiceUnavailable):
    code = "maintenance"


class UnsupportedBank(BadRequest):
    code = "unsupported_bank"


class InvalidAccountNumber(BadRequest):
    code = "invalid_account_number"


class AccountNotFound(BadRequest):
    code = "account_not_found"


class DisbursementNotFound(NotFound):
    code = "disbursement_not_found"


class DisbursementConflict(Conflict):
    code = "disbursement_conflict"


async def _merchant(authorization: Annotated[str | None, Header()] = None) -> str:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop on every request.
    key = merchant_key(authorization)
    if key.startswith("sbx_down"):
        raise SandboxDown("the sandbox is down for this merchant")
    return key


MerchantKey = Annotated[str, Depends(_merchant)]


class BankAccount(BaseModel):
    bank_code: str = Field(max_length=16)
    """A short name (`BCA`) or a 3-digit code (`014`)."""
    account_number: str = Field(max_length=64)


class DisbursementCreate(BankAccount):
    merchant_ref: uuid.UUID
    amount: int = Field(gt=0, le=1_000_000_000, strict=True)
    holder_name: str = Field(min_length=1, max_length=100)
    callback_url: str = Field(max_length=2000)
    note: str | None = Field(default=None, max_length=255)
    sandbox_delay_ms: int = Field(default=2000, ge=0, le=60_000, strict=True)
    """How long it stays PROCESSING: a sandbox-only field, so tests and demos choose their pace."""


def _normalised(account: BankAccount) -> tuple[str, str]:
    bank = bank_name(account.bank_code)
    if bank is None:
        raise UnsupportedBank(f"banks: {', '.join(sorted(BANKS))}, or their 3-digit codes")
    if not _ACCOUNT_NUMBER.fullmatch(account.account_number):
        raise InvalidAccountNumber("an account number is 5 to 20 digits")
    return bank, account.account_number


def holder_name(account_number: str) -> str | None:
    """Who holds the account: derived from its number, so a number always has the same holder; None for a
    number ending 0000 (no such account)."""
    if account_number.endswith("0000"):
        return None
    seed = int.from_bytes(hashlib.sha256(account_number.encode()).digest()[:8], "big")
    first, last = _FIRST_NAMES[seed % len(_FIRST_NAMES)], _LAST_NAMES[seed // len(_FIRST_NAMES) % len(_LAST_NAMES)]
    return f"{first} {last}".upper()  # as banks answer an inquiry


def _context(merchant_ref: uuid.UUID) -> str:
    return f"sandbox-disbursement:{merchant_ref}"


def _key_hash(key: str) -> str:
    return sha256_hex(key.encode())


def _view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "disbursement_id": row["disbursement_id"], "merchant_ref": str(row["merchant_ref"]), "amount": row["amount"],
        "bank_code": row["bank_code"], "account_number": row["account_number"], "holder_name": row["holder_name"],
        "note": row["note"], "status": row["status"], "reason": row["reason"],
        "complete_after": row["complete_after"].isoformat(),
        "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
    }  # fmt: skip


def _in_background(work: Coroutine[Any, Any, object]) -> None:
    task = asyncio.create_task(work)
    _background.add(task)
    task.add_done_callback(_finished)


def _finished(task: asyncio.Task[object]) -> None:
    _background.discard(task)
    if not task.cancelled() and (error := task.exception()) is not None:
        # Nothing is lost: the row completes on the next read; only this callback is not sent.
        log.warning("sandbox.disbursement_task_failed", error=type(error).__name__)


async def _notify(ring: KeyRing, row: asyncpg.Record) -> dict[str, Any]:
    from gerbang.sandbox import fakes  # a provider fake's disbursement: its own provider's callback

    faked = await fakes.notify_disbursement(row)
    if faked is not None:
        return faked
    event = {
        "event_id": f"{row['disbursement_id']}:{row['status']}", "type": "disbursement",
        "disbursement_id": row["disbursement_id"], "merchant_ref": str(row["merchant_ref"]), "status": row["status"],
        "amount": row["amount"], "reason": row["reason"],
        "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
    }  # fmt: skip
    key = ring.decrypt(row["merchant_key_encrypted"], context=_context(row["merchant_ref"]))
    return await deliver(row["callback_url"], key, event)


async def _current(
    database: Database, ring: KeyRing, merchant_ref: uuid.UUID, now: datetime | None = None
) -> asyncpg.Record | None:
    """The disbursement as it stands `now`: moved to its outcome first if it is due, and then notified."""
    # The move is one statement, committed before the callback goes, as a provider records before it notifies;
    # a disbursement not moved is final or not due, so reading it on its own is as good as in a transaction.
    async with database.connection() as connection:
        moved = await repository.settle_due_disbursement(connection, merchant_ref, now or utcnow(), FAILED_REASON)
        row = moved if moved is not None else await repository.get_disbursement(connection, merchant_ref)
    if moved is not None:
        _in_background(_notify(ring, moved))
    return row


async def current(database: Database, ring: KeyRing, merchant_ref: uuid.UUID) -> asyncpg.Record | None:
    """The disbursement as it stands now (moved and notified first if due): for the provider fakes."""
    return await _current(database, ring, merchant_ref)


def finish_later(database: Database, ring: KeyRing, merchant_ref: uuid.UUID, complete_after: datetime) -> None:
    """Moves the disbursement to its outcome when due, and notifies: for the provider fakes."""
    _in_background(_when_due(database, ring, merchant_ref, complete_after))


async def _when_due(database: Database, ring: KeyRing, merchant_ref: uuid.UUID, complete_after: datetime) -> None:
    await asyncio.sleep((complete_after - utcnow()).total_seconds())
    # As of the moment it slept for: the event loop's clock may wake a hair before the wall clock gets there.
    await _current(database, ring, merchant_ref, complete_after)


@router.post("/api/account-inquiry", summary="Check a bank account and learn its holder's name")
async def account_inquiry(body: BankAccount, _: MerchantKey) -> dict[str, Any]:
    bank, number = _normalised(body)
    name = holder_name(number)
    return {
        "bank_code": bank, "account_number": number, "valid": name is not None, "holder_name": name,
        "reason": None if name is not None else "account_not_found",
    }  # fmt: skip


@router.post("/api/disbursements", status_code=201, summary="Pay out to a bank account")
async def create_disbursement(body: DisbursementCreate, request: Request, key: MerchantKey) -> dict[str, Any]:
    bank, number = _normalised(body)
    if holder_name(number) is None:
        raise AccountNotFound("the bank has no such account")
    database: Database = request.app.state.database
    ring: KeyRing = request.app.state.key_ring
    complete_after = utcnow() + timedelta(milliseconds=body.sandbox_delay_ms)
    # One statement, committed on its own: a retry finds the row it wrote.
    async with database.connection() as connection:
        created = await repository.insert_disbursement(
            connection, merchant_ref=body.merchant_ref, disbursement_id="sbxd_" + secrets.token_hex(12),
            merchant_key_hash=_key_hash(key),
            merchant_key_encrypted=ring.encrypt(key, context=_context(body.merchant_ref)),
            amount=body.amount, bank_code=bank, account_number=number, holder_name=body.holder_name, note=body.note,
            callback_url=body.callback_url, outcome="FAILED" if number.endswith("9999") else "COMPLETED",
            complete_after=complete_after,
        )  # fmt: skip
        if created is None:
            row = await repository.get_disbursement(connection, body.merchant_ref)
            assert row is not None  # noqa: S101 (the insert found it; the sandbox never deletes)
            same = (row["amount"], row["bank_code"], row["account_number"]) == (body.amount, bank, number)
            if not (same and equal(row["merchant_key_hash"], _key_hash(key))):
                raise DisbursementConflict("this merchant_ref already has another disbursement")
    if created is not None:
        _in_background(_when_due(database, ring, body.merchant_ref, complete_after))
        if complete_after > utcnow():  # not due yet: the row as written is the answer
            return _view(created)
    row = await _current(database, ring, body.merchant_ref)
    assert row is not None  # noqa: S101 (committed above; the sandbox never deletes)
    return _view(row)


@router.get("/api/disbursements/{merchant_ref}", summary="A disbursement's status")
async def disbursement_status(merchant_ref: uuid.UUID, request: Request, key: MerchantKey) -> dict[str, Any]:
    row = await _current(request.app.state.database, request.app.state.key_ring, merchant_ref)
    if row is None or not equal(row["merchant_key_hash"], _key_hash(key)):
        raise DisbursementNotFound("no such disbursement for this merchant")
    return _view(row)


@router.get("/api/balance", summary="What the merchant can still pay out")
async def balance(connection: DbConnection, key: MerchantKey) -> dict[str, Any]:
    paid_out = await repository.disbursed(connection, _key_hash(key), utcnow())
    return {"balance": STARTING_BALANCE - paid_out, "currency": "IDR"}


async def _force(merchant_ref: uuid.UUID, status: str, request: Request) -> dict[str, Any]:
    database: Database = request.app.state.database
    ring: KeyRing = request.app.state.key_ring
    # A due disbursement has reached its own outcome already: forcing cannot overrule it.
    row = await _current(database, ring, merchant_ref)
    if row is None:
        raise DisbursementNotFound("the sandbox has no disbursement for this merchant_ref")
    if row["status"] == "PROCESSING":
        async with database.transaction() as connection:
            reason = FAILED_REASON if status == "FAILED" else None
            moved = await repository.move_disbursement(connection, merchant_ref, status, reason, utcnow())
            row = moved if moved is not None else await repository.get_disbursement(connection, merchant_ref)
            assert row is not None  # noqa: S101 (read above; the sandbox never deletes)
    if row["status"] != status:
        raise DisbursementConflict(f"the disbursement is already {row['status']}")
    return {"merchant_ref": str(merchant_ref), "status": row["status"], "callback": await _notify(ring, row)}


@router.post("/disbursements/{merchant_ref}/complete", summary="The bank credits the account")
async def complete_disbursement(merchant_ref: uuid.UUID, request: Request) -> dict[str, Any]:
    return await _force(merchant_ref, "COMPLETED", request)


@router.post("/disbursements/{merchant_ref}/fail", summary="The bank rejects the transfer")
async def fail_disbursement(merchant_ref: uuid.UUID, request: Request) -> dict[str, Any]:
    return await _force(merchant_ref, "FAILED", request)
