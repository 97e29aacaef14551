"""Our sandbox adapter's payout steps against the sandbox provider, over real HTTP on 127.0.0.1: account
inquiry, disbursements that complete or fail after their delay with a signed callback to a real receiver,
idempotency, forced moves, and completion that survives a lost timer."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import aiohttp
import orjson
import pytest
from aiohttp import web
from fastapi import FastAPI

from gerbang.db import Database
from gerbang.provider.base import (
    AccountInquiry,
    DisbursementRequest,
    DisbursementStatus,
    InboundCallback,
    PayoutProvider,
    ProviderAccount,
    ProviderRejected,
    ProviderResponseInvalid,
    ProviderUnavailable,
)
from gerbang.provider.sandbox import SandboxProvider
from tests.helpers import free_port, live_server

KEY = "sbx_merchant_key_0123456789"
OTHER_KEY = "sbx_another_merchant_key_9876"
STARTING_BALANCE = 10_000_000_000
# Typed as the protocol, so a type checker holds the adapter to it.
FAST: PayoutProvider = SandboxProvider(disbursement_delay_ms=300)
SLOW: PayoutProvider = SandboxProvider(disbursement_delay_ms=60_000)
SANDBOX = SandboxProvider()


@dataclass
class Receiver:
    """A merchant's callback endpoint (an aiohttp app of its own), keeping what it was sent."""

    url: str
    received: list[InboundCallback] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)

    async def wait_for(self, count: int, timeout_s: float = 5) -> list[InboundCallback]:
        async with asyncio.timeout(timeout_s):
            while len(self.received) < count:
                await asyncio.sleep(0.02)
        return self.received


@pytest.fixture
async def base(app: FastAPI) -> AsyncIterator[str]:
    async with live_server(app) as url:
        yield url


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    found = Receiver(f"http://127.0.0.1:{port}/callbacks")

    async def receive(request: web.Request) -> web.Response:
        found.received.append(InboundCallback({k.lower(): v for k, v in request.headers.items()}, await request.read()))
        found.received_at.append(time.monotonic())
        return web.json_response({"received": True})

    async def lie(request: web.Request) -> web.Response:
        # A provider that answers for another amount and another account than it was asked about.
        asked = await request.json()
        return web.json_response({**asked, "amount": asked.get("amount", 0) + 1, "account_number": "99999",
                                  "disbursement_id": "sbxd_liar", "status": "PROCESSING", "valid": True})  # fmt: skip

    application = web.Application()
    application.router.add_post("/callbacks", receive)
    application.router.add_post("/liar/api/disbursements", lie)
    application.router.add_post("/liar/api/account-inquiry", lie)
    runner = web.AppRunner(application)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield found
    finally:
        await runner.cleanup()


def _account(base: str, key: str = KEY) -> ProviderAccount:
    return ProviderAccount(uuid.uuid4(), "sandbox", f"{base}/sandbox", {"merchant_key": key})


def _request(
    receiver: Receiver, account_number: str = "1234567890", amount: int = 250_000, bank_code: str = "BCA"
) -> DisbursementRequest:
    return DisbursementRequest(
        uuid.uuid4(), amount, bank_code, account_number, "BUDI SANTOSO", receiver.url, note="withdrawal"
    )


