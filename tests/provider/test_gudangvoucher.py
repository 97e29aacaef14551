"""GudangVoucher: the form-post signatures against vectors computed by hand (`printf '%s' ... | md5sum`), the
status mapping, credentials, and, since its callbacks are only prompts, the pay-in flow moved by its status
answer alone, against its fake over real HTTP."""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import httpx
import orjson
import pytest

from gerbang.db import Database
from gerbang.kit.time import utcnow
from gerbang.ledger import service as ledger
from gerbang.provider.base import (
    ChargeRequest,
    InboundCallback,
    PaymentMethod,
    PaymentStatus,
    ProviderAccount,
    ProviderRejected,
)
from gerbang.provider.gudangvoucher import (
    GudangVoucherProvider,
    charge_signature,
    custom_of,
    order_of,
    payment_status,
    status_signature,
)
from gerbang.sandbox.fakes.gudangvoucher import fake_merchant_key
from tests.auth.people import Tenant
from tests.ledger.helpers import assert_reconciled
from tests.order.conftest import Post
from tests.provider.conftest import (
    AddAccount,
    fetch,
    order_state,
    paid_twice_credited_once,
    paid_yet_pending_ignored_and_flagged,
    qr_order,
)

GV = GudangVoucherProvider()
CALLBACK = "/api/v1/transaction/callback/gudangvoucher"
ORDER = uuid.UUID("6f1c2a9e-0000-4000-8000-000000000001")
CUSTOM = "6f1c2a9e000040008000000000000001"
MERCHANT, KEY = "878", "gv_test_merchant_key_0a1b2c"
# printf '%s' '878150000gv_test_merchant_key_0a1b2c6f1c2a9e000040008000000000000001' | md5sum
CHARGE_SIGNATURE = "54fc25adf77eeb25b1c8710f45efe37b"
# printf '%s' '878150000gv_other_merchant_key_9z8y6f1c2a9e000040008000000000000001' | md5sum
OTHER_KEY_SIGNATURE = "d820870189c037bd91b55a54baf32245"
# printf '%s' 'gv_test_merchant_key_0a1b2c8786f1c2a9e000040008000000000000001' | md5sum
STATUS_SIGNATURE = "46c7527ec4694d4171c5259b1fd69285"


def test_signatures_match_the_documented_md5() -> None:
    assert custom_of(ORDER) == CUSTOM
    assert charge_signature(MERCHANT, 150_000, KEY, CUSTOM) == CHARGE_SIGNATURE
    assert charge_signature(MERCHANT, 150_000, "gv_other_merchant_key_9z8y", CUSTOM) == OTHER_KEY_SIGNATURE
    assert charge_signature(MERCHANT, 150_001, KEY, CUSTOM) != CHARGE_SIGNATURE
    assert status_signature(MERCHANT, KEY, CUSTOM) == STATUS_SIGNATURE


def test_custom_finds_our_order_and_nothing_else() -> None:
    assert order_of(CUSTOM) == ORDER
    for other in (str(ORDER), CUSTOM.upper(), "GVQ1733030400000", CUSTOM[:-1], None, 1):
        with pytest.raises(ValueError, match="not one of our custom references"):
            order_of(other)


def test_status_mapping_never_pays_an_unknown_status() -> None:
    assert payment_status("SUCCESS") is payment_status("success") is PaymentStatus.paid
    assert payment_status("PENDING") is payment_status("UNPAID") is PaymentStatus.pending
    assert payment_status("CANCEL") is payment_status("FAILED") is PaymentStatus.failed
    assert payment_status("EXPIRED") is PaymentStatus.expired
    for unknown in ("PAID", "SETTLED", "SUCCESSFUL", "00", "", None, 0):
        assert payment_status(unknown) is PaymentStatus.pending


