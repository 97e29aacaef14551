"""Fakes of real providers' HTTP sides (the subset gerbang calls), mounted under the sandbox at
`/sandbox/<provider>/...` so an account whose base URL is `<gerbang>/sandbox/<provider>` talks to it as to
the real one. Each signs its callbacks exactly as its provider does (or, like Oy!, does not sign), written
on its own from the provider's documentation, not from our adapter.

They share the sandbox's tables: a fake's charge is a `sandbox_charges` row whose `charge_id` starts with
its prefix, a fake's disbursement a `sandbox_disbursements` row likewise, so `POST /sandbox/orders/{id}/pay`
(and `/fail`, `/expire`) and `POST /sandbox/disbursements/{id}/complete` (and `/fail`) make the fake that
owns the row send its own provider's callback. A fake keeps its merchant encrypted in the charge row under
`charge_context(fake, ref)`, and `own_charge` finds a charge only for the fake and merchant that made it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import asyncpg
from fastapi import Request

from gerbang.db import Database
from gerbang.kit.crypto import KeyRing
from gerbang.kit.jsonobject import json_object
from gerbang.kit.time import utcnow
from gerbang.sandbox import repository
from gerbang.sandbox.merchant import call_back


async def send(url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """POST the JSON callback; what the merchant answered (a failure to deliver is reported, not raised)."""
    return await call_back("POST", url, body=body, headers={"Content-Type": "application/json", **headers})


def charge_context(fake: str, ref: uuid.UUID) -> str:
    """The encryption context of the merchant kept in fake `fake`'s charge `ref`."""
    return f"fake-{fake}:{ref}"


async def own_charge(request: Request, fake: str, prefix: str, merchant: str, ref: uuid.UUID) -> asyncpg.Record | None:
    """Fake `fake`'s charge `ref` (its `charge_id` starts with `prefix`) if `merchant` made it, else None: the
    fake then answers "not found" as its provider would."""
    database: Database = request.app.state.database
    async with database.connection() as connection:
        row = await repository.get_charge(connection, ref)
    if row is None or not row["charge_id"].startswith(prefix):
        return None
    ring: KeyRing = request.app.state.key_ring
    return row if ring.decrypt(row["merchant_key_encrypted"], context=charge_context(fake, ref)) == merchant else None


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body; {} if it is not one."""
    return json_object(await request.body())


def settled(row: asyncpg.Record) -> bool:
    """Whether a fake reports its charge `row` settled: paid, and `settlement_delay_s` (set by the fake when
    it created the charge) have passed since."""
    paid_at = row["paid_at"]
    return (
        row["status"] == "PAID"
        and paid_at is not None
        and paid_at + timedelta(seconds=row["settlement_delay_s"]) <= utcnow()
    )


async def notify_payment(row: asyncpg.Record, ring: KeyRing) -> dict[str, Any] | None:
    """The fake's own callback for its charge `row`; None if no fake owns it (a plain sandbox charge)."""
    from gerbang.sandbox.fakes import genesis, gidi, gudangvoucher, hilogate, ing1, netzme, oy, piro

    for fake in (hilogate, oy, ing1, gudangvoucher, gidi, piro, genesis, netzme):
        if row["charge_id"].startswith(fake.CHARGE_PREFIX):
            delivered: dict[str, Any] = await fake.notify_payment(row, ring)
            return delivered
    return None


async def notify_disbursement(row: asyncpg.Record) -> dict[str, Any] | None:
    """The fake's own callback for its disbursement `row`; None if no fake owns it."""
    from gerbang.sandbox.fakes import gidi, hilogate, ing1, oy, piro

    for fake in (hilogate, oy, ing1, gidi, piro):
        if row["disbursement_id"].startswith(fake.DISBURSEMENT_PREFIX):
            sent: dict[str, Any] = await fake.notify_disbursement(row)
            return sent
    return None
