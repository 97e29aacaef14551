"""Creating pay-ins through the partner API, routed to sandbox accounts over real HTTP."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import orjson
from fastapi import FastAPI

from gerbang.db import Database
from gerbang.kit.qris import parse
from tests.auth.people import Tenant, tenant
from tests.helpers import changed_behind_the_apps_back
from tests.order.conftest import AddAccount, Post, signed_headers


async def _count(database: Database, sql: str, *args: object) -> int:
    async with database.transaction() as connection:
        return int(await connection.fetchval(sql, *args))


async def test_a_qris_payment_is_created_through_the_sandbox(
    post: Post, shop: Tenant, add_account: AddAccount, live: str, database: Database
) -> None:
    await add_account()
    response = await post(shop, "/api/v1/payments", {"amount": 150_000, "reference": "INV-1", "playerId": "p-9"})
    assert response.status_code == 201, response.text
    result = response.json()["result"]
    assert response.json()["success"] is True
    assert (result["status"], result["amount"], result["reference"], result["playerId"]) == (
        "PENDING",
        150_000,
        "INV-1",
        "p-9",
    )
    assert result["checkoutUrl"] == f"{live}/pay/{result['orderId']}"
    assert parse(result["qrPayload"])["54"] == "150000"
    assert await _count(database, "SELECT count(*) FROM provider_attempts WHERE outcome = 'ok'") == 1


async def test_methods_channels_flows_and_references(
    post: Post, shop: Tenant, add_account: AddAccount, database: Database
) -> None:
    await add_account()
    no_channel = await post(shop, "/api/v1/payments", {"amount": 50_000, "method": "va"})
    assert (no_channel.status_code, no_channel.json()["error"]) == (422, "channel_required")
    va = await post(shop, "/api/v1/payments", {"amount": 50_000, "method": "va", "channel": "bca"})
    assert va.json()["result"]["vaNumber"].startswith("8014")
    wallet = await post(shop, "/api/v1/payments", {"price": 50_000, "method": "ewallet", "paymentChannel": "OVO"})
    assert "/sandbox/wallet/" in wallet.json()["result"]["redirectUrl"], wallet.text
    redirect = await post(shop, "/api/v1/payments", {"amount": 50_000, "flow": "redirect"})
    assert redirect.status_code == 303
    assert "/pay/" in redirect.headers["location"]
    picked_later = await post(shop, "/api/v1/payments/create-order", {"amount": 75_000, "reference": "LATER"})
    assert picked_later.status_code == 201, picked_later.text
    assert picked_later.json()["result"]["qrPayload"] is None

    first = await post(shop, "/api/v1/payments", {"amount": 10_000, "reference": "SAME"})
    again = await post(shop, "/api/v1/payments", {"amount": 20_000, "reference": "SAME"})
    assert (again.status_code, again.json()["error"]) == (409, "duplicate_reference")
    assert first.json()["result"]["orderId"] in again.json()["detail"]
    for bad in ({"amount": 0}, {"amount": 1.5}, {"amount": "100"}, {"amount": 100, "method": "cash"},
                {"amount": 100, "expiresInMinutes": 0}, {"amount": 100, "metadata": {"x": "y" * 3000}}):  # fmt: skip
        refused = await post(shop, "/api/v1/payments", bad)
        assert (refused.status_code, refused.json()["error"]) == (422, "validation_error"), bad


async def test_no_account_means_no_order(post: Post, shop: Tenant, add_account: AddAccount, database: Database) -> None:
    await add_account(methods=["va"], maxAmount=100_000)
    for body in ({"amount": 50_000}, {"amount": 500_000, "method": "va", "channel": "BCA"}):
        response = await post(shop, "/api/v1/payments", body)
        assert (response.status_code, response.json()["error"]) == (422, "no_provider_available")
    assert await _count(database, "SELECT count(*) FROM orders") == 0


async def test_a_failing_account_is_skipped_then_shut_by_the_circuit_breaker(
    app: FastAPI, post: Post, shop: Tenant, add_account: AddAccount, database: Database
) -> None:
    down = await add_account("Down", key="sbx_down_0123456789abcdef", priority=1)
    up = await add_account("Up", priority=2)
    for n in range(3):
        response = await post(shop, "/api/v1/payments", {"amount": 10_000 + n})
        assert response.status_code == 201, response.text
    async with database.transaction() as connection:
        attempts = await connection.fetch("SELECT provider_account_id, outcome FROM provider_attempts ORDER BY id")
        health = await connection.fetchrow(
            "SELECT consecutive_failures, circuit_opened_at FROM provider_accounts WHERE id = $1", uuid.UUID(down["id"])
        )
    assert [(str(a["provider_account_id"]), a["outcome"]) for a in attempts] == [
        (down["id"], "unavailable"), (up["id"], "ok")] * 3  # fmt: skip
    assert health["consecutive_failures"] == 3
    assert health["circuit_opened_at"] is not None
    fourth = await post(shop, "/api/v1/payments", {"amount": 20_000})
    assert fourth.status_code == 201
    assert (
        await _count(
            database, "SELECT count(*) FROM provider_attempts WHERE provider_account_id = $1", uuid.UUID(down["id"])
        )
        == 3
    )

    # Opened past its cool-down, one trial call goes through; it fails again and reopens the circuit.
    async with changed_behind_the_apps_back(app), database.transaction() as connection:
        await connection.execute(
            "UPDATE provider_accounts SET circuit_opened_at = now() - interval '1 minute' WHERE id = $1",
            uuid.UUID(down["id"]),
        )
    await post(shop, "/api/v1/payments", {"amount": 30_000})
    assert (
        await _count(
            database, "SELECT count(*) FROM provider_attempts WHERE provider_account_id = $1", uuid.UUID(down["id"])
        )
        == 4
    )


async def test_when_every_account_fails_the_order_fails(
    post: Post, shop: Tenant, add_account: AddAccount, database: Database
) -> None:
    await add_account("Down", key="sbx_down_0123456789abcdef")
    response = await post(shop, "/api/v1/payments", {"amount": 10_000})
    assert (response.status_code, response.json()["error"]) == (502, "provider_error")
    assert await _count(database, "SELECT count(*) FROM orders WHERE status = 'FAILED'") == 1
    # The partner hears of it as of any other failure (a checkout customer's order fails this way too).
    async with database.transaction() as connection:
        hook = await connection.fetchrow("SELECT event_type, body::jsonb AS body FROM webhook_events")
        outbox = [row["event"] for row in await connection.fetch("SELECT event FROM outbox_events ORDER BY id")]
    assert (hook["event_type"], hook["body"]["status"]) == ("payment.failed", "FAILED")
    assert outbox == ["payment.created", "payment.failed"]


async def test_idempotency_keys(post: Post, shop: Tenant, add_account: AddAccount, database: Database) -> None:
    await add_account()
    body = {"amount": 40_000, "reference": "IDEM-1"}
    first = await post(shop, "/api/v1/payments", body, **{"Idempotency-Key": "k-1"})
    again = await post(shop, "/api/v1/payments", body, **{"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    other = await post(shop, "/api/v1/payments", body | {"amount": 1}, **{"Idempotency-Key": "k-1"})
    assert (other.status_code, other.json()["error"]) == (422, "idempotency_mismatch")
    # A request that failed released its key: the retry runs.
    failed = await post(
        shop, "/api/v1/payments", {"amount": 40_000, "reference": "IDEM-1"}, **{"Idempotency-Key": "k-2"}
    )
    assert failed.json()["error"] == "duplicate_reference"
    retried = await post(
        shop, "/api/v1/payments", {"amount": 40_000, "reference": "IDEM-2"}, **{"Idempotency-Key": "k-2"}
    )
    assert retried.status_code == 201
    assert await _count(database, "SELECT count(*) FROM orders") == 2


async def test_concurrent_duplicates_make_one_order(
    client: httpx.AsyncClient, shop: Tenant, add_account: AddAccount, database: Database
) -> None:
    await add_account()
    raw = orjson.dumps({"amount": 45_000, "reference": "RACE"})
    requests = [signed_headers(shop, "POST", "/api/v1/payments", raw, **{"Idempotency-Key": "race"}) for _ in range(8)]
    responses = await asyncio.gather(*(client.post("/api/v1/payments", content=raw, headers=h) for h in requests))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    assert {r.json()["result"]["orderId"] for r in responses if r.status_code == 201} == {
        next(r for r in responses if r.status_code == 201).json()["result"]["orderId"]}  # fmt: skip
    assert await _count(database, "SELECT count(*) FROM orders") == 1


async def test_orders_are_read_by_their_partner_or_its_parent_only(
    app: FastAPI, client: httpx.AsyncClient, post: Post, add_account: AddAccount, database: Database
) -> None:
    await add_account()
    parent = await tenant(app, client, database, "Toko Induk", roles=())
    child = await tenant(app, client, database, "Toko Anak", roles=(), parent=parent.id)
    stranger = await tenant(app, client, database, "Toko Lain", roles=())
    order_id = (await post(child, "/api/v1/payments", {"amount": 60_000})).json()["result"]["orderId"]
    for who, status in ((child, 200), (parent, 200), (stranger, 404)):
        for path in (f"/api/v1/payments/order/{order_id}", f"/api/v1/payments/order/{order_id}/status"):
            response = await client.get(path, headers=signed_headers(who, "GET", path, b""))
            assert response.status_code == status, (who.partner.partner_id, path, response.text)
    path = f"/api/v1/payments/order/{order_id}"
    order = (await client.get(path, headers=signed_headers(child, "GET", path, b""))).json()
    assert (order["amount"], order["status"], order["provider"]) == (60_000, "PENDING", "sandbox")
    missing = f"/api/v1/payments/order/{uuid.uuid4()}"
    assert (await client.get(missing, headers=signed_headers(stranger, "GET", missing, b""))).json()[
        "error"
    ] == "order_not_found"
