"""Genesis: the MD5 schemes against vectors computed by hand (`printf '%s' ... | md5sum`), credentials with no
default secret, and the pay-in flow against its fake over real HTTP: a callback's signature leaves the
status out, so a verified callback is confirmed by Genesis's own query before anything moves."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import aiohttp
import httpx
import orjson
import pytest

from gerbang.db import Database
from gerbang.kit.time import utcnow
from gerbang.provider.base import (
    ChargeRequest,
    InboundCallback,
    PaymentMethod,
    PaymentStatus,
    ProviderAccount,
    ProviderRejected,
)
from gerbang.provider.genesis import GenesisProvider, query_signature
from gerbang.provider.piro_common import amount_signature, payment_status
from gerbang.provider.registry import PAYOUT_PROVIDERS
from gerbang.sandbox.fakes import genesis as fake
from tests.auth.people import Tenant
from tests.order.conftest import Post
from tests.provider.conftest import AddAccount, fetch, order_state, paid_twice_credited_once, qr_order
from tests.withdrawal.conftest import balances

GENESIS = GenesisProvider()
ORDER = "6f1c2a9e-0000-4000-8000-000000000002"
VECTOR = {"client_id": "GEN-CLIENT-01", "client_secret": "genesis_secret_01"}
# printf '%s' "GEN-CLIENT-01150000.00${ORDER}genesis_secret_01" | md5sum: the generate-order request and the
# callback (clientId + value/amount + orderId + clientSecret)
AMOUNT_SIGNATURE = "a2ec472388fb59ab49bd5a53452dea48"
# printf '%s' "GEN-CLIENT-01${ORDER}genesis_secret_01" | md5sum
QUERY_SIGNATURE = "80d68d76525477fc37e2693e07609bef"
CALLBACK = "/api/v1/transaction/callback/genesis"


def _credentials(client_id: str = "GEN-M1") -> dict[str, str]:
    return {"clientId": client_id, "clientSecret": fake.fake_secret(client_id)}


def test_signatures_match_the_documented_md5() -> None:
    assert amount_signature("GEN-CLIENT-01", "150000.00", ORDER, "genesis_secret_01") == AMOUNT_SIGNATURE
    assert query_signature("GEN-CLIENT-01", ORDER, "genesis_secret_01") == QUERY_SIGNATURE


def test_the_callback_signature_covers_client_amount_and_order_not_the_body() -> None:
    account = ProviderAccount(uuid.uuid4(), "genesis", "http://127.0.0.1:1", VECTOR)
    body = orjson.dumps({"orderId": ORDER, "amount": "150000.00", "status": "SUCCESS"})
    for header in ("x-signature", "x-piro-signature"):
        assert GENESIS.verify_callback(account, InboundCallback({header: AMOUNT_SIGNATURE}, body))
    as_number = orjson.dumps({"orderId": ORDER, "amount": 150000, "status": "FAILED", "extra": 1})
    assert GENESIS.verify_callback(account, InboundCallback({"x-signature": AMOUNT_SIGNATURE}, as_number))
    other = ProviderAccount(account.id, "genesis", account.base_url, VECTOR | {"client_secret": "another_secret"})
    assert not GENESIS.verify_callback(other, InboundCallback({"x-signature": AMOUNT_SIGNATURE}, body))
    for tampered in (body.replace(b"150000.00", b"950000.00"), body.replace(b"150000.00", b"150000.50"), b"{}"):
        assert not GENESIS.verify_callback(account, InboundCallback({"x-signature": AMOUNT_SIGNATURE}, tampered))
    assert not GENESIS.verify_callback(account, InboundCallback({}, body))
    assert GENESIS.callbacks_signed is GENESIS.callbacks_confirmed is True  # the status is not signed: ask
    claimed = GENESIS.parse_callback(InboundCallback({}, body))
    assert (str(claimed.order_id), claimed.status, claimed.amount) == (ORDER, PaymentStatus.paid, 150_000)
    for bad in (b"not json", b"[]", orjson.dumps({"orderId": ORDER, "status": "SUCCESS"})):
        with pytest.raises(ValueError, match="not a Genesis payment callback"):
            GENESIS.parse_callback(InboundCallback({}, bad))


def test_status_mapping_never_pays_an_unknown_status() -> None:
    assert payment_status("SUCCESS", provider="genesis") is PaymentStatus.paid
    assert payment_status("expired", provider="genesis") is PaymentStatus.expired
    assert payment_status("VOID", provider="genesis") is PaymentStatus.failed
    for unknown in ("00", "SUCCES", None, ""):
        assert payment_status(unknown, provider="genesis") is PaymentStatus.pending


def test_credentials_are_required_with_no_default_secret_and_never_echoed() -> None:
    assert GENESIS.check_credentials({"clientId": " C1 ", "clientSecret": " client-secret-1 "}) == {
        "client_id": "C1", "client_secret": "client-secret-1",
    }  # fmt: skip
    assert GENESIS.check_credentials({"client_id": "C1", "client_secret": "client-secret-1"})["client_id"] == "C1"
    for bad, message in (
        ({"clientId": "C1"}, r"required credential fields: \['client_secret'\]"),
        ({"clientId": "C1", "clientSecret": "abc"}, "client_secret is too short"),  # the original's default
        ({"clientId": "C1", "clientSecret": "client-secret-1", "secret": "x"}, "unknown credential fields"),
    ):
        with pytest.raises(ValueError, match=message) as raised:
            GENESIS.check_credentials(bad)
        assert "client-secret-1" not in str(raised.value)
        assert "'abc'" not in str(raised.value)
    assert "genesis" not in PAYOUT_PROVIDERS  # Genesis has no disbursement


def _account(live: str, client_id: str = "GEN-M1", secret: str | None = None) -> ProviderAccount:
    credentials = {"client_id": client_id, "client_secret": secret or fake.fake_secret(client_id)}
    return ProviderAccount(uuid.uuid4(), "genesis", f"{live}/sandbox/genesis", credentials)


async def test_create_and_query_against_the_fake(live: str, session: aiohttp.ClientSession, database: Database) -> None:
    account = _account(live)
    request = ChargeRequest(uuid.uuid4(), 75_000, PaymentMethod.qris, None, utcnow() + timedelta(minutes=15),
                            "http://unused/callback")  # fmt: skip
    charge = await GENESIS.create_payment(session, account, request)
    assert charge.qr_payload
    assert charge.provider_reference.startswith(fake.CHARGE_PREFIX)
    status = await GENESIS.payment_status(session, account, request.order_id, charge.provider_reference)
    assert (status.status, status.amount) == (PaymentStatus.pending, 75_000)
    with pytest.raises(ProviderRejected, match="Duplicate orderId"):
        await GENESIS.create_payment(session, account, request)
    with pytest.raises(ProviderRejected, match="Invalid signature"):
        await GENESIS.payment_status(session, _account(live, secret="not-the-fakes-secret"), request.order_id, None)
    with pytest.raises(ProviderRejected, match="not found"):
        await GENESIS.payment_status(session, _account(live, "GEN-OTHER"), request.order_id, None)


async def _genesis_order(add: AddAccount, post: Post, shop: Tenant) -> dict[str, Any]:
    await add("genesis", _credentials())
    return await qr_order(post, shop, f"GEN-{uuid.uuid4().hex[:8]}")


async def test_a_genesis_order_is_paid_once_on_genesiss_own_answer(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, database: Database
) -> None:
    order = await _genesis_order(add_provider_account, post, shop)
    await paid_twice_credited_once(live, database, shop, order["orderId"])  # Genesis retries
    rows = await fetch(
        database, "SELECT array_agg(verified::text || ':' || outcome ORDER BY id) FROM provider_callbacks"
    )
    assert rows == ["true:applied"]  # the retry is the same notification: recognised, not stored twice


async def test_a_wrong_signature_or_another_accounts_secret_gets_401_and_changes_nothing(
    add_provider_account: AddAccount, post: Post, shop: Tenant, client: httpx.AsyncClient, database: Database
) -> None:
    order = await _genesis_order(add_provider_account, post, shop)
    await add_provider_account("genesis", _credentials("GEN-M2"), "Other")
    body = orjson.dumps({"orderId": order["orderId"], "amount": "150000.00", "status": "SUCCESS"})
    other = amount_signature("GEN-M2", "150000.00", order["orderId"], fake.fake_secret("GEN-M2"))
    for headers in ({"x-signature": "0" * 32}, {"x-signature": other}, {}):
        response = await client.post(CALLBACK, content=body, headers=headers)
        assert response.status_code == 401, response.text
    assert await order_state(database, order["orderId"]) == ("PENDING", 0, 0)
    assert await balances(database, shop) == (0, 0, 0)
    assert await fetch(database, "SELECT count(*) FROM provider_callbacks WHERE outcome = 'unverified'") == 3


async def test_a_signed_paid_callback_leaves_the_order_pending_when_genesis_says_otherwise(
    add_provider_account: AddAccount, post: Post, shop: Tenant, client: httpx.AsyncClient, live: str,
    database: Database,
) -> None:  # fmt: skip
    pending = await _genesis_order(add_provider_account, post, shop)
    response = await post(shop, "/api/v1/payments", {"amount": 150_000, "reference": "GEN-AMOUNT"})
    wrong_amount = response.json()["result"]
    async with httpx.AsyncClient(base_url=live) as http:
        # Genesis says paid, but for another amount.
        knob = f"/sandbox/genesis/transactions/{wrong_amount['orderId']}/answer"
        await http.post(knob, json={"status": "SUCCESS", "value": "1.00"})
    secret = fake.fake_secret("GEN-M1")
    for order in (pending, wrong_amount):
        # A replayed signature: amount and order as signed, the status changed to "paid".
        body = orjson.dumps({"orderId": order["orderId"], "amount": "150000.00", "status": "SUCCESS"})
        signature = amount_signature("GEN-M1", "150000.00", order["orderId"], secret)
        answered = await client.post(CALLBACK, content=body, headers={"x-signature": signature})
        assert answered.status_code == 200, answered.text
    assert await order_state(database, pending["orderId"]) == ("PENDING", 0, 0)
    assert await order_state(database, wrong_amount["orderId"]) == ("PENDING", 0, 0)
    outcomes = await fetch(database, "SELECT array_agg(outcome ORDER BY id) FROM provider_callbacks")
    assert outcomes == ["ignored", "amount_mismatch"]


def test_the_demo_can_run_on_the_genesis_fake() -> None:
    from gerbang.cli.demo import demo_account
    from gerbang.config import load_settings

    account = demo_account(load_settings(demo_provider="genesis", public_url="http://127.0.0.1:8000"))
    assert (account.provider, account.base_url) == ("genesis", "http://127.0.0.1:8000/sandbox/genesis")
    checked = GENESIS.check_credentials(account.credentials)
    assert checked["client_secret"] == fake.fake_secret(checked["client_id"])