def test_credentials_take_the_aliases_trimmed_and_never_echo_a_value() -> None:
    camel = GV.check_credentials({"merchantId": " 878 ", "merchantKey": " s3cret-merchant-key "})
    assert camel == {"merchant_id": "878", "merchant_key": "s3cret-merchant-key"}
    assert GV.check_credentials({"merchant_id": "878", "merchant_key": "s3cret-merchant-key"}) == camel
    assert GV.check_credentials({"merchantid": "878", "merchantkey": "s3cret-merchant-key"}) == camel
    for bad, message in (
        ({"merchantId": "878"}, "required credential fields"),
        ({"merchantId": "878", "merchantKey": "s3cret-merchant-key", "secretKey": "x"}, "unknown credential"),
        ({"merchantId": "878", "merchant_id": "879", "merchantKey": "s3cret-merchant-key"}, "given twice"),
        ({"merchantId": "878", "merchantKey": "s3cret"}, "merchant_key is too short"),
    ):
        with pytest.raises(ValueError, match=message) as raised:
            GV.check_credentials(bad)
        assert "s3cret" not in str(raised.value)
        assert "879" not in str(raised.value)


def _prompt(custom: str, **fields: str) -> bytes:
    return urllib.parse.urlencode({"merchantid": MERCHANT, "custom": custom, **fields}).encode()


def test_a_callback_is_a_prompt_naming_its_order_and_never_verified() -> None:
    body = _prompt(CUSTOM, status="SUCCESS", amount="150000", reference_label="GV1")
    claimed = GV.parse_callback(InboundCallback({}, body))
    assert (claimed.order_id, claimed.status, claimed.amount, claimed.event_id) == (
        ORDER, PaymentStatus.paid, 150_000, f"{CUSTOM}:SUCCESS")  # fmt: skip
    assert GV.callbacks_signed is False
    account = ProviderAccount(uuid.uuid4(), "gudangvoucher", "http://x", {"merchant_id": MERCHANT, "merchant_key": KEY})
    assert GV.verify_callback(account, InboundCallback({}, body)) is False
    for other in (orjson.dumps({"custom": CUSTOM}), _prompt(str(ORDER)), b"status=SUCCESS", b"\xff"):
        with pytest.raises(ValueError, match="not a GudangVoucher callback"):
            GV.parse_callback(InboundCallback({}, other))


@pytest.fixture
async def session(live: str) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def _account(live: str, merchant: str = "GV-M1", key: str | None = None) -> ProviderAccount:
    credentials = {"merchant_id": merchant, "merchant_key": key or fake_merchant_key(merchant)}
    return ProviderAccount(uuid.uuid4(), "gudangvoucher", f"{live}/sandbox/gudangvoucher", credentials)


def _charge(amount: int = 50_000) -> ChargeRequest:
    return ChargeRequest(uuid.uuid4(), amount, PaymentMethod.qris, None, utcnow() + timedelta(minutes=15),
                         "http://127.0.0.1:9/callback")  # fmt: skip


async def test_create_and_status_against_the_fake_and_another_merchant_sees_nothing(
    live: str, session: aiohttp.ClientSession, database: Database
) -> None:
    account, request = _account(live), _charge()
    charge = await GV.create_payment(session, account, request)
    assert charge.qr_payload
    assert charge.provider_reference.startswith("gv_")
    status = await GV.payment_status(session, account, request.order_id, None)
    assert (status.status, status.amount, status.settled) == (PaymentStatus.pending, 50_000, False)
    with pytest.raises(ProviderRejected, match="14: transaction not found"):
        await GV.payment_status(session, _account(live, "GV-M2"), request.order_id, None)
    wrong_key = _account(live, key="gv_not_the_merchants_key")
    with pytest.raises(ProviderRejected, match="invalid signature") as raised:
        await GV.create_payment(session, wrong_key, _charge())
    assert "gv_not_the_merchants_key" not in str(raised.value)
    with pytest.raises(ProviderRejected, match="not offered"):
        await GV.create_payment(session, account, ChargeRequest(
            uuid.uuid4(), 50_000, PaymentMethod.va, "BCA", utcnow() + timedelta(minutes=15), "http://x"))  # fmt: skip


async def _gv_order(add: AddAccount, post: Post, shop: Tenant, reference: str = "GV-1") -> dict[str, Any]:
    await add("gudangvoucher", {"merchantId": "GV-M1", "merchantKey": fake_merchant_key("GV-M1")})
    return await qr_order(post, shop, reference)


