"""The webhook routes of both consoles: endpoint settings, test events, the delivery log with its filters,
resends and bulk replays (audited), the combined API log, alerts; and tenants kept apart."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from gerbang.auth.sessions import AdminRole, PartnerRole
from gerbang.db import Database
from gerbang.kit.time import utcnow
from tests.auth.people import Tenant, admin_headers, signed, tenant
from tests.webhook.conftest import Emit, Receiver, StartWorker, statuses, wait_for

DEV = PartnerRole.DEVELOPER


async def _point_at(database: Database, shop: Tenant, url: str) -> None:
    # Through SQL: the API requires https outside development, and the test receiver is plain http.
    async with database.transaction() as connection:
        await connection.execute("UPDATE partners SET webhook_url = $2 WHERE id = $1", shop.id, url)


async def _shop(app: FastAPI, client: httpx.AsyncClient, database: Database, name: str, **kw: Any) -> Tenant:
    return await tenant(app, client, database, name, roles=(DEV, PartnerRole.VIEWER), **kw)


async def test_the_endpoint_settings(app: FastAPI, client: httpx.AsyncClient, database: Database) -> None:
    shop = await _shop(app, client, database, "Toko Hook")
    headers = shop.headers[DEV]
    shown = (await client.get("/api/v1/client/webhook", headers=headers)).json()
    assert shown == {
        "url": "https://toko.example/hook", "events": [], "fifo": True, "enabled": True, "disabledAt": None,
        "disabledReason": None, "deadStreak": 0,
    }  # fmt: skip
    changed = await client.put(
        "/api/v1/client/webhook", json={"events": ["payment.paid", "payment.failed"], "fifo": False}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["events"], changed.json()["fifo"], changed.json()["url"]) == (
        ["payment.failed", "payment.paid"], False, "https://toko.example/hook")  # fmt: skip
    plain = await client.put("/api/v1/client/webhook", json={"webhookUrl": "http://toko.example/x"}, headers=headers)
    assert plain.status_code == 422  # https outside development
    unknown = await client.put("/api/v1/client/webhook", json={"events": ["payment.refunded"]}, headers=headers)
    assert (unknown.status_code, unknown.json()["error"]) == (422, "validation_error")
    off = await client.put("/api/v1/client/webhook", json={"enabled": False}, headers=headers)
    assert (off.json()["enabled"], off.json()["disabledReason"]) == (False, "disabled by the partner")
    on = await client.put("/api/v1/client/webhook", json={"enabled": True}, headers=headers)
    assert (on.json()["enabled"], on.json()["deadStreak"]) == (True, 0)
    audit = (await client.get("/api/v1/client/audit-events", headers=await _owner(app, client, database, shop))).json()
    assert [e["action"] for e in audit].count("partner.webhook_endpoint_changed") == 3


async def _owner(app: FastAPI, client: httpx.AsyncClient, database: Database, shop: Tenant) -> dict[str, str]:
    from gerbang.auth.sessions import create_partner_user
    from tests.auth.people import PASSWORD, bearer

    email = f"owner-{uuid.uuid4().hex[:6]}@toko.example"
    async with database.transaction() as connection:
        await create_partner_user(
            connection, partner_id=shop.id, email=email, password=PASSWORD, role=PartnerRole.OWNER
        )
    login = await client.post("/api/v1/client/login", json={"email": email, "password": PASSWORD})
    return bearer(login.json()["accessToken"])


async def test_test_events_deliveries_filters_and_the_attempt_log(
    app: FastAPI, client: httpx.AsyncClient, database: Database, receiver: Receiver, emit: Emit,
    start_worker: StartWorker,
) -> None:  # fmt: skip
    shop = await _shop(app, client, database, "Toko Log")
    other = await _shop(app, client, database, "Toko Lain")
    await _point_at(database, shop, receiver.url)
    headers = shop.headers[DEV]
    sent = await client.post("/api/v1/client/webhooks/test", headers=headers)
    assert sent.status_code == 201
    test_id = sent.json()["id"]
    paid = await emit(shop.id, 3)
    await emit(other.id, 2, event="payment.failed")
    async with start_worker():
        await wait_for(lambda: _all(database, shop.id, "delivered"), what="deliveries")

    listed = (await client.get("/api/v1/client/webhooks/deliveries", headers=headers)).json()
    assert [d["id"] for d in listed] == [str(i) for i in reversed(paid)] + [test_id]  # newest first
    assert {d["partnerId"] for d in listed} == {str(shop.id)}  # never the other partner's
    only_tests = await client.get("/api/v1/client/webhooks/deliveries", params={"eventType": "test"}, headers=headers)
    assert [d["id"] for d in only_tests.json()] == [test_id]
    assert only_tests.json()[0]["payload"]["event"] == "test"
    page = (await client.get("/api/v1/client/webhooks/deliveries", params={"limit": 2}, headers=headers)).json()
    rest = await client.get(
        "/api/v1/client/webhooks/deliveries", params={"beforeSequence": page[-1]["sequence"]}, headers=headers
    )
    assert [d["id"] for d in page + rest.json()] == [d["id"] for d in listed]
    by_object = listed[0]["objectId"]
    found = await client.get("/api/v1/client/webhooks/deliveries", params={"objectId": by_object}, headers=headers)
    assert [d["id"] for d in found.json()] == [listed[0]["id"]]
    later = await client.get(
        "/api/v1/client/webhooks/deliveries", params={"since": (utcnow() + timedelta(minutes=1)).isoformat()},
        headers=headers,
    )  # fmt: skip
    assert later.json() == []

    detail = (await client.get(f"/api/v1/client/webhooks/deliveries/{paid[0]}", headers=headers)).json()
    assert detail["status"] == "delivered"
    [attempt] = detail["attemptLog"]
    assert (attempt["statusCode"], attempt["outcome"], attempt["responseBody"]) == (200, "delivered", "answer 200")
    other_event = (await client.get("/api/v1/client/webhooks/deliveries", headers=other.headers[DEV])).json()[0]
    hidden = await client.get(f"/api/v1/client/webhooks/deliveries/{other_event['id']}", headers=headers)
    assert (hidden.status_code, hidden.json()["error"]) == (404, "delivery_not_found")

    check = "/api/v1/auth/check"
    await client.get(check, headers=signed(shop.partner.api_key, shop.partner.signing_secret, "GET", check))
    await app.state.request_log.flush()
    log = (await client.get("/api/v1/client/api-logs", headers=headers)).json()
    assert {entry["kind"] for entry in log} == {"request", "webhook"}
    assert [e["at"] for e in log] == sorted((e["at"] for e in log), reverse=True)
    assert sum(e["kind"] == "webhook" for e in log) == 4


async def _all(database: Database, partner_id: uuid.UUID, status: str) -> bool:
    async with database.transaction() as connection:
        rows = await connection.fetch("SELECT status FROM webhook_events WHERE partner_id = $1", partner_id)
    return bool(rows) and {row["status"] for row in rows} == {status}


async def test_resend_and_replay_by_the_partner_and_by_admins(
    app: FastAPI, client: httpx.AsyncClient, database: Database, receiver: Receiver, emit: Emit,
    start_worker: StartWorker,
) -> None:  # fmt: skip
    shop = await _shop(app, client, database, "Toko Ulang")
    other = await _shop(app, client, database, "Toko Lain")
    await _point_at(database, shop, receiver.url)
    async with database.transaction() as connection:
        await connection.execute("UPDATE partners SET webhook_fifo = false WHERE id = $1", shop.id)
    receiver.default = (400, {})
    dead = await emit(shop.id, 4)
    async with start_worker():
        await wait_for(lambda: _all(database, shop.id, "dead"), what="dead letters")
        receiver.default = (200, {})
        headers = shop.headers[DEV]

        resent = await client.post(f"/api/v1/client/webhooks/deliveries/{dead[0]}/resend", headers=headers)
        assert resent.status_code == 200, resent.text
        await wait_for(lambda: _status(database, dead[0], "delivered"), what="resent delivery")
        again = await client.post(f"/api/v1/client/webhooks/deliveries/{dead[1]}/resend", headers=other.headers[DEV])
        assert (again.status_code, again.json()["error"]) == (404, "delivery_not_found")
        viewer = await client.post(
            f"/api/v1/client/webhooks/deliveries/{dead[1]}/resend", headers=shop.headers[PartnerRole.VIEWER]
        )
        assert viewer.status_code == 403

        window = {"since": (utcnow() - timedelta(hours=1)).isoformat(), "until": utcnow().isoformat()}
        replayed = await client.post("/api/v1/client/webhooks/deliveries/replay", json=window, headers=headers)
        assert replayed.json() == {"replayed": 3}  # the three still dead; the resent one is delivered
        await wait_for(lambda: _all(database, shop.id, "delivered"), what="replayed deliveries")
        nothing = await client.post("/api/v1/client/webhooks/deliveries/replay", json=window, headers=headers)
        assert nothing.json() == {"replayed": 0}

        admin = await admin_headers(client, database, AdminRole.SUPPORT)
        admin_resent = await client.post(f"/api/v1/admin/webhooks/deliveries/{dead[2]}/resend", headers=admin)
        assert admin_resent.status_code == 200
        twice = await client.post(f"/api/v1/admin/webhooks/deliveries/{dead[2]}/resend", headers=admin)
        assert (twice.status_code, twice.json()["error"]) == (409, "delivery_already_pending")
        await wait_for(lambda: _status(database, dead[2], "delivered"), what="admin resend")
        admin_replay = await client.post(
            f"/api/v1/admin/partners/{shop.id}/webhooks/replay", json=window | {"statuses": ["delivered"]},
            headers=admin,
        )  # fmt: skip
        assert admin_replay.json() == {"replayed": 4}
        await wait_for(lambda: _all(database, shop.id, "delivered"), what="admin replay")
        listed = await client.get(
            "/api/v1/admin/webhooks/deliveries", params={"partnerId": str(shop.id)}, headers=admin
        )
        assert len(listed.json()) == 4
        finance = await admin_headers(client, database, AdminRole.FINANCE)
        refused = await client.post(f"/api/v1/admin/webhooks/deliveries/{dead[2]}/resend", headers=finance)
        assert refused.status_code == 403

    async with database.transaction() as connection:
        actions = [r["action"] for r in await connection.fetch("SELECT action FROM audit_events ORDER BY id")]
        per_event = await connection.fetch("SELECT event_id, count(*) FROM webhook_attempts GROUP BY event_id")
    assert actions.count("webhook.resent") == 2
    assert actions.count("webhook.replayed") == 3
    # 1 dead-lettered try, then: a resend or the partner's replay, then the admin's replay (+ its resend).
    assert sorted(row["count"] for row in per_event) == [3, 3, 3, 4]
    assert set((await statuses(database, dead)).values()) == {"delivered"}


async def _status(database: Database, event_id: uuid.UUID, status: str) -> bool:
    return (await statuses(database, [event_id]))[event_id] == status


async def test_admins_see_alerts_and_endpoints(
    app: FastAPI, client: httpx.AsyncClient, database: Database, receiver: Receiver, emit: Emit,
    start_worker: StartWorker,
) -> None:  # fmt: skip
    shop = await _shop(app, client, database, "Toko Hilang")
    await _point_at(database, shop, receiver.url)
    receiver.default = (410, {})
    await emit(shop.id)
    async with start_worker():
        await wait_for(lambda: _all(database, shop.id, "dead"), what="gone")
    admin = await admin_headers(client, database, AdminRole.SUPPORT)
    alerts = (await client.get("/api/v1/admin/alerts", headers=admin)).json()
    assert [(a["kind"], a["partnerId"]) for a in alerts] == [("webhook_endpoint_disabled", str(shop.id))]
    endpoint = (await client.get(f"/api/v1/admin/partners/{shop.id}/webhook", headers=admin)).json()
    assert endpoint["enabled"] is False
    assert "410" in endpoint["disabledReason"]
    # The partner is told too: its console shows the endpoint off, and why.
    mine = (await client.get("/api/v1/client/webhook", headers=shop.headers[DEV])).json()
    assert (mine["enabled"], mine["disabledReason"]) == (False, endpoint["disabledReason"])
