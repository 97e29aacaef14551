"""Manual settlement over HTTP: the admin's preview, start, status, list, cancel and CSV export, the refusals
with their stable codes (which change nothing), and the audit trail."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from gerbang.auth.sessions import AdminRole
from gerbang.db import Database
from gerbang.kit.time import to_jakarta, utcnow
from gerbang.settlement.manual_job import SETTLEMENT_MANUAL
from tests.auth.people import admin_headers
from tests.ledger.helpers import assert_reconciled, balance
from tests.settlement.conftest import AMOUNT, FEE, NET, World
from tests.settlement.test_manual import available

BASE = "/api/v1/admin/settlement/manual"


@pytest.fixture
async def finance(client: httpx.AsyncClient, database: Database) -> dict[str, str]:
    return await admin_headers(client, database, AdminRole.FINANCE)


def body(batch_size: int = 2, **filters: Any) -> dict[str, Any]:
    today = to_jakarta(utcnow()).date()
    return {"filters": {"dateFrom": str(today - timedelta(days=30)), "dateTo": str(today)} | filters,
            "batchSize": batch_size}  # fmt: skip


async def count(database: Database, table: str) -> int:
    async with database.connection() as connection:
        value: int = await connection.fetchval(f"SELECT count(*) FROM {table}")
    return value


async def test_preview_start_run_status_and_export(
    client: httpx.AsyncClient, finance: dict[str, str], world: World
) -> None:
    shop, account = await world.partner("Toko API"), await world.account()
    orders = await world.paid(shop, account, 3)

    shown = await client.post(f"{BASE}/preview", json=body(), headers=finance)
    assert shown.status_code == 200, shown.text
    preview = shown.json()["preview"]
    assert (preview["totalOrders"], preview["grossAmount"], preview["feeAmount"], preview["totalNetAmount"]) == (
        3, 3 * AMOUNT, 3 * FEE, 3 * NET)  # fmt: skip
    assert (preview["batchSize"], preview["estimatedBatches"]) == (2, 2)
    assert {order["id"] for order in preview["sample"]} == {str(order) for order in orders}
    assert preview["sample"][0]["paidAt"].endswith("+07:00")
    assert await count(world.database, "manual_settlements") == 0  # a preview writes nothing

    started = await client.post(BASE, json=body(), headers=finance)
    assert started.status_code == 202, started.text
    settlement = started.json()
    assert (settlement["status"], settlement["expectedOrders"], settlement["expectedNet"]) == ("queued", 3, 3 * NET)
    assert settlement["filters"]["daysOfWeek"] == [0, 1, 2, 3, 4, 5, 6]

    await SETTLEMENT_MANUAL.run(world.context())

    status = (await client.get(f"{BASE}/{settlement['id']}", headers=finance)).json()
    assert (status["status"], status["settledOrders"], status["netAmount"], status["batches"]) == (
        "completed", 3, 3 * NET, 2)  # fmt: skip
    listed = (await client.get(BASE, params={"status": "completed"}, headers=finance)).json()
    assert [item["id"] for item in listed] == [settlement["id"]]
    assert (await client.get(BASE, params={"status": "queued"}, headers=finance)).json() == []
    assert await balance(world.database, available(shop)) == 3 * NET
    await assert_reconciled(world.database)

    exported = await client.get(f"{BASE}/{settlement['id']}/export", headers=finance)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {row["id"] for row in rows} == {str(order) for order in orders}
    assert {(row["partner_id"], row["partner_name"], row["amount"], row["fee"], row["net"]) for row in rows} == {
        (str(shop), "Toko API", str(AMOUNT), str(FEE), str(NET))}  # fmt: skip
    assert all(row["settled_at"].endswith("+07:00") and row["paid_at"] for row in rows)

    again = await client.post(f"{BASE}/{settlement['id']}/cancel", headers=finance)
    assert (again.status_code, again.json()["error"]) == (409, "manual_settlement_finished")
    async with world.database.connection() as connection:
        actions = [r["action"] for r in await connection.fetch(
            "SELECT action FROM audit_events WHERE target_id = $1 ORDER BY id", settlement["id"])]  # fmt: skip
    assert actions == ["manual_settlement.started", "manual_settlement.completed"]


async def test_cancel_a_queued_one_and_unknown_ids(
    client: httpx.AsyncClient, finance: dict[str, str], world: World
) -> None:
    shop, account = await world.partner("Toko Batal API"), await world.account()
    orders = await world.paid(shop, account, 2)
    settlement = (await client.post(BASE, json=body(), headers=finance)).json()

    cancelled = await client.post(f"{BASE}/{settlement['id']}/cancel", headers=finance)
    assert cancelled.status_code == 202, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["cancelRequested"]) == ("cancelled", True)
    await SETTLEMENT_MANUAL.run(world.context())
    assert await world.statuses(orders) == {"PAID": 2}
    assert (await client.get(f"{BASE}/{settlement['id']}/export", headers=finance)).text.splitlines() == [
        "id,reference,partner_id,partner_name,amount,fee,net,paid_at,settled_at"]  # fmt: skip
    async with world.database.connection() as connection:
        actions = [r["action"] for r in await connection.fetch(
            "SELECT action FROM audit_events WHERE target_id = $1 ORDER BY id", settlement["id"])]  # fmt: skip
    assert actions == ["manual_settlement.started", "manual_settlement.cancel_requested"]

    unknown = uuid.uuid4()
    for response in (
        await client.get(f"{BASE}/{unknown}", headers=finance),
        await client.post(f"{BASE}/{unknown}/cancel", headers=finance),
        await client.get(f"{BASE}/{unknown}/export", headers=finance),
    ):
        assert (response.status_code, response.json()["error"]) == (404, "manual_settlement_not_found")


@pytest.mark.parametrize(
    ("filters", "code"),
    [
        ({"dateFrom": "2026-11-30", "dateTo": "2026-11-01"}, "invalid_date_range"),
        ({"hourStart": 15, "hourEnd": 9}, "invalid_hour_range"),
        ({"minNet": 50_000, "maxNet": 10_000}, "invalid_net_range"),
        ({"daysOfWeek": []}, "validation_error"),
        ({"daysOfWeek": [7]}, "validation_error"),
        ({"hourEnd": 24}, "validation_error"),
        ({"minNet": -1}, "validation_error"),
        ({"minNet": "5000"}, "validation_error"),
        ({"minNet": 1.5}, "validation_error"),
        ({"partnerIds": []}, "validation_error"),
        ({"partnerIds": ["not-a-uuid"]}, "validation_error"),
        ({"partnerMode": "only"}, "validation_error"),
        ({"methods": ["cash"]}, "validation_error"),
        ({"dateFrom": "yesterday"}, "validation_error"),
        ({"clientIds": []}, "validation_error"),
    ],
)
async def test_bad_filters_are_refused_and_change_nothing(
    client: httpx.AsyncClient, finance: dict[str, str], world: World, filters: dict[str, Any], code: str
) -> None:
    for path in (f"{BASE}/preview", BASE):
        response = await client.post(path, json=body(**filters), headers=finance)
        assert (response.status_code, response.json()["error"]) == (422, code), response.text
    for batch_size in (0, 5_001):
        response = await client.post(BASE, json=body(batch_size=batch_size), headers=finance)
        assert (response.status_code, response.json()["error"]) == (422, "validation_error")
    missing = await client.post(BASE, json={"filters": {"dateFrom": "2026-11-01"}}, headers=finance)
    assert (missing.status_code, missing.json()["error"]) == (422, "validation_error")
    assert await count(world.database, "manual_settlements") == 0
    async with world.database.connection() as connection:
        assert (
            await connection.fetchval("SELECT count(*) FROM audit_events WHERE target_type = 'manual_settlement'") == 0
        )


async def test_support_may_not_start_or_read(client: httpx.AsyncClient, database: Database) -> None:
    support = await admin_headers(client, database, AdminRole.SUPPORT)
    for response in (
        await client.post(BASE, json=body(), headers=support),
        await client.get(BASE, headers=support),
    ):
        assert (response.status_code, response.json()["error"]) == (403, "permission_denied")
    assert await count(database, "manual_settlements") == 0
