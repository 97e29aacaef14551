"""The pay-in scenario's data, from nothing, through gerbang's own service functions: an admin, the
provider accounts, 32 partners with pay-in fees; PENDING orders for the callback run; the checks that
every callback paid its order exactly once.

Every server of the scenario gets `BENCH_SECRET_KEY` as `GERBANG_SECRET_KEY`, so what is encrypted here
(signing secrets, provider credentials) opens there.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psutil
from sqlalchemy import bindparam, insert

from bench import settlement_seed
from bench.apps.payin_baseline import TABLES
from gerbang.auth.sessions import AdminRole, create_admin
from gerbang.config import Environment, Settings
from gerbang.db import Database
from gerbang.kit.crypto import KeyRing
from gerbang.kit.qris import QrisMerchant, dynamic_payload
from gerbang.kit.sql import Connection, Query
from gerbang.kit.time import utcnow
from gerbang.models import Order
from gerbang.partner.schemas import Fees, PartnerChanges
from gerbang.partner.service import create_partner, update_partner
from gerbang.provider.base import PaymentMethod
from gerbang.routing.accounts import create_account
from gerbang.routing.schemas import AccountCreate

BENCH_SECRET_KEY = settlement_seed.BENCH_SECRET_KEY
# Earlier payments in the ledger before a run, as a database in service has (`seed_history`).
HISTORY = int(os.environ.get("BENCH_PAYIN_HISTORY", "20000"))
PARTNERS = 32
ORDER_AMOUNT = 150_000
FEES = Fees(
    payin_weekday_percent=Decimal("1.5"), payin_weekday_flat=1000,
    payin_weekend_percent=Decimal("2"), payin_weekend_flat=1000,
)  # fmt: skip

# A PENDING order with its charge attached, as `create_order` + `charge_order` leave it.
_PENDING_ORDER = Query(
    insert(Order).values(
        id=bindparam("id"), partner_id=bindparam("partner_id"), reference=bindparam("reference"),
        amount=bindparam("amount"), method="qris", flow="embed", status="PENDING", provider="sandbox",
        provider_account_id=bindparam("account_id"), provider_reference=bindparam("charge_id"),
        qr_payload=bindparam("qr_payload"), customer_name="Budi Santoso", expires_at=bindparam("expires_at"),
    )
)  # fmt: skip


@dataclass(frozen=True)
class Seeded:
    partners: list[dict[str, str]]
    """partner_id, api_key, signing_secret of each partner."""
    sandbox_account_id: str
    stub_account_id: str
    merchant_key: str
    """Both accounts' sandbox merchant key: callbacks are signed with it."""


@asynccontextmanager
async def connected(database_url: str) -> AsyncIterator[Database]:
    settings = Settings(_env_file=None, env=Environment.development, database_pool_size=4)
    database = await Database.connect(database_url, settings)
    try:
        yield database
    finally:
        await database.dispose()


async def create_tables(database_url: str) -> None:
    async with connected(database_url) as database, database.transaction() as connection:
        for statement in TABLES:
            await connection.execute(statement)


async def postgres_pid(database_url: str) -> int:
    """The postmaster's pid (the parent of our backend): its process tree is PostgreSQL's CPU."""
    async with connected(database_url) as database, database.transaction() as connection:
        backend: int = await connection.fetchval("SELECT pg_backend_pid()")
        return psutil.Process(backend).ppid()  # while the backend lives


async def analyze(database_url: str) -> None:
    """Table statistics, as a database in service has them. A fresh one has none until autovacuum's first
    pass (a minute or more into the run): until then a lookup of an order by id with `status = 'PENDING'`
    is planned as a scan of the partial index of pending orders, which grows with every order (measured
    at 30 connections: the statement attaching a charge fell from 1,600/s to 440/s over its first 12,000
    orders; after ANALYZE it ran at 3,300-3,800/s)."""
    async with connected(database_url) as database, database.connection() as connection:
        await connection.execute("ANALYZE")


async def seed_history(database_url: str, orders: int) -> None:
    """A ledger in service: `orders` earlier payments (settlement's benchmark seed: PAID orders of 4 partners
    with their postings), on a provider account then disabled, so routing never picks it. On an empty ledger
    each pooled connection plans the foreign-key check of every new ledger entry against
    `ledger_transactions` when the table has a page or two, as a sequential scan, and keeps that plan while
    the table grows: seen with auto_explain at 2,000 callbacks, the checks' cost grew with every run and
    PostgreSQL's CPU per callback with it (2.4 -> 2.8 -> 3.2 ms). A table with history is planned as an
    index lookup, as it is in service."""
    seeded = await settlement_seed.seed(database_url, orders=orders, partners=4)
    async with connected(database_url) as database, database.connection() as connection:
        await connection.execute(
            "UPDATE provider_accounts SET enabled = false WHERE id = $1", uuid.UUID(seeded["account_id"])
        )


def new_merchant_key() -> str:
    return "sbx_bench_" + secrets.token_hex(12)  # not `sbx_down...`, which the sandbox answers with 503


