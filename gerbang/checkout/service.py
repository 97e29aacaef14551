"""What the hosted checkout shows for an order: which view, for which merchant, with which methods."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from gerbang.kit.sql import Connection
from gerbang.order import repository as order_repository
from gerbang.order.schemas import OrderView
from gerbang.order.service import OrderNotFound, order_view
from gerbang.partner import service as partner_service
from gerbang.provider.base import PaymentMethod
from gerbang.sandbox.endpoints import VA_BANKS, WALLETS

# The channels the customer may pick from, per method (what the sandbox provider supports).
CHANNELS: dict[PaymentMethod, tuple[str, ...]] = {
    PaymentMethod.va: tuple(sorted(VA_BANKS)),
    PaymentMethod.ewallet: tuple(sorted(WALLETS)),
}


class View(enum.StrEnum):
    pick = "pick"
    """Pending, no method yet: the customer chooses one."""
    pending = "pending"
    """Pending with a charge: the QR, the VA number or the e-wallet button."""
    paid = "paid"
    failed = "failed"
    expired = "expired"


@dataclass(frozen=True)
class Checkout:
    order: OrderView
    merchant: str
    methods: tuple[PaymentMethod, ...]
    """The methods the partner accepts, in the order they are offered."""
    view: View


def view_of(order: OrderView, now: datetime) -> View:
    match order.status:
        case "PAID" | "SETTLED" | "LOAN_SETTLED":
            return View.paid
        case "FAILED" | "CANCELLED":
            return View.failed
        case "EXPIRED":
            return View.expired
        case "PENDING" if order.expires_at <= now:
            # The expiry job has not run yet; the customer must not be invited to pay a dead order.
            return View.expired
        case "PENDING":
            return View.pick if order.method is None else View.pending
        case _:
            raise ValueError(f"order {order.id} has an unknown status {order.status!r}")


def link(url: str | None) -> str | None:
    """`url` if it is safe to put in an href (http or https with a host), else None: partners and
    providers supply these, and a `javascript:` link must never reach the page."""
    if url is None:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.hostname else None


async def get_order(connection: Connection, order_id: uuid.UUID) -> OrderView:
    row = await order_repository.get_order(connection, order_id)
    if row is None:
        raise OrderNotFound(f"no order {order_id}")
    return order_view(row)


async def get_checkout(connection: Connection, order_id: uuid.UUID, now: datetime) -> Checkout:
    order = await get_order(connection, order_id)
    partner = await partner_service.get_partner(connection, order.partner_id)
    methods = tuple(
        m for m in PaymentMethod if not partner.payment_methods or m.value.upper() in partner.payment_methods
    )
    return Checkout(order=order, merchant=partner.name, methods=methods, view=view_of(order, now))


async def qr_payload(connection: Connection, order_id: uuid.UUID) -> str:
    order = await get_order(connection, order_id)
    if order.qr_payload is None:
        raise OrderNotFound(f"order {order_id} has no QR code")
    return order.qr_payload
