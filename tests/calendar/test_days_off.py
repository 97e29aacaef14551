"""Admin days off through the API: validated, audited, and read by settlement's business days and by the pay-in
fee of the very next payment (no restart)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import httpx

from gerbang.auth.sessions import AdminRole
from gerbang.calendar.service import load_calendar
from gerbang.db import Database
from gerbang.kit.calendar import BusinessCalendar
from gerbang.kit.time import JAKARTA, to_jakarta, utcnow
from gerbang.settlement.rules import due_day
from tests.auth.people import Tenant, admin_headers
from tests.order.conftest import Post

URL = "/api/v1/admin/settings/calendar"
FEES = {"payinWeekdayPercent": "1", "payinWeekdayFlat": 0, "payinWeekendPercent": "2", "payinWeekendFlat": 0}


async def _paid_fee(post: Post, shop: Tenant, live: str, database: Database, reference: str) -> int:
    created = await post(shop, "/api/v1/payments", {"amount": 100_000, "reference": reference})
    assert created.status_code == 201, created.text
    order_id = created.json()["result"]["orderId"]
    async with httpx.AsyncClient(base_url=live) as http:
        paid = await http.post(f"/sandbox/orders/{order_id}/pay")
    assert paid.json()["callback"]["status_code"] == 200, paid.text
    async with database.connection() as connection:
        fee: int = await connection.fetchval(
            "SELECT fee FROM orders WHERE id = $1 AND status = 'PAID'", uuid.UUID(order_id)
        )
    return fee


async def test_a_day_off_set_through_the_api_is_off_for_settlement_and_pay_in_fees(
    client: httpx.AsyncClient, database: Database, post: Post, shop: Tenant, live: str,
    add_account: Any, admin: dict[str, str],
) -> None:  # fmt: skip
    await add_account()
    assert (
        await client.patch(f"/api/v1/admin/partners/{shop.id}", json={"fees": FEES}, headers=admin)
    ).status_code == 200
    today = to_jakarta(utcnow()).date()
    usual = 2_000 if BusinessCalendar().is_weekend_rate(today) else 1_000
    assert await _paid_fee(post, shop, live, database, "DAY-1") == usual  # the process has read the calendar now

    monday = date(2026, 11, 30)
    days = {"daysOff": [today.isoformat(), monday.isoformat()]}
    saved = await client.put(URL, json=days, headers=admin)
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"daysOff": sorted(days["daysOff"])}
    assert (await client.get(URL, headers=admin)).json() == saved.json()

    assert await _paid_fee(post, shop, live, database, "DAY-2") == 2_000  # today is off: the weekend rate
    async with database.connection() as connection:
        calendar = await load_calendar(connection)
        changes = await connection.fetchval(
            "SELECT changes FROM audit_events WHERE action = 'settings.calendar_changed'"
        )
    friday_evening = datetime(2026, 11, 27, 19, tzinfo=JAKARTA)
    assert due_day(calendar, friday_evening, 1, None) == date(2026, 12, 1)  # Monday is off: Tuesday
    assert due_day(BusinessCalendar(), friday_evening, 1, None) == monday
    assert changes["days_off"] == {"before": [], "after": sorted(days["daysOff"])}


async def test_bad_days_off_are_refused_and_change_nothing(client: httpx.AsyncClient, database: Database) -> None:
    headers = await admin_headers(client, database, AdminRole.SUPER_ADMIN)
    assert (await client.put(URL, json={"daysOff": ["2026-12-24"]}, headers=headers)).status_code == 200
    for body, code in [
        ({"daysOff": ["2026-02-30"]}, "invalid_days_off"),
        ({"daysOff": ["2026-12-25", "2026-12-25"]}, "invalid_days_off"),
        ({"daysOff": ["24/12/2026"]}, "validation_error"),
        ({"daysOff": [20261224]}, "validation_error"),
        ({"daysOff": "2026-12-24"}, "validation_error"),
        ({}, "validation_error"),
    ]:
        refused = await client.put(URL, json=body, headers=headers)
        assert (refused.status_code, refused.json()["error"]) == (422, code), body
    assert (await client.get(URL, headers=headers)).json() == {"daysOff": ["2026-12-24"]}
    finance = await admin_headers(client, database, AdminRole.FINANCE)
    denied = await client.put(URL, json={"daysOff": []}, headers=finance)
    assert (denied.status_code, denied.json()["error"]) == (403, "permission_denied")
    async with database.connection() as connection:
        assert await connection.fetchval("SELECT count(*) FROM audit_events WHERE action LIKE 'settings.%'") == 1