async def test_a_gv_order_is_paid_once_on_gvs_own_answer(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, database: Database
) -> None:
    order = await _gv_order(add_provider_account, post, shop)
    await paid_twice_credited_once(live, database, shop, order["orderId"])  # the prompt again
    rows = await fetch(
        database,
        "SELECT array_agg(provider || ':' || verified::text || ':' || outcome ORDER BY id) FROM provider_callbacks",
    )
    assert rows == ["gudangvoucher:false:applied", "gudangvoucher:false:duplicate"]
    await assert_reconciled(database)


async def test_a_forged_paid_prompt_leaves_the_order_pending_and_the_ledger_untouched(
    add_provider_account: AddAccount, post: Post, shop: Tenant, client: httpx.AsyncClient, database: Database
) -> None:
    order = await _gv_order(add_provider_account, post, shop)
    forged = _prompt(
        uuid.UUID(order["orderId"]).hex, status="SUCCESS", amount="150000", payment_time="2026-12-01 10:00:00"
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post(CALLBACK, content=forged, headers=headers)
    assert response.status_code == 200  # acknowledged, and GudangVoucher was asked: PENDING
    assert await order_state(database, order["orderId"]) == ("PENDING", 0, 0)
    assert await fetch(database, "SELECT verified::text || ':' || outcome FROM provider_callbacks") == "false:ignored"
    # A prompt that names no order of ours is kept and moves nothing either.
    stray = await client.post(CALLBACK, content=_prompt(uuid.uuid4().hex, status="SUCCESS"), headers=headers)
    assert stray.status_code == 200
    garbage = await client.post(CALLBACK, content=b'{"custom": "x"}')
    assert garbage.status_code == 400
    outcomes = await fetch(database, "SELECT array_agg(outcome ORDER BY id) FROM provider_callbacks")
    assert outcomes == ["ignored", "unknown_order", "unparseable"]
    async with database.transaction() as connection:
        balances = await ledger.partner_balances(connection, shop.id)
    assert (balances.pending, balances.available) == (0, 0)


async def test_an_unknown_status_stays_pending_and_a_wrong_amount_is_flagged(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, database: Database
) -> None:
    unknown = await _gv_order(add_provider_account, post, shop)
    response = await post(shop, "/api/v1/payments", {"amount": 150_000, "reference": "GV-AMOUNT"})
    wrong_amount = response.json()["result"]
    async with httpx.AsyncClient(base_url=live) as http:
        await http.post(f"/sandbox/gudangvoucher/transactions/{unknown['orderId']}/answer", json={"status": "PAID"})
        await http.post(f"/sandbox/gudangvoucher/transactions/{wrong_amount['orderId']}/answer", json={"amount": "1"})
    await paid_yet_pending_ignored_and_flagged(live, database, unknown["orderId"], wrong_amount["orderId"])


async def test_an_account_without_a_base_url_takes_the_providers_default(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"provider": "gudangvoucher", "name": "GV live", "methods": ["qris"],
            "credentials": {"merchantId": "878", "merchantKey": "s3cret-merchant-key"}}  # fmt: skip
    created = await client.post("/api/v1/admin/provider-accounts", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["baseUrl"] == "https://www.gudangvoucher.com"
    assert sorted(created.json()["credentialFields"]) == ["merchant_id", "merchant_key"]
    assert "s3cret-merchant-key" not in created.text
    refused = await client.post("/api/v1/admin/provider-accounts", json=body | {"credentials": {"merchantId": "878"}},
                                headers=admin)  # fmt: skip
    assert (refused.status_code, refused.json()["error"]) == (422, "invalid_provider_account")


def test_the_demo_can_run_on_the_gudangvoucher_fake() -> None:
    from gerbang.cli.demo import demo_account
    from gerbang.config import load_settings

    account = demo_account(load_settings(demo_provider="gudangvoucher", public_url="http://127.0.0.1:8000"))
    assert (account.provider, account.base_url) == ("gudangvoucher", "http://127.0.0.1:8000/sandbox/gudangvoucher")
    assert GV.check_credentials(account.credentials)["merchant_key"] == fake_merchant_key("GERBANG-DEMO")
