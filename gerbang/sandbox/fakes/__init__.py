"""Fakes of real providers' HTTP sides (the subset gerbang calls), mounted under the sandbox at
`/sandbox/<provider>/...` so an account whose base URL is `<gerbang>/sandbox/<provider>` talks to it as to
the real one. Each signs its callbacks exactly as its provider does (or, like Oy!, does not sign), written
on its own from the provider's documentation, not from our adapter.

They share the sandbox's tables: a fake's charge is a `sandbox_charges` row whose `charge_id` starts with
its prefix, a fake's disbursement a `sandbox_disbursements` row likewise, so `POST /sandbox/orders/{id}/pay`
(and `/fail`, `/expire`) and `POST /sandbox/disbursements/{id}/complete` (and `/fail`) make the fake that
owns the row send its own provider's callback.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import aiohttp
import asyncpg

from gerbang.kit.crypto import KeyRing
from gerbang.kit.time import utcnow

_TIMEOUT = aiohttp.ClientTimeout(total=10)


async def send(url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """POST the callback; what the merchant answered (a failure to deliver is reported, not raised)."""
    try:
        async with (
            aiohttp.ClientSession(timeout=_TIMEOUT) as session,
            session.post(url, data=body, headers={"Content-Type": "application/json", **headers}) as response,
        ):
            return {"status_code": response.status, "body": (await response.text())[:500]}
    except (aiohttp.ClientError, TimeoutError) as error:
        return {"status_code": None, "body": f"not delivered: {type(error).__name__}"}


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
