"""Loans tests: the settlement tests' world (partners, accounts, PAID orders with their `order_paid` postings),
an admin over HTTP, and the balances every loan test asserts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from gerbang.db import Database
from gerbang.kit.time import JAKARTA
from gerbang.ledger import service as ledger
from gerbang.ledger.schemas import AccountKind, AccountRef
from tests.order.conftest import add_account, admin, live, post, shop
from tests.settlement.conftest import AMOUNT, FEE, NET, World, world
from tests.withdrawal.conftest import s2s

# Fixtures (and the settlement world's figures) for the tests here.
__all__ = ["AMOUNT", "FEE", "NET", "World", "add_account", "admin", "live", "post", "s2s", "shop", "world"]


@dataclass(frozen=True)
class Books:
    """One partner's balances and the platform's advances account, and whether the ledger reconciles."""

    available: int
    pending: int
    held: int
    advances: int
    reconciled: bool


async def books(database: Database, partner_id: uuid.UUID) -> Books:
    async with database.connection() as connection:
        balances = await ledger.partner_balances(connection, partner_id)
        advances = await ledger.balance_of(connection, AccountRef(AccountKind.platform_advances))
        report = await ledger.reconcile(connection)
    clean = not report.drifting_accounts and not report.unbalanced_transactions
    return Books(balances.available, balances.pending, balances.held, advances, clean)


@dataclass
class LoanApi:
    client: httpx.AsyncClient
    headers: dict[str, str]

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = self.headers | kwargs.pop("headers", {})
        return await self.client.request(method, f"/api/v1/admin/loans{path}", headers=headers, **kwargs)

    async def grant(self, partner_id: uuid.UUID, amount: int, key: str | None = None) -> httpx.Response:
        body = {"partnerId": str(partner_id), "amount": amount, "note": "advance for the test"}
        return await self.call("POST", "/advances", json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex})

    async def mark(self, partner_id: uuid.UUID, order_ids: list[uuid.UUID]) -> httpx.Response:
        body = {"partnerId": str(partner_id), "orderIds": [str(i) for i in order_ids], "note": "repaid by orders"}
        return await self.call("POST", "/mark-settled", json=body)

    async def revert(self, partner_id: uuid.UUID, **target: Any) -> httpx.Response:
        return await self.call("POST", "/revert", json={"partnerId": str(partner_id), **target})


@pytest.fixture
def loans(client: httpx.AsyncClient, admin: dict[str, str]) -> LoanApi:
    return LoanApi(client, admin)


async def repayment_postings(database: Database, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Per order, how many loan repayment postings it has (every round counted)."""
    async with database.connection() as connection:
        rows = await connection.fetch(
            "SELECT o.id, count(t.id) AS n FROM orders o LEFT JOIN ledger_transactions t "
            "ON t.idempotency_key LIKE 'order:' || o.id || ':loan_settled:%' WHERE o.id = ANY($1) GROUP BY o.id",
            order_ids,
        )
    return {row["id"]: row["n"] for row in rows}


DAY = datetime(2026, 11, 10, 8, 0, tzinfo=JAKARTA)
"""When `paid_in_order` orders are paid: from 08:00 on 2026-11-10 in Asia/Jakarta."""


async def paid_in_order(world: World, partner: uuid.UUID, account: uuid.UUID, count: int) -> list[uuid.UUID]:
    """`count` PAID orders paid an hour apart from `DAY`, oldest payment first (the order loans take them in)."""
    ids = []
    for hour in range(count):
        ids += await world.paid(partner, account, paid_at=DAY + timedelta(hours=hour))
    return ids
