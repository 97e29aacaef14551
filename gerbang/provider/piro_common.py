"""What Piro and Genesis share (seed inventory 4.5; Genesis is the QRIS SNAP product the original ran from the
same callback handler as Piro): signatures are lowercase hex MD5 over concatenated parts, amounts are
written with exactly two decimals, callbacks carry their signature in `x-signature` or `x-piro-signature`,
and their payment statuses are one vocabulary."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime

from gerbang.provider.base import PaymentStatus
from gerbang.provider.common import unknown_status

CALLBACK_SIGNATURE_HEADERS = ("x-signature", "x-piro-signature")


def md5_hex(*parts: str | bytes) -> str:
    """MD5 hex of the parts concatenated, with nothing between them (as both providers document)."""
    digest = hashlib.md5(usedforsecurity=False)
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
    return digest.hexdigest()


def two_decimals(amount: int) -> str:
    """Whole rupiah as both providers write an amount: `150000` -> `150000.00`."""
    return f"{amount}.00"


def amount_signature(client_id: str, value: str, order_id: str, client_secret: str) -> str:
    """MD5(clientId + value + orderId + clientSecret): Piro's QR request, Genesis's generate-order request and
    Genesis's payment callback (`value` with two decimals)."""
    return md5_hex(client_id, value, order_id, client_secret)


def time_of(value: object) -> datetime | None:
    """An ISO 8601 time with an offset (`Z` included); None for anything else (a time without a zone
    included: it cannot be placed)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def presented_signature(headers: Mapping[str, str]) -> str | None:
    """The signature a callback presents (lower-case header names), or None if it presents none."""
    for name in CALLBACK_SIGNATURE_HEADERS:
        value = headers.get(name, "").strip()
        if value:
            return value.lower()
    return None


def payment_status(value: object, *, provider: str) -> PaymentStatus:
    """The payment statuses of Piro and Genesis onto ours; an unknown one is logged and pending, never paid
    (the original stored the raw value)."""
    match value.strip().upper() if isinstance(value, str) else value:
        case "SUCCESS" | "PAID" | "DONE" | "COMPLETED" | "SETTLED":
            return PaymentStatus.paid
        case "PENDING" | "CREATED" | "WAITING" | "PROCESSING":
            return PaymentStatus.pending
        case "FAILED" | "CANCELLED" | "CANCELED" | "VOID" | "ERROR":
            return PaymentStatus.failed
        case "EXPIRED":
            return PaymentStatus.expired
        case _:
            unknown_status(provider, "payment", value)
            return PaymentStatus.pending
