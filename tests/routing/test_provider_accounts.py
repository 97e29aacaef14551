"""Provider accounts: credentials validated by the adapter, stored encrypted, never returned."""

from __future__ import annotations

import httpx
import pytest

from gerbang.auth.sessions import AdminRole
from gerbang.db import Database
from tests.auth.people import admin_headers

KEY = "sbx_account_key_0123456789"
BODY = {
    "provider": "sandbox", "name": "Sandbox utama", "baseUrl": "http://127.0.0.1:8000/sandbox",
    "credentials": {"merchant_key": KEY}, "methods": ["qris", "va"], "minAmount": 10_000, "maxAmount": 5_000_000,
    "dailyCap": 100_000_000, "priority": 10, "weight": 3, "weekendEnabled": False,
}  # fmt: skip


@pytest.fixture
async def admin(client: httpx.AsyncClient, database: Database) -> dict[str, str]:
    return await admin_headers(client, database, AdminRole.ADMIN)


async def test_create_read_change_without_ever_showing_credentials(
    client: httpx.AsyncClient, database: Database, admin: dict[str, str]
) -> None:
    created = await client.post("/api/v1/admin/provider-accounts", json=BODY, headers=admin)
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["credentialFields"] == ["merchant_key"]
    assert (account["methods"], account["weekendEnabled"], account["weight"]) == (["qris", "va"], False, 3)
    assert KEY not in created.text
    listed = await client.get("/api/v1/admin/provider-accounts", headers=admin)
    assert [a["id"] for a in listed.json()] == [account["id"]]
    new_key = "sbx_rotated_key_0123456789"
    changed = await client.patch(
        f"/api/v1/admin/provider-accounts/{account['id']}",
        json={"credentials": {"merchant_key": new_key}, "enabled": False},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["enabled"] is False
    async with database.transaction() as connection:
        stored = await connection.fetchval("SELECT credentials_encrypted FROM provider_accounts")
        events = await connection.fetch(
            "SELECT changes::text AS changes FROM audit_events WHERE target_type = 'provider_account'"
        )
    assert KEY not in stored
    assert new_key not in stored
    assert all(KEY not in e["changes"] and new_key not in e["changes"] for e in events)
    assert '"credentials": {"after": "***", "before": "***"}' in events[-1]["changes"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"provider": "nope"}, "invalid_provider_account"),
        ({"credentials": {"merchant_key": "short"}}, "invalid_provider_account"),
        ({"credentials": {}}, "invalid_provider_account"),
        ({"baseUrl": "ftp://x"}, "invalid_provider_account"),
        ({"minAmount": 50_000, "maxAmount": 10_000}, "invalid_provider_account"),
        ({"methods": []}, "validation_error"),
        ({"methods": ["cash"]}, "validation_error"),
        ({"weight": 0}, "validation_error"),
        ({"minAmount": 1.5}, "validation_error"),
    ],
)
async def test_bad_accounts_are_refused(
    client: httpx.AsyncClient, admin: dict[str, str], change: dict[str, object], code: str
) -> None:
    response = await client.post("/api/v1/admin/provider-accounts", json=BODY | change, headers=admin)
    assert (response.status_code, response.json()["error"]) == (422, code), response.text
    assert KEY not in response.text
    assert (await client.get("/api/v1/admin/provider-accounts", headers=admin)).json() == []
