"""Oy!: its callbacks are not signed, so they only prompt a status query; the mappings, credentials and the
whole pay-in and withdrawal flows against its fake over real HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from gerbang.config import Settings
from gerbang.db import Database
from gerbang.provider.base import DisbursementStatus, InboundCallback, PaymentStatus
from gerbang.provider.oy import OyProvider, payment_status, remit_status, settlement_reported
from gerbang.sandbox.fakes import oy as fake_oy
from tests.auth.people import Tenant
from tests.order.conftest import Post
from tests.provider.conftest import (
    AddAccount,
    fetch,
    fund,
    order_state,
    paid_twice_credited_once,
    paid_yet_pending_ignored_and_flagged,
    qr_order,
    settles_only_what_the_provider_reports,
    withdraw_through_callback,
)

OY = OyProvider()
CREDENTIALS = {"username": "gerbang-oy", "apiKey": "oy-api-key-0123456789"}
CALLBACK = "/api/v1/transaction/callback/oy"


def test_status_mappings_never_pay_or_complete_an_unknown_status() -> None:
    assert payment_status("COMPLETE") is PaymentStatus.paid
    assert payment_status("WAITING_PAYMENT") is payment_status("CHARGE_IN_PROGRESS") is PaymentStatus.pending
    assert payment_status("EXPIRED") is PaymentStatus.expired
    assert payment_status("FAILED") is PaymentStatus.failed
    for unknown in ("SUCCESS", "PAID", "COMPLETE!", None, 0):
        assert payment_status(unknown) is PaymentStatus.pending
    assert remit_status("000") is DisbursementStatus.completed
    assert remit_status("101") is remit_status("102") is remit_status("301") is DisbursementStatus.processing
    assert remit_status("300") is DisbursementStatus.failed
    assert remit_status("999") is remit_status(None) is DisbursementStatus.pending


def test_credentials_take_the_originals_aliases_trimmed() -> None:
    original = OY.check_credentials({"merchantId": " gerbang-oy ", "secretKey": " oy-api-key-0123456789 "})
    assert original == {"username": "gerbang-oy", "api_key": "oy-api-key-0123456789"}
    assert OY.check_credentials({"username": "gerbang-oy", "api_key": "oy-api-key-0123456789"}) == original
    with pytest.raises(ValueError, match="required credential fields") as raised:
        OY.check_credentials({"username": "gerbang-oy"})
    assert "gerbang-oy" not in str(raised.value)


def test_callbacks_are_never_verified_and_formats_are_told_apart() -> None:
    ref = str(uuid.uuid4())
    payment = orjson.dumps({"partner_trx_id": ref, "payment_status": "COMPLETE", "receive_amount": 150000})
    remit = orjson.dumps({"partner_trx_id": ref, "status": {"code": "000", "message": "Success"}, "amount": 1})
    hilogate = orjson.dumps({"ref_id": ref, "amount": 1, "status": "SUCCESS"})
    assert OY.callbacks_signed is False
    assert OY.disbursement_callbacks_signed is False
    assert OY.parse_callback(InboundCallback({}, payment)).status is PaymentStatus.paid
    assert OY.parse_disbursement_callback(InboundCallback({}, remit)).status is DisbursementStatus.completed
    for body in (remit, hilogate):
        with pytest.raises(ValueError, match="not an Oy! payment callback"):
            OY.parse_callback(InboundCallback({}, body))
    for body in (payment, hilogate):
        with pytest.raises(ValueError, match="not an Oy! remit callback"):
            OY.parse_disbursement_callback(InboundCallback({}, body))


async def _oy_order(add: AddAccount, post: Post, shop: Tenant, reference: str = "OY-1") -> dict[str, Any]:
    await add("oy", CREDENTIALS)
    return await qr_order(post, shop, reference)


async def test_an_oy_order_is_paid_once_on_oys_own_answer(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, database: Database
) -> None:
    order = await _oy_order(add_provider_account, post, shop)
    await paid_twice_credited_once(live, database, shop, order["orderId"])
    rows = await fetch(
        database, "SELECT array_agg(verified::text || ':' || outcome ORDER BY id) FROM provider_callbacks"
    )
    assert rows == ["false:applied", "false:duplicate"]  # stored unverified; moved only by the status answer


async def test_a_forged_paid_callback_leaves_the_order_pending(
    add_provider_account: AddAccount, post: Post, shop: Tenant, client: httpx.AsyncClient, database: Database
) -> None:
    order = await _oy_order(add_provider_account, post, shop)
    forged = orjson.dumps({
        "partner_trx_id": order["orderId"], "payment_status": "COMPLETE", "receive_amount": 150000,
        "settlement_status": "SUCCESS", "payment_received_time": "2026-12-01 10:00:00",
    })  # fmt: skip
    response = await client.post(CALLBACK, content=forged, headers={"Content-Type": "application/json"})
    assert response.status_code == 200  # acknowledged, and Oy! was asked: it says WAITING_PAYMENT
    assert await order_state(database, order["orderId"]) == ("PENDING", 0, 0)
    assert await fetch(database, "SELECT outcome FROM provider_callbacks") == "ignored"


async def test_an_unknown_status_stays_pending_and_a_wrong_amount_is_flagged(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, database: Database
) -> None:
    unknown = await _oy_order(add_provider_account, post, shop)
    response = await post(shop, "/api/v1/payments", {"amount": 150_000, "reference": "OY-AMOUNT"})
    wrong_amount = response.json()["result"]
    async with httpx.AsyncClient(base_url=live) as http:
        await http.post(f"/sandbox/oy/transactions/{unknown['orderId']}/answer", json={"payment_status": "SETTLED"})
        await http.post(
            f"/sandbox/oy/transactions/{wrong_amount['orderId']}/answer",
            json={"payment_status": "COMPLETE", "receive_amount": 150_001},
        )
    await paid_yet_pending_ignored_and_flagged(live, database, unknown["orderId"], wrong_amount["orderId"])


async def test_the_callback_ip_allow_list_refuses_other_sources(
    app: FastAPI, add_provider_account: AddAccount, post: Post, shop: Tenant, client: httpx.AsyncClient,
    database: Database,
) -> None:  # fmt: skip
    order = await _oy_order(add_provider_account, post, shop)
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"oy_callback_ips": "203.0.113.7, 198.51.100.0/24"})
    try:
        body = orjson.dumps({"partner_trx_id": order["orderId"], "payment_status": "COMPLETE", "receive_amount": 1})
        response = await client.post(CALLBACK, content=body)
        assert (response.status_code, response.json()["error"]) == (403, "callback_source_not_allowed")
    finally:
        app.state.settings = settings
    assert await fetch(database, "SELECT count(*) FROM provider_callbacks") == 0


async def test_a_withdrawal_through_oy_completes_by_its_callback(
    add_provider_account: AddAccount, s2s: Any, shop: Tenant, live: str, database: Database
) -> None:
    account = await add_provider_account("oy", CREDENTIALS)
    await withdraw_through_callback("oy", account["id"], s2s, shop, live, database, "OY-WD-1")


async def test_a_forged_remit_callback_moves_nothing(
    add_provider_account: AddAccount, s2s: Any, shop: Tenant, client: httpx.AsyncClient, database: Database
) -> None:
    account = await add_provider_account("oy", CREDENTIALS)
    await fund(database, shop, account["id"], 200_000)
    body = {"amount": 100_000, "bankCode": "BCA", "accountNumber": "1234567890", "reference": "OY-WD-2"}
    result = (await s2s(shop, "POST", "/api/v1/withdrawals/s2s/withdrawals", body)).json()["result"]
    forged = orjson.dumps({"partner_trx_id": result["id"], "status": {"code": "300", "message": "Failed"},
                           "amount": result["netAmount"]})  # fmt: skip
    response = await client.post("/api/v1/withdrawals/callback", content=forged)
    assert response.status_code == 200
    assert (
        await fetch(database, "SELECT status FROM withdrawals WHERE id = $1", uuid.UUID(result["id"])) == "PROCESSING"
    )
    assert (await client.post("/api/v1/withdrawals/callback", content=b'{"x": 1}')).status_code == 400


async def test_an_account_without_a_base_url_takes_the_providers_default(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"provider": "oy", "name": "Oy! live", "credentials": CREDENTIALS, "methods": ["qris"]}
    created = await client.post("/api/v1/admin/provider-accounts", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["baseUrl"] == "https://partner.oyindonesia.com"
    assert sorted(created.json()["credentialFields"]) == ["api_key", "username"]  # the values are never returned
    sandbox = body | {"provider": "sandbox", "credentials": {"merchant_key": "sbx_merchant_key_0123456789"}}
    refused = await client.post("/api/v1/admin/provider-accounts", json=sandbox, headers=admin)
    assert (refused.status_code, refused.json()["error"]) == (422, "invalid_provider_account")


def test_settlement_is_reported_by_check_statuss_settlement_status_success_only() -> None:
    assert settlement_reported("SUCCESS")
    assert settlement_reported("success")
    for value in ("WAITING", "IN_PROGRESS", "SETTLED", None, 1):
        assert not settlement_reported(value)


async def test_provider_reported_settlement_settles_an_oy_order_once_oy_reports_it(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, database: Database, settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    await add_provider_account("oy", CREDENTIALS, settlementRule="provider_reported")
    await settles_only_what_the_provider_reports(post, shop, live, database, settings, monkeypatch, fake_oy, "OY")
