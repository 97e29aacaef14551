"""Partners, provider accounts and PAID orders made the way the code makes them (the PAID posting is
`ledger.order_paid`), and a `JobContext` to run the settlement job with."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, insert

from gerbang.config import Settings
from gerbang.db import Database
from gerbang.kit.crypto import KeyRing
from gerbang.kit.sql import Query
from gerbang.kit.time import utcnow
from gerbang.ledger import service as ledger
from gerbang.models import Order
from gerbang.partner.service import create_partner
from gerbang.provider.base import PaymentMethod
from gerbang.routing.accounts import create_account
from gerbang.routing.schemas import AccountCreate
from gerbang.scheduler.base import JobContext
from tests.order.conftest import add_account, admin, live, post, shop  # noqa: F401 (fixtures, re-exported)

AMOUNT = 100_000
FEE = 1_500
NET = AMOUNT - FEE

_PAID_ORDER = Query(
    insert(Order).values(
        id=bindparam("id"), partner_id=bindparam("partner_id"), reference=bindparam("reference"),
        amount=bindparam("amount"), method="qris", status="PAID", provider="sandbox",
        provider_account_id=bindparam("account_id"), fee=bindparam("fee"), paid_at=bindparam("paid_at"),
        expires_at=bindparam("paid_at"),
    )
)  # fmt: skip


@dataclass
class World:
    database: Database
    settings: Settings
    key_ring: KeyRing

    async def partner(self, name: str) -> uuid.UUID:
        async with self.database.transaction() as connection:
            created = await create_partner(connection, self.key_ring, name=name, require_https=False)
        return created.partner_id

    async def account(self, **rules: Any) -> uuid.UUID:
        body = AccountCreate(
            provider="sandbox", name=f"Sandbox {uuid.uuid4().hex[:6]}", base_url="http://127.0.0.1:9/sandbox",
            credentials={"merchant_key": "sbx_settlement_key_0123456789"}, methods=list(PaymentMethod), **rules,
        )  # fmt: skip
        async with self.database.transaction() as connection:
            return (await create_account(connection, self.key_ring, body, utcnow())).id

    async def paid(
        self, partner_id: uuid.UUID, account_id: uuid.UUID, count: int = 1, *, paid_at: datetime | None = None,
        amount: int = AMOUNT, fee: int = FEE,
    ) -> list[uuid.UUID]:  # fmt: skip
        """`count` PAID orders, each with its `order_paid` posting, paid at `paid_at` (default: a week ago)."""
        when = paid_at or utcnow() - timedelta(days=7)
        ids = []
        async with self.database.transaction() as connection:
            for _ in range(count):
                order_id = uuid.uuid4()
                await _PAID_ORDER.execute(
                    connection, id=order_id, partner_id=partner_id, reference=f"R-{order_id.hex[:12]}", amount=amount,
                    account_id=account_id, fee=fee, paid_at=when,
                )  # fmt: skip
                await ledger.order_paid(
                    connection, order_id=order_id, partner_id=partner_id, provider_account_id=account_id,
                    amount_paid=amount, fee=fee,
                )  # fmt: skip
                ids.append(order_id)
        return ids

    def context(self, *, batch_size: int | None = None, stop: asyncio.Event | None = None) -> JobContext:
        return JobContext(
            database=self.database, settings=self.settings, run_id=uuid.uuid4(), trigger="manual",
            stop=stop or asyncio.Event(), parameters={} if batch_size is None else {"batch_size": batch_size},
        )  # fmt: skip

    async def statuses(self, ids: list[uuid.UUID]) -> dict[str, int]:
        async with self.database.connection() as connection:
            rows = await connection.fetch("SELECT status, count(*) FROM orders WHERE id = ANY($1) GROUP BY status", ids)
        return {row["status"]: row["count"] for row in rows}

    async def settlement_postings(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        """Per order, how many settlement transactions it has."""
        async with self.database.connection() as connection:
            rows = await connection.fetch(
                "SELECT o.id, count(t.id) AS n FROM orders o LEFT JOIN ledger_transactions t "
                "ON t.idempotency_key = 'order:' || o.id || ':settled' WHERE o.id = ANY($1) GROUP BY o.id",
                ids,
            )
        return {row["id"]: row["n"] for row in rows}


@pytest.fixture
def world(database: Database, settings: Settings) -> World:
    return World(database, settings, KeyRing(settings.secret_keys))
