"""Withdrawals from the consoles: partner users with their second factor, at both paths; CSV; the retry of
a payout the provider never accepted; admins acting only through explicit, audited actions."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import httpx
import pyotp
import pytest
from fastapi import FastAPI

from gerbang.auth.sessions import AdminRole, PartnerRole
from gerbang.db import Database
from gerbang.kit.time import utcnow
from gerbang.withdrawal import service
from tests.auth.people import Tenant, admin_headers, tenant
from tests.withdrawal.conftest import Fund, balances, reconcile_clean

OWNER, FINANCE, VIEWER = PartnerRole.OWNER, PartnerRole.FINANCE, PartnerRole.VIEWER
BODY = {"amount": 20_000, "bankCode": "BCA", "accountNumber": "1234567890"}


async def _shop(app: FastAPI, client: httpx.AsyncClient, database: Database) -> Tenant:
    shop = await tenant(app, client, database, "Toko Konsol", roles=(OWNER, FINANCE, VIEWER, PartnerRole.DEVELOPER))
    async with database.transaction() as connection:
        await connection.execute("UPDATE partners SET withdrawal_min_amount = 1000 WHERE id = $1", shop.id)
    return shop


async def _enrol(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    secret = (await client.post("/api/v1/client/2fa/setup", json={}, headers=headers)).json()["secret"]
    enabled = await client.post("/api/v1/client/2fa/enable", json={"code": pyotp.TOTP(secret).now()}, headers=headers)
    assert enabled.status_code == 200, enabled.text
    return secret


async def test_partner_users_withdraw_with_their_second_factor(
    app: FastAPI, client: httpx.AsyncClient, database: Database, fund: Fund
) -> None:
    shop = await _shop(app, client, database)
    await fund(shop, 100_000)
    created = await client.post("/api/v1/client/withdrawals", json=BODY, headers=shop.headers[FINANCE])
    assert created.status_code == 201, created.text
    assert created.json()["result"]["status"] == "PROCESSING"
    for role in (VIEWER, PartnerRole.DEVELOPER):
        refused = await client.post("/api/v1/client/withdrawals", json=BODY, headers=shop.headers[role])
        assert (refused.status_code, refused.json()["error"]) == (403, "permission_denied")

    secret = await _enrol(client, shop.headers[OWNER])
    missing = await client.post("/api/v1/withdrawals", json=BODY, headers=shop.headers[OWNER])  # the original path
    assert (missing.status_code, missing.json()["error"]) == (401, "otp_required")
    wrong = await client.post("/api/v1/withdrawals", json=BODY | {"otp": "000000"}, headers=shop.headers[OWNER])
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_otp")
    code = pyotp.TOTP(secret).at(utcnow() + timedelta(seconds=30))  # enrolment spent the current one
    right = await client.post("/api/v1/withdrawals", json=BODY | {"otp": code}, headers=shop.headers[OWNER])
    assert right.status_code == 201, right.text
    replayed = await client.post("/api/v1/withdrawals", json=BODY | {"otp": code}, headers=shop.headers[OWNER])
    assert (replayed.status_code, replayed.json()["error"]) == (401, "invalid_otp")  # a code works once
    assert await balances(database, shop) == (60_000, 0, 40_000)

    async with database.transaction() as connection:
        await connection.execute("UPDATE partners SET withdrawal_requires_otp = true WHERE id = $1", shop.id)
    unenrolled = await client.post("/api/v1/client/withdrawals", json=BODY, headers=shop.headers[FINANCE])
    assert (unenrolled.status_code, unenrolled.json()["error"]) == (403, "two_factor_enrolment_required")
    assert await balances(database, shop) == (60_000, 0, 40_000)

    listed = await client.get("/api/v1/client/withdrawals", headers=shop.headers[FINANCE])
    assert len(listed.json()) == 2
    same = await client.get("/api/v1/withdrawals", headers=shop.headers[FINANCE])
    assert same.json() == listed.json()
    exported = await client.get("/api/v1/client/withdrawals/export", headers=shop.headers[FINANCE])
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [int(r["amount"]) for r in rows] == [20_000, 20_000]
    one = await client.get(f"/api/v1/client/withdrawals/{rows[0]['id']}", headers=shop.headers[FINANCE])
    assert one.json()["id"] == rows[0]["id"]
    other = await tenant(app, client, database, "Toko Lain", roles=(FINANCE,))
    hidden = await client.get(f"/api/v1/client/withdrawals/{rows[0]['id']}", headers=other.headers[FINANCE])
    assert (hidden.status_code, hidden.json()["error"]) == (404, "withdrawal_not_found")
    checked = await client.post(
        "/api/v1/client/withdrawals/validate-account", json={"bankCode": "014", "accountNumber": "1234560000"},
        headers=shop.headers[FINANCE],
    )  # fmt: skip
    assert checked.json() == {"valid": False, "bankCode": "BCA", "accountNumber": "1234560000",
                              "accountHolder": None, "reason": "account_not_found"}  # fmt: skip


async def test_admins_act_only_through_explicit_audited_actions_and_retries_follow(
    app: FastAPI, client: httpx.AsyncClient, database: Database, fund: Fund, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await _shop(app, client, database)
    await fund(shop, 100_000)
    finance = await admin_headers(client, database, AdminRole.FINANCE)
    support = await admin_headers(client, database, AdminRole.SUPPORT)
    done = (await client.post("/api/v1/client/withdrawals", json=BODY, headers=shop.headers[FINANCE])).json()
    done_id = done["result"]["id"]
    refused = await client.post(
        f"/api/v1/admin/withdrawals/{done_id}/mark-completed", json={"providerReference": "BANK-1"}, headers=support
    )
    assert refused.status_code == 403
    completed = await client.post(
        f"/api/v1/admin/withdrawals/{done_id}/mark-completed", json={"providerReference": "BANK-1"}, headers=finance
    )
    assert (completed.status_code, completed.json()["status"]) == (200, "COMPLETED")
    final = await client.post(
        f"/api/v1/admin/withdrawals/{done_id}/mark-failed", json={"reason": "changed my mind"}, headers=finance
    )
    assert (final.status_code, final.json()["error"]) == (409, "withdrawal_not_open")
    assert await balances(database, shop) == (80_000, 0, 0)

    # The disbursement never reaches the provider: the withdrawal waits PENDING; an admin gives up on it.
    async def unreachable(*_: object, **__: object) -> None:
        return None

    monkeypatch.setattr(service, "submit", unreachable)
    stuck = (await client.post("/api/v1/client/withdrawals", json=BODY, headers=shop.headers[FINANCE])).json()
    monkeypatch.undo()
    stuck_id = stuck["result"]["id"]
    assert stuck["result"]["status"] == "PENDING"
    not_yet = await client.post(f"/api/v1/client/withdrawals/{stuck_id}/retry", headers=shop.headers[FINANCE])
    assert (not_yet.status_code, not_yet.json()["error"]) == (409, "withdrawal_not_retryable")
    failed = await client.post(
        f"/api/v1/admin/withdrawals/{stuck_id}/mark-failed", json={"reason": "provider down all day"}, headers=finance
    )
    assert (failed.json()["status"], failed.json()["failureReason"]) == ("FAILED", "provider down all day")
    assert await balances(database, shop) == (80_000, 0, 0)
    retried = await client.post(f"/api/v1/client/withdrawals/{stuck_id}/retry", headers=shop.headers[FINANCE])
    assert retried.status_code == 201, retried.text
    assert (retried.json()["result"]["retryOf"], retried.json()["result"]["status"]) == (stuck_id, "PROCESSING")
    assert await balances(database, shop) == (60_000, 0, 20_000)

    everything = await client.get("/api/v1/admin/withdrawals", params={"partnerId": str(shop.id)}, headers=support)
    assert len(everything.json()) == 3
    export = await client.get("/api/v1/admin/withdrawals/export", params={"status": "FAILED"}, headers=support)
    assert [r["id"] for r in csv.DictReader(io.StringIO(export.text))] == [stuck_id]
    async with database.transaction() as connection:
        actions = [r["action"] for r in await connection.fetch("SELECT action FROM audit_events ORDER BY id")]
    assert actions.count("withdrawal.marked_completed") == 1
    assert actions.count("withdrawal.marked_failed") == 1
    assert actions.count("withdrawal.retried") == 1
    assert await reconcile_clean(database)
