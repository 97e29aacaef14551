"""Piro: the daily Basic credentials and the MD5 schemes against vectors computed by hand (`printf '%s' ... |
md5sum`, `date -u -d ... +%s`, `base64`), the status mappings, credentials, and the whole pay-in and
withdrawal flows against its fake over real HTTP (callbacks signed MD5(raw body + signature key))."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import httpx
import orjson
import pytest

from gerbang.db import Database
from gerbang.kit.time import utcnow
from gerbang.provider.base import (
    AccountInquiry,
    BalanceNotOffered,
    ChargeRequest,
    DisbursementStatus,
    InboundCallback,
    PaymentMethod,
    PaymentStatus,
    ProviderAccount,
    ProviderRejected,
)
from gerbang.provider.piro import (
    PiroProvider,
    basic_authorization,
    callback_signature,
    daily_credentials,
    disbursement_status,
    status_signature,
    transfer_signature,
)
from gerbang.provider.piro_common import amount_signature, payment_status
from gerbang.sandbox.fakes import piro as fake
from tests.auth.people import Tenant
from tests.order.conftest import Post
from tests.provider.conftest import (
    AddAccount,
    fetch,
    fund,
    order_state,
    paid_twice_credited_once,
    qr_order,
    withdraw_through_callback,
)
from tests.withdrawal.conftest import balances

PIRO = PiroProvider()
ORDER = "6f1c2a9e-0000-4000-8000-000000000002"
VECTOR = {"client_id": "PIRO-CLIENT-01", "client_secret": "piro_client_secret_1", "device_id": "web",
          "signature_key": "piro_signature_key_1", "latitude": "-6.2088", "longitude": "106.8456"}  # fmt: skip
# printf '%s' "PIRO-CLIENT-01150000.00${ORDER}piro_client_secret_1" | md5sum
QR_SIGNATURE = "0626c1e88cd0d41baa76e3442c8dc288"
# printf '%s' "PIRO-CLIENT-01web-6.2088106.8456100000.001234567890piro_client_secret_1" | md5sum
TRANSFER_SIGNATURE = "5f281b787ec3eaff8139ba094e32e3e5"
# printf '%s' "PIRO-CLIENT-01web-6.2088106.8456piro_client_secret_1" | md5sum
STATUS_SIGNATURE = "36219ad22913702402da559a5c7e8b22"
CALLBACK_BODY = b'{"orderId":"6f1c2a9e-0000-4000-8000-000000000002","amount":"150000.00","status":"SUCCESS"}'
# printf '%s' "$CALLBACK_BODY""piro_signature_key_1" | md5sum
CALLBACK_SIGNATURE = "c159c7413b48c64391815babe4644fe3"
CALLBACK = "/api/v1/transaction/callback/piro"
WITHDRAWAL_CALLBACK = "/api/v1/withdrawals/callback/piro"


def _credentials(client_id: str = "PIRO-M1") -> dict[str, str]:
    keys = fake.fake_credentials(client_id)
    return {"merchantId": f"MID-{client_id}", "clientId": client_id, "clientSecret": keys["client_secret"],
            "signatureKey": keys["signature_key"], "latitude": "-6.2088", "longitude": "106.8456"}  # fmt: skip


def _account(live: str, client_id: str = "PIRO-M1", **changes: str) -> ProviderAccount:
    credentials = PIRO.check_credentials(_credentials(client_id) | changes)
    return ProviderAccount(uuid.uuid4(), "piro", f"{live}/sandbox/piro", credentials)


def test_signatures_match_the_documented_md5() -> None:
    assert amount_signature("PIRO-CLIENT-01", "150000.00", ORDER, "piro_client_secret_1") == QR_SIGNATURE
    assert transfer_signature(VECTOR, "100000.00", "1234567890") == TRANSFER_SIGNATURE
    assert status_signature(VECTOR) == STATUS_SIGNATURE
    assert callback_signature(CALLBACK_BODY, "piro_signature_key_1") == CALLBACK_SIGNATURE


def test_the_daily_basic_credentials_follow_the_wib_day() -> None:
    # date -u -d '2026-03-10T17:00:00Z' +%s: 1773162000 (00:00 WIB on 11 March)
    assert daily_credentials(datetime(2026, 3, 10, 18, 30, tzinfo=UTC)) == ("piro-1773162000000", "1773162000000")
    assert daily_credentials(datetime(2026, 3, 10, 17, 0, tzinfo=UTC)) == ("piro-1773162000000", "1773162000000")
    # One second earlier is 23:59:59 WIB on 10 March: date -u -d '2026-03-09T17:00:00Z' +%s = 1773075600
    assert daily_credentials(datetime(2026, 3, 10, 16, 59, 59, tzinfo=UTC)) == ("piro-1773075600000", "1773075600000")
    # printf '%s' 'piro-1773162000000:1773162000000' | base64
    expected = "Basic cGlyby0xNzczMTYyMDAwMDAwOjE3NzMxNjIwMDAwMDA="
    assert basic_authorization(datetime(2026, 3, 11, 9, 0, tzinfo=UTC) - timedelta(hours=8)) == expected


def test_status_mappings_never_pay_or_complete_an_unknown_status() -> None:
    for paid in ("SUCCESS", "paid", "Done", "COMPLETED", "SETTLED"):
        assert payment_status(paid, provider="piro") is PaymentStatus.paid
    assert payment_status("EXPIRED", provider="piro") is PaymentStatus.expired
    for failed in ("FAILED", "CANCELLED", "VOID", "ERROR"):
        assert payment_status(failed, provider="piro") is PaymentStatus.failed
    for unknown in ("PENDING", "SUCCESSFUL", "", None, 1):  # the original stored the raw value
        assert payment_status(unknown, provider="piro") is PaymentStatus.pending
    assert disbursement_status("SUCCESS") is disbursement_status("settled") is DisbursementStatus.completed
    assert disbursement_status("REJECTED") is disbursement_status("VOID") is DisbursementStatus.failed
    assert disbursement_status("PROCESSING") is DisbursementStatus.processing
    assert disbursement_status("SOMETHING") is disbursement_status(None) is DisbursementStatus.pending


def test_credentials_take_the_originals_aliases_trimmed_and_never_echo_a_value() -> None:
    camel = PIRO.check_credentials({
        "merchantId": " M1 ", "storeId": "S1", "terminalId": "T1", "channel": "QRIS", "clientId": " C1 ",
        "clientSecret": " client-secret-1 ", "signatureKey": "signature-key-1", "latitude": " -6.2 ",
        "longitude": "106.8",
    })  # fmt: skip
    assert camel == {"merchant_id": "M1", "store_id": "S1", "terminal_id": "T1", "channel": "QRIS",
                     "client_id": "C1", "client_secret": "client-secret-1", "signature_key": "signature-key-1",
                     "latitude": "-6.2", "longitude": "106.8", "device_id": "web"}  # fmt: skip
    snake = PIRO.check_credentials({
        "merchant_id": "M1", "client_id": "C1", "client_secret": "client-secret-1", "signature_key": "signature-key-1",
        "device_id": "android", "latitude": "-6.2", "longitude": "106.8",
    })  # fmt: skip
    assert snake["device_id"] == "android"
    good = _credentials()
    for bad, message in (
        ({k: v for k, v in good.items() if k != "signatureKey"}, "required credential fields"),
        (good | {"callbackUrl": "https://elsewhere.example"}, "unknown credential fields"),
        (good | {"client_id": "PIRO-SECRET-OTHER"}, "given twice"),
        (good | {"latitude": "-96.5"}, "latitude must be"),
        (good | {"longitude": "east"}, "longitude must be"),
        (good | {"clientSecret": "tiny"}, "client_secret is too short"),
    ):
        with pytest.raises(ValueError, match=message) as raised:
            PIRO.check_credentials(bad)
        for value in (good["clientSecret"], good["signatureKey"], "PIRO-SECRET-OTHER", "tiny", "east"):
            assert value not in str(raised.value)


def test_callbacks_are_verified_over_the_raw_body_with_the_accounts_signature_key() -> None:
    account = ProviderAccount(uuid.uuid4(), "piro", "http://127.0.0.1:1", VECTOR)
    for header in ("x-signature", "x-piro-signature"):
        assert PIRO.verify_callback(account, InboundCallback({header: CALLBACK_SIGNATURE}, CALLBACK_BODY))
    assert PIRO.verify_callback(account, InboundCallback({"x-signature": CALLBACK_SIGNATURE.upper()}, CALLBACK_BODY))
    other = ProviderAccount(account.id, "piro", account.base_url, VECTOR | {"signature_key": "another_key_456"})
    assert not PIRO.verify_callback(other, InboundCallback({"x-signature": CALLBACK_SIGNATURE}, CALLBACK_BODY))
    assert not PIRO.verify_callback(account, InboundCallback({}, CALLBACK_BODY))
    spaced = CALLBACK_BODY.replace(b",", b", ")  # the same JSON, other bytes: not what was signed
    assert not PIRO.verify_callback(account, InboundCallback({"x-signature": CALLBACK_SIGNATURE}, spaced))
    claimed = PIRO.parse_callback(InboundCallback({}, CALLBACK_BODY))
    assert (str(claimed.order_id), claimed.status, claimed.amount) == (ORDER, PaymentStatus.paid, 150_000)


def test_payment_and_disbursement_callbacks_refuse_each_others_formats() -> None:
    payout = orjson.dumps({"disbursementId": "pirod_1", "partnerReferenceId": ORDER, "amount": "1.00",
                           "status": "SUCCESS"})  # fmt: skip
    payment = orjson.dumps({"paymentId": "piro_1", "orderId": ORDER, "amount": "1.00", "status": "SUCCESS"})
    claimed = PIRO.parse_disbursement_callback(InboundCallback({}, payout))
    assert (str(claimed.withdrawal_id), claimed.status, claimed.amount) == (ORDER, DisbursementStatus.completed, 1)
    for body in (payout, b"[]", b"not json", orjson.dumps({"orderId": "not-a-uuid", "status": "SUCCESS"})):
        with pytest.raises(ValueError, match="not a Piro payment callback"):
            PIRO.parse_callback(InboundCallback({}, body))
    for body in (payment, orjson.dumps({"status": "SUCCESS"})):
        with pytest.raises(ValueError, match="not a Piro disbursement callback"):
            PIRO.parse_disbursement_callback(InboundCallback({}, body))


def _charge(amount: int = 50_000) -> ChargeRequest:
    return ChargeRequest(uuid.uuid4(), amount, PaymentMethod.qris, None, utcnow() + timedelta(minutes=15),
                         "http://127.0.0.1:1/api/v1/transaction/callback/piro")  # fmt: skip


async def test_create_and_status_against_the_fake_and_its_refusals(
    live: str, session: aiohttp.ClientSession, database: Database
) -> None:
    account, request = _account(live), _charge()
    charge = await PIRO.create_payment(session, account, request)
    assert charge.qr_payload
    assert charge.provider_reference.startswith(fake.CHARGE_PREFIX)
    status = await PIRO.payment_status(session, account, request.order_id, charge.provider_reference)
    assert (status.status, status.amount) == (PaymentStatus.pending, 50_000)
    async with httpx.AsyncClient(base_url=live) as http:
        await http.post(f"/sandbox/piro/transactions/{request.order_id}/answer", json={"status": "SUCCESSFUL"})
    assert (await PIRO.payment_status(session, account, request.order_id, None)).status is PaymentStatus.pending
    with pytest.raises(ProviderRejected, match="invalid signature") as raised:
        await PIRO.create_payment(session, _account(live, clientSecret="not-the-fakes-secret"), _charge())
    assert "not-the-fakes-secret" not in str(raised.value)
    with pytest.raises(ProviderRejected, match="duplicate"):
        await PIRO.create_payment(session, account, request)
    with pytest.raises(BalanceNotOffered):
        await PIRO.balance(session, account)


async def test_account_validation_names_the_holder_or_says_the_account_is_not_there(
    live: str, session: aiohttp.ClientSession
) -> None:
    account = _account(live)
    found = await PIRO.account_inquiry(session, account, AccountInquiry("BCA", "1234567890"))
    assert found.valid
    assert found.holder_name
    missing = await PIRO.account_inquiry(session, account, AccountInquiry("BCA", "1234560000"))
    assert (missing.valid, missing.holder_name) == (False, None)
    with pytest.raises(ProviderRejected, match="unknown bankCode"):
        await PIRO.account_inquiry(session, account, AccountInquiry("NOPE", "1234567890"))


async def _piro_order(add: AddAccount, post: Post, shop: Tenant, client_id: str = "PIRO-M1") -> dict[str, Any]:
    await add("piro", _credentials(client_id))
    return await qr_order(post, shop, f"PIRO-{uuid.uuid4().hex[:8]}")


async def test_a_piro_order_is_paid_once_by_its_signed_callback(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, database: Database
) -> None:
    order = await _piro_order(add_provider_account, post, shop)
    await paid_twice_credited_once(live, database, shop, order["orderId"])  # Piro retries
    rows = await fetch(
        database, "SELECT array_agg(verified::text || ':' || outcome ORDER BY id) FROM provider_callbacks"
    )
    assert rows == ["true:applied"]  # the retry is the same notification: recognised, not stored twice


async def test_a_wrong_signature_or_another_accounts_key_gets_401_and_changes_nothing(
    add_provider_account: AddAccount, post: Post, shop: Tenant, client: httpx.AsyncClient, database: Database
) -> None:
    order = await _piro_order(add_provider_account, post, shop)
    await add_provider_account("piro", _credentials("PIRO-M2"), "Other")
    body = orjson.dumps({"paymentId": "piro_x", "orderId": order["orderId"], "amount": "150000.00",
                         "status": "SUCCESS"})  # fmt: skip
    other = callback_signature(body, fake.fake_credentials("PIRO-M2")["signature_key"])
    for headers in ({"x-signature": "0" * 32}, {"x-piro-signature": other}, {}):
        response = await client.post(CALLBACK, content=body, headers=headers)
        assert response.status_code == 401, response.text
    assert await order_state(database, order["orderId"]) == ("PENDING", 0, 0)
    assert await balances(database, shop) == (0, 0, 0)
    assert await fetch(database, "SELECT count(*) FROM provider_callbacks WHERE outcome = 'unverified'") == 3


async def test_a_signed_callback_for_another_amount_or_an_unknown_status_moves_nothing(
    add_provider_account: AddAccount, post: Post, shop: Tenant, client: httpx.AsyncClient, database: Database
) -> None:
    order = await _piro_order(add_provider_account, post, shop)
    key = fake.fake_credentials("PIRO-M1")["signature_key"]
    for amount, status in (("150001.00", "SUCCESS"), ("150000.00", "SUCCESSFUL")):
        body = orjson.dumps({"paymentId": f"piro_{status}", "orderId": order["orderId"], "amount": amount,
                             "status": status})  # fmt: skip
        response = await client.post(CALLBACK, content=body, headers={"x-signature": callback_signature(body, key)})
        assert response.status_code == 200, response.text
    assert await order_state(database, order["orderId"]) == ("PENDING", 0, 0)
    outcomes = await fetch(database, "SELECT array_agg(outcome ORDER BY id) FROM provider_callbacks")
    assert outcomes == ["amount_mismatch", "ignored"]


async def test_a_withdrawal_through_piro_completes_by_its_signed_callback(
    add_provider_account: AddAccount, s2s: Any, shop: Tenant, live: str, database: Database
) -> None:
    account = await add_provider_account("piro", _credentials("PIRO-WD"))
    await withdraw_through_callback("piro", account["id"], s2s, shop, live, database, "PIRO-WD-1")


async def test_a_withdrawal_callback_without_or_with_a_wrong_signature_moves_nothing(
    add_provider_account: AddAccount, s2s: Any, shop: Tenant, client: httpx.AsyncClient, database: Database
) -> None:
    account = await add_provider_account("piro", _credentials("PIRO-WD"))
    await fund(database, shop, account["id"], 200_000)
    body = {"amount": 100_000, "bankCode": "BCA", "accountNumber": "1234567890", "reference": "PIRO-WD-2"}
    result = (await s2s(shop, "POST", "/api/v1/withdrawals/s2s/withdrawals", body)).json()["result"]
    forged = orjson.dumps({"disbursementId": "pirod_x", "referenceId": result["id"],
                           "amount": f"{result['netAmount']}.00", "status": "FAILED"})  # fmt: skip
    missing = await client.post(WITHDRAWAL_CALLBACK, content=forged)
    assert (missing.status_code, missing.json()["error"]) == (400, "missing_signature")
    wrong = await client.post(WITHDRAWAL_CALLBACK, content=forged, headers={"x-piro-signature": "f" * 32})
    assert wrong.status_code == 401
    assert await fetch(database, "SELECT status FROM withdrawals WHERE id = $1", uuid.UUID(result["id"])) == (
        "PROCESSING"
    )
    assert await balances(database, shop) == (100_000, 0, 100_000)
    assert await fetch(database, "SELECT array_agg(outcome) FROM provider_callbacks") == ["unverified"]


def test_the_demo_can_run_on_the_piro_fake() -> None:
    from gerbang.cli.demo import demo_account
    from gerbang.config import load_settings

    account = demo_account(load_settings(demo_provider="piro", public_url="http://127.0.0.1:8000"))
    assert (account.provider, account.base_url) == ("piro", "http://127.0.0.1:8000/sandbox/piro")
    checked = PIRO.check_credentials(account.credentials)
    assert checked["signature_key"] == fake.fake_credentials(checked["client_id"])["signature_key"]
