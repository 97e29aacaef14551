"""Every admin route x every role, against the written matrix in docs/security.md."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from gerbang.admin import endpoints as admin_endpoints
from gerbang.auth.permissions import ROLE_PERMISSIONS, Permission
from gerbang.auth.sessions import AdminRole, create_admin
from gerbang.auth.tokens import Audience, issue_access_token
from gerbang.db import Database
from gerbang.kit.time import utcnow
from tests.fixtures.app import TEST_SECRET_KEY
from tests.helpers import REPO_ROOT

PASSWORD = "correct horse battery staple"
DOC = (REPO_ROOT / "docs" / "security.md").read_text()
_ROW = re.compile(r"^\| *(GET|POST|PUT|PATCH|DELETE) *\| *(\S+) *\| *(\S+) *\|$", re.MULTILINE)
_MATRIX_ROW = re.compile(r"^\| *([a-z_]+\.[a-z_]+) *\|((?: *(?:yes|no) *\|){5})$", re.MULTILINE)
ROLES = list(AdminRole)
DOCUMENTED = {(method, path): Permission(permission) for method, path, permission in _ROW.findall(DOC)}
BODIES = {("POST", "/api/v1/admin/partners"): {"name": "Toko Matrix"}}


def _admin_routes(app: FastAPI) -> dict[tuple[str, str], Permission | None]:
    """Every admin route in the app (from its OpenAPI spec), with the permission its dependency declares."""
    declared: dict[tuple[str, str], Permission | None] = {}
    for route in admin_endpoints.router.routes:
        assert isinstance(route, APIRoute)
        permissions = [getattr(dep.call, "permission", None) for dep in route.dependant.dependencies]
        found = [p for p in permissions if p is not None]
        for method in route.methods:
            declared[(method, "/api/v1" + route.path)] = found[0] if len(found) == 1 else None
    in_spec = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/v1/admin")
        for method in operations
    }
    return {key: declared.get(key) for key in in_spec}


def test_the_written_matrix_is_the_enforced_one() -> None:
    written = {
        Permission(name): frozenset(
            role for role, cell in zip(ROLES, cells.split("|"), strict=False) if cell.strip() == "yes"
        )
        for name, cells in _MATRIX_ROW.findall(DOC)
    }
    assert written == ROLE_PERMISSIONS


def test_every_admin_route_is_documented_with_the_permission_it_declares(app: FastAPI) -> None:
    assert _admin_routes(app) == DOCUMENTED


@pytest.fixture
async def tokens(app: FastAPI, client: httpx.AsyncClient, database: Database) -> dict[str, str]:
    result = {}
    for role in ROLES:
        email = f"{role.value.lower()}@gerbang.example"
        async with database.transaction() as connection:
            await create_admin(connection, email=email, password=PASSWORD, role=role)
        login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        result[role.value] = login.json()["accessToken"]
    return result


def _url(path: str) -> str:
    return path.replace("{partner_id}", str(uuid.uuid4()))


@pytest.mark.parametrize(("method", "path"), sorted(DOCUMENTED))
async def test_each_role_gets_exactly_what_the_matrix_says(
    client: httpx.AsyncClient, tokens: dict[str, str], database: Database, method: str, path: str
) -> None:
    permission = DOCUMENTED[(method, path)]
    body = BODIES.get((method, path))
    for role in ROLES:
        headers = {"Authorization": f"Bearer {tokens[role.value]}"}
        response = await client.request(method, _url(path), json=body, headers=headers)
        if role in ROLE_PERMISSIONS[permission]:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert (response.status_code, response.json()["error"]) == (403, "permission_denied"), role

    anonymous = await client.request(method, _url(path), json=body)
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "missing_token")

    admin_claims = httpx.Headers({"Authorization": f"Bearer {tokens['SUPER_ADMIN']}"})
    partner_token = issue_access_token(TEST_SECRET_KEY, Audience.partner, uuid.uuid4(), uuid.uuid4(), utcnow())
    wrong_audience = await client.request(
        method, _url(path), json=body, headers={"Authorization": f"Bearer {partner_token}"}
    )
    assert (wrong_audience.status_code, wrong_audience.json()["error"]) == (401, "invalid_token")

    async with database.transaction() as connection:
        await connection.execute("UPDATE admin_users SET status = 'inactive' WHERE role = 'SUPER_ADMIN'")
    deactivated = await client.request(method, _url(path), json=body, headers=dict(admin_claims))
    assert (deactivated.status_code, deactivated.json()["error"]) == (403, "account_inactive")


async def test_partner_admin_routes_work_end_to_end(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    admin = {"Authorization": f"Bearer {tokens['ADMIN']}"}
    created = await client.post(
        "/api/v1/admin/partners", json={"name": "Toko Satu", "webhookUrl": "https://t.example/h"}, headers=admin
    )
    assert created.status_code == 201, created.text
    partner_id = created.json()["partnerId"]
    listed = await client.get("/api/v1/admin/partners", headers=admin)
    assert [p["id"] for p in listed.json()] == [partner_id]
    assert "apiKey" not in listed.text
    assert created.json()["apiKey"] not in listed.text
    balances = await client.get(f"/api/v1/admin/partners/{partner_id}/balances", headers=admin)
    assert balances.json() == {"partner_id": partner_id, "currency": "IDR", "available": 0, "pending": 0, "held": 0}
    missing = await client.get(f"/api/v1/admin/partners/{uuid.uuid4()}/balances", headers=admin)
    assert (missing.status_code, missing.json()["error"]) == (404, "partner_not_found")
    report = await client.get(
        "/api/v1/admin/ledger/reconcile", headers={"Authorization": f"Bearer {tokens['FINANCE']}"}
    )
    assert report.status_code == 200
    assert report.json()["drifting_accounts"] == []
