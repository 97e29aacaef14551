"""Server-to-server withdrawals through the sandbox provider over real HTTP: the happy paths, 500 at once
against one balance, callback storms and contradictions, a crash between the two transactions, and bad
input that changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from gerbang.db import Database
from gerbang.kit.time import utcnow
from gerbang.ledger import service as ledger
from gerbang.sandbox.protocol import SIGNATURE_HEADER, sign
from gerbang.withdrawal import service
from tests.auth.people import Tenant, tenant
from tests.withdrawal.conftest import MERCHANT_KEY, Fund, Send, balances, reconcile_clean

CREATE = "/api/v1/withdrawals/s2s/withdrawals"
CALLBACK = "/api/v1/withdrawals/callback/sandbox"


def _body(amount: int = 50_000, account: str = "1234567890", **extra: Any) -> dict[str, Any]:
    return {"amount": amount, "bankCode": "BCA", "accountNumber": account} | extra


async def _count(database: Database, sql: str, *args: object) -> int:
    async with database.transaction() as connection:
        return int(await connection.fetchval(sql, *args))


async def _until(check: Any, timeout_s: float = 10) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def _status(database: Database, withdrawal_id: str) -> str:
    async with database.transaction() as connection:
        return str(await connection.fetchval("SELECT status FROM withdrawals WHERE id = $1", uuid.UUID(withdrawal_id)))


async def test_a_withdrawal_is_paid_out_and_settled_by_the_providers_callback(
    s2s: Send, shop: Tenant, fund: Fund, database: Database, live: str
) -> None:
    await fund(shop, 200_000)
    async with database.transaction() as connection:
        await connection.execute(
            "UPDATE partners SET withdrawal_percent = 1, withdrawal_flat = 2500 WHERE id = $1", shop.id
        )
    created = await s2s(shop, "POST", CREATE, _body(100_000, accountHolderName="someone else", reference="WD-1"))
    assert created.status_code == 201, created.text
    result = created.json()["result"]
    assert (result["status"], result["amount"], result["fee"], result["netAmount"]) == ("PROCESSING", 100_000,
                                                                                       3_500, 96_500)  # fmt: skip
    assert result["holderNameMismatch"] is True  # the bank's name for the account is not the one supplied
    assert result["accountHolder"]
    assert await balances(database, shop) == (100_000, 0, 100_000)
    balance = await s2s(shop, "GET", "/api/v1/withdrawals/s2s/balance")
    assert balance.json() == {"available": 100_000, "pending": 0, "held": 100_000, "advanceOutstanding": 0}

    async with httpx.AsyncClient(base_url=live) as http:  # the bank confirms at once
        forced = await http.post(f"/sandbox/disbursements/{result['id']}/complete")
    assert forced.status_code == 200, forced.text
    await _until(lambda: _is(database, result["id"], "COMPLETED"))
    assert await balances(database, shop) == (100_000, 0, 0)
    async with database.transaction() as connection:
        # House accounts are split into shards (docs/ledger.md): the account's balance is their sum.
        provider_balance = await connection.fetchval(
            "SELECT sum(balance) FROM ledger_accounts WHERE kind = 'provider_balance'"
        )
        fees = await connection.fetchval("SELECT sum(balance) FROM ledger_accounts WHERE kind = 'platform_fees'")
        hooks = [r["event_type"] for r in await connection.fetch("SELECT event_type FROM webhook_events")]
        topics = [r["event"] for r in await connection.fetch("SELECT event FROM outbox_events ORDER BY id")]
    assert provider_balance == 200_000 - 96_500  # what reached the bank left the provider's balance
    assert fees == 3_500
    assert hooks == ["withdrawal.completed"]
    assert topics == ["withdraw.requested", "withdraw.completed"]
    assert await reconcile_clean(database)
    listed = await s2s(shop, "GET", "/api/v1/withdrawals/s2s/withdrawals", params={"status": "COMPLETED"})
    assert [w["reference"] for w in listed.json()] == ["WD-1"]
    again = await s2s(shop, "POST", CREATE, _body(10_000, reference="WD-1"))
    assert (again.status_code, again.json()["error"]) == (409, "duplicate_reference")


async def _is(database: Database, withdrawal_id: str, status: str) -> bool:
    return await _status(database, withdrawal_id) == status


async def test_an_account_the_bank_refuses_after_acceptance_is_refunded_once(
    s2s: Send, shop: Tenant, fund: Fund, database: Database, live: str
) -> None:
    await fund(shop, 50_000)
    created = (await s2s(shop, "POST", CREATE, _body(20_000, account="1234569999"))).json()["result"]
    async with httpx.AsyncClient(base_url=live) as http:
        await http.post(f"/sandbox/disbursements/{created['id']}/fail")
    await _until(lambda: _is(database, created["id"], "FAILED"))
    assert await balances(database, shop) == (50_000, 0, 0)
    assert await reconcile_clean(database)


def _callback(withdrawal: dict[str, Any], status: str, event_id: str, amount: int | None = None) -> tuple[bytes, dict]:
    body = orjson.dumps({
        "event_id": event_id, "type": "disbursement", "disbursement_id": withdrawal["providerReference"],
        "merchant_ref": withdrawal["id"], "status": status, "amount": amount or withdrawal["netAmount"],
        "reason": "bank_rejected" if status == "FAILED" else None, "finished_at": utcnow().isoformat(),
    })  # fmt: skip
    return body, {SIGNATURE_HEADER: sign(MERCHANT_KEY, body), "Content-Type": "application/json"}


async def _send(client: httpx.AsyncClient, withdrawal: dict[str, Any], status: str, event_id: str) -> int:
    body, headers = _callback(withdrawal, status, event_id)
    return (await client.post(CALLBACK, content=body, headers=headers)).status_code


async def test_twenty_concurrent_failed_callbacks_refund_once(
    client: httpx.AsyncClient, s2s: Send, shop: Tenant, fund: Fund, database: Database
) -> None:
    await fund(shop, 30_000)
    withdrawal = (await s2s(shop, "POST", CREATE, _body(10_000))).json()["result"]
    codes = await asyncio.gather(*(_send(client, withdrawal, "FAILED", f"evt-{n}") for n in range(20)))
    assert set(codes) == {200}
    assert await _status(database, withdrawal["id"]) == "FAILED"
    assert await balances(database, shop) == (30_000, 0, 0)
    assert await _count(database, "SELECT count(*) FROM ledger_transactions WHERE kind = 'withdrawal_release'") == 1
    async with database.transaction() as connection:
        outcomes = Counter(r["outcome"] for r in await connection.fetch("SELECT outcome FROM provider_callbacks"))
    assert outcomes == {"applied": 1, "duplicate": 19}


async def test_failed_then_completed_debits_once_and_alerts(
    client: httpx.AsyncClient, s2s: Send, shop: Tenant, fund: Fund, database: Database
) -> None:
    await fund(shop, 30_000)
    withdrawal = (await s2s(shop, "POST", CREATE, _body(10_000))).json()["result"]
    assert await _send(client, withdrawal, "FAILED", "evt-failed") == 200
    assert await balances(database, shop) == (30_000, 0, 0)
    completions = await asyncio.gather(*(_send(client, withdrawal, "COMPLETED", f"evt-ok-{n}") for n in range(5)))
    assert set(completions) == {200}
    assert await _status(database, withdrawal["id"]) == "COMPLETED"
    assert await balances(database, shop) == (20_000, 0, 0)  # debited once, from available
    assert await _count(database, "SELECT count(*) FROM alerts WHERE kind = 'withdrawal_completed_after_failure'") == 1
    assert await reconcile_clean(database)


async def test_completed_then_failed_changes_nothing_and_alerts(
    client: httpx.AsyncClient, s2s: Send, shop: Tenant, fund: Fund, database: Database
) -> None:
    await fund(shop, 30_000)
    withdrawal = (await s2s(shop, "POST", CREATE, _body(10_000))).json()["result"]
    assert await _send(client, withdrawal, "COMPLETED", "evt-ok") == 200
    before = await balances(database, shop)
    assert await _send(client, withdrawal, "FAILED", "evt-late-failure") == 200
    assert await _status(database, withdrawal["id"]) == "COMPLETED"
    assert await balances(database, shop) == before == (20_000, 0, 0)
    assert await _count(database, "SELECT count(*) FROM alerts WHERE kind = 'withdrawal_contradicted'") == 1


async def test_forged_and_unknown_callbacks_move_nothing(
    client: httpx.AsyncClient, s2s: Send, shop: Tenant, fund: Fund, database: Database
) -> None:
    await fund(shop, 30_000)
    withdrawal = (await s2s(shop, "POST", CREATE, _body(10_000))).json()["result"]
    body, _ = _callback(withdrawal, "FAILED", "evt-forged")
    forged = await client.post(
        CALLBACK, content=body, headers={SIGNATURE_HEADER: sign("sbx_other_key_0123456789", body)}
    )
    assert forged.status_code == 401
    wrong_amount, headers = _callback(withdrawal, "FAILED", "evt-amount", amount=1)
    assert (await client.post(CALLBACK, content=wrong_amount, headers=headers)).status_code == 200
    unknown, headers = _callback({**withdrawal, "id": str(uuid.uuid4())}, "FAILED", "evt-unknown")
    assert (await client.post(CALLBACK, content=unknown, headers=headers)).status_code == 200
    assert await _status(database, withdrawal["id"]) == "PROCESSING"
    assert await balances(database, shop) == (20_000, 0, 10_000)
    async with database.transaction() as connection:
        outcomes = sorted(r["outcome"] for r in await connection.fetch("SELECT outcome FROM provider_callbacks"))
        flagged = await connection.fetchval("SELECT count(*) FROM alerts WHERE kind = 'callback_flagged'")
    assert outcomes == ["amount_mismatch", "unknown_withdrawal", "unverified"]
    assert flagged == 1  # the wrong amount: people are told
    assert (await client.post("/api/v1/withdrawals/callback/nope", content=b"{}")).status_code == 404


async def test_a_final_callback_reusing_a_stored_notification_id_moves_nothing(
    client: httpx.AsyncClient, s2s: Send, shop: Tenant, fund: Fund, database: Database
) -> None:
    # The common callback is stored by the statement that moves the withdrawal, gated on its notification id
    # being new: a claim reusing the id of one stored before (here flagged for its amount) is that one's retry.
    await fund(shop, 30_000)
    withdrawal = (await s2s(shop, "POST", CREATE, _body(10_000))).json()["result"]
    wrong_amount, headers = _callback(withdrawal, "FAILED", "evt-reused", amount=1)
    assert (await client.post(CALLBACK, content=wrong_amount, headers=headers)).status_code == 200
    assert await _send(client, withdrawal, "FAILED", "evt-reused") == 200
    assert await _status(database, withdrawal["id"]) == "PROCESSING"
    assert await balances(database, shop) == (20_000, 0, 10_000)
    assert await _send(client, withdrawal, "FAILED", "evt-fresh") == 200  # the control: a new id moves it
    assert await _status(database, withdrawal["id"]) == "FAILED"
    assert await balances(database, shop) == (30_000, 0, 0)
    async with database.transaction() as connection:
        outcomes = sorted(r["outcome"] for r in await connection.fetch("SELECT outcome FROM provider_callbacks"))
    assert outcomes == ["amount_mismatch", "applied"]
    assert await _count(database, "SELECT count(*) FROM webhook_events WHERE event_type = 'withdrawal.failed'") == 1
    assert await _count(database, "SELECT count(*) FROM outbox_events WHERE event = 'withdraw.failed'") == 1
    assert await reconcile_clean(database)


async def test_five_hundred_at_once_never_spend_more_than_the_balance(
    s2s: Send, shop: Tenant, fund: Fund, database: Database
) -> None:
    await fund(shop, 100_000)
    responses = await asyncio.gather(*(s2s(shop, "POST", CREATE, _body(1_000, reference=f"R-{n}")) for n in range(500)))
    codes = Counter((r.status_code, r.json().get("error")) for r in responses)
    assert codes == {(201, None): 100, (422, "insufficient_funds"): 400}, codes
    async with database.transaction() as connection:  # one snapshot: the sandbox is completing some meanwhile
        await connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        found = await ledger.partner_balances(connection, shop.id)
        completed = await connection.fetchval(
            "SELECT coalesce(sum(amount), 0) FROM withdrawals WHERE status = 'COMPLETED'"
        )
    assert found.available == 0
    assert found.held + completed == 100_000
    assert await _count(database, "SELECT count(*) FROM withdrawals") == 100  # a refusal leaves no row
    assert await reconcile_clean(database)


async def test_a_crash_between_the_two_transactions_is_finished_by_the_recovery_job(
    app: FastAPI, s2s: Send, shop: Tenant, fund: Fund, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await fund(shop, 30_000)

    async def crash(*_: object, **__: object) -> None:
        raise SystemExit("the server died after transaction 1")

    monkeypatch.setattr(service, "submit", crash)
    with pytest.raises(SystemExit):
        await service.request(
            _payouts(app), shop.id, service.WithdrawalCreate.model_validate(_body(10_000)), source="s2s",
            requested_by="test",
        )  # fmt: skip
    monkeypatch.undo()
    async with database.transaction() as connection:
        [row] = await connection.fetch("SELECT id, status FROM withdrawals")
        await connection.execute("UPDATE withdrawals SET next_check_at = now()")  # its resubmission is due
    assert row["status"] == "PENDING"
    assert await balances(database, shop) == (20_000, 0, 10_000)  # the hold is there, with its withdrawal
    assert await _count(database, "SELECT count(*) FROM sandbox_disbursements") == 0  # nothing reached the bank

    payouts = _payouts(app)
    assert await service.recover_due(payouts) == 1
    assert await service.recover_due(payouts) == 0  # PROCESSING now, and not due for a poll
    assert await _count(database, "SELECT count(*) FROM sandbox_disbursements") == 1
    assert await _status(database, str(row["id"])) == "PROCESSING"
    async with database.transaction() as connection:  # run again: the provider dedupes by our id
        await connection.execute("UPDATE withdrawals SET status = 'PENDING', next_check_at = now()")
    await service.recover_due(payouts)
    assert await _count(database, "SELECT count(*) FROM sandbox_disbursements") == 1


def _payouts(app: FastAPI) -> service.Payouts:
    pay_in = app.state.pay_in
    return service.Payouts.from_settings(
        pay_in.database, pay_in.key_ring, pay_in.session, app.state.settings, pay_in.public_url
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"amount": -1000}, 422, "validation_error"),
        ({"amount": 0}, 422, "validation_error"),
        ({"amount": 1000.5}, 422, "validation_error"),
        ({"amount": "1000"}, 422, "validation_error"),
        ({"amount": 10**13}, 422, "validation_error"),
        ({"amount": 999}, 422, "amount_out_of_range"),
        ({"amount": 900_000_000}, 422, "amount_out_of_range"),
        ({"bankCode": "NOPE"}, 422, "unsupported_bank"),
        ({"accountNumber": "12ab"}, 422, "validation_error"),
        ({"accountNumber": "1234560000"}, 422, "invalid_bank_account"),
        ({"bankCode": None}, 422, "validation_error"),
        ({"amount": 60_000}, 422, "insufficient_funds"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    s2s: Send, shop: Tenant, fund: Fund, database: Database, body: dict[str, Any], status: int, code: str
) -> None:
    await fund(shop, 50_000)
    payload = {k: v for k, v in (_body(10_000) | body).items() if v is not None}
    response = await s2s(shop, "POST", CREATE, payload)
    assert (response.status_code, response.json()["error"]) == (status, code), response.text
    assert await balances(database, shop) == (50_000, 0, 0)
    assert await _count(database, "SELECT count(*) FROM withdrawals") == 0


async def test_parents_cannot_withdraw_and_requests_must_be_signed(
    app: FastAPI, client: httpx.AsyncClient, s2s: Send, shop: Tenant, fund: Fund, database: Database
) -> None:
    await tenant(app, client, database, "Toko Anak", parent=shop.id, roles=())
    await fund(shop, 50_000)
    refused = await s2s(shop, "POST", CREATE, _body(10_000))
    assert (refused.status_code, refused.json()["error"]) == (422, "parent_cannot_withdraw")
    unsigned = await client.post(CREATE, json=_body(10_000), headers={"X-API-Key": shop.partner.api_key})
    assert unsigned.status_code == 401
    other = await tenant(app, client, database, "Toko Lain", roles=())
    mine = await s2s(other, "GET", f"/api/v1/withdrawals/s2s/withdrawals/{uuid.uuid4()}")
    assert (mine.status_code, mine.json()["error"]) == (404, "withdrawal_not_found")
    assert await _count(database, "SELECT count(*) FROM withdrawals") == 0