async def test_account_inquiry(base: str) -> None:
    account = _account(base)
    async with aiohttp.ClientSession() as session:
        by_name = await FAST.account_inquiry(session, account, AccountInquiry("BCA", "1234567890"))
        by_code = await FAST.account_inquiry(session, account, AccountInquiry("014", "1234567890"))
        assert by_name == by_code
        assert (by_name.valid, by_name.bank_code, by_name.reason) == (True, "BCA", None)
        assert by_name.holder_name
        assert by_name.holder_name.isupper()  # as banks answer
        other = await FAST.account_inquiry(session, account, AccountInquiry("bni", "1234567891"))
        assert other.bank_code == "BNI"
        missing = await FAST.account_inquiry(session, account, AccountInquiry("009", "5550000"))
        assert (missing.valid, missing.holder_name, missing.reason) == (False, None, "account_not_found")
        with pytest.raises(ProviderRejected, match="unsupported_bank"):
            await FAST.account_inquiry(session, account, AccountInquiry("NOPE", "1234567890"))
        for bad in ("1234", "12345abc", "1" * 21, ""):
            with pytest.raises(ProviderRejected, match="invalid_account_number"):
                await FAST.account_inquiry(session, account, AccountInquiry("BRI", bad))
        with pytest.raises(ProviderUnavailable, match="503"):
            await FAST.account_inquiry(
                session, _account(base, "sbx_down_0123456789abc"), AccountInquiry("BCA", "12345")
            )


async def test_a_disbursement_completes_after_its_delay_with_a_signed_callback(base: str, receiver: Receiver) -> None:
    account = _account(base)
    request = _request(receiver, bank_code="009")
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        accepted = await FAST.create_disbursement(session, account, request)
        assert (accepted.status, accepted.amount, accepted.raw["bank_code"]) == (
            DisbursementStatus.processing,
            250_000,
            "BNI",
        )
        assert await FAST.balance(session, account) == STARTING_BALANCE - 250_000  # held while it processes
        (callback,) = await receiver.wait_for(1)
        assert receiver.received_at[0] - started >= 0.3
        done = await FAST.disbursement_status(session, account, request.withdrawal_id, accepted.provider_reference)
        assert (done.status, done.amount, done.reason) == (DisbursementStatus.completed, 250_000, None)
        assert await FAST.balance(session, account) == STARTING_BALANCE - 250_000
        with pytest.raises(ProviderRejected, match="disbursement_not_found"):  # another merchant's key
            await FAST.disbursement_status(session, _account(base, OTHER_KEY), request.withdrawal_id, None)

    assert FAST.verify_disbursement_callback(account, callback)
    claimed = FAST.parse_disbursement_callback(callback)
    assert (claimed.withdrawal_id, claimed.provider_reference, claimed.status, claimed.amount, claimed.reason) == (
        request.withdrawal_id, accepted.provider_reference, DisbursementStatus.completed, 250_000, None,
    )  # fmt: skip
    assert claimed.event_id == f"{accepted.provider_reference}:COMPLETED"
    tampered = InboundCallback(callback.headers, callback.body.replace(b"250000", b"950000"))
    assert not FAST.verify_disbursement_callback(account, tampered)
    assert not FAST.verify_disbursement_callback(_account(base, OTHER_KEY), callback)
    assert not FAST.verify_disbursement_callback(account, InboundCallback({}, callback.body))


async def test_an_account_ending_9999_fails_after_acceptance(base: str, receiver: Receiver) -> None:
    account = _account(base)
    request = _request(receiver, "8889999")
    async with aiohttp.ClientSession() as session:
        accepted = await FAST.create_disbursement(session, account, request)
        assert accepted.status is DisbursementStatus.processing
        (callback,) = await receiver.wait_for(1)
        failed = await FAST.disbursement_status(session, account, request.withdrawal_id, accepted.provider_reference)
        assert (failed.status, failed.reason) == (DisbursementStatus.failed, "bank_rejected")
        assert await FAST.balance(session, account) == STARTING_BALANCE  # a failed payout gives its amount back
    claimed = FAST.parse_disbursement_callback(callback)
    assert (claimed.status, claimed.reason, claimed.event_id) == (
        DisbursementStatus.failed, "bank_rejected", f"{accepted.provider_reference}:FAILED",
    )  # fmt: skip


