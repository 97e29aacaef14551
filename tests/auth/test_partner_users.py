"""Partner users: created by an admin or the OWNER only, their own login, 2FA and password change."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pyotp
from fastapi import FastAPI

from gerbang.auth.sessions import PartnerRole
from gerbang.db import Database
from gerbang.kit.time import utcnow
from tests.auth.people import PASSWORD, admin_headers, bearer, tenant


async def _login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, otp: str | None = None
) -> httpx.Response:
    return await client.post("/api/v1/client/login", json={"email": email, "password": password, "otp": otp})


async def test_there_is_no_public_registration(client: httpx.AsyncClient) -> None:
    body = {"partnerClientId": "x", "email": "a@b.example", "password": PASSWORD}
    for path in ("/api/v1/client/register", "/api/v1/auth/register"):
        assert (await client.post(path, json=body)).status_code == 404


async def test_an_admin_creates_a_user_who_logs_in_to_the_console(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    shop = await tenant(app, client, database, "Toko Satu", roles=())
    admin = await admin_headers(client, database)
    body = {"email": "Owner@Toko.example", "password": PASSWORD, "role": "OWNER"}
    created = await client.post(f"/api/v1/admin/partners/{shop.id}/users", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "owner@toko.example"
    assert PASSWORD not in created.text
    again = await client.post(f"/api/v1/admin/partners/{shop.id}/users", json=body, headers=admin)
    assert (again.status_code, again.json()["error"]) == (409, "user_exists")

    login = await _login(client, "owner@toko.example")
    assert login.status_code == 200, login.text
    me = await client.get("/api/v1/client/me", headers=bearer(login.json()["accessToken"]))
    assert me.json()["partnerId"] == str(shop.id)
    assert me.json()["role"] == "OWNER"
    # The partner token is for the console only.
    admin_route = await client.get("/api/v1/admin/partners", headers=bearer(login.json()["accessToken"]))
    assert (admin_route.status_code, admin_route.json()["error"]) == (401, "invalid_token")
    # And an admin's credentials do not open the console login.
    weak = await client.post(
        f"/api/v1/admin/partners/{shop.id}/users",
        json=body | {"password": "short", "email": "x@t.example"},
        headers=admin,
    )
    assert (weak.status_code, weak.json()["error"]) == (422, "weak_password")


async def test_the_owner_manages_users_and_keeps_one_owner(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    shop = await tenant(app, client, database, "Toko Dua", roles=(PartnerRole.OWNER,))
    owner = shop.headers[PartnerRole.OWNER]
    added = await client.post(
        "/api/v1/client/users",
        json={"email": "dev@toko.example", "password": PASSWORD, "role": "DEVELOPER"},
        headers=owner,
    )
    assert added.status_code == 201, added.text
    listed = await client.get("/api/v1/client/users", headers=owner)
    assert sorted(u["role"] for u in listed.json()) == ["DEVELOPER", "OWNER"]
    own_id = next(u["id"] for u in listed.json() if u["role"] == "OWNER")
    demote = await client.patch(f"/api/v1/client/users/{own_id}", json={"role": "VIEWER"}, headers=owner)
    assert (demote.status_code, demote.json()["error"]) == (409, "last_owner")

    dev_id = added.json()["id"]
    off = await client.patch(f"/api/v1/client/users/{dev_id}", json={"status": "inactive"}, headers=owner)
    assert off.json()["status"] == "inactive"
    refused = await _login(client, "dev@toko.example")
    assert (refused.status_code, refused.json()["error"]) == (403, "account_inactive")


async def test_a_deactivated_partner_locks_out_its_users(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    shop = await tenant(app, client, database, "Toko Tiga")
    admin = await admin_headers(client, database)
    off = await client.patch(f"/api/v1/admin/partners/{shop.id}", json={"status": "inactive"}, headers=admin)
    assert off.status_code == 200, off.text
    me = await client.get("/api/v1/client/me", headers=shop.headers[PartnerRole.OWNER])
    assert (me.status_code, me.json()["error"]) == (403, "account_inactive")
    login = await _login(client, shop.emails[PartnerRole.OWNER])
    assert (login.status_code, login.json()["error"]) == (403, "account_inactive")


async def test_partner_user_2fa_and_password_change(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    shop = await tenant(app, client, database, "Toko Empat", roles=(PartnerRole.FINANCE,))
    email, auth = shop.emails[PartnerRole.FINANCE], shop.headers[PartnerRole.FINANCE]
    setup = await client.post("/api/v1/client/2fa/setup", json={}, headers=auth)
    secret = setup.json()["secret"]
    enabled = await client.post("/api/v1/client/2fa/enable", json={"code": pyotp.TOTP(secret).now()}, headers=auth)
    assert len(enabled.json()["recoveryCodes"]) == 10
    assert (await _login(client, email)).json()["error"] == "otp_required"
    next_code = pyotp.TOTP(secret).at(utcnow() + timedelta(seconds=30))
    second = await _login(client, email, otp=next_code)
    assert second.status_code == 200, second.text
    # Re-enrolling needs proof; so does a password change.
    assert (await client.post("/api/v1/client/2fa/setup", json={}, headers=auth)).json()[
        "error"
    ] == "second_factor_required"

    new_password = "another long passphrase"
    body = {"currentPassword": PASSWORD, "newPassword": new_password}
    no_code = await client.post("/api/v1/client/password", json=body, headers=auth)
    assert (no_code.status_code, no_code.json()["error"]) == (403, "second_factor_required")
    wrong = await client.post(
        "/api/v1/client/password", json=body | {"currentPassword": "wrong password!!"}, headers=auth
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_credentials")
    recovery = enabled.json()["recoveryCodes"][0]
    changed = await client.post("/api/v1/client/password", json=body | {"otp": recovery}, headers=auth)
    assert changed.status_code == 204, changed.text
    # Other sessions end; this one stays.
    other = bearer(second.json()["accessToken"])
    assert (await client.get("/api/v1/client/me", headers=other)).json()["error"] == "session_ended"
    assert (await client.get("/api/v1/client/me", headers=auth)).status_code == 200
    assert (await _login(client, email, otp=enabled.json()["recoveryCodes"][1])).status_code == 401  # old password
    assert (await _login(client, email, new_password, otp=enabled.json()["recoveryCodes"][1])).status_code == 200
