"""Our sandbox adapter against the sandbox provider, over real HTTP on 127.0.0.1: charges for every
method, outages, refusals, customer moves and signed callbacks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from fastapi import FastAPI, Request

from gerbang.kit.qris import parse
from gerbang.kit.time import utcnow
from gerbang.provider.base import (
    ChargeRequest,
    InboundCallback,
    PaymentMethod,
    PaymentStatus,
    ProviderAccount,
    ProviderRejected,
    ProviderUnavailable,
)
from gerbang.provider.registry import provider
from tests.helpers import free_port, live_server

SANDBOX = provider("sandbox")
KEY = "sbx_merchant_key_0123456789"


@pytest.fixture
async def base(app: FastAPI) -> AsyncIterator[str]:
    received: list[InboundCallback] = []
    app.state.received_callbacks = received

    @app.post("/test-receiver")
    async def receive(request: Request) -> dict[str, bool]:
        received.append(InboundCallback({k.lower(): v for k, v in request.headers.items()}, await request.body()))
        return {"ok": True}

    async with live_server(app) as url:
        yield url


def _account(base: str, key: str = KEY) -> ProviderAccount:
    return ProviderAccount(
        uuid.uuid4(), "sandbox", f"{base}/sandbox", {"merchant_key": key}, merchant_name="Toko Sinar"
    )


def _request(
    base: str, method: PaymentMethod = PaymentMethod.qris, channel: str | None = None, amount: int = 150_000
) -> ChargeRequest:
    return ChargeRequest(
        uuid.uuid4(), amount, method, channel, utcnow() + timedelta(minutes=15), f"{base}/test-receiver"
    )


async def test_charges_for_every_method(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        qris = await SANDBOX.create_payment(session, _account(base), _request(base))
        fields = parse(qris.qr_payload or "")
        assert (fields["54"], fields["59"]) == ("150000", "Toko Sinar")
        va = await SANDBOX.create_payment(session, _account(base), _request(base, PaymentMethod.va, "BCA"))
        assert va.va_number is not None
        assert va.va_number.startswith("8014")
        wallet = await SANDBOX.create_payment(session, _account(base), _request(base, PaymentMethod.ewallet, "OVO"))
        assert wallet.redirect_url is not None
        assert wallet.redirect_url.endswith(f"/sandbox/wallet/{wallet.raw['merchant_ref']}")


async def test_a_repeated_create_is_the_same_charge_and_a_different_one_is_refused(base: str) -> None:
    request = _request(base)
    async with aiohttp.ClientSession() as session:
        first = await SANDBOX.create_payment(session, _account(base), request)
        again = await SANDBOX.create_payment(session, _account(base), request)
        assert again.provider_reference == first.provider_reference
        with pytest.raises(ProviderRejected, match="charge_conflict"):
            await SANDBOX.create_payment(
                session, _account(base), _request(base).__class__(**{**request.__dict__, "amount": 1})
            )
        with pytest.raises(ProviderRejected, match="unsupported_bank"):
            await SANDBOX.create_payment(session, _account(base), _request(base, PaymentMethod.va, "NOPE"))


async def test_outages_are_unavailable_not_refusals(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ProviderUnavailable, match="503"):
            await SANDBOX.create_payment(session, _account(base, "sbx_down_0123456789abc"), _request(base))
        closed = f"http://127.0.0.1:{free_port()}"
        with pytest.raises(ProviderUnavailable, match="unreachable"):
            await SANDBOX.create_payment(session, _account(closed), _request(base))


async def test_paying_sends_a_signed_callback_and_the_status_follows(app: FastAPI, base: str) -> None:
    account = _account(base)
    request = _request(base)
    async with aiohttp.ClientSession() as session:
        charge = await SANDBOX.create_payment(session, account, request)
        pending = await SANDBOX.payment_status(session, account, request.order_id, charge.provider_reference)
        assert pending.status is PaymentStatus.pending
        async with session.post(f"{base}/sandbox/orders/{request.order_id}/pay") as response:
            moved = await response.json()
        assert moved["status"] == "PAID"
        assert moved["callback"]["status_code"] == 200
        paid = await SANDBOX.payment_status(session, account, request.order_id, charge.provider_reference)
        assert (paid.status, paid.amount) == (PaymentStatus.paid, 150_000)
        async with session.post(f"{base}/sandbox/orders/{request.order_id}/fail") as response:
            assert response.status == 409  # a paid charge cannot fail
        async with session.post(f"{base}/sandbox/orders/{request.order_id}/pay") as response:
            assert response.status == 200  # a repeat re-sends the same notification

    first, repeat = app.state.received_callbacks
    assert first.body == repeat.body
    assert SANDBOX.verify_callback(account, first)
    claimed = SANDBOX.parse_callback(first)
    assert (claimed.order_id, claimed.status, claimed.amount) == (request.order_id, PaymentStatus.paid, 150_000)
    assert claimed.event_id == f"{charge.provider_reference}:PAID"
    forged = InboundCallback(first.headers, first.body.replace(b"150000", b"950000"))
    assert not SANDBOX.verify_callback(account, forged)
    assert not SANDBOX.verify_callback(_account(base, "sbx_someone_elses_key_0000"), first)
    assert not SANDBOX.verify_callback(account, InboundCallback({}, first.body))
    with pytest.raises(ValueError, match="not a sandbox callback"):
        SANDBOX.parse_callback(InboundCallback({}, b"{not json"))


def test_credentials_are_checked_without_echoing_them() -> None:
    assert SANDBOX.check_credentials({"merchant_key": KEY}) == {"merchant_key": KEY}
    for bad in ({}, {"merchant_key": "short"}, {"merchant_key": KEY, "extra": "x"}):
        with pytest.raises(ValueError, match=r"merchant_key|unknown credential") as error:
            SANDBOX.check_credentials(bad)
        assert KEY not in str(error.value)