async def test_an_account_ending_0000_is_refused_at_once(base: str, receiver: Receiver) -> None:
    account = _account(base)
    request = _request(receiver, "12340000")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ProviderRejected, match="account_not_found"):
            await FAST.create_disbursement(session, account, request)
        with pytest.raises(ProviderRejected, match="disbursement_not_found"):
            await FAST.disbursement_status(session, account, request.withdrawal_id, None)
        with pytest.raises(ProviderRejected, match="unsupported_bank"):
            await FAST.create_disbursement(session, account, _request(receiver, bank_code="999"))


async def test_a_repeat_is_the_same_disbursement_and_a_different_one_conflicts(base: str, receiver: Receiver) -> None:
    account = _account(base)
    request = _request(receiver)
    async with aiohttp.ClientSession() as session:
        first = await FAST.create_disbursement(session, account, request)
        again = await FAST.create_disbursement(session, account, request)
        assert again.provider_reference == first.provider_reference
        changes = (
            replace(request, amount=1),
            replace(request, account_number="1234567899"),
            replace(request, bank_code="BRI"),
        )
        for changed in changes:
            with pytest.raises(ProviderRejected, match="disbursement_conflict"):
                await FAST.create_disbursement(session, account, changed)
        with pytest.raises(ProviderRejected, match="disbursement_conflict"):  # another merchant, same reference
            await FAST.create_disbursement(session, _account(base, OTHER_KEY), request)
        await receiver.wait_for(1)
        after = await FAST.create_disbursement(session, account, request)
        assert (after.provider_reference, after.status) == (first.provider_reference, DisbursementStatus.completed)
        await asyncio.sleep(0.2)
    assert len(receiver.received) == 1  # one disbursement, one move, one notification


async def test_a_due_disbursement_is_final_when_read_even_if_its_timer_never_ran(
    app: FastAPI, base: str, receiver: Receiver
) -> None:
    """As after a restart: the timer task is gone (here: still asleep for a minute) and no callback went,
    yet from `complete_after` on the status is final, and whoever read it first sends the callback."""
    account = _account(base)
    request = _request(receiver)
    async with aiohttp.ClientSession() as session:
        accepted = await SLOW.create_disbursement(session, account, request)
        assert accepted.status is DisbursementStatus.processing
        database: Database = app.state.database
        async with database.transaction() as connection:
            await connection.execute(
                "UPDATE sandbox_disbursements SET complete_after = now() - interval '1 second' WHERE merchant_ref = $1",
                request.withdrawal_id,
            )
        assert receiver.received == []
        final = await SLOW.disbursement_status(session, account, request.withdrawal_id, accepted.provider_reference)
        assert final.status is DisbursementStatus.completed
        (callback,) = await receiver.wait_for(1)
        assert FAST.parse_disbursement_callback(callback).status is DisbursementStatus.completed


async def test_forced_moves_resend_the_same_callback(base: str, receiver: Receiver) -> None:
    account = _account(base)
    completed, failed = _request(receiver), _request(receiver, "7777777")
    async with aiohttp.ClientSession() as session:
        for request in (completed, failed):
            await SLOW.create_disbursement(session, account, request)
        async with session.post(f"{base}/sandbox/disbursements/{completed.withdrawal_id}/complete") as response:
            moved = await response.json()
        assert (moved["status"], moved["callback"]["status_code"]) == ("COMPLETED", 200)
        async with session.post(f"{base}/sandbox/disbursements/{completed.withdrawal_id}/complete") as response:
            assert response.status == 200  # a repeat re-sends the notification
        async with session.post(f"{base}/sandbox/disbursements/{completed.withdrawal_id}/fail") as response:
            assert (response.status, (await response.json())["error"]) == (409, "disbursement_conflict")
        async with session.post(f"{base}/sandbox/disbursements/{failed.withdrawal_id}/fail") as response:
            assert (await response.json())["status"] == "FAILED"
        async with session.post(f"{base}/sandbox/disbursements/{uuid.uuid4()}/complete") as response:
            assert (response.status, (await response.json())["error"]) == (404, "disbursement_not_found")
        status = await SLOW.disbursement_status(session, account, failed.withdrawal_id, None)
        assert (status.status, status.reason) == (DisbursementStatus.failed, "bank_rejected")

    first, repeat, other = receiver.received
    assert first.body == repeat.body
    assert FAST.parse_disbursement_callback(first).event_id == FAST.parse_disbursement_callback(repeat).event_id
    assert FAST.parse_disbursement_callback(other).status is DisbursementStatus.failed


