"""Partner changes by admins: fees, methods, hierarchy without cycles, status; keys and webhook secret
rotation with overlap; every change in the audit log with secrets masked."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from gerbang.db import Database
from gerbang.kit.time import utcnow
from gerbang.partner import service as partner_service
from tests.auth.people import admin_headers, signed, tenant

CHECK = "/api/v1/auth/check"


@pytest.fixture
async def admin(client: httpx.AsyncClient, database: Database) -> dict[str, str]:
    return await admin_headers(client, database)


async def test_fees_methods_and_preferences_change_and_are_audited(
    app: FastAPI, client: httpx.AsyncClient, database: Database, admin: dict[str, str]
) -> None:
    shop = await tenant(app, client, database, "Toko Fee", roles=())
    body = {
        "fees": {"payinWeekdayPercent": "1.05", "payinWeekdayFlat": 500, "payinWeekendPercent": "1.5",
                 "payinWeekendFlat": 0, "withdrawalPercent": "0", "withdrawalFlat": 6500},
        "paymentMethods": ["QRIS", "VIRTUAL_ACCOUNT"],
        "providerPreferences": ["SANDBOX"],
        "allowUnsignedRequests": True,
    }  # fmt: skip
    changed = await client.patch(f"/api/v1/admin/partners/{shop.id}", json=body, headers=admin)
    assert changed.status_code == 200, changed.text
    assert changed.json()["fees"]["payinWeekdayPercent"] == "1.0500"
    assert changed.json()["fees"]["withdrawalFlat"] == 6500
    assert changed.json()["paymentMethods"] == ["QRIS", "VIRTUAL_ACCOUNT"]

    events = await client.get("/api/v1/admin/audit-events", params={"partnerId": str(shop.id)}, headers=admin)
    updated = next(e for e in events.json() if e["action"] == "partner.updated")
    assert updated["changes"]["payin_weekday_flat"] == {"before": 0, "after": 500}
    assert updated["changes"]["allow_unsigned_requests"] == {"before": False, "after": True}
    assert "name" not in updated["changes"]  # unchanged fields are not listed
    assert updated["actorType"] == "admin"
    assert updated["requestId"] == changed.headers["x-request-id"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"fees": {"payinWeekdayPercent": "101"}}, "validation_error"),
        ({"fees": {"payinWeekdayFlat": -1}}, "validation_error"),
        ({"fees": {"payinWeekdayFlat": 1.5}}, "validation_error"),
        ({"paymentMethods": ["qris; drop"]}, "validation_error"),
        ({"webhookUrl": "http://toko.example/hook"}, "invalid_partner"),
        ({"webhookUrl": "https://user:pw@toko.example/hook"}, "invalid_partner"),
        ({"name": None}, "invalid_partner"),
        ({"status": "deleted"}, "validation_error"),
        ({"balance": 1000000}, "validation_error"),
    ],
)
async def test_bad_changes_are_refused_and_change_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    database: Database,
    admin: dict[str, str],
    body: dict[str, object],
    code: str,
) -> None:
    shop = await tenant(app, client, database, "Toko Bad", roles=())
    before = (await client.get(f"/api/v1/admin/partners/{shop.id}", headers=admin)).json()
    response = await client.patch(f"/api/v1/admin/partners/{shop.id}", json=body, headers=admin)
    assert (response.status_code, response.json()["error"]) == (422, code)
    assert (await client.get(f"/api/v1/admin/partners/{shop.id}", headers=admin)).json() == before


async def test_the_hierarchy_refuses_cycles(
    app: FastAPI, client: httpx.AsyncClient, database: Database, admin: dict[str, str]
) -> None:
    top = await tenant(app, client, database, "Toko Induk", roles=())
    middle = await tenant(app, client, database, "Toko Anak", roles=(), parent=top.id)
    bottom = await tenant(app, client, database, "Toko Cucu", roles=(), parent=middle.id)
    for partner, parent in ((top.id, bottom.id), (top.id, middle.id), (middle.id, middle.id)):
        response = await client.patch(
            f"/api/v1/admin/partners/{partner}", json={"parentId": str(parent)}, headers=admin
        )
        assert (response.status_code, response.json()["error"]) == (409, "hierarchy_cycle"), (partner, parent)
    unknown = await client.patch(
        f"/api/v1/admin/partners/{top.id}", json={"parentId": str(uuid.uuid4())}, headers=admin
    )
    assert (unknown.status_code, unknown.json()["error"]) == (404, "partner_not_found")
    moved = await client.patch(f"/api/v1/admin/partners/{bottom.id}", json={"parentId": None}, headers=admin)
    assert moved.json()["parentId"] is None


async def test_api_key_rotation_overlaps_and_revocation_is_immediate(
    app: FastAPI, client: httpx.AsyncClient, database: Database, admin: dict[str, str]
) -> None:
    shop = await tenant(app, client, database, "Toko Kunci", roles=())
    keys = await client.get(f"/api/v1/admin/partners/{shop.id}/api-keys", headers=admin)
    (old,) = keys.json()
    assert shop.partner.api_key not in keys.text
    assert shop.partner.signing_secret not in keys.text

    rotated = await client.post(
        f"/api/v1/admin/partners/{shop.id}/api-keys/{old['id']}/rotate", json={"overlapSeconds": 3600}, headers=admin
    )
    assert rotated.status_code == 201, rotated.text
    new_key, new_secret = rotated.json()["apiKey"], rotated.json()["signingSecret"]
    old_headers = signed(shop.partner.api_key, shop.partner.signing_secret, "GET", CHECK)
    assert (await client.get(CHECK, headers=old_headers)).status_code == 200  # the overlap
    assert (await client.get(CHECK, headers=signed(new_key, new_secret, "GET", CHECK))).status_code == 200

    now_expired = await client.post(
        f"/api/v1/admin/partners/{shop.id}/api-keys/{old['id']}/rotate", json={"overlapSeconds": 0}, headers=admin
    )
    assert now_expired.status_code == 201  # a shorter expiry may be set again; the old key now stops
    refused = await client.get(CHECK, headers=signed(shop.partner.api_key, shop.partner.signing_secret, "GET", CHECK))
    assert (refused.status_code, refused.json()["error"]) == (401, "api_key_revoked")

    new_id = rotated.json()["id"]
    assert (
        await client.delete(f"/api/v1/admin/partners/{shop.id}/api-keys/{new_id}", headers=admin)
    ).status_code == 204
    gone = await client.get(CHECK, headers=signed(new_key, new_secret, "GET", CHECK))
    assert (gone.status_code, gone.json()["error"]) == (401, "api_key_revoked")
    twice = await client.delete(f"/api/v1/admin/partners/{shop.id}/api-keys/{new_id}", headers=admin)
    assert (twice.status_code, twice.json()["error"]) == (404, "api_key_not_found")

    audit = await client.get("/api/v1/admin/audit-events", params={"targetType": "api_key"}, headers=admin)
    assert {e["action"] for e in audit.json()} == {"api_key.rotated", "api_key.revoked"}
    assert new_secret not in audit.text
    assert new_key not in audit.text


async def test_webhook_secret_rotation_keeps_the_old_secret_for_the_overlap(
    app: FastAPI, client: httpx.AsyncClient, database: Database, admin: dict[str, str]
) -> None:
    shop = await tenant(app, client, database, "Toko Webhook", roles=())
    rotated = await client.post(
        f"/api/v1/admin/partners/{shop.id}/webhook-secret/rotate", json={"overlapSeconds": 600}, headers=admin
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["webhookSecret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != shop.partner.webhook_secret
    async with database.transaction() as connection:
        now = utcnow()
        during = await partner_service.webhook_secrets(connection, app.state.key_ring, shop.id, now)
        after = await partner_service.webhook_secrets(
            connection, app.state.key_ring, shop.id, now + timedelta(minutes=11)
        )
        stored = await connection.fetchval("SELECT webhook_secret_encrypted FROM partners WHERE id = $1", shop.id)
    assert (during.current, during.previous) == (new_secret, shop.partner.webhook_secret)
    assert (after.current, after.previous) == (new_secret, None)
    assert new_secret not in stored
    audit = await client.get(
        "/api/v1/admin/audit-events", params={"action": "partner.webhook_secret_rotated"}, headers=admin
    )
    (event,) = audit.json()
    assert event["changes"] == {"webhook_secret": {"before": "***", "after": "***"}}


async def test_the_audit_log_is_append_only(
    app: FastAPI, client: httpx.AsyncClient, database: Database, admin: dict[str, str]
) -> None:
    await client.post("/api/v1/admin/partners", json={"name": "Toko Jejak"}, headers=admin)
    async with database.transaction() as connection:
        assert await connection.fetchval("SELECT count(*) FROM audit_events") == 1
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(Exception, match="append-only"):
            async with database.transaction() as connection:
                await connection.execute(statement)
