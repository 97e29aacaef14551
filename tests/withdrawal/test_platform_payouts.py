"""The platform's own payouts: only a SUPER_ADMIN with a second factor, never more than the platform's fee
income or the provider account holds (open payouts counted), posted once when the provider confirms, and
listed apart from partners' withdrawals."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pyotp
from fastapi import FastAPI

from gerbang.auth.sessions import AdminRole
from gerbang.db import Database
from gerbang.kit.time import utcnow
from gerbang.ledger import service as ledger
from gerbang.ledger.schemas import AccountKind, AccountRef
from gerbang.provider.base import DisbursementStatus
from gerbang.withdrawal import repository, service
from tests.auth.people import admin_headers, tenant
from tests.withdrawal.conftest import reconcile_clean

PAYOUTS = "/api/v1/admin/platform-payouts"


class Otp:
    """A SUPER_ADMIN's second factor, each code once: the authenticator's next code, then recovery codes (a
    TOTP code is only good within a step of now, and each step once)."""

    def __init__(self, secret: str, recovery_codes: list[str]) -> None:
        self.first: str | None = pyotp.TOTP(secret).at(utcnow() + timedelta(seconds=30))  # enrolment spent now's
        self.recovery_codes = list(recovery_codes)

    def next(self) -> str:
        code, self.first = self.first, None
        return code or self.recovery_codes.pop()


async def _enrolled(client: httpx.AsyncClient, headers: dict[str, str]) -> Otp:
    secret = (await client.post("/api/v1/auth/2fa/setup", json={}, headers=headers)).json()["secret"]
    enabled = await client.post("/api/v1/auth/2fa/enable", json={"code": pyotp.TOTP(secret).now()}, headers=headers)
    assert enabled.status_code == 200, enabled.text
    return Otp(secret, enabled.json()["recoveryCodes"])


async def _earn(
    app: FastAPI, client: httpx.AsyncClient, database: Database, account_id: uuid.UUID, amount: int, fee: int
) -> None:
    """Fee income, the way the platform earns it: a partner's paid order."""
    shop = await tenant(app, client, database, f"Toko {uuid.uuid4().hex[:4]}", roles=())
    async with database.transaction() as connection:
        await ledger.order_paid(
            connection, order_id=uuid.uuid4(), partner_id=shop.id, provider_account_id=account_id, amount_paid=amount,
            fee=fee,
        )  # fmt: skip


async def _balances(database: Database, account_id: uuid.UUID) -> tuple[int, int]:
    async with database.transaction() as connection:
        fees = await ledger.balance_of(connection, AccountRef(AccountKind.platform_fees))
        held = await ledger.balance_of(connection, AccountRef(AccountKind.provider_balance, account_id))
    return fees, held


async def _status(database: Database, payout_id: str) -> str:
    async with database.transaction() as connection:
        return str(await connection.fetchval("SELECT status FROM withdrawals WHERE id = $1", uuid.UUID(payout_id)))


async def _until_status(database: Database, payout_id: str, status: str) -> None:
    for _ in range(200):
        if await _status(database, payout_id) == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"payout {payout_id} never became {status}")


def _body(account: dict[str, Any], amount: int, otp: str, number: str = "1234567890", **extra: Any) -> dict[str, Any]:
    return {"providerAccountId": account["id"], "amount": amount, "bankCode": "BCA", "accountNumber": number,
            "otp": otp} | extra  # fmt: skip


async def test_only_a_super_admin_with_a_second_factor_pays_the_platform_out(
    app: FastAPI, client: httpx.AsyncClient, database: Database, sandbox_account: dict[str, Any]
) -> None:
    account_id = uuid.UUID(sandbox_account["id"])
    await _earn(app, client, database, account_id, 1_000_000, 50_000)
    assert await _balances(database, account_id) == (50_000, 1_000_000)
    admin = await admin_headers(client, database, AdminRole.ADMIN)
    finance = await admin_headers(client, database, AdminRole.FINANCE)
    root = await admin_headers(client, database, AdminRole.SUPER_ADMIN)

    refused = await client.post(PAYOUTS, json=_body(sandbox_account, 10_000, "123456"), headers=admin)
    assert (refused.status_code, refused.json()["error"]) == (403, "permission_denied")
    unenrolled = await client.post(PAYOUTS, json=_body(sandbox_account, 10_000, "123456"), headers=root)
    assert (unenrolled.status_code, unenrolled.json()["error"]) == (403, "two_factor_enrolment_required")
    otp = await _enrolled(client, root)
    missing = await client.post(PAYOUTS, json=_body(sandbox_account, 10_000, "") | {"otp": None}, headers=root)
    assert missing.status_code == 422
    wrong = await client.post(PAYOUTS, json=_body(sandbox_account, 10_000, "000000"), headers=root)
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_otp")
    too_much = await client.post(PAYOUTS, json=_body(sandbox_account, 50_001, otp.next()), headers=root)
    assert (too_much.status_code, too_much.json()["error"]) == (422, "insufficient_funds")
    unknown = await client.post(
        PAYOUTS,
        json=_body(sandbox_account, 10_000, otp.next()) | {"providerAccountId": str(uuid.uuid4())},
        headers=root,
    )
    assert (unknown.status_code, unknown.json()["error"]) == (404, "provider_account_not_found")
    async with database.transaction() as connection:
        assert await connection.fetchval("SELECT count(*) FROM withdrawals") == 0

    code = otp.next()
    created = await client.post(PAYOUTS, json=_body(sandbox_account, 30_000, code, reference="FEES-1"), headers=root)
    assert created.status_code == 201, created.text
    payout = created.json()
    assert (payout["status"], payout["amount"], payout["reference"]) == ("PROCESSING", 30_000, "FEES-1")
    assert payout["requestedBy"].startswith("admin:")
    replayed = await client.post(PAYOUTS, json=_body(sandbox_account, 1_000, code), headers=root)
    assert (replayed.status_code, replayed.json()["error"]) == (401, "invalid_otp")  # a code works once
    # The open payout counts against the fee income: 20,000 are left to pay out, not 50,000.
    over = await client.post(PAYOUTS, json=_body(sandbox_account, 20_001, otp.next()), headers=root)
    assert (over.status_code, over.json()["error"]) == (422, "insufficient_funds")
    again = await client.post(
        PAYOUTS, json=_body(sandbox_account, 10_000, otp.next(), reference="FEES-1"), headers=root
    )
    assert (again.status_code, again.json()["error"]) == (409, "duplicate_reference")

    await _until_status(database, payout["id"], "COMPLETED")
    assert await _balances(database, account_id) == (20_000, 970_000)  # nothing moved before the provider said so
    assert await reconcile_clean(database)

    listed = await client.get(PAYOUTS, headers=finance)
    assert [p["id"] for p in listed.json()] == [payout["id"]]
    assert (await client.get(f"{PAYOUTS}/{payout['id']}", headers=finance)).json()["status"] == "COMPLETED"
    exported = await client.get(f"{PAYOUTS}/export", headers=finance)
    assert [r["id"] for r in csv.DictReader(io.StringIO(exported.text))] == [payout["id"]]
    # Not a partner's withdrawal: not in their list, not readable or actionable as one.
    assert (await client.get("/api/v1/admin/withdrawals", headers=finance)).json() == []
    hidden = await client.get(f"/api/v1/admin/withdrawals/{payout['id']}", headers=finance)
    assert (hidden.status_code, hidden.json()["error"]) == (404, "withdrawal_not_found")
    async with database.transaction() as connection:
        actions = [r["action"] for r in await connection.fetch("SELECT action FROM audit_events ORDER BY id")]
    assert "platform_payout.requested" in actions


