"""IP allow-lists: global, admin, S2S and per partner; X-Forwarded-For only from trusted proxies; a change
reaches every process at once."""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi import FastAPI

from gerbang.auth.dependencies import ServerToServerPartner
from gerbang.auth.sessions import AdminRole, PartnerRole
from gerbang.db import Database
from tests.access.conftest import AppFactory
from tests.auth.people import admin_headers, signed, tenant

CHECK = "/api/v1/auth/check"


async def _set(
    client: httpx.AsyncClient, admin: dict[str, str], scope: str, entries: list[str], **extra: object
) -> httpx.Response:
    body = {"entries": [{"network": e} for e in entries], **extra}
    return await client.put(f"/api/v1/admin/security/allow-lists/{scope}", json=body, headers=admin)


async def _wait_for(check: object, timeout_s: float = 3.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if await check():  # type: ignore[operator]
            return time.monotonic() - started
        await asyncio.sleep(0.005)
    raise AssertionError("not within the timeout")


async def test_the_global_list_guards_the_api_and_refuses_to_lock_the_caller_out(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await admin_headers(client, database, AdminRole.SUPER_ADMIN)
    locked = await _set(client, admin, "global", ["203.0.113.0/24"])
    assert (locked.status_code, locked.json()["error"]) == (409, "would_lock_you_out")
    bad = await _set(client, admin, "global", ["10.0.0.1/8"])
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid_allow_list")
    assert "did you mean 10.0.0.0/8" in bad.json()["detail"]
    saved = await _set(client, admin, "global", ["127.0.0.1", "2001:db8::/32", "10.0.0.0/8", "127.0.0.1"])
    assert [e["network"] for e in saved.json()] == ["127.0.0.1", "2001:db8::/32", "10.0.0.0/8"]
    forced = await _set(client, admin, "global", ["203.0.113.0/24"], force=True)
    assert forced.status_code == 200

    async def refused() -> bool:
        response = await client.get("/api/v1/auth/me", headers=admin)
        return response.status_code == 403 and response.json()["error"] == "ip_not_allowed"

    await _wait_for(refused)
    assert (await client.get("/healthz")).status_code == 200  # outside /api/v1: health checks still answer
    async with database.transaction() as connection:
        await connection.execute("DELETE FROM ip_allow_entries")
        await connection.execute("SELECT pg_notify('gerbang_access', '')")
    await _wait_for(lambda: _ok(client, admin))


async def _ok(client: httpx.AsyncClient, headers: dict[str, str]) -> bool:
    return (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200


async def test_a_change_reaches_every_process_at_once(
    client: httpx.AsyncClient, database: Database, make_app: AppFactory
) -> None:
    admin = await admin_headers(client, database, AdminRole.SUPER_ADMIN)
    async with make_app() as (_, other):
        assert await _ok(other, admin)
        started = time.monotonic()
        assert (await _set(client, admin, "admin", ["192.0.2.1"], force=True)).status_code == 200

        async def other_refuses() -> bool:
            response = await other.get("/api/v1/auth/me", headers=admin)
            return response.status_code == 403

        await _wait_for(other_refuses, timeout_s=2.0)
        print(f"allow-list change seen by another process after {(time.monotonic() - started) * 1000:.0f} ms")
        # The admin list does not guard the partner API.
        assert (await other.get("/api/v1/client/me")).json()["error"] == "missing_token"


async def test_forwarded_for_is_read_only_from_trusted_proxies(
    client: httpx.AsyncClient, database: Database, make_app: AppFactory
) -> None:
    admin = await admin_headers(client, database, AdminRole.SUPER_ADMIN)
    assert (await _set(client, admin, "admin", ["198.51.100.7", "127.0.0.1"])).status_code == 200
    assert (await _set(client, admin, "admin", ["198.51.100.7"], force=True)).status_code == 200
    forged = {"X-Forwarded-For": "198.51.100.7"}
    async with make_app(client_ip="192.0.2.50") as (_, direct):
        # Not from a proxy: the header is the caller's word, and is ignored.
        response = await direct.get("/api/v1/auth/me", headers=admin | forged)
        assert (response.status_code, response.json()["error"]) == (403, "ip_not_allowed")
    async with make_app(client_ip="10.1.2.3", trusted_proxies="10.0.0.0/8") as (_, proxied):
        assert (await proxied.get("/api/v1/auth/me", headers=admin | forged)).status_code == 200
        # The right-most untrusted hop counts, not whatever the client put first.
        spoofed = await proxied.get("/api/v1/auth/me", headers=admin | {"X-Forwarded-For": "198.51.100.7, 192.0.2.9"})
        assert spoofed.status_code == 403
        via_two = await proxied.get("/api/v1/auth/me", headers=admin | {"X-Forwarded-For": "198.51.100.7, 10.9.9.9"})
        assert via_two.status_code == 200


async def test_a_partner_list_guards_its_api_keys_and_the_s2s_list_guards_payouts(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    shop = await tenant(app, client, database, "Toko IP", roles=(PartnerRole.DEVELOPER,))
    dev = shop.headers[PartnerRole.DEVELOPER]
    key = (shop.partner.api_key, shop.partner.signing_secret)

    @app.get("/api/v1/test-s2s")
    async def s2s_route(partner: ServerToServerPartner) -> dict[str, str]:
        return {"partner": str(partner.partner_id)}

    set_list = await client.put(
        "/api/v1/client/allow-list", json=[{"network": "192.0.2.0/24", "note": "office"}], headers=dev
    )
    assert set_list.status_code == 200, set_list.text
    await _wait_for(lambda: _refused(client, *key, CHECK))
    assert (await client.get("/api/v1/client/allow-list", headers=dev)).json() == [
        {"network": "192.0.2.0/24", "note": "office"}
    ]
    await client.put("/api/v1/client/allow-list", json=[{"network": "127.0.0.0/8"}], headers=dev)

    async def accepted() -> bool:
        return (await client.get(CHECK, headers=signed(*key, "GET", CHECK))).status_code == 200

    await _wait_for(accepted)
    admin = await admin_headers(client, database, AdminRole.SUPER_ADMIN)
    assert (await client.get("/api/v1/test-s2s", headers=signed(*key, "GET", "/api/v1/test-s2s"))).status_code == 200
    assert (await _set(client, admin, "s2s", ["192.0.2.1"])).status_code == 200
    await _wait_for(lambda: _refused(client, *key, "/api/v1/test-s2s"))
    assert (await client.get(CHECK, headers=signed(*key, "GET", CHECK))).status_code == 200  # only payouts


async def _refused(client: httpx.AsyncClient, api_key: str, secret: str, path: str) -> bool:
    response = await client.get(path, headers=signed(api_key, secret, "GET", path))
    return response.status_code == 403 and response.json()["error"] == "ip_not_allowed"