async def test_payment_and_disbursement_callbacks_are_not_mistaken_for_each_other(
    base: str, receiver: Receiver
) -> None:
    account = _account(base)
    async with aiohttp.ClientSession() as session:
        request = _request(receiver)
        await SLOW.create_disbursement(session, account, request)
        async with session.post(f"{base}/sandbox/disbursements/{request.withdrawal_id}/complete"):
            pass
    (disbursement,) = receiver.received
    with pytest.raises(ValueError, match="not a sandbox callback"):
        SANDBOX.parse_callback(disbursement)
    payment = orjson.dumps({"event_id": "sbx_1:PAID", "charge_id": "sbx_1", "merchant_ref": str(uuid.uuid4()),
                            "status": "PAID", "amount": 250_000, "paid_at": None})  # fmt: skip
    assert SANDBOX.parse_callback(InboundCallback({}, payment)).amount == 250_000
    for body in (payment, b"{not json", b"[]", b'"type"'):
        with pytest.raises(ValueError, match="not a sandbox disbursement callback"):
            SANDBOX.parse_disbursement_callback(InboundCallback({}, body))
    boolean = orjson.dumps({**orjson.loads(disbursement.body), "amount": True})
    assert SANDBOX.parse_disbursement_callback(InboundCallback({}, boolean)).amount is None  # not 1 rupiah
    assert SANDBOX.acknowledge(True).status_code == 200


async def test_bad_requests_get_stable_codes(base: str, receiver: Receiver) -> None:
    good = {"merchant_ref": str(uuid.uuid4()), "amount": 10_000, "bank_code": "BCA", "account_number": "12345",
            "holder_name": "SITI", "callback_url": receiver.url}  # fmt: skip
    headers = {"Authorization": f"Bearer {KEY}"}
    cases = [
        ({}, good, 401, "sandbox_unauthorized"),
        ({"Authorization": "Bearer short"}, good, 401, "sandbox_unauthorized"),
        (headers, {**good, "amount": True}, 422, "validation_error"),
        (headers, {**good, "amount": 0}, 422, "validation_error"),
        (headers, {**good, "amount": 10.5}, 422, "validation_error"),
        (headers, {**good, "sandbox_delay_ms": 60_001}, 422, "validation_error"),
        (headers, {**good, "merchant_ref": "not-a-uuid"}, 422, "validation_error"),
        (headers, {**good, "account_number": "12a45"}, 400, "invalid_account_number"),
    ]
    async with aiohttp.ClientSession() as session:
        for sent_headers, body, status, code in cases:
            async with session.post(f"{base}/sandbox/api/disbursements", json=body, headers=sent_headers) as response:
                answer = await response.json()
                assert (response.status, answer["error"]) == (status, code), body
                assert KEY not in orjson.dumps(answer).decode()
        async with session.get(f"{base}/sandbox/api/balance") as response:
            assert response.status == 401


async def test_answers_for_another_amount_or_account_are_not_trusted(receiver: Receiver) -> None:
    liar = ProviderAccount(uuid.uuid4(), "sandbox", receiver.url.replace("/callbacks", "/liar"), {"merchant_key": KEY})
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ProviderResponseInvalid, match="another amount"):
            await FAST.create_disbursement(session, liar, _request(receiver))
        with pytest.raises(ProviderResponseInvalid, match="another account"):
            await FAST.account_inquiry(session, liar, AccountInquiry("BCA", "12345"))