async def test_a_failed_platform_payout_moves_nothing_and_a_late_success_posts_once(
    app: FastAPI, client: httpx.AsyncClient, database: Database, sandbox_account: dict[str, Any], live: str
) -> None:
    account_id = uuid.UUID(sandbox_account["id"])
    await _earn(app, client, database, account_id, 400_000, 40_000)
    root = await admin_headers(client, database, AdminRole.SUPER_ADMIN)
    otp = await _enrolled(client, root)
    failing = await client.post(PAYOUTS, json=_body(sandbox_account, 25_000, otp.next(), "1234569999"), headers=root)
    assert failing.status_code == 201, failing.text
    payout = failing.json()
    async with httpx.AsyncClient(base_url=live) as http:
        await http.post(f"/sandbox/disbursements/{payout['id']}/fail")
    await _until_status(database, payout["id"], "FAILED")
    assert await _balances(database, account_id) == (40_000, 400_000)
    final = await client.post(f"{PAYOUTS}/{payout['id']}/mark-completed", json={"providerReference": "X"}, headers=root)
    assert (final.status_code, final.json()["error"]) == (409, "withdrawal_not_open")

    # The provider changes its mind, several times at once: the money left, once.
    payouts = service.Payouts.from_settings(
        database, app.state.key_ring, app.state.pay_in.session, app.state.settings, public_url=live
    )

    async def complete() -> str:
        async with database.transaction() as connection:
            row = await repository.get(connection, uuid.UUID(payout["id"]), for_update=True)
            assert row is not None
            return await service.apply_status(connection, payouts, row, DisbursementStatus.completed)

    outcomes = await asyncio.gather(*(complete() for _ in range(5)))
    assert sorted(outcomes) == ["duplicate"] * 4 + ["late_completion"]
    assert await _balances(database, account_id) == (15_000, 375_000)
    async with database.transaction() as connection:
        assert await connection.fetchval("SELECT count(*) FROM ledger_transactions WHERE kind = 'platform_payout'") == 1
        assert await connection.fetchval("SELECT count(*) FROM webhook_events") == 0  # no partner to tell
    assert await reconcile_clean(database)


async def test_an_admin_marks_an_open_platform_payout_failed_without_moving_money(
    app: FastAPI, client: httpx.AsyncClient, database: Database, sandbox_account: dict[str, Any], monkeypatch: Any
) -> None:
    account_id = uuid.UUID(sandbox_account["id"])
    await _earn(app, client, database, account_id, 100_000, 10_000)
    root = await admin_headers(client, database, AdminRole.SUPER_ADMIN)
    otp = await _enrolled(client, root)

    async def unreachable(*_: object, **__: object) -> None:
        return None

    monkeypatch.setattr(service, "submit", unreachable)  # the provider is never reached: it stays PENDING
    stuck = (await client.post(PAYOUTS, json=_body(sandbox_account, 10_000, otp.next()), headers=root)).json()
    monkeypatch.undo()
    assert stuck["status"] == "PENDING"
    partner_route = await client.post(
        f"/api/v1/admin/withdrawals/{stuck['id']}/mark-failed", json={"reason": "wrong route"}, headers=root
    )
    assert (partner_route.status_code, partner_route.json()["error"]) == (404, "withdrawal_not_found")
    failed = await client.post(f"{PAYOUTS}/{stuck['id']}/mark-failed", json={"reason": "never sent"}, headers=root)
    assert (failed.status_code, failed.json()["status"]) == (200, "FAILED")
    assert await _balances(database, account_id) == (10_000, 100_000)
    # The fee income is free again for the next payout.
    retried = await client.post(PAYOUTS, json=_body(sandbox_account, 10_000, otp.next()), headers=root)
    assert retried.status_code == 201, retried.text
    assert await reconcile_clean(database)