async def seed(
    database_url: str, *, psp_url: str, stub_url: str, merchant_key: str, partners: int = PARTNERS
) -> Seeded:
    ring = KeyRing([BENCH_SECRET_KEY])
    now = utcnow()
    async with connected(database_url) as database, database.transaction() as connection:
        await create_admin(
            connection, email=f"bench-{uuid.uuid4().hex[:8]}@example.com", password=secrets.token_urlsafe(16),
            role=AdminRole.SUPER_ADMIN,
        )  # fmt: skip
        accounts = []
        for name, base_url, enabled in (("Sandbox PSP", f"{psp_url}/sandbox", True), ("Stub PSP", stub_url, False)):
            body = AccountCreate.model_validate({
                "provider": "sandbox", "name": f"Bench {name}", "baseUrl": base_url, "enabled": enabled,
                "credentials": {"merchant_key": merchant_key}, "methods": [PaymentMethod.qris],
            })  # fmt: skip
            accounts.append(await create_account(connection, ring, body, now))
        credentials = []
        for index in range(partners):
            created = await create_partner(connection, ring, name=f"Bench partner {index:02}", require_https=False)
            await update_partner(
                connection, created.partner_id, PartnerChanges(fees=FEES), require_https=False, now=now
            )
            credentials.append({"partner_id": str(created.partner_id), "api_key": created.api_key,
                                "signing_secret": created.signing_secret})  # fmt: skip
    return Seeded(credentials, str(accounts[0].id), str(accounts[1].id), merchant_key)


async def use_account(database_url: str, account_id: str) -> None:
    """Route every order to this provider account: it alone is enabled."""
    async with connected(database_url) as database, database.transaction() as connection:
        await connection.execute("UPDATE provider_accounts SET enabled = (id = $1)", uuid.UUID(account_id))


async def create_pending_orders(database_url: str, seeded: Seeded, count: int) -> list[dict[str, Any]]:
    """`count` PENDING orders of the partners, charged at the sandbox account: what the callbacks pay."""
    merchant = QrisMerchant(name="gerbang", city="Jakarta", nmid="ID1020000000001", merchant_pan="9360000000000000001")
    expires_at = utcnow() + timedelta(days=1)
    rows, events = [], []
    for index in range(count):
        order_id, charge_id = uuid.uuid4(), "sbx_" + secrets.token_hex(12)
        partner = seeded.partners[index % len(seeded.partners)]
        rows.append(_PENDING_ORDER.args({
            "id": order_id, "partner_id": uuid.UUID(partner["partner_id"]), "reference": f"cb-{order_id}",
            "amount": ORDER_AMOUNT, "account_id": uuid.UUID(seeded.sandbox_account_id), "charge_id": charge_id,
            "qr_payload": dynamic_payload(merchant, amount=ORDER_AMOUNT, reference=charge_id), "expires_at": expires_at,
        }))  # fmt: skip
        events.append({"order_id": str(order_id), "amount": ORDER_AMOUNT, "charge_id": charge_id})
    async with connected(database_url) as database, database.transaction() as connection:
        await connection.executemany(_PENDING_ORDER.text, rows)
    return events


async def create_baseline_orders(database_url: str, count: int) -> list[dict[str, Any]]:
    ids = [uuid.uuid4() for _ in range(count)]
    async with connected(database_url) as database, database.transaction() as connection:
        await connection.executemany(
            "INSERT INTO bench_payin_orders (id, reference, amount) VALUES ($1, $2, $3)",
            [(order_id, f"cb-{order_id}", ORDER_AMOUNT) for order_id in ids],
        )
    return [
        {"order_id": str(order_id), "amount": ORDER_AMOUNT, "charge_id": f"stub_{n}"} for n, order_id in enumerate(ids)
    ]


async def _count(connection: Connection, sql: str, *args: object) -> int:
    value: int = await connection.fetchval(sql, *args)
    return value


async def check_paid(database_url: str, gerbang_ids: list[str], baseline_ids: list[str]) -> dict[str, int]:
    """How the callbacks left the orders; every count must equal the number of orders."""
    ids = [uuid.UUID(value) for value in gerbang_ids]
    async with connected(database_url) as database, database.transaction() as connection:
        return {
            "orders": len(ids),
            "paid": await _count(
                connection, "SELECT count(*) FROM orders WHERE id = ANY($1) AND status = 'PAID' AND fee > 0", ids
            ),
            "ledger_postings": await _count(
                connection, "SELECT count(*) FROM ledger_transactions WHERE idempotency_key = ANY($1)",
                [f"order:{value}:paid" for value in ids],
            ),
            "callbacks_stored": await _count(
                connection, "SELECT count(*) FROM provider_callbacks WHERE order_id = ANY($1)", ids
            ),
            "callbacks_applied": await _count(
                connection,
                "SELECT count(*) FROM provider_callbacks WHERE order_id = ANY($1) AND verified AND outcome = 'applied'",
                ids,
            ),
            "outbox_events": await _count(
                connection, "SELECT count(*) FROM outbox_events WHERE key = ANY($1) AND event = 'payment.completed'",
                [str(value) for value in ids],
            ),
            "baseline_orders": len(baseline_ids),
            "baseline_paid": await _count(
                connection, "SELECT count(*) FROM bench_payin_orders WHERE id = ANY($1) AND status = 'PAID'",
                [uuid.UUID(value) for value in baseline_ids],
            ),
        }  # fmt: skip
