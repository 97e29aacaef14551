"""Alerts in the admin API: listed whether or not Telegram is configured, newest first, filtered and paged;
one alert by id; bad filters refused with stable codes; every admin role reads them, nobody else."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import httpx

from gerbang.alerts.delivery import AlertSender, SenderSettings
from gerbang.alerts.telegram import TelegramBot
from gerbang.auth.sessions import AdminRole
from gerbang.db import Database
from tests.alerts.conftest import BOT_TOKEN, Raise, fake_telegram_at, target_of
from tests.auth.people import admin_headers

SHOP = uuid.UUID("5a0e3c9e-7f6b-4a52-9c1e-0d6f1b2a3c4d")
T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


async def _world(database: Database, raise_one: Raise) -> dict[str, int]:
    """Five alerts an hour apart from 01:00 UTC, in several kinds, severities, partners and delivery states."""
    ids = {
        "summary": await raise_one("dashboard_summary", "TPV today: 1.000.000", now=T0),
        "flagged": await raise_one(
            "withdrawal_contradicted", "check W-1", partner_id=SHOP, now=T0 + timedelta(hours=1)
        ),
        "job": await raise_one("job_failed", "settlement.check failed", now=T0 + timedelta(hours=2)),
        "gone": await raise_one(
            "webhook_endpoint_disabled", "webhooks off", partner_id=SHOP, now=T0 + timedelta(hours=3)
        ),
        "settled": await raise_one("settlement_summary", "12 orders settled", now=T0 + timedelta(hours=4)),
    }
    async with database.transaction() as connection:
        await connection.execute(
            "UPDATE alerts SET status = 'delivered', attempts = 1, parts_sent = 1, delivered_at = created_at "
            "WHERE id = ANY($1)", [ids["summary"], ids["settled"]],
        )  # fmt: skip
        await connection.execute(
            "UPDATE alerts SET status = 'failed', attempts = 1, last_error = 'Telegram answered 400: chat not found' "
            "WHERE id = $1", ids["job"],
        )  # fmt: skip
    return ids


async def _ids(client: httpx.AsyncClient, headers: dict[str, str], **params: str) -> list[int]:
    response = await client.get("/api/v1/admin/alerts", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [alert["id"] for alert in response.json()]


async def test_alerts_are_listed_newest_first_with_their_delivery_state(
    client: httpx.AsyncClient, database: Database, raise_one: Raise
) -> None:
    ids = await _world(database, raise_one)
    viewer = await admin_headers(client, database, AdminRole.VIEWER)
    listed = (await client.get("/api/v1/admin/alerts", headers=viewer)).json()
    assert [a["id"] for a in listed] == [ids[k] for k in ("settled", "gone", "job", "flagged", "summary")]
    gone = listed[1]
    assert gone == {
        "id": ids["gone"], "kind": "webhook_endpoint_disabled", "severity": "warning", "partnerId": str(SHOP),
        "message": "webhooks off", "createdAt": "2026-12-01T04:00:00Z", "deliveryStatus": "pending",
        "attempts": 0, "partsSent": 0, "nextAttemptAt": "2026-12-01T04:00:00Z", "lastError": None,
        "deliveredAt": None,
    }  # fmt: skip
    job = listed[2]
    assert (job["severity"], job["deliveryStatus"], job["nextAttemptAt"], job["lastError"]) == (
        "critical", "failed", None, "Telegram answered 400: chat not found")  # fmt: skip
    assert listed[0]["deliveredAt"] == "2026-12-01T05:00:00Z"


async def test_the_filters(client: httpx.AsyncClient, database: Database, raise_one: Raise) -> None:
    ids = await _world(database, raise_one)
    admin = await admin_headers(client, database, AdminRole.FINANCE)
    assert await _ids(client, admin, kind="job_failed") == [ids["job"]]
    assert await _ids(client, admin, severity="info") == [ids["settled"], ids["summary"]]
    assert await _ids(client, admin, partnerId=str(SHOP)) == [ids["gone"], ids["flagged"]]
    assert await _ids(client, admin, delivered="true") == [ids["settled"], ids["summary"]]
    assert await _ids(client, admin, delivered="false") == [ids["gone"], ids["job"], ids["flagged"]]
    assert await _ids(client, admin, deliveryStatus="failed") == [ids["job"]]
    assert await _ids(client, admin, deliveryStatus="failed", delivered="false") == [ids["job"]]
    assert await _ids(client, admin, deliveryStatus="failed", delivered="true") == []
    window = {"since": "2026-12-01T09:00:00+07:00", "until": "2026-12-01T03:00:00Z"}  # [02:00, 03:00) UTC
    assert await _ids(client, admin, **window) == [ids["flagged"]]
    assert await _ids(client, admin, since="2026-12-01T04:00:00Z") == [ids["settled"], ids["gone"]]
    assert await _ids(client, admin, severity="warning", partnerId=str(SHOP), delivered="false") == [
        ids["gone"], ids["flagged"]]  # fmt: skip
    assert await _ids(client, admin, kind="nothing_like_it") == []


async def test_paging_by_id(client: httpx.AsyncClient, database: Database, raise_one: Raise) -> None:
    ids = await _world(database, raise_one)
    admin = await admin_headers(client, database, AdminRole.SUPPORT)
    first = await _ids(client, admin, limit="2")
    second = await _ids(client, admin, limit="2", beforeId=str(first[-1]))
    third = await _ids(client, admin, limit="2", beforeId=str(second[-1]))
    assert first + second + third == sorted(ids.values(), reverse=True)
    assert len(third) == 1


async def test_one_alert(client: httpx.AsyncClient, database: Database, raise_one: Raise) -> None:
    ids = await _world(database, raise_one)
    admin = await admin_headers(client, database, AdminRole.VIEWER)
    one = await client.get(f"/api/v1/admin/alerts/{ids['flagged']}", headers=admin)
    assert one.status_code == 200
    assert (one.json()["kind"], one.json()["partnerId"]) == ("withdrawal_contradicted", str(SHOP))
    missing = await client.get("/api/v1/admin/alerts/999999", headers=admin)
    assert (missing.status_code, missing.json()["error"]) == (404, "alert_not_found")


async def test_bad_filters_are_refused_with_stable_codes(client: httpx.AsyncClient, database: Database) -> None:
    admin = await admin_headers(client, database, AdminRole.ADMIN)
    bad: list[tuple[dict[str, str], str]] = [
        ({"severity": "urgent"}, "validation_error"),
        ({"deliveryStatus": "lost"}, "validation_error"),
        ({"delivered": "maybe"}, "validation_error"),
        ({"partnerId": "not-a-uuid"}, "validation_error"),
        ({"since": "yesterday"}, "validation_error"),
        ({"since": "2026-12-01T00:00:00"}, "validation_error"),  # no time zone: which midnight?
        ({"limit": "0"}, "validation_error"),
        ({"limit": "501"}, "validation_error"),
        ({"beforeId": "0"}, "validation_error"),
        ({"beforeId": str(2**63)}, "validation_error"),
        ({"kind": "k" * 65}, "validation_error"),
        ({"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, "invalid_date_range"),
        ({"since": "2026-12-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, "invalid_date_range"),
    ]
    for params, code in bad:
        response = await client.get("/api/v1/admin/alerts", params=params, headers=admin)
        assert (response.status_code, response.json()["error"]) == (422, code), params
    for path in ("/api/v1/admin/alerts/abc", "/api/v1/admin/alerts/0", f"/api/v1/admin/alerts/{2**63}"):
        response = await client.get(path, headers=admin)
        assert (response.status_code, response.json()["error"]) == (422, "validation_error"), path


async def test_only_admins_read_alerts(client: httpx.AsyncClient, database: Database, raise_one: Raise) -> None:
    alert_id = await raise_one()
    anonymous = await client.get("/api/v1/admin/alerts")
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "missing_token")
    for role in AdminRole:  # the matrix (docs/security.md) gives alerts.read to every admin role
        headers = await admin_headers(client, database, role)
        assert await _ids(client, headers) == [alert_id], role
    # The full route x role check, against the written matrix, is tests/auth/test_route_permissions.py.


async def test_a_refusal_quoting_the_token_is_listed_without_it(
    client: httpx.AsyncClient, database: Database, raise_one: Raise
) -> None:
    alert_id = await raise_one()
    async with fake_telegram_at() as telegram:
        telegram.default = (401, {"ok": False, "error_code": 401, "description": f"Unauthorized: {BOT_TOKEN}"})
        target = target_of(telegram)
        sender = AlertSender(database, target, SenderSettings())
        async with aiohttp.ClientSession() as session:
            bot = TelegramBot(
                session, base_url=target.base_url, token=target.token, chat_id=target.chat_id,
                timeout=timedelta(seconds=2),
            )  # fmt: skip
            assert await sender.send_next(bot) == (True, None)
    admin = await admin_headers(client, database)
    response = await client.get(f"/api/v1/admin/alerts/{alert_id}", headers=admin)
    assert response.json()["lastError"] == "Telegram answered 401: Unauthorized: ***"
    assert BOT_TOKEN not in response.text
