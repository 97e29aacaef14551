"""Gidi: the layered SHA-256 signatures against vectors computed by hand in the shell, the numeric ids, the
status mappings, credentials, and the whole pay-in and withdrawal flows against its fake over real HTTP.

Vectors: with M=1234567 S=7654321 K=gidi_test_key_0001 and
`layer() { h=$(printf '%s' "$1$K" | sha256sum | cut -d' ' -f1); printf '%s' "$M$h" | sha256sum; }`,
and the order id's number from `echo "ibase=16; 6F1C2A9E000040008000000000000001" | bc`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import aiohttp
import httpx
import orjson
import pytest
from fastapi import FastAPI

from gerbang.db import Database
from gerbang.kit.time import utcnow
from gerbang.provider.base import (
    AccountInquiry,
    BalanceNotOffered,
    ChargeRequest,
    DisbursementRequest,
    DisbursementStatus,
    InboundCallback,
    PaymentMethod,
    PaymentStatus,
    ProviderAccount,
    ProviderDuplicate,
    ProviderRejected,
)
from gerbang.provider.gidi import (
    GidiProvider,
    bifast_channel,
    order_of,
    payment_status,
    request_id,
    signature,
    transaction_id,
    transfer_status,
)
from gerbang.sandbox.fakes import gidi as fake
from gerbang.sandbox.fakes.gidi import fake_credential_key
from gerbang.withdrawal import service as withdrawals
from tests.auth.people import Tenant
from tests.order.conftest import Post
from tests.provider.conftest import (
    AddAccount,
    fetch,
    fund,
    order_state,
    paid_twice_credited_once,
    qr_order,
    withdraw_through_polling,
)
from tests.withdrawal.conftest import balances

GIDI = GidiProvider()
MERCHANT, SUB, KEY = "1234567", "7654321", "gidi_test_key_0001"
ORDER = uuid.UUID("6f1c2a9e-0000-4000-8000-000000000001")
ORDER_NUMBER = "147690556223417969930522858846983028737"
REQUEST = "1733000000000123456"
WITHDRAWAL = "6f1c2a9e-0000-4000-8000-000000000002"
# layer "$S$R${TX}150000"
GENERATE_SIGNATURE = "f89d7702cd9aab85410ee9b74822855b13d4600acaee933efafd6e24c85631a6"
# layer "$R$TX"
QUERY_SIGNATURE = "65dafa0f8850a2e67c8975ad3ebd2e73348951b2a64ead2412a913876f009e37"
# layer "$R"
INQUIRY_SIGNATURE = "a63eec15382dfcaa06010f4080c95ef9226ea46481b5d06d6bfa043694fdf98e"
# layer "$WITHDRAWAL-r${WITHDRAWAL}bifast_bcaMerchant100000"
BIFAST_SIGNATURE = "62bc421ae721cfa57ef060b7dfadfa31a4a3c82e71c838d624f575339a75153e"
# layer "$WITHDRAWAL-r$WITHDRAWAL"
BIFAST_QUERY_SIGNATURE = "15f6912788357fcdab1979449a958c92cbec98e9bbf460ccbb5be28dc5081f87"
# layer "$S${TX}150000SUCCESS"
CALLBACK_SIGNATURE = "8ede2fd703b7431aa9213df0f39a083c2d58ddef81e5cb3982f104867b3b1559"
CALLBACK = "/api/v1/transaction/callback/gidi"


@pytest.fixture(autouse=True)
def _fake_knobs() -> Iterator[None]:
    fake._knobs.update(double_request_ids=0, pending_generates=0)
    yield
    fake._knobs.update(double_request_ids=0, pending_generates=0)


def _account(key: str = KEY, base_url: str = "http://127.0.0.1:1") -> ProviderAccount:
    return ProviderAccount(
        uuid.uuid4(), "gidi", base_url, {"merchant_id": MERCHANT, "sub_merchant_id": SUB, "credential_key": key}
    )


def test_signatures_match_the_documented_layered_sha256() -> None:
    assert transaction_id(ORDER) == ORDER_NUMBER
    assert signature(MERCHANT, f"{SUB}{REQUEST}{ORDER_NUMBER}150000", KEY) == GENERATE_SIGNATURE
    assert signature(MERCHANT, f"{REQUEST}{ORDER_NUMBER}", KEY) == QUERY_SIGNATURE
    assert signature(MERCHANT, REQUEST, KEY) == INQUIRY_SIGNATURE
    assert signature(MERCHANT, f"{WITHDRAWAL}-r{WITHDRAWAL}bifast_bcaMerchant100000", KEY) == BIFAST_SIGNATURE
    assert signature(MERCHANT, f"{WITHDRAWAL}-r{WITHDRAWAL}", KEY) == BIFAST_QUERY_SIGNATURE


def test_ids_are_numeric_and_the_transaction_id_names_its_order() -> None:
    assert order_of(ORDER_NUMBER) == order_of(int(ORDER_NUMBER)) == ORDER
    for bad in ("", "12a", str(1 << 128), "1" * 40, True, None, str(ORDER)):
        with pytest.raises(ValueError, match="not a transactionId"):
            order_of(bad)
    fresh = {request_id() for _ in range(50)}
    assert len(fresh) == 50
    assert all(value.isdigit() and len(value) == 19 for value in fresh)
    assert bifast_channel("BCA") == bifast_channel(" bca ") == bifast_channel("bifast_bca") == "bifast_bca"
    with pytest.raises(ProviderRejected, match="short name"):
        bifast_channel("014")


def _callback(body: dict[str, Any]) -> InboundCallback:
    return InboundCallback({}, orjson.dumps(body))


def test_a_callback_is_verified_over_its_signed_fields_with_the_owning_accounts_keys() -> None:
    body = {"merchantId": 1234567, "invoiceId": ORDER_NUMBER, "amount": 150000, "status": "SUCCESS",
            "datetimePayment": "2026-12-01 10:00:00", "signature": CALLBACK_SIGNATURE}  # fmt: skip
    assert GIDI.verify_callback(_account(), _callback(body))
    assert GIDI.verify_callback(_account(), _callback(body | {"amount": 150000.0}))  # as JavaScript writes it
    sign_field = {key: value for key, value in body.items() if key != "signature"} | {"sign": CALLBACK_SIGNATURE}
    assert GIDI.verify_callback(_account(), _callback(sign_field))
    assert GIDI.verify_callback(_account(), _callback(body | {"signature": CALLBACK_SIGNATURE.upper()}))
    assert not GIDI.verify_callback(_account("another_key_0002"), _callback(body))
    for tampered in ({"amount": 950000}, {"status": "PAID"}, {"invoiceId": "1"}, {"signature": ""}):
        assert not GIDI.verify_callback(_account(), _callback(body | tampered))
    assert not GIDI.verify_callback(_account(), InboundCallback({}, b"not json"))
    claimed = GIDI.parse_callback(_callback(body))
    assert (claimed.order_id, claimed.status, claimed.amount) == (ORDER, PaymentStatus.paid, 150000)
    assert claimed.paid_at is None  # not covered by the signature
    for unsigned_order in ({"ref_id": str(ORDER)}, {"refId": str(ORDER)}):  # the original's unsigned fields
        without_invoice = {key: value for key, value in body.items() if key != "invoiceId"} | unsigned_order
        with pytest.raises(ValueError, match="not a Gidi payment callback"):
            GIDI.parse_callback(_callback(without_invoice))
    with pytest.raises(ValueError, match="no disbursement callback"):
        GIDI.parse_disbursement_callback(_callback(body))


def test_status_mappings_never_pay_or_complete_an_unknown_status() -> None:
    for paid in ("SUCCESS", "paid", "Done", "COMPLETED", "SETTLED"):
        assert payment_status(paid) is PaymentStatus.paid
    assert payment_status("PENDING") is payment_status("waiting") is PaymentStatus.pending
    assert payment_status("FAILED") is payment_status("cancelled") is PaymentStatus.failed
    assert payment_status("EXPIRED") is PaymentStatus.expired
    for unknown in ("SUCCES", "PAID_MAYBE", "", None, 1):
        assert payment_status(unknown) is PaymentStatus.pending
    assert transfer_status("Success") is DisbursementStatus.completed
    assert transfer_status("Failed") is DisbursementStatus.failed
    assert transfer_status("Pending") is transfer_status("processing") is DisbursementStatus.processing
    for unknown in ("Successful", "", None):
        assert transfer_status(unknown) is DisbursementStatus.pending


def test_credentials_take_the_originals_aliases_trimmed_and_never_echo_a_value() -> None:
    stored = {"merchant_id": "1234567", "sub_merchant_id": "7654321", "credential_key": "k3y-secret"}
    camel = {"merchantId": " 1234567 ", "subMerchantId": "7654321 ", "credentialKey": " k3y-secret "}
    assert GIDI.check_credentials(camel) == GIDI.check_credentials(stored) == stored
    bad_inputs = (
        ({"merchantId": "1234567", "subMerchantId": "7654321"}, r"required credential fields: \['credential_key'\]"),
        ({"merchantId": "M-77", "subMerchantId": "76", "credentialKey": "k3y-secret"}, "merchant_id must be digits"),
        ({"merchantId": "1", "subMerchantId": "x9", "credentialKey": "k3y-secret"}, "sub_merchant_id must be digits"),
        ({"merchantId": "1", "merchant_id": "2", "subMerchantId": "3", "credentialKey": "k3y-secret"}, "given twice"),
        ({"merchantId": "1", "subMerchantId": "3", "credentialKey": "k3y-secret", "baseUrl": "http://x"}, "unknown"),
        ({"merchantId": "1", "subMerchantId": "3", "credentialKey": "k3y"}, "credential_key is too short"),
    )  # fmt: skip
    for credentials, message in bad_inputs:
        with pytest.raises(ValueError, match=message) as raised:
            GIDI.check_credentials(credentials)
        for value in ("k3y-secret", "M-77", "x9", "http://x"):
            assert value not in str(raised.value)


@pytest.fixture
async def session(live: str) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def _live_account(live: str, merchant: str = "7100007") -> ProviderAccount:
    return ProviderAccount(uuid.uuid4(), "gidi", f"{live}/sandbox/gidi", {
        "merchant_id": merchant, "sub_merchant_id": "7200007", "credential_key": fake_credential_key(merchant),
    })  # fmt: skip


def _charge(amount: int = 50_000) -> ChargeRequest:
    return ChargeRequest(uuid.uuid4(), amount, PaymentMethod.qris, None, utcnow() + timedelta(minutes=15),
                         "http://unused/callback")  # fmt: skip


async def test_create_and_status_against_the_fake_with_fresh_request_ids_on_double_request_id(
    live: str, session: aiohttp.ClientSession, database: Database
) -> None:
    account, request = _live_account(live), _charge()
    fake._knobs.update(double_request_ids=2, pending_generates=1)  # two ids taken, then a QR still being made
    charge = await GIDI.create_payment(session, account, request)
    assert (charge.qr_payload or "").startswith("000201")
    assert charge.provider_reference.isdigit()  # the requestId that made it: the status query names it
    assert fake._knobs == {"double_request_ids": 0, "pending_generates": 0}
    status = await GIDI.payment_status(session, account, request.order_id, charge.provider_reference)
    assert (status.status, status.amount) == (PaymentStatus.pending, 50_000)
    ref = await fetch(database, "SELECT merchant_ref FROM sandbox_charges WHERE charge_id LIKE 'gidi_%'")
    assert ref == request.order_id  # the transactionId Gidi holds is the order's number
    with pytest.raises(ProviderDuplicate, match="DOUBLE_TRANSACTION_ID"):  # made once: not retried with new ids
        await GIDI.create_payment(session, account, request)
    fake._knobs["double_request_ids"] = 6  # every fresh id refused: the duplicate is reported, typed
    with pytest.raises(ProviderDuplicate):
        await GIDI.create_payment(session, account, _charge())
    rekeyed = _live_account(live)
    rekeyed = ProviderAccount(
        rekeyed.id, "gidi", rekeyed.base_url, {**rekeyed.credentials, "credential_key": "k3y-wrong"}
    )
    with pytest.raises(ProviderRejected, match="INVALID_SIGNATURE"):  # a key that is not this merchant's
        await GIDI.create_payment(session, rekeyed, _charge())
    with pytest.raises(BalanceNotOffered):
        await GIDI.balance(session, account)


async def _gidi_order(add: AddAccount, post: Post, shop: Tenant, reference: str = "GIDI-1") -> dict[str, Any]:
    await add("gidi", {"merchantId": "7100001", "subMerchantId": "7200001",
                       "credentialKey": fake_credential_key("7100001")})  # fmt: skip
    return await qr_order(post, shop, reference)


async def test_a_gidi_order_is_paid_once_by_its_signed_callback(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, database: Database
) -> None:
    order = await _gidi_order(add_provider_account, post, shop)
    await paid_twice_credited_once(live, database, shop, order["orderId"])  # Gidi retries
    rows = await fetch(
        database, "SELECT array_agg(verified::text || ':' || outcome ORDER BY id) FROM provider_callbacks"
    )
    assert rows == ["true:applied"]  # the retry is the same notification: recognised, not stored twice


async def test_a_wrong_signature_or_another_accounts_key_gets_401_and_changes_nothing(
    add_provider_account: AddAccount, post: Post, shop: Tenant, client: httpx.AsyncClient, database: Database
) -> None:
    order = await _gidi_order(add_provider_account, post, shop)
    await add_provider_account("gidi", {"merchantId": "7100002", "subMerchantId": "7200001",
                                        "credentialKey": fake_credential_key("7100002")}, "Other")  # fmt: skip
    invoice = transaction_id(uuid.UUID(order["orderId"]))
    other = signature("7100002", f"7200001{invoice}150000SUCCESS", fake_credential_key("7100002"))
    for presented in ("0" * 64, other, ""):
        body = {"merchantId": 7100001, "subMerchantId": 7200001, "invoiceId": invoice, "amount": 150000,
                "status": "SUCCESS", "signature": presented}  # fmt: skip
        response = await client.post(CALLBACK, content=orjson.dumps(body))
        assert response.status_code == 401, response.text
        assert response.json()["responseCode"] == "INVALID_SIGNATURE"
    assert await order_state(database, order["orderId"]) == ("PENDING", 0, 0)
    assert await fetch(database, "SELECT count(*) FROM provider_callbacks WHERE outcome = 'unverified'") == 3


async def test_a_signed_callback_with_another_amount_or_an_unknown_status_moves_nothing(
    add_provider_account: AddAccount, post: Post, shop: Tenant, client: httpx.AsyncClient, database: Database
) -> None:
    order = await _gidi_order(add_provider_account, post, shop)
    invoice, key = transaction_id(uuid.UUID(order["orderId"])), fake_credential_key("7100001")
    for amount, status in ((1, "SUCCESS"), (150000, "SUCCESSFUL")):
        body = {"merchantId": 7100001, "invoiceId": invoice, "amount": amount, "status": status,
                "signature": signature("7100001", f"7200001{invoice}{amount}{status}", key)}  # fmt: skip
        response = await client.post(CALLBACK, content=orjson.dumps(body))
        assert response.status_code == 200, response.text
    assert await order_state(database, order["orderId"]) == ("PENDING", 0, 0)
    outcomes = await fetch(database, "SELECT array_agg(outcome ORDER BY id) FROM provider_callbacks")
    assert outcomes == ["amount_mismatch", "ignored"]


async def test_a_lost_callback_is_caught_up_by_the_status_query(
    add_provider_account: AddAccount, post: Post, s2s: Any, shop: Tenant, live: str, database: Database
) -> None:
    order = await _gidi_order(add_provider_account, post, shop)
    async with httpx.AsyncClient(base_url=live) as http:
        await http.post(
            f"/sandbox/gidi/transactions/{order['orderId']}/answer", json={"status": "SUCCESS", "amount": 1}
        )
        response = await s2s(shop, "GET", f"/api/v1/payments/order/{order['orderId']}/status")
        assert response.json()["result"]["status"] == "PENDING", response.text  # paid, but not what was asked
        await http.post(f"/sandbox/gidi/transactions/{order['orderId']}/answer", json={"status": "SUCCESS"})
        await fetch(database, "UPDATE orders SET last_status_check_at = NULL")
        response = await s2s(shop, "GET", f"/api/v1/payments/order/{order['orderId']}/status")
    assert response.json()["result"]["status"] == "PAID", response.text
    assert await order_state(database, order["orderId"]) == ("PAID", 1, 1)


async def test_inquiry_and_a_withdrawal_completed_by_polling_bifast_query(
    add_provider_account: AddAccount, s2s: Any, shop: Tenant, live: str, database: Database, app: FastAPI,
    session: aiohttp.ClientSession,
) -> None:  # fmt: skip
    account = await add_provider_account("gidi", {"merchant_id": "7100003", "sub_merchant_id": "7200003",
                                                  "credential_key": fake_credential_key("7100003")})  # fmt: skip
    adapter_account = _live_account(live, "7100003")
    found = await GIDI.account_inquiry(session, adapter_account, AccountInquiry("BCA", "1234567890"))
    assert (found.valid, bool(found.holder_name)) == (True, True)
    missing = await GIDI.account_inquiry(session, adapter_account, AccountInquiry("BCA", "1234560000"))
    assert (missing.valid, missing.holder_name) == (False, None)
    with pytest.raises(ProviderRejected, match="INVALID_CHANNEL"):
        await GIDI.account_inquiry(session, adapter_account, AccountInquiry("NOBANK", "1234567890"))
    pay_in = app.state.pay_in
    payouts = withdrawals.Payouts.from_settings(
        pay_in.database, pay_in.key_ring, pay_in.session, app.state.settings, pay_in.public_url
    )
    withdrawal_id = await withdraw_through_polling(
        "gidi", account["id"], s2s, shop, live, database, payouts, "GIDI-WD-1"
    )
    # Resubmitting the same withdrawal (the same ids) is Gidi's DOUBLE_REQUEST_ID: the transfer is asked for.
    net = await fetch(database, "SELECT net FROM withdrawals WHERE id = $1", uuid.UUID(withdrawal_id))
    again = await GIDI.create_disbursement(session, adapter_account, DisbursementRequest(
        uuid.UUID(withdrawal_id), net, "BCA", "1234567890", "x", "http://unused",
    ))  # fmt: skip
    assert again.status is DisbursementStatus.completed
    assert await fetch(database, "SELECT count(*) FROM sandbox_disbursements") == 1


async def test_a_transfer_the_bank_rejects_fails_and_releases_the_hold(
    add_provider_account: AddAccount, s2s: Any, shop: Tenant, live: str, database: Database, app: FastAPI
) -> None:
    account = await add_provider_account("gidi", {"merchantId": "7100004", "subMerchantId": "7200004",
                                                  "credentialKey": fake_credential_key("7100004")})  # fmt: skip
    await fund(database, shop, account["id"], 200_000)
    body = {"amount": 100_000, "bankCode": "BCA", "accountNumber": "1234569999", "reference": "GIDI-WD-2"}
    result = (await s2s(shop, "POST", "/api/v1/withdrawals/s2s/withdrawals", body)).json()["result"]
    async with httpx.AsyncClient(base_url=live) as http:
        assert (await http.post(f"/sandbox/disbursements/{result['id']}/fail")).status_code == 200
    pay_in = app.state.pay_in
    payouts = withdrawals.Payouts.from_settings(
        pay_in.database, pay_in.key_ring, pay_in.session, app.state.settings, pay_in.public_url
    )
    await fetch(database, "UPDATE withdrawals SET next_check_at = now()")
    await withdrawals.recover_due(payouts)
    assert await fetch(database, "SELECT status FROM withdrawals WHERE id = $1", uuid.UUID(result["id"])) == "FAILED"
    assert await balances(database, shop) == (200_000, 0, 0)


def test_the_demo_can_run_on_the_gidi_fake() -> None:
    from gerbang.cli.demo import demo_account
    from gerbang.config import load_settings

    account = demo_account(load_settings(demo_provider="gidi", public_url="http://127.0.0.1:8000"))
    assert (account.provider, account.base_url) == ("gidi", "http://127.0.0.1:8000/sandbox/gidi")
    credentials = GIDI.check_credentials(account.credentials)
    assert credentials["credential_key"] == fake_credential_key(credentials["merchant_id"])
