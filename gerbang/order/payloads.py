"""What partners hear of an order: the payment fields of its webhook and Kafka events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from gerbang.kit.time import to_jakarta

_SETTLEMENT_STATUS = {"PAID": "PENDING", "SETTLED": "SETTLED"}


def settlement_status(status: str) -> str | None:
    """The original's `settlementStatus`: PENDING while the order's net is in the partner's pending balance,
    SETTLED once it is available (`settledAt`); null for an order that was never paid."""
    return _SETTLEMENT_STATUS.get(status)


def payment_payload(
    order: asyncpg.Record | dict[str, Any], status: str, fee: int | None, paid_at: datetime | None
) -> dict[str, Any]:
    """The payment fields partners of the original rely on."""
    return {
        "orderId": str(order["id"]), "reference": order["reference"], "status": status,
        "settlementStatus": settlement_status(status), "grossAmount": order["amount"], "fee": fee,
        "netAmount": order["amount"] - fee if fee is not None else None, "qrPayload": order["qr_payload"],
        "paidAt": to_jakarta(paid_at).isoformat() if paid_at else None, "nonce": uuid.uuid4().hex,
    }  # fmt: skip
