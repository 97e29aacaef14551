"""Rate limits answer 429 with Retry-After (callbacks exempt); the partner request log records each
authenticated request with a redacted body, for the partner itself and for admins."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
from fastapi import FastAPI

from gerbang.access import service as access_service
from gerbang.auth.sessions import AdminRole, PartnerRole
from gerbang.db import Database
from gerbang.kit.time import utcnow
from tests.access.conftest import AppFactory
from tests.auth.people import PASSWORD, admin_headers, signed, tenant

CHECK = "/api/v1/auth/check"


async def test_logins_are_limited_per_address(make_app: AppFactory) -> None:
    async with make_app(rate_limit_login_per_ip=3) as (_, client):
        body = {"email": "nobody@gerbang.example", "password": PASSWORD}
        statuses = [(await client.post("/api/v1/auth/login", json=body)).status_code for _ in range(3)]
        assert statuses == [401, 401, 401]
        limited = await client.post("/api/v1/client/login", json=body)
        assert (limited.status_code, limited.json()["error"]) == (429, "rate_limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 20
        assert "x-request-id" in limited.headers
    async with make_app(rate_limit_login_per_ip=3, client_ip="192.0.2.1") as (_, elsewhere):
        assert (await elsewhere.post("/api/v1/auth/login", json=body)).status_code == 401  # another address


async def test_api_keys_and_addresses_have_their_own_limits(
    app: FastAPI, client: httpx.AsyncClient, database: Database, make_app: AppFactory
) -> None:
    shop = await tenant(app, client, database, "Toko Cepat", roles=())
    async with make_app(rate_limit_per_api_key=5, rate_limit_per_ip=8) as (_, limited):
        bodies = [f'{{"n":{n}}}'.encode() for n in range(6)]  # distinct: a repeated signature is a replay
        key = (shop.partner.api_key, shop.partner.signing_secret)
        statuses = [
            (await limited.post(CHECK, content=b, headers=signed(*key, "POST", CHECK, b))).status_code for b in bodies
        ]
        assert statuses == [200] * 5 + [429]
        # Provider callbacks are never limited: an unparseable one is refused by its adapter, not the limiter.
        assert (await limited.post("/api/v1/transaction/callback/sandbox", json={})).status_code == 401
        # The address has 8: two more requests, then 429, whatever the key.
        assert [(await limited.get("/api/v1/client/me")).status_code for _ in range(3)] == [401, 401, 429]
        assert (await limited.get("/healthz")).status_code == 200


async def test_the_request_log_records_redacted_requests_for_their_partner(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    a = await tenant(app, client, database, "Toko Log A", roles=(PartnerRole.DEVELOPER,))
    b = await tenant(app, client, database, "Toko Log B", roles=(PartnerRole.DEVELOPER,))
    body = json.dumps({"amount": 10000, "password": "hunter2-hunter2", "note": "x" * 1000}).encode()
    ok = await client.post(
        CHECK, content=body, headers=signed(a.partner.api_key, a.partner.signing_secret, "POST", CHECK, body)
    )
    assert ok.status_code == 200
    bad = await client.post(CHECK, content=body, headers=signed(a.partner.api_key, "gss_wrong", "POST", CHECK, body))
    assert bad.status_code == 401
    await client.get(CHECK, headers=signed(b.partner.api_key, b.partner.signing_secret, "GET", CHECK))
    await app.state.request_log.flush()

    rows = (await client.get("/api/v1/client/request-logs", headers=a.headers[PartnerRole.DEVELOPER])).json()
    assert [(r["status"], r["errorCode"]) for r in rows] == [(401, "invalid_signature"), (200, None)]
    assert {r["partnerId"] for r in rows} == {str(a.id)}
    logged = rows[1]["requestBody"]
    assert logged["amount"] == 10000
    assert logged["password"] == "***"
    assert len(logged["note"]) < 300
    assert rows[0]["requestId"] == bad.headers["x-request-id"]
    assert rows[1]["latencyUs"] > 0
    assert "hunter2" not in json.dumps(rows)

    admin = await admin_headers(client, database, AdminRole.SUPPORT)
    everything = (await client.get("/api/v1/admin/request-logs", headers=admin)).json()
    assert {r["partnerId"] for r in everything} == {str(a.id), str(b.id)}
    errors = (await client.get("/api/v1/admin/request-logs", params={"statusMin": 400}, headers=admin)).json()
    assert [r["errorCode"] for r in errors] == ["invalid_signature"]

    async with database.transaction() as connection:
        assert await access_service.purge_request_logs(connection, utcnow() - timedelta(days=30)) == 0
        assert await access_service.purge_request_logs(connection, utcnow() + timedelta(seconds=1)) == 3


async def test_the_log_is_written_off_the_request_path(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    shop = await tenant(app, client, database, "Toko Buffer", roles=())
    await client.get(CHECK, headers=signed(shop.partner.api_key, shop.partner.signing_secret, "GET", CHECK))
    for _ in range(300):  # flushed by the background task within about a second
        async with database.transaction() as connection:
            if await connection.fetchval("SELECT count(*) FROM api_request_logs") == 1:
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the request log was not flushed")
