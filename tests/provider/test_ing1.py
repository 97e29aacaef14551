"""ING1: a bearer token from a login, renewed before its `exp` and once on `rc 98`; its GET callbacks are
not signed, so they only prompt a status query. Mappings, credentials, the token's life, and the whole
pay-in and withdrawal flows against its fake over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import aiohttp
import httpx
import orjson
import pytest

from gerbang.db import Database
from gerbang.kit.time import utcnow
from gerbang.provider.base import (
    BalanceNotOffered,
    ChargeRequest,
    DisbursementRequest,
    DisbursementStatus,
    InboundCallback,
    PaymentMethod,
    PaymentStatus,
    ProviderAccount,
    ProviderRejected,
)
from gerbang.provider.ing1 import Ing1Provider, cashout_status, payment_status, token_expiry
from gerbang.sandbox.fakes import ing1 as fake
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
    withdraw_through_callback,
)

ING1 = Ing1Provider()
CREDENTIALS = {"email": "finance@gerbang.test", "password": "ing1-password-0123"}
CALLBACK = "/api/v1/transaction/callback/ing1"
WITHDRAWAL_CALLBACK = "/api/v1/withdrawals/callback/ing1"


@pytest.fixture(autouse=True)
def _fake_knobs() -> Iterator[None]:
    fake._knobs.update(token_ttl_s=fake.TOKEN_TTL_S, reject_next_token=False)
    yield
    fake._knobs.update(token_ttl_s=fake.TOKEN_TTL_S, reject_next_token=False)


def test_status_mappings_never_pay_or_complete_an_unknown_status() -> None:
    assert payment_status(0, None) is PaymentStatus.paid
    assert payment_status(91, "PAID") is PaymentStatus.pending  # the rc decides
    assert payment_status(99, None) is PaymentStatus.failed
    assert payment_status(None, "Completed") is payment_status(7, "done") is PaymentStatus.paid
    assert payment_status(None, "processing") is PaymentStatus.pending
    assert payment_status(None, "void") is payment_status(None, "expired") is PaymentStatus.failed
    for text in ("SETTLED", "", None, "paid!"):  # the original made these FAILED; never PAID here
        assert payment_status(5, text) is PaymentStatus.pending
    assert cashout_status(0, None) is DisbursementStatus.completed
    assert cashout_status(91, None) is cashout_status(None, "process") is DisbursementStatus.processing
    assert cashout_status(99, None) is cashout_status(None, "reject") is DisbursementStatus.failed
    assert cashout_status(42, "SOMETHING") is DisbursementStatus.pending


def test_credentials_take_the_originals_aliases_trimmed() -> None:
    original = ING1.check_credentials({
        "email": " finance@gerbang.test ", "password": " ing1-password-0123 ", "productCode": " QRIS01 ",
        "merchantId": "M1", "apiVersion": "v2",
    })  # fmt: skip
    assert original == {"email": "finance@gerbang.test", "password": "ing1-password-0123", "product_code": "QRIS01",
                        "merchant_id": "M1", "api_version": "v2"}  # fmt: skip
    assert ING1.check_credentials({"permanentToken": " tok "}) == {"permanent_token": "tok"}
    with pytest.raises(ValueError, match="required credential fields") as raised:
        ING1.check_credentials({"merchant_id": "secret-merchant"})
    assert "secret-merchant" not in str(raised.value)
    with pytest.raises(ValueError, match="go together"):
        ING1.check_credentials({"email": "a@b.c", "permanent_token": "tok"})


def _jwt(claims: dict[str, Any]) -> str:
    part = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{part}.c2ln"


def test_the_tokens_exp_is_read_and_an_unreadable_one_kept_five_minutes() -> None:
    assert token_expiry(_jwt({"exp": 1_900_000_000}), 0) == 1_900_000_000
    assert token_expiry("not-a-jwt", 1000) == 1300
    assert token_expiry(_jwt({"sub": "x"}), 1000) == 1300


def test_callbacks_are_read_from_the_query_and_never_verified() -> None:
    ref = str(uuid.uuid4())
    paid = InboundCallback({}, b"", method="GET", query=f"client_reff={ref}&reff=R1&rc=0&status=PAID&total=150000")
    assert ING1.callbacks_signed is False
    assert ING1.disbursement_callbacks_signed is False
    claimed = ING1.parse_callback(paid)
    assert (claimed.order_id, claimed.status, claimed.amount) == (uuid.UUID(ref), PaymentStatus.paid, 150000)
    assert ING1.verify_callback(_account("http://x"), paid) is False
    assert ING1.parse_disbursement_callback(paid).status is DisbursementStatus.completed
    for query in ("", "client_reff=not-a-uuid&rc=0", f"client_reff={ref}"):
        with pytest.raises(ValueError, match="not an ING1 callback"):
            ING1.parse_callback(InboundCallback({}, b"", method="GET", query=query))


def _account(live: str, **credentials: str) -> ProviderAccount:
    return ProviderAccount(uuid.uuid4(), "ing1", f"{live}/sandbox/ing1", credentials or CREDENTIALS)


def _charge(amount: int = 50_000) -> ChargeRequest:
    return ChargeRequest(uuid.uuid4(), amount, PaymentMethod.qris, None, utcnow() + timedelta(minutes=15),
                         "http://unused/callback")  # fmt: skip


@pytest.fixture
async def session(live: str) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


async def _logins() -> int:
    return int(fake._knobs["logins"])


async def test_a_token_near_its_exp_is_renewed_by_one_login(
    live: str, session: aiohttp.ClientSession, database: Database
) -> None:
    fake._knobs["token_ttl_s"] = 30  # inside the 60 s early-refresh window: every call needs a new one
    account, before = _account(live), await _logins()
    charge = await ING1.create_payment(session, account, _charge())
    assert charge.qr_payload
    assert charge.provider_reference.startswith(fake.CHARGE_PREFIX)
    status = await ING1.payment_status(session, account, _charge().order_id, None)
    assert status.status is PaymentStatus.pending  # an order ING1 does not know: rc 14, logged, pending
    assert await _logins() - before == 2
    fake._knobs["token_ttl_s"] = 600  # a token that lives: one login, then reused
    before = await _logins()
    for _ in range(3):
        await ING1.create_payment(session, account, _charge())
    assert await _logins() - before == 1


async def test_rc_98_logs_in_again_and_retries_once(
    live: str, session: aiohttp.ClientSession, database: Database
) -> None:
    account, request = _account(live), _charge()
    await ING1.create_payment(session, account, request)
    before = await _logins()
    fake._knobs["reject_next_token"] = True
    status = await ING1.payment_status(session, account, request.order_id, None)
    assert (status.status, status.amount) == (PaymentStatus.pending, 50_000)
    assert await _logins() - before == 1
    assert fake._knobs["reject_next_token"] is False


async def test_concurrent_calls_share_one_login(live: str, session: aiohttp.ClientSession, database: Database) -> None:
    account, requests = _account(live), [_charge() for _ in range(5)]
    before = await _logins()
    charges = await asyncio.gather(*(ING1.create_payment(session, account, request) for request in requests))
    assert len({charge.provider_reference for charge in charges}) == 5
    assert await _logins() - before == 1


async def test_a_refused_permanent_token_falls_back_to_the_login(
    live: str, session: aiohttp.ClientSession, database: Database
) -> None:
    both = _account(live, permanent_token="revoked-permanent-token", **CREDENTIALS)
    before = await _logins()
    for _ in range(3):
        await ING1.create_payment(session, both, _charge())
    assert await _logins() - before == 1  # refused once, then the login's token is kept
    alone = _account(live, permanent_token="revoked-permanent-token")
    with pytest.raises(ProviderRejected, match="refused the account's permanent token") as raised:
        await ING1.create_payment(session, alone, _charge())
    assert "revoked-permanent-token" not in str(raised.value)


async def test_a_refused_login_says_so_without_the_password(live: str, session: aiohttp.ClientSession) -> None:
    account = _account(live, email="finance@gerbang.test", password="short")
    with pytest.raises(ProviderRejected, match="refused the login") as raised:
        await ING1.create_payment(session, account, _charge())
    assert "short" not in str(raised.value)
    with pytest.raises(BalanceNotOffered):
        await ING1.balance(session, _account(live))


async def _ing1_order(add: AddAccount, post: Post, shop: Tenant, reference: str = "ING1-1") -> dict[str, Any]:
    await add("ing1", CREDENTIALS)
    return await qr_order(post, shop, reference)


async def test_an_ing1_order_is_paid_once_on_ing1s_own_answer(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, database: Database
) -> None:
    order = await _ing1_order(add_provider_account, post, shop)
    await paid_twice_credited_once(live, database, shop, order["orderId"])
    rows = await fetch(
        database,
        "SELECT array_agg(provider || ':' || verified::text || ':' || outcome ORDER BY id) FROM provider_callbacks",
    )
    assert rows == ["ing1:false:applied", "ing1:false:duplicate"]  # the GET is never believed; the check moved it


async def test_a_forged_paid_get_callback_leaves_the_order_pending(
    add_provider_account: AddAccount, post: Post, shop: Tenant, client: httpx.AsyncClient, database: Database
) -> None:
    order = await _ing1_order(add_provider_account, post, shop)
    forged = {"client_reff": order["orderId"], "reff": "anything", "rc": "0", "status": "PAID", "amount": "150000",
              "paid_at": "2026-12-01T10:00:00+07:00"}  # fmt: skip
    response = await client.get(CALLBACK, params=forged)
    assert response.status_code == 200  # acknowledged, and ING1 was asked: rc 91, pending
    assert await order_state(database, order["orderId"]) == ("PENDING", 0, 0)
    assert await fetch(database, "SELECT outcome FROM provider_callbacks") == "ignored"
    kept = await fetch(database, "SELECT body FROM provider_callbacks")
    assert kept.startswith(f"?client_reff={order['orderId']}&")  # the GET's query is what is kept


async def test_an_unknown_status_stays_pending_and_a_wrong_amount_is_flagged(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, database: Database
) -> None:
    unknown = await _ing1_order(add_provider_account, post, shop)
    response = await post(shop, "/api/v1/payments", {"amount": 150_000, "reference": "ING1-AMOUNT"})
    wrong_amount = response.json()["result"]
    async with httpx.AsyncClient(base_url=live) as http:
        await http.post(f"/sandbox/ing1/transactions/{unknown['orderId']}/answer", json={"rc": 7, "status": "SETTLED"})
        await http.post(f"/sandbox/ing1/transactions/{wrong_amount['orderId']}/answer", json={"amount": 150_001})
    await paid_yet_pending_ignored_and_flagged(live, database, unknown["orderId"], wrong_amount["orderId"])


async def test_a_withdrawal_through_ing1_completes_by_its_get_callback(
    add_provider_account: AddAccount, s2s: Any, shop: Tenant, live: str, database: Database
) -> None:
    account = await add_provider_account("ing1", CREDENTIALS)
    await withdraw_through_callback("ing1", account["id"], s2s, shop, live, database, "ING1-WD-1")


async def test_a_forged_cashout_callback_moves_nothing_and_a_resubmit_is_the_same_cashout(
    add_provider_account: AddAccount, s2s: Any, shop: Tenant, client: httpx.AsyncClient, live: str,
    database: Database, session: aiohttp.ClientSession,
) -> None:  # fmt: skip
    account = await add_provider_account("ing1", CREDENTIALS)
    await fund(database, shop, account["id"], 200_000)
    body = {"amount": 100_000, "bankCode": "BCA", "accountNumber": "1234567890", "reference": "ING1-WD-2"}
    result = (await s2s(shop, "POST", "/api/v1/withdrawals/s2s/withdrawals", body)).json()["result"]
    forged = {"client_reff": result["id"], "reff": "x", "rc": "99", "status": "FAILED", "amount": result["netAmount"]}
    response = await client.get(WITHDRAWAL_CALLBACK, params=forged)
    assert response.status_code == 200
    assert (
        await fetch(database, "SELECT status FROM withdrawals WHERE id = $1", uuid.UUID(result["id"])) == "PROCESSING"
    )
    # Our adapter resubmitting the same withdrawal (same client_reff) gets the same cash-out back.
    provider = ProviderAccount(uuid.UUID(account["id"]), "ing1", f"{live}/sandbox/ing1", CREDENTIALS)
    again = await ING1.create_disbursement(session, provider, DisbursementRequest(
        uuid.UUID(result["id"]), result["netAmount"], "BCA", "1234567890", "x", "http://unused",
    ))  # fmt: skip
    assert again.status is DisbursementStatus.processing
    count = await fetch(database, "SELECT count(*) FROM sandbox_disbursements WHERE merchant_ref = $1",
                        uuid.UUID(result["id"]))  # fmt: skip
    assert count == 1


def test_the_demo_can_run_on_the_ing1_fake() -> None:
    from gerbang.cli.demo import demo_account
    from gerbang.config import load_settings

    account = demo_account(load_settings(demo_provider="ing1", public_url="http://127.0.0.1:8000"))
    assert (account.provider, account.base_url) == ("ing1", "http://127.0.0.1:8000/sandbox/ing1")
    assert sorted(ING1.check_credentials(account.credentials)) == ["email", "password"]
