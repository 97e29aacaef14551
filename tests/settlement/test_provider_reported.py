"""Settlement rules through the admin API, `provider_reported` settlement with the sandbox PSP over real
HTTP, and what the partner API says of a settled order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from gerbang.config import Settings
from gerbang.db import Database
from gerbang.provider import registry
from gerbang.settlement.jobs import SETTLEMENT_CHECK
from tests.auth.people import Tenant
from tests.ledger.helpers import assert_reconciled
from tests.order.conftest import Post, signed_headers
from tests.settlement.conftest import World

AddAccount = Callable[..., Awaitable[dict[str, Any]]]


async def _paid_order(post: Post, shop: Tenant, live: str, reference: str) -> str:
    response = await post(shop, "/api/v1/payments", {"amount": 200_000, "reference": reference})
    assert response.status_code == 201, response.text
    order_id: str = response.json()["result"]["orderId"]
    async with httpx.AsyncClient(base_url=live) as sandbox:
        paid = await sandbox.post(f"/sandbox/orders/{order_id}/pay")
    assert paid.json()["callback"]["status_code"] == 200, paid.text
    return order_id


async def test_provider_reported_settles_what_the_sandbox_reports_settled(
    add_account: AddAccount, post: Post, shop: Tenant, live: str, client: httpx.AsyncClient, world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    account = await add_account(settlementRule="provider_reported")
    assert (account["settlementRule"], account["settlementDays"], account["settlementCutoffHour"]) == (
        "provider_reported", 1, None)  # fmt: skip
    settled_now = await _paid_order(post, shop, live, "PR-1")
    # The sandbox reports this one's charge settled only an hour after its payment.
    monkeypatch.setattr(registry.PROVIDERS["sandbox"], "settlement_delay_s", 3600)
    settled_later = await _paid_order(post, shop, live, "PR-2")

    result = await SETTLEMENT_CHECK.run(world.context())

    assert result.counts["provider_checked"] == 2
    assert (result.counts["settled"], result.counts["provider_errors"]) == (1, 0)
    views = {}
    for order_id in (settled_now, settled_later):
        path = f"/api/v1/payments/order/{order_id}"
        views[order_id] = (await client.get(path, headers=signed_headers(shop, "GET", path, b""))).json()
    now, later = views[settled_now], views[settled_later]
    assert (now["status"], now["settlementStatus"]) == ("SETTLED", "SETTLED")
    assert now["settledAt"] is not None
    assert (later["status"], later["settlementStatus"], later["settledAt"]) == ("PAID", "PENDING", None)
    await assert_reconciled(world.database)


async def test_an_unreachable_provider_settles_nothing(
    add_account: AddAccount, post: Post, shop: Tenant, live: str, world: World, database: Database
) -> None:
    account = await add_account(settlementRule="provider_reported")
    order_id = await _paid_order(post, shop, live, "PR-3")
    async with database.transaction() as connection:  # the provider moved: nothing answers there
        await connection.execute("UPDATE provider_accounts SET base_url = 'http://127.0.0.1:9' WHERE id = $1::uuid",
                                 account["id"])  # fmt: skip
    result = await SETTLEMENT_CHECK.run(world.context())
    assert (result.counts["provider_checked"], result.counts["provider_errors"], result.counts["settled"]) == (1, 1, 0)
    async with database.connection() as connection:
        assert await connection.fetchval("SELECT status FROM orders WHERE id = $1::uuid", order_id) == "PAID"


@pytest.mark.parametrize(
    ("rules", "code"),
    [
        ({"settlementDays": 31}, "validation_error"),
        ({"settlementDays": -1}, "validation_error"),
        ({"settlementDays": "1"}, "validation_error"),
        ({"settlementCutoffHour": 24}, "validation_error"),
        ({"settlementRule": "weekly"}, "validation_error"),
        ({"settlementRule": "provider_reported", "settlementCutoffHour": 15}, "invalid_settlement_rule"),
        ({"settlementDays": 0, "settlementCutoffHour": 15}, "invalid_settlement_rule"),
    ],
)
async def test_settlement_rules_are_validated(
    client: httpx.AsyncClient, admin: dict[str, str], live: str, rules: dict[str, Any], code: str
) -> None:
    body = {"provider": "sandbox", "name": "Sandbox", "baseUrl": f"{live}/sandbox", "methods": ["qris"],
            "credentials": {"merchant_key": "sbx_merchant_key_0123456789"}} | rules  # fmt: skip
    response = await client.post("/api/v1/admin/provider-accounts", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == code


async def test_settlement_rules_are_changed_and_checked_as_a_whole(
    add_account: AddAccount, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    account = await add_account(settlementDays=2, settlementCutoffHour=17)
    assert (account["settlementRule"], account["settlementDays"], account["settlementCutoffHour"]) == (
        "business_days", 2, 17)  # fmt: skip
    path = f"/api/v1/admin/provider-accounts/{account['id']}"
    refused = await client.patch(path, json={"settlementRule": "provider_reported"}, headers=admin)
    assert (refused.status_code, refused.json()["error"]) == (422, "invalid_settlement_rule")  # the cut-off stays
    for nulled in ("settlementRule", "settlementDays"):
        response = await client.patch(path, json={nulled: None}, headers=admin)
        assert (response.status_code, response.json()["error"]) == (422, "invalid_provider_account")
    changed = await client.patch(
        path, json={"settlementRule": "provider_reported", "settlementCutoffHour": None}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["settlementRule"], changed.json()["settlementCutoffHour"]) == ("provider_reported", None)


async def test_the_demo_account_settles_at_the_next_run(database: Database, settings: Settings) -> None:
    from gerbang.cli import demo

    assert await demo.seed(database, settings) is not None
    async with database.connection() as connection:
        rule = await connection.fetchrow("SELECT settlement_rule, settlement_days FROM provider_accounts")
    assert rule is not None
    assert tuple(rule) == ("business_days", 0)
