"""Partner A can read or act on nothing of partner B's, whatever ids or query parameters it sends; a
parent sees its children, a child does not see its parent."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from gerbang.auth.sessions import PartnerRole
from gerbang.db import Database
from tests.auth.people import PASSWORD, Tenant, signed, tenant

CHECK = "/api/v1/auth/check"


@pytest.fixture
async def shops(app: FastAPI, client: httpx.AsyncClient, database: Database) -> tuple[Tenant, Tenant, Tenant]:
    a = await tenant(app, client, database, "Toko A", roles=(PartnerRole.OWNER,))
    b = await tenant(app, client, database, "Toko B", roles=(PartnerRole.OWNER, PartnerRole.VIEWER))
    child = await tenant(app, client, database, "Toko A Kecil", roles=(PartnerRole.OWNER,), parent=a.id)
    return a, b, child


async def _b_state(client: httpx.AsyncClient, b: Tenant) -> tuple[object, ...]:
    owner = b.headers[PartnerRole.OWNER]
    users = (await client.get("/api/v1/client/users", headers=owner)).json()
    keys = (await client.get("/api/v1/client/api-keys", headers=owner)).json()
    partners = (await client.get("/api/v1/client/partners", headers=owner)).json()
    return users, keys, partners


async def test_reads_stay_inside_the_tenant_and_its_children(
    client: httpx.AsyncClient, shops: tuple[Tenant, Tenant, Tenant]
) -> None:
    a, b, child = shops
    owner = a.headers[PartnerRole.OWNER]
    listed = await client.get(
        "/api/v1/client/partners", params={"partnerId": str(b.id), "clientId": str(b.id)}, headers=owner
    )
    assert {p["id"] for p in listed.json()} == {str(a.id), str(child.id)}
    assert (await client.get(f"/api/v1/client/partners/{child.id}/balances", headers=owner)).status_code == 200
    other = await client.get(f"/api/v1/client/partners/{b.id}/balances", headers=owner)
    assert (other.status_code, other.json()["error"]) == (404, "partner_not_found")
    upward = await client.get(f"/api/v1/client/partners/{a.id}/balances", headers=child.headers[PartnerRole.OWNER])
    assert (upward.status_code, upward.json()["error"]) == (404, "partner_not_found")

    for path in ("/api/v1/client/users", "/api/v1/client/api-keys", "/api/v1/client/audit-events"):
        response = await client.get(path, params={"partnerId": str(b.id), "clientId": str(b.id)}, headers=owner)
        assert response.status_code == 200, response.text
        assert str(b.id) not in response.text, path
        assert b.emails[PartnerRole.VIEWER] not in response.text


async def test_actions_on_another_tenants_ids_find_nothing_and_change_nothing(
    client: httpx.AsyncClient, shops: tuple[Tenant, Tenant, Tenant]
) -> None:
    a, b, _ = shops
    owner = a.headers[PartnerRole.OWNER]
    before = await _b_state(client, b)
    b_users, b_keys, _ = before
    b_viewer = next(u["id"] for u in b_users if u["role"] == "VIEWER")
    b_key = b_keys[0]["id"]

    attempts = [
        ("PATCH", f"/api/v1/client/users/{b_viewer}", {"role": "OWNER"}),
        ("PATCH", f"/api/v1/client/users/{b_viewer}", {"status": "inactive"}),
        ("POST", f"/api/v1/client/api-keys/{b_key}/rotate", {"overlapSeconds": 0}),
        ("DELETE", f"/api/v1/client/api-keys/{b_key}", None),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body, headers=owner, params={"partnerId": str(b.id)})
        assert response.status_code == 404, (method, path, response.text)
    assert await _b_state(client, b) == before
    still = await client.get(CHECK, headers=signed(b.partner.api_key, b.partner.signing_secret, "GET", CHECK))
    assert still.json()["partnerId"] == str(b.id)

    # A user created by A's owner belongs to A, whatever the body says.
    created = await client.post(
        "/api/v1/client/users",
        json={"email": "sneaky@toko.example", "password": PASSWORD, "role": "OWNER", "partnerId": str(b.id)},
        headers=owner,
    )
    assert (created.status_code, created.json()["error"]) == (422, "validation_error")


async def test_an_api_key_speaks_only_for_its_own_partner(
    client: httpx.AsyncClient, shops: tuple[Tenant, Tenant, Tenant]
) -> None:
    a, b, _ = shops
    path = f"{CHECK}?partnerId={b.id}&clientId={b.id}"
    headers = signed(a.partner.api_key, a.partner.signing_secret, "GET", CHECK) | {"X-Partner-Id": str(b.id)}
    response = await client.get(path, headers=headers)
    assert response.json()["partnerId"] == str(a.id)
    # A's key with B's signing secret is not B.
    mixed = await client.get(CHECK, headers=signed(a.partner.api_key, b.partner.signing_secret, "GET", CHECK))
    assert (mixed.status_code, mixed.json()["error"]) == (401, "invalid_signature")
