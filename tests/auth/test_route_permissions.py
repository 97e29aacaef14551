"""Every admin and partner-console route x every role, against the written matrices in docs/security.md."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gerbang.auth.permissions import PARTNER_ROLE_PERMISSIONS, ROLE_PERMISSIONS, PartnerPermission, Permission
from gerbang.auth.sessions import AdminRole, PartnerRole, create_admin, create_partner_user
from gerbang.db import Database
from gerbang.kit.crypto import KeyRing
from gerbang.partner.service import create_partner
from tests.fixtures.app import TEST_SECRET_KEY
from tests.helpers import REPO_ROOT, app_routes

PASSWORD = "correct horse battery staple"
DOC = (REPO_ROOT / "docs" / "security.md").read_text()
_ROUTE_ROW = re.compile(r"^\| *(GET|POST|PUT|PATCH|DELETE) *\| *(/api/v1/\S+) *\| *(\S+) *\|$", re.MULTILINE)
_MATRIX_ROW = re.compile(r"^\| *([a-z_.]+) *\|((?: *(?:yes|no) *\|)+)$", re.MULTILINE)
ADMIN_ROUTES = {(m, p): Permission(x) for m, p, x in _ROUTE_ROW.findall(DOC) if p.startswith("/api/v1/admin/")}
CLIENT_ROUTES = {(m, p): PartnerPermission(x) for m, p, x in _ROUTE_ROW.findall(DOC) if p.startswith("/api/v1/client/")}
# Routes any authenticated user of the audience may use (no permission), and the public ones.
OPEN_ROUTES = {
    ("GET", "/api/v1/auth/me"), ("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/password"),
    ("POST", "/api/v1/auth/2fa/setup"), ("POST", "/api/v1/auth/2fa/enable"), ("GET", "/api/v1/client/me"),
    ("POST", "/api/v1/client/logout"), ("POST", "/api/v1/client/password"), ("POST", "/api/v1/client/2fa/setup"),
    ("POST", "/api/v1/client/2fa/enable"), ("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/client/login"), ("POST", "/api/v1/client/refresh"),
}  # fmt: skip
REPLAY = {"since": "2026-01-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"}
NEW_USER = {"email": "new@toko.example", "password": PASSWORD, "role": "VIEWER"}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/admin/partners"): {"name": "Toko Matrix"},
    ("PATCH", "/api/v1/admin/partners/{partner_id}"): {"name": "Toko Renamed"},
    ("POST", "/api/v1/admin/partners/{partner_id}/api-keys/{key_id}/rotate"): {},
    ("POST", "/api/v1/admin/partners/{partner_id}/webhook-secret/rotate"): {},
    ("POST", "/api/v1/admin/partners/{partner_id}/users"): NEW_USER,
    ("PATCH", "/api/v1/admin/partners/{partner_id}/users/{user_id}"): {"role": "VIEWER"},
    ("POST", "/api/v1/admin/admins"): {"email": "new@gerbang.example", "password": PASSWORD, "role": "VIEWER"},
    ("PATCH", "/api/v1/admin/admins/{admin_id}"): {"role": "VIEWER"},
    ("PUT", "/api/v1/admin/security/2fa-policy"): {"requireAdmin2fa": False},
    ("PUT", "/api/v1/client/webhook"): {"webhookUrl": "https://toko.example/hook"},
    ("POST", "/api/v1/client/webhooks/deliveries/replay"): REPLAY,
    ("POST", "/api/v1/client/withdrawals/validate-account"): {"bankCode": "BCA", "accountNumber": "1234567890"},
    ("POST", "/api/v1/client/withdrawals"): {"amount": 50000, "bankCode": "BCA", "accountNumber": "1234567890"},
    ("POST", "/api/v1/admin/withdrawals/{withdrawal_id}/mark-failed"): {"reason": "the bank bounced it"},
    ("POST", "/api/v1/admin/withdrawals/{withdrawal_id}/mark-completed"): {"providerReference": "BANK-1"},
    ("POST", "/api/v1/admin/partners/{partner_id}/webhooks/replay"): REPLAY,
    ("POST", "/api/v1/admin/provider-accounts"): {
        "provider": "sandbox", "name": "Sandbox", "baseUrl": "http://127.0.0.1:9/sandbox",
        "credentials": {"merchant_key": "sbx_matrix_key_0123456789"}, "methods": ["qris"],
    },
    ("PATCH", "/api/v1/admin/provider-accounts/{account_id}"): {"priority": 5},
    ("PUT", "/api/v1/admin/security/allow-lists/{scope}"): {"entries": []},
    ("PUT", "/api/v1/admin/partners/{partner_id}/allow-list"): [],
    ("PUT", "/api/v1/client/allow-list"): [],
    ("POST", "/api/v1/client/api-keys/{key_id}/rotate"): {},
    ("POST", "/api/v1/client/webhook-secret/rotate"): {},
    ("POST", "/api/v1/client/users"): NEW_USER,
    ("PATCH", "/api/v1/client/users/{user_id}"): {"role": "VIEWER"},
}  # fmt: skip


def _matrix(section: str, roles: list[Any]) -> dict[str, frozenset[Any]]:
    """The yes/no table under the heading `section` (both matrices have an `audit.read` row)."""
    text = DOC.split(section, 1)[1].split("\n## ", 1)[0]
    written = {}
    for name, cells in _MATRIX_ROW.findall(text):
        marks = [cell.strip() for cell in cells.strip("|").split("|")]
        written[name] = frozenset(role for role, mark in zip(roles, marks, strict=True) if mark == "yes")
    return written


def _routes_with_permissions(app: FastAPI) -> dict[tuple[str, str], object | None]:
    """Every API route of the app with the one permission its dependencies declare (None: none or several)."""

    def permissions_of(dependant: Any) -> list[object]:
        found = [p for p in [getattr(dependant.call, "permission", None)] if p is not None]
        return found + [p for sub in dependant.dependencies for p in permissions_of(sub)]

    declared: dict[tuple[str, str], object | None] = {}
    for path, route in app_routes(app):
        found = set(permissions_of(route.dependant))
        for method in route.methods:
            declared[(method, path)] = found.pop() if len(found) == 1 else None
    return declared


def test_the_written_matrices_are_the_enforced_ones() -> None:
    admin = _matrix("## Admin roles and permissions", list(AdminRole))
    assert {Permission(k): v for k, v in admin.items()} == ROLE_PERMISSIONS
    partner = _matrix("## Partner users: roles and permissions", list(PartnerRole))
    assert {PartnerPermission(k): v for k, v in partner.items()} == PARTNER_ROLE_PERMISSIONS


def test_every_route_is_documented_with_the_permission_it_declares(app: FastAPI) -> None:
    spec = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops if p.startswith("/api/v1/")}
    guarded = {key for key in spec if key[1].startswith(("/api/v1/admin/", "/api/v1/client/"))} - OPEN_ROUTES
    assert guarded == set(ADMIN_ROUTES) | set(CLIENT_ROUTES), "document new routes in docs/security.md"
    declared = _routes_with_permissions(app)
    assert {key: declared[key] for key in ADMIN_ROUTES} == ADMIN_ROUTES
    assert {key: declared[key] for key in CLIENT_ROUTES} == CLIENT_ROUTES
    assert all(declared[key] is None for key in OPEN_ROUTES)


class World:
    def __init__(self) -> None:
        self.admin_tokens: dict[AdminRole, str] = {}
        self.partner_tokens: dict[PartnerRole, str] = {}
        self.partner_id = uuid.UUID(int=0)


@pytest.fixture
async def world(client: httpx.AsyncClient, database: Database) -> World:
    result = World()
    async with database.transaction() as connection:
        created = await create_partner(connection, KeyRing([TEST_SECRET_KEY]), name="Toko Matrix")
        result.partner_id = created.partner_id
        for role in AdminRole:
            await create_admin(connection, email=f"{role.value.lower()}@gerbang.example", password=PASSWORD, role=role)
        for partner_role in PartnerRole:
            await create_partner_user(
                connection, partner_id=created.partner_id, email=f"{partner_role.value.lower()}@toko.example",
                password=PASSWORD, role=partner_role,
            )  # fmt: skip
    for role in AdminRole:
        login = await client.post(
            "/api/v1/auth/login", json={"email": f"{role.value.lower()}@gerbang.example", "password": PASSWORD}
        )
        result.admin_tokens[role] = login.json()["accessToken"]
    for partner_role in PartnerRole:
        login = await client.post(
            "/api/v1/client/login", json={"email": f"{partner_role.value.lower()}@toko.example", "password": PASSWORD}
        )
        result.partner_tokens[partner_role] = login.json()["accessToken"]
    return result


def _url(path: str, world: World) -> str:
    known = {"partner_id": str(world.partner_id), "scope": "s2s"}
    return re.sub(r"\{(\w+)\}", lambda m: known.get(m[1], str(uuid.uuid4())), path)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _outsiders_are_refused(
    client: httpx.AsyncClient, method: str, url: str, body: object, other_audience_token: str
) -> None:
    anonymous = await client.request(method, url, json=body)
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "missing_token")
    wrong_audience = await client.request(method, url, json=body, headers=_bearer(other_audience_token))
    assert (wrong_audience.status_code, wrong_audience.json()["error"]) == (401, "invalid_token")
    garbage = await client.request(method, url, json=body, headers=_bearer("not.a.token"))
    assert (garbage.status_code, garbage.json()["error"]) == (401, "invalid_token")


# One world per audience, every route in a loop: building a world (nine argon2 logins) costs a second.
async def test_each_admin_role_gets_exactly_what_the_matrix_says(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    for (method, path), permission in sorted(ADMIN_ROUTES.items()):
        url, body = _url(path, world), BODIES.get((method, path))
        for role in AdminRole:
            response = await client.request(method, url, json=body, headers=_bearer(world.admin_tokens[role]))
            if role in ROLE_PERMISSIONS[permission]:
                assert response.status_code not in (401, 403), (method, path, role, response.text)
            else:
                assert (response.status_code, response.json()["error"]) == (403, "permission_denied"), (path, role)
        await _outsiders_are_refused(client, method, url, body, world.partner_tokens[PartnerRole.OWNER])
    async with database.transaction() as connection:
        await connection.execute("UPDATE admin_users SET status = 'inactive' WHERE role = 'SUPER_ADMIN'")
    for method, path in sorted(ADMIN_ROUTES):
        url, body = _url(path, world), BODIES.get((method, path))
        refused = await client.request(
            method, url, json=body, headers=_bearer(world.admin_tokens[AdminRole.SUPER_ADMIN])
        )
        assert (refused.status_code, refused.json()["error"]) == (403, "account_inactive"), path


async def test_each_partner_role_gets_exactly_what_the_matrix_says(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    for (method, path), permission in sorted(CLIENT_ROUTES.items()):
        url, body = _url(path, world), BODIES.get((method, path))
        for role in PartnerRole:
            response = await client.request(method, url, json=body, headers=_bearer(world.partner_tokens[role]))
            if role in PARTNER_ROLE_PERMISSIONS[permission]:
                assert response.status_code not in (401, 403), (method, path, role, response.text)
            else:
                assert (response.status_code, response.json()["error"]) == (403, "permission_denied"), (path, role)
        await _outsiders_are_refused(client, method, url, body, world.admin_tokens[AdminRole.SUPER_ADMIN])
    owner = _bearer(world.partner_tokens[PartnerRole.OWNER])
    async with database.transaction() as connection:
        await connection.execute("UPDATE partners SET status = 'inactive'")
    for method, path in sorted(CLIENT_ROUTES):
        refused = await client.request(method, _url(path, world), json=BODIES.get((method, path)), headers=owner)
        assert (refused.status_code, refused.json()["error"]) == (403, "account_inactive"), path
    async with database.transaction() as connection:
        await connection.execute("UPDATE partners SET status = 'active'")
        await connection.execute("UPDATE partner_users SET status = 'inactive' WHERE email = 'owner@toko.example'")
    for method, path in sorted(CLIENT_ROUTES):
        refused = await client.request(method, _url(path, world), json=BODIES.get((method, path)), headers=owner)
        assert (refused.status_code, refused.json()["error"]) == (403, "account_inactive"), path


async def test_required_admin_2fa_leaves_only_enrolment_open(client: httpx.AsyncClient, world: World) -> None:
    super_admin = _bearer(world.admin_tokens[AdminRole.SUPER_ADMIN])
    policy = await client.put("/api/v1/admin/security/2fa-policy", json={"requireAdmin2fa": True}, headers=super_admin)
    assert policy.status_code == 200, policy.text
    listed = await client.get("/api/v1/admin/partners", headers=super_admin)
    assert (listed.status_code, listed.json()["error"]) == (403, "two_factor_enrolment_required")
    me = await client.get("/api/v1/auth/me", headers=super_admin)
    assert me.json()["twoFactorEnrolmentRequired"] is True
    setup = await client.post("/api/v1/auth/2fa/setup", json={}, headers=super_admin)
    assert setup.status_code == 200
    # Partner users are not admins: the admin policy does not touch them.
    assert (
        await client.get("/api/v1/client/partners", headers=_bearer(world.partner_tokens[PartnerRole.VIEWER]))
    ).status_code == 200
