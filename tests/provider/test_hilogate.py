"""Hilogate: the signing scheme against vectors computed by hand (`printf '%s' ... | md5sum`), the status
mapping, credentials, and the whole pay-in and withdrawal flows against its fake over real HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest

from gerbang.config import Settings
from gerbang.db import Database
from gerbang.provider.base import DisbursementStatus, InboundCallback, PaymentStatus, ProviderAccount
from gerbang.provider.hilogate import (
    HilogateProvider,
    callback_signed_string,
    disbursement_status,
    payment_status,
    settlement_reported,
)
from gerbang.provider.hilogate import signature as hilogate_signature
from gerbang.sandbox.fakes import hilogate as fake_hilogate
from gerbang.sandbox.fakes.hilogate import fake_secret
from tests.auth.people import Tenant
from tests.order.conftest import Post
from tests.provider.conftest import (
    AddAccount,
    fetch,
    order_state,
    paid_twice_credited_once,
    paid_yet_pending_ignored_and_flagged,
    qr_order,
    settles_only_what_the_provider_reports,
    withdraw_through_callback,
)

HILOGATE = HilogateProvider()
REF = "6f1c2a9e-0000-4000-8000-000000000001"
SECRET = "hlg_test_secret_123"
BODY = '{"ref_id":"6f1c2a9e-0000-4000-8000-000000000001","amount":150000,"method":"qris"}'
# printf '%s' "/api/v1/transactions$BODY""hlg_test_secret_123" | md5sum, with BODY as below
CREATE_SIGNATURE = "0ed2bfe3b4ccdda8c6c1800c7ce2f510"
# printf '%s' '/api/v1/transactions/6f1c2a9e-0000-4000-8000-000000000001hlg_test_secret_123' | md5sum
STATUS_SIGNATURE = "f4e56a05b09baa659d30e5b96397102b"
# printf '%s' '/api/v1/balancehlg_test_secret_123' | md5sum
BALANCE_SIGNATURE = "89344ee9faac39cce7180e55527e1b60"


def _account(secret: str = SECRET) -> ProviderAccount:
    return ProviderAccount(uuid.uuid4(), "hilogate", "http://127.0.0.1:1", {"merchant_id": "M1", "secret_key": secret})


def test_request_signatures_match_the_documented_md5() -> None:
    assert hilogate_signature("/api/v1/transactions", BODY, SECRET) == CREATE_SIGNATURE
    assert hilogate_signature(f"/api/v1/transactions/{REF}", None, SECRET) == STATUS_SIGNATURE
    assert hilogate_signature("/api/v1/balance", None, SECRET) == BALANCE_SIGNATURE


def test_callback_signature_covers_ref_amount_and_method_compactly() -> None:
    # The callback's signed string is the same compact JSON as the create body, so the same vector applies;
    # an amount sent as 150000.0 is written as JavaScript would (150000).
    assert callback_signed_string(REF, 150000.0, "qris") == BODY
    callback = orjson.dumps({"ref_id": REF, "amount": 150000.0, "method": "qris", "status": "SUCCESS"})
    assert HILOGATE.verify_callback(_account(), InboundCallback({"x-signature": CREATE_SIGNATURE}, callback))
    upper = CREATE_SIGNATURE.upper()
    assert HILOGATE.verify_callback(_account(), InboundCallback({"x-signature": upper}, callback))
    assert not HILOGATE.verify_callback(
        _account("another_secret_456"), InboundCallback({"x-signature": CREATE_SIGNATURE}, callback)
    )
    assert not HILOGATE.verify_callback(_account(), InboundCallback({}, callback))
    tampered = callback.replace(b"150000.0", b"950000")
    assert not HILOGATE.verify_callback(_account(), InboundCallback({"x-signature": CREATE_SIGNATURE}, tampered))


def test_status_mapping_never_pays_an_unknown_status() -> None:
    assert payment_status("SUCCESS") is payment_status("done") is PaymentStatus.paid
    assert payment_status("EXPIRED") is PaymentStatus.expired
    assert payment_status("FAILED") is PaymentStatus.failed
    for unknown in ("SUCCES", "PAID_MAYBE", "", None, 1):
        assert payment_status(unknown) is PaymentStatus.pending
    assert disbursement_status("SUCCESS") is DisbursementStatus.completed
    assert disbursement_status("REJECTED") is DisbursementStatus.failed
    assert disbursement_status("SOMETHING") is DisbursementStatus.pending


def test_credentials_take_the_originals_aliases_trimmed_and_never_echo_a_value() -> None:
    camel = HILOGATE.check_credentials({"merchantId": " M1 ", "secretKey": " s3cret-key-value ", "env": "live"})
    snake = HILOGATE.check_credentials({"merchant_id": "M1", "secret_key": "s3cret-key-value"})
    assert camel == {"merchant_id": "M1", "secret_key": "s3cret-key-value", "env": "production"}
    assert snake == camel
    for bad in ({"merchantId": "M1"}, {"merchantId": "M1", "secretKey": "s3cret-key-value", "apiKey": "x"},
                {"merchantId": "M1", "merchant_id": "M2", "secretKey": "s3cret-key-value"}):  # fmt: skip
        with pytest.raises(ValueError, match=r"credential fields|given twice") as raised:
            HILOGATE.check_credentials(bad)
        assert "s3cret" not in str(raised.value)
        assert "M2" not in str(raised.value)


def test_payment_and_disbursement_callbacks_refuse_each_others_and_oys_formats() -> None:
    payment = orjson.dumps({"ref_id": REF, "amount": 1, "method": "qris", "status": "SUCCESS"})
    payout = orjson.dumps({"ref_id": REF, "amount": 1, "status": "SUCCESS"})
    oy_remit = orjson.dumps({"partner_trx_id": REF, "status": {"code": "000"}, "amount": 1})
    assert HILOGATE.parse_callback(InboundCallback({}, payment)).status is PaymentStatus.paid
    assert HILOGATE.parse_disbursement_callback(InboundCallback({}, payout)).status is DisbursementStatus.completed
    for body in (payout, oy_remit, b"not json"):
        with pytest.raises(ValueError, match="not a Hilogate payment callback"):
            HILOGATE.parse_callback(InboundCallback({}, body))
    for body in (payment, oy_remit):
        with pytest.raises(ValueError, match="not a Hilogate disbursement callback"):
            HILOGATE.parse_disbursement_callback(InboundCallback({}, body))


async def _hilogate_order(add: AddAccount, post: Post, shop: Tenant, merchant: str = "HLG-M1") -> dict[str, Any]:
    await add("hilogate", {"merchantId": merchant, "secretKey": fake_secret(merchant)})
    return await qr_order(post, shop, f"HLG-{uuid.uuid4().hex[:8]}")


async def test_a_hilogate_order_is_paid_once_by_its_signed_callback(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, database: Database
) -> None:
    order = await _hilogate_order(add_provider_account, post, shop)
    await paid_twice_credited_once(live, database, shop, order["orderId"])  # Hilogate retries
    outcomes = await fetch(
        database, "SELECT array_agg(outcome ORDER BY id) FROM provider_callbacks WHERE provider = 'hilogate'"
    )
    assert outcomes == ["applied"]  # the retry is the same notification: recognised, not stored twice
    assert await fetch(database, "SELECT bool_and(verified) FROM provider_callbacks") is True


async def test_a_wrong_signature_or_another_accounts_secret_gets_401_and_changes_nothing(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, client: httpx.AsyncClient,
    database: Database,
) -> None:  # fmt: skip
    order = await _hilogate_order(add_provider_account, post, shop)
    await add_provider_account("hilogate", {"merchantId": "HLG-M2", "secretKey": fake_secret("HLG-M2")}, "Other")
    body = orjson.dumps({"ref_id": order["orderId"], "amount": 150000, "method": "qris", "status": "SUCCESS"})
    signed = orjson.dumps({"ref_id": order["orderId"], "amount": 150000, "method": "qris"}).decode()
    other = hilogate_signature("/api/v1/transactions", signed, fake_secret("HLG-M2"))
    for path in ("/api/v1/transactions/callback", "/api/v1/transaction/callback"):
        for presented in ("0" * 32, other, ""):
            response = await client.post(path, content=body, headers={"X-Signature": presented})
            assert response.status_code == 401, response.text
    assert await order_state(database, order["orderId"]) == ("PENDING", 0, 0)
    assert await fetch(database, "SELECT count(*) FROM provider_callbacks WHERE outcome = 'unverified'") == 6


async def test_an_unknown_status_stays_pending_and_a_wrong_amount_is_flagged(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, database: Database
) -> None:
    unknown = await _hilogate_order(add_provider_account, post, shop)
    response = await post(shop, "/api/v1/payments", {"amount": 150_000, "reference": "HLG-AMOUNT"})
    wrong_amount = response.json()["result"]
    async with httpx.AsyncClient(base_url=live) as http:
        # Hilogate's status query (what the order moves on) answers an unknown status, then a wrong amount.
        await http.post(f"/sandbox/hilogate/transactions/{unknown['orderId']}/answer", json={"status": "SUCCESSFUL"})
        await http.post(f"/sandbox/hilogate/transactions/{wrong_amount['orderId']}/answer", json={"amount": 1})
    await paid_yet_pending_ignored_and_flagged(live, database, unknown["orderId"], wrong_amount["orderId"])


async def test_a_withdrawal_through_hilogate_completes_by_its_callback(
    add_provider_account: AddAccount, s2s: Any, shop: Tenant, live: str, database: Database
) -> None:
    account = await add_provider_account("hilogate", {"merchant_id": "HLG-WD", "secret_key": fake_secret("HLG-WD")})
    await withdraw_through_callback("hilogate", account["id"], s2s, shop, live, database, "HLG-WD-1")


def test_the_demo_can_run_on_the_hilogate_fake() -> None:
    from gerbang.cli.demo import demo_account
    from gerbang.config import load_settings

    account = demo_account(load_settings(demo_provider="hilogate", public_url="http://127.0.0.1:8000"))
    assert (account.provider, account.base_url) == ("hilogate", "http://127.0.0.1:8000/sandbox/hilogate")
    assert HILOGATE.check_credentials(account.credentials)["secret_key"] == fake_secret("GERBANG-DEMO")


def test_settlement_is_reported_by_settlement_status_or_a_settled_transaction() -> None:
    assert settlement_reported("SUCCESS", "SETTLED")
    assert settlement_reported("SUCCESS", "done")
    assert settlement_reported("SETTLED", None)
    for status, settlement in (("SUCCESS", "PENDING"), ("SUCCESS", None), ("SUCCESS", "SETTLING"), (None, 1)):
        assert not settlement_reported(status, settlement)


async def test_provider_reported_settlement_settles_a_hilogate_order_once_hilogate_reports_it(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, database: Database, settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    merchant = "HLG-SETTLE"
    await add_provider_account("hilogate", {"merchantId": merchant, "secretKey": fake_secret(merchant)},
                               settlementRule="provider_reported")  # fmt: skip
    await settles_only_what_the_provider_reports(
        post, shop, live, database, settings, monkeypatch, fake_hilogate, "HLG"
    )
