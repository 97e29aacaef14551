"""Netzme (SNAP BI): the B2B token signature (RSA-SHA256), the transaction signature (HMAC-SHA512) and the
notify signature (RSA-SHA256, no token) against vectors computed by hand with openssl, the response-code and
status mappings, credentials, the token's life, and the whole pay-in flow against its fake over real HTTP."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import httpx
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI

from gerbang.db import Database
from gerbang.kit.crypto import sha256_hex
from gerbang.kit.time import JAKARTA, utcnow
from gerbang.ledger.schemas import AccountKind, AccountRef
from gerbang.order import status_check
from gerbang.provider.base import (
    ChargeRequest,
    PaymentMethod,
    PaymentStatus,
    ProviderAccount,
    ProviderDuplicate,
    ProviderRejected,
)
from gerbang.provider.netzme import (
    CALLBACK_PATH,
    NetzmeProvider,
    Outcome,
    hmac_signature,
    minified,
    notify_string,
    payment_status,
    private_key_of,
    public_key_of,
    response_outcome,
    rsa_signature,
    rsa_verified,
    timestamp,
    token_string,
    transaction_string,
)
from gerbang.sandbox.fakes import netzme as fake
from tests.auth.people import Tenant
from tests.ledger.helpers import balance
from tests.order.conftest import Post
from tests.provider.conftest import AddAccount, fetch, order_state, paid_twice_credited_once, qr_order

NETZME = NetzmeProvider()
# Generated once with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`; a test key, nothing else.
TEST_PRIVATE_KEY = """-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDEr18QN8418mWY
85R1SsJAzbhiQH3LKYCzGdZPYKBEMjjSIzLI0MrQ1gHLAgP93RO6Dyl1xNmnJMQa
vF4HOIkeq9qxfs1sBOXwaMWmDenZs3sWdrjcxv9ckyTmiktAfvAOfY3V6lp0oOVz
YEwqWihISAfoID8Qz5gqbYJ7Ob81qHA6Unq2hBUVpbdohwKHvYHTKzbvsVtWv6hE
Rg9uhkA2HLE+WQGxp1YXsoldHAYpfOuN4ciIZi/izyUws7XFGjTTKYzPhesCg2Fq
F1BIcLtHYASztMVxJtvA5BtZ3fWeZPm/MZTQ28fs4ZSC70l0mt4jkQsLPbFRJn9i
eDTGFWg7AgMBAAECggEAH+bqHnFOy0VD4Wkw3U2A8I3tqFIZlUhoDaTVNA7SL/2N
Zdg7toLXQsRTiiALkbO4LWekK+v/+bJm9Ic1ISq0Yvsw/7U3kJvCyBnWZTbAhYUt
I9mh5n2IkfVz+MjZp95vBYqr5NScU2p9jRdDg2MYQZEdZzNDx3BEmC0nCuG09/jP
CeeA9HQFRtMRp83qTI/9Ha938AATIrrgEcEHemzSYWdiqcIL7j1YMLO5Ct8RDwl5
m2a4ggOOtmzmAzpLMZlq49BMNJgSTR268EnlVmCO7F0lXS5ieFmICMsqQR4ipGrE
rJ93iWSZygaFfJFUPitxau3/e7Sdlua2sn/x63rccQKBgQD3EDAHRIVromWQdHL5
UMYTCb7hEpcJjiqZQwM1Qw0CNlwnvwpazsUMhPD9eivUFEY6uHZhOl1gA+xHPjzQ
zVOqLUtZ8F2Z/pjDhgSHN8RUrXFgTt+N5jv0JzWJA/UmDvyLBMQfXSTcukPXRBS/
6c4m+uK7zlorKP534/FL4B+f3QKBgQDLzK4omNdE3DHuh8/5vfe6wHNHw5Mjt8Wv
xDV7DlOCVy2haHWsax0WUvBSRCI9yNu9GEP1R3t6Cj6coa7y8D87lB1LjyXWpWo0
vrmXfwX1Gdu4Ou9Uwu8iTmsdVajBoIVaj7/dwgdHUsiFot+4OgiYX0Q9LtJxN2rk
i4Qneq0y9wKBgQDz+cpUAvh2WAJP6o73YSqY9lDG1qLMTtYGT0TFvhcEjkXnAiLp
lbLFMCsDRTgu0G6h4jMUxJwdCwKzP+SylXD/Zoc4o8LrJZ4ZxyiFly6MKFMDth/R
cwDVlDqruXrHQJlndydtiX+zcUU5OQP8mJh5qdtpdtdYM71HC5PnR8YzCQJ/SgkR
O65Khbl4ai7sXs2kMTO4rVlfGpqoNjIRO6L4s2D4MqrAFOLUrkdzBm+6ALf3G7q0
9WYCdVNDa6NQ6vBcCEjGW6ylElUFQCQJR//dKi06pLLEPwaR2OSkBQQZSj4GM+AE
04qpGj/4mJOSslpixPfW0mMwD/ER4/TLDYyDXwKBgQDAqniPaoMQUB41GPIhemRH
Jk+E7ChI4eAmjn4JZ1VaQvvaBE6DNtygF7EYIt6hNjm9wQT3i0+MQfJXXnJan8zk
m9A/IPj+XI+WuVfWdTRnVu/J3tBXHp5XXNQSHVxsqVyDc0krN5g8HK/NBg2ix3w0
aim+CBgjmWE+W331EXDM7A==
-----END PRIVATE KEY-----
"""
TIMESTAMP = "2026-01-15T10:00:00+07:00"
# printf '%s' 'NTZ-CLIENT-01|2026-01-15T10:00:00+07:00' | openssl dgst -sha256 -sign test.pem | base64 -w0
TOKEN_SIGNATURE = (
    "dArqREOQGs7/zLvi1Z+Y0t/K25NsgP9uKrs5LIxIJwcblsoWoKPGVWiGDMW6y+mhYlXuGtCZR7DhkcGhiBkVqzp4yB5r2rkc+hyhkWH1ASLF"
    "x2LL2HTYCbRDJwYHbfWqyI7aHQ/M95D2xXcaO/YilqWJLFcMdCceDVxIGShvASCQOVmiYV0WBHbUdyo5u1m3HwFtIhiElFBZb4rwIL3OvyPh"
    "56SzYJPSyhi+/ZUmv01Kt/U1PzKh31fBMsdDGvsBah4uwIOvFznxxcfLl+dsq2gQZTF8+7r2Gcm2OxsiDxj0ISz5TcTYE5FSmtQ0ljyjFc9f"
    "Cw5L5730xvB7lcpVNQ=="
)
BODY = (
    b'{"partnerReferenceNo":"6f1c2a9e-0000-4000-8000-000000000001","amount":{"value":"150000.00","currency":"IDR"},'
    b'"merchantId":"NTZ-M1","validityPeriod":"2026-01-15T10:30:00+07:00"}'
)
# printf '%s' "$BODY" | sha256sum
BODY_SHA256 = "6b56cd19206be4075c43777bca00af6ca8d5a552a6ad1ab196c66bf8d9ba751f"
# printf '%s' "POST:/api/v1.0/qr/qr-mpm-generate:ntz-access-token-123:$BODY_SHA256:$TIMESTAMP" \
#   | openssl dgst -sha512 -hmac 'ntz_client_secret_0123456789' -binary | base64 -w0
TRANSACTION_SIGNATURE = "EWFh514reeSmPbmWzQDRsLdecdhLj11eIhEANNQ0ejVlsseb6qNZFgUQHXSdNmNUGVemZIaMzsPAncQX2YtGPw=="
NOTIFY_SPACED = b"""{
  "originalReferenceNo": "NTZ-REF-1", "originalPartnerReferenceNo": "6f1c2a9e-0000-4000-8000-000000000001",
  "latestTransactionStatus": "00", "transactionStatusDesc": "Success",
  "amount": {"value": "150000.00", "currency": "IDR"}
}"""
NOTIFY_MINIFIED = (
    b'{"originalReferenceNo":"NTZ-REF-1","originalPartnerReferenceNo":"6f1c2a9e-0000-4000-8000-000000000001",'
    b'"latestTransactionStatus":"00","transactionStatusDesc":"Success","amount":{"value":"150000.00","currency":"IDR"}}'
)
# printf '%s' "$NOTIFY_MINIFIED" | sha256sum
NOTIFY_SHA256 = "b67831585b5ab92f24ca582bd01cf3fde1e2328278f977d39932f0863fcf24a6"
# printf '%s' "POST:/api/v1/transaction/callback/netzme:$NOTIFY_SHA256:$TIMESTAMP" \
#   | openssl dgst -sha256 -sign test.pem | base64 -w0
NOTIFY_SIGNATURE = (
    "MaYzdhs1mdngCfzo62/XVL/X+EpohnvncVvWEqhzsrK1iO2lFlC5n2ELmZOjr/AvJ/95tS81c1FWk7LcMMXka6r4JgDfRD7qgviJG9d8Ty6N"
    "KaBm48ap/H1Mw37oVJlyIr8WgDhZ1m3mbYGmBEtdt32mIQesb6ZPoQ2ETa7BSG7Masiaa3/ciCFtDgCCiv7NgkdVuRrg7+/PkSXAyXO6rsfI"
    "yiRz4kXU/Ka5bLYsORYQzZfbX5NA1MM8/l7xT3qPbcsMwb1IPxR7mZ0W8vBBUBXGWjqOfLQLDEq9vQUgzrged+yZSaQNvGTs+vdbMZeOZSmz"
    "E9RFH9z74YBPU9N1XA=="
)
# openssl pkey -in test.pem -pubout
TEST_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxK9fEDfONfJlmPOUdUrC
QM24YkB9yymAsxnWT2CgRDI40iMyyNDK0NYBywID/d0Tug8pdcTZpyTEGrxeBziJ
HqvasX7NbATl8GjFpg3p2bN7Fna43Mb/XJMk5opLQH7wDn2N1epadKDlc2BMKloo
SEgH6CA/EM+YKm2Cezm/NahwOlJ6toQVFaW3aIcCh72B0ys277FbVr+oREYPboZA
NhyxPlkBsadWF7KJXRwGKXzrjeHIiGYv4s8lMLO1xRo00ymMz4XrAoNhahdQSHC7
R2AEs7TFcSbbwOQbWd31nmT5vzGU0NvH7OGUgu9JdJreI5ELCz2xUSZ/Yng0xhVo
OwIDAQAB
-----END PUBLIC KEY-----
"""


@pytest.fixture(autouse=True)
def _fake_knobs() -> Iterator[None]:
    fake._knobs.update(token_ttl_s=fake.TOKEN_TTL_S, reject_next_token=False)
    yield
    fake._knobs.update(token_ttl_s=fake.TOKEN_TTL_S, reject_next_token=False)


def test_the_b2b_token_signature_is_rsa_sha256_over_client_id_and_timestamp() -> None:
    key = private_key_of(TEST_PRIVATE_KEY)
    assert token_string("NTZ-CLIENT-01", TIMESTAMP) == b"NTZ-CLIENT-01|2026-01-15T10:00:00+07:00"
    assert rsa_signature(key, token_string("NTZ-CLIENT-01", TIMESTAMP)) == TOKEN_SIGNATURE
    assert rsa_verified(public_key_of(TEST_PUBLIC_KEY), token_string("NTZ-CLIENT-01", TIMESTAMP), TOKEN_SIGNATURE)


def test_the_transaction_signature_is_hmac_sha512_over_the_snap_string() -> None:
    assert sha256_hex(minified(BODY)) == BODY_SHA256
    signed = transaction_string("POST", "/api/v1.0/qr/qr-mpm-generate", "ntz-access-token-123", BODY, TIMESTAMP)
    assert signed == f"POST:/api/v1.0/qr/qr-mpm-generate:ntz-access-token-123:{BODY_SHA256}:{TIMESTAMP}".encode()
    assert hmac_signature("ntz_client_secret_0123456789", signed) == TRANSACTION_SIGNATURE
    assert hmac_signature("another_client_secret_9876", signed) != TRANSACTION_SIGNATURE


def test_the_notify_signature_covers_the_minified_body_and_keeps_its_order_and_strings() -> None:
    assert minified(NOTIFY_SPACED) == NOTIFY_MINIFIED
    assert minified(b'{"a": "x y\\" z", "b" : [1, 2]}') == b'{"a":"x y\\" z","b":[1,2]}'  # strings untouched
    signed = notify_string(CALLBACK_PATH, NOTIFY_SPACED, TIMESTAMP)
    assert signed == f"POST:/api/v1/transaction/callback/netzme:{NOTIFY_SHA256}:{TIMESTAMP}".encode()
    assert rsa_signature(private_key_of(TEST_PRIVATE_KEY), signed) == NOTIFY_SIGNATURE
    assert rsa_verified(public_key_of(TEST_PUBLIC_KEY), signed, NOTIFY_SIGNATURE)
    assert not rsa_verified(public_key_of(fake.NETZME_PUBLIC_KEY), signed, NOTIFY_SIGNATURE)
    assert not rsa_verified(public_key_of(TEST_PUBLIC_KEY), signed.replace(b"POST", b"GET"), NOTIFY_SIGNATURE)
    assert not rsa_verified(public_key_of(TEST_PUBLIC_KEY), signed, "not base64!")


def test_the_timestamp_is_iso_8601_in_wib() -> None:
    assert timestamp(datetime(2026, 1, 15, 3, 0, 0, 123456, tzinfo=JAKARTA).astimezone(JAKARTA)) == (
        "2026-01-15T03:00:00+07:00"
    )
    assert timestamp(datetime.fromisoformat("2026-01-15T03:00:00+00:00")) == TIMESTAMP


def test_response_codes_and_statuses_map_exhaustively_and_never_pay_the_unknown() -> None:
    assert response_outcome("2004700", "47") is Outcome.success
    assert response_outcome("2005100", "51") is Outcome.success
    assert response_outcome("2005100", "47") is Outcome.unexpected  # a success for another service
    assert response_outcome("4014701", "47") is response_outcome("4015103", "51") is Outcome.token_refused
    assert response_outcome("4014700", "47") is Outcome.rejected  # a bad signature: no retry
    assert response_outcome("4094701", "47") is Outcome.duplicate
    assert response_outcome("4045101", "51") is Outcome.not_found
    assert response_outcome("4034714", "47") is Outcome.insufficient_balance
    assert response_outcome("4044711", "47") is Outcome.invalid_account
    assert response_outcome("5044700", "47") is response_outcome("4294700", "47") is Outcome.unavailable
    for garbage in ("200470", "20047000", "abcdefg", None, 2004700, "6004700"):
        assert response_outcome(garbage, "47") is Outcome.unexpected
    assert payment_status("00") is PaymentStatus.paid
    for pending in ("01", "02", "03", "07"):
        assert payment_status(pending) is PaymentStatus.pending
    for failed in ("04", "05", "06", "09"):
        assert payment_status(failed) is PaymentStatus.failed
    assert payment_status("08") is PaymentStatus.expired
    for unknown in ("10", "0", "SUCCESS", "", None, 0):
        assert payment_status(unknown) is PaymentStatus.pending


def _credentials(**overrides: str) -> dict[str, str]:
    return {
        "clientId": "NTZ-CLIENT-01", "partnerId": "NTZ-PARTNER-01", "clientSecret": "ntz_client_secret_0123456789",
        "privateKey": TEST_PRIVATE_KEY, "providerPublicKey": fake.NETZME_PUBLIC_KEY, "channelId": "95221",
    } | overrides  # fmt: skip


def test_credentials_take_aliases_trimmed_and_escaped_newlines() -> None:
    escaped = TEST_PRIVATE_KEY.strip().replace("\n", "\\n")
    found = NETZME.check_credentials(_credentials(clientId=" NTZ-CLIENT-01 ", privateKey=f"  {escaped}  "))
    assert found["client_id"] == "NTZ-CLIENT-01"
    assert found["private_key"] == TEST_PRIVATE_KEY.strip()
    assert sorted(found) == ["channel_id", "client_id", "client_secret", "partner_id", "private_key",
                             "provider_public_key"]  # fmt: skip
    snake = {"partner_id": "P1", "client_secret": "s" * 16, "private_key": TEST_PRIVATE_KEY,
             "provider_public_key": TEST_PUBLIC_KEY, "channel_id": "95221", "custIdMerchant": "M_1"}  # fmt: skip
    assert NETZME.check_credentials(snake)["merchant_id"] == "M_1"  # client id: the partner id when unset


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"privateKey": "-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----"}, "private_key"),
        ({"privateKey": TEST_PUBLIC_KEY}, "private_key"),
        ({"providerPublicKey": "ssh-rsa AAAAB3NzaC1yc2E secret-ish"}, "provider_public_key"),
        ({"providerPublicKey": TEST_PRIVATE_KEY}, "provider_public_key"),
        ({"clientSecret": "short-secret"}, "client_secret"),
        ({"channelId": ""}, "channel_id"),
        ({"apiKey": "stray-value-123"}, "apiKey"),
    ],
)
def test_bad_credentials_are_refused_by_field_name_never_by_value(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        NETZME.check_credentials(_credentials(**overrides))
    text = str(raised.value)
    for value in (*overrides.values(), "ntz_client_secret_0123456789", "MIIE"):
        assert not value or value not in text


async def test_a_bad_pem_is_a_422_naming_the_field_and_nothing_is_stored(
    client: httpx.AsyncClient, admin: dict[str, str], live: str, database: Database
) -> None:
    bad_pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"
    body = {"provider": "netzme", "name": "bad", "baseUrl": f"{live}/sandbox/netzme", "methods": ["qris"],
            "credentials": _credentials(providerPublicKey=bad_pem)}  # fmt: skip
    response = await client.post("/api/v1/admin/provider-accounts", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert "provider_public_key" in response.text
    assert "AAAA" not in response.text
    assert await fetch(database, "SELECT count(*) FROM provider_accounts WHERE provider = 'netzme'") == 0


@pytest.fixture
async def session(live: str) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


async def _register(live: str, client_id: str, public_key: str = TEST_PUBLIC_KEY) -> dict[str, str]:
    """Netzme's onboarding at the fake: our public key in, the client secret and Netzme's public key out."""
    async with httpx.AsyncClient(base_url=live) as http:
        response = await http.post("/sandbox/netzme/clients", json={"clientId": client_id, "publicKey": public_key})
    assert response.status_code == 200, response.text
    issued = response.json()
    return _credentials(clientId=client_id, partnerId=f"P-{client_id}", clientSecret=issued["clientSecret"],
                        providerPublicKey=issued["netzmePublicKey"])  # fmt: skip


def _account(live: str, credentials: dict[str, str]) -> ProviderAccount:
    return ProviderAccount(uuid.uuid4(), "netzme", f"{live}/sandbox/netzme", NETZME.check_credentials(credentials))


def _charge(amount: int = 50_000) -> ChargeRequest:
    return ChargeRequest(uuid.uuid4(), amount, PaymentMethod.qris, None, utcnow() + timedelta(minutes=15),
                         "http://unused/callback")  # fmt: skip


def _issued() -> int:
    return int(fake._knobs["tokens_issued"])


async def test_create_and_query_over_http_with_one_token_reused(
    live: str, session: aiohttp.ClientSession, database: Database
) -> None:
    account, request = _account(live, await _register(live, "NTZ-C-CREATE")), _charge()
    before = _issued()
    charge = await NETZME.create_payment(session, account, request)
    assert charge.provider_reference.startswith(fake.CHARGE_PREFIX)
    assert charge.qr_payload
    assert charge.amount == 50_000
    status = await NETZME.payment_status(session, account, request.order_id, charge.provider_reference)
    assert (status.status, status.amount, status.provider_reference) == (
        PaymentStatus.pending,
        50_000,
        charge.provider_reference,
    )
    unknown = await NETZME.payment_status(session, account, uuid.uuid4(), None)  # 4045101: not found
    assert (unknown.status, unknown.amount) == (PaymentStatus.pending, None)
    assert _issued() - before == 1
    with pytest.raises(ProviderDuplicate):
        await NETZME.create_payment(session, account, request)
    assert await fetch(database, "SELECT count(*) FROM sandbox_charges WHERE merchant_ref = $1", request.order_id) == 1


async def test_a_token_near_its_expiry_is_renewed_and_a_refused_one_retried_once(
    live: str, session: aiohttp.ClientSession, database: Database
) -> None:
    account = _account(live, await _register(live, "NTZ-C-TOKEN"))
    fake._knobs["token_ttl_s"] = 30  # inside the 60 s early refresh: every call needs a new token
    before = _issued()
    await NETZME.create_payment(session, account, _charge())
    await NETZME.create_payment(session, account, _charge())
    assert _issued() - before == 2
    fake._knobs["token_ttl_s"] = 900
    request = _charge()
    await NETZME.create_payment(session, account, request)
    before = _issued()
    fake._knobs["reject_next_token"] = True  # Netzme answers 4015101 Invalid Token once
    status = await NETZME.payment_status(session, account, request.order_id, None)
    assert (status.status, status.amount) == (PaymentStatus.pending, 50_000)
    assert _issued() - before == 1
    assert fake._knobs["reject_next_token"] is False


async def test_concurrent_calls_share_one_token_request(live: str, session: aiohttp.ClientSession) -> None:
    account, requests = _account(live, await _register(live, "NTZ-C-CONCURRENT")), [_charge() for _ in range(5)]
    before = _issued()
    charges = await asyncio.gather(*(NETZME.create_payment(session, account, request) for request in requests))
    assert len({charge.provider_reference for charge in charges}) == 5
    assert _issued() - before == 1


async def test_a_token_request_with_the_wrong_key_or_secret_is_refused(
    live: str, session: aiohttp.ClientSession
) -> None:
    registered = await _register(live, "NTZ-C-WRONG", fake.NETZME_PUBLIC_KEY)  # not the key we sign with
    with pytest.raises(ProviderRejected, match="token request") as raised:
        await NETZME.create_payment(session, _account(live, registered), _charge())
    assert "ntz_cs_" not in str(raised.value)
    wrong_secret = await _register(live, "NTZ-C-SECRET")
    wrong_secret["clientSecret"] = "not_the_client_secret_0000"
    with pytest.raises(ProviderRejected, match="4014700"):  # the HMAC does not verify: no retry
        await NETZME.create_payment(session, _account(live, wrong_secret), _charge())


async def _netzme_order(add: AddAccount, post: Post, shop: Tenant, live: str, client_id: str) -> dict[str, Any]:
    await add("netzme", await _register(live, client_id))
    return await qr_order(post, shop, f"NTZ-{uuid.uuid4().hex[:8]}")


async def test_a_netzme_order_is_paid_once_by_its_signed_notify(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, database: Database
) -> None:
    order = await _netzme_order(add_provider_account, post, shop, live, "NTZ-C-PAY")
    paid = await paid_twice_credited_once(live, database, shop, order["orderId"])  # Netzme retries the notify
    assert orjson.loads(paid.json()["callback"]["body"]) == {"responseCode": "2005200",
                                                              "responseMessage": "Successful"}  # fmt: skip
    rows = await fetch(
        database, "SELECT array_agg(verified::text || ':' || outcome ORDER BY id) FROM provider_callbacks"
    )
    assert rows == ["true:applied"]  # the retry is the same notification: recognised, moves nothing


def _notify(order_id: str, status: str = "00", amount: str = "150000.00") -> bytes:
    return orjson.dumps({
        "originalReferenceNo": "NTZ-FORGED", "originalPartnerReferenceNo": order_id, "latestTransactionStatus": status,
        "transactionStatusDesc": "Success", "amount": {"value": amount, "currency": "IDR"},
    })  # fmt: skip


def _signed_headers(body: bytes, private_key: str = TEST_PRIVATE_KEY, at: datetime | None = None) -> dict[str, str]:
    stamp = timestamp(at or datetime.now(JAKARTA))
    signature = rsa_signature(private_key_of(private_key), notify_string(CALLBACK_PATH, body, stamp))
    return {"X-TIMESTAMP": stamp, "X-SIGNATURE": signature, "Content-Type": "application/json"}


async def test_a_wrong_stale_or_other_accounts_signature_gets_401_and_changes_nothing(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, client: httpx.AsyncClient,
    database: Database,
) -> None:  # fmt: skip
    order = await _netzme_order(add_provider_account, post, shop, live, "NTZ-C-FORGE")
    # Another Netzme account, whose Netzme public key is the test key: what it verifies is not this order's.
    other = await _register(live, "NTZ-C-OTHER")
    await add_provider_account("netzme", other | {"providerPublicKey": TEST_PUBLIC_KEY}, "Other")
    body = _notify(order["orderId"])
    netzme_key = fake._NETZME_PRIVATE_KEY  # what signs for this order's account: each attempt differs by one thing
    attempts = [
        _signed_headers(body),  # signed with the other account's Netzme key
        _signed_headers(body, netzme_key) | {"X-SIGNATURE": "A" * 344},
        {k: v for k, v in _signed_headers(body, netzme_key).items() if k != "X-SIGNATURE"},
        _signed_headers(body, netzme_key, at=datetime.now(JAKARTA) - timedelta(minutes=6)),  # stale
        _signed_headers(_notify(order["orderId"], amount="1500.00"), netzme_key),  # signed over another body
    ]
    for headers in attempts:
        response = await client.post(CALLBACK_PATH, content=body, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json() == {"responseCode": "4015200", "responseMessage": "Unauthorized. [Signature]"}
    assert await order_state(database, order["orderId"]) == ("PENDING", 0, 0)
    assert await balance(database, AccountRef(AccountKind.partner_pending, shop.id)) == 0
    assert await fetch(database, "SELECT count(*) FROM provider_callbacks WHERE outcome = 'unverified'") == 5
    # The control: the same body, signed now with the right key, is accepted.
    response = await client.post(CALLBACK_PATH, content=body, headers=_signed_headers(body, netzme_key))
    assert response.status_code == 200, response.text
    assert (await order_state(database, order["orderId"]))[0] == "PAID"


async def test_a_signed_notify_for_another_amount_is_flagged_and_an_unknown_status_ignored(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, client: httpx.AsyncClient,
    database: Database,
) -> None:  # fmt: skip
    order = await _netzme_order(add_provider_account, post, shop, live, "NTZ-C-AMOUNT")
    # The account's Netzme public key is the fake's: sign as the fake does, with its key.
    fake_key = fake._NETZME_PRIVATE_KEY
    for body in (_notify(order["orderId"], amount="150001.00"), _notify(order["orderId"], status="42")):
        response = await client.post(CALLBACK_PATH, content=body, headers=_signed_headers(body, fake_key))
        assert response.status_code == 200, response.text
    assert await order_state(database, order["orderId"]) == ("PENDING", 0, 0)
    outcomes = await fetch(database, "SELECT array_agg(outcome ORDER BY id) FROM provider_callbacks")
    assert outcomes == ["amount_mismatch", "ignored"]


async def test_the_status_check_asks_netzme_and_only_the_right_amount_pays(
    add_provider_account: AddAccount, post: Post, shop: Tenant, live: str, app: FastAPI, database: Database
) -> None:
    order = await _netzme_order(add_provider_account, post, shop, live, "NTZ-C-QUERY")
    order_id = uuid.UUID(order["orderId"])
    knob = f"/sandbox/netzme/transactions/{order_id}/answer"
    async with httpx.AsyncClient(base_url=live) as http:
        await http.post(knob, json={"latestTransactionStatus": "00", "amount": 1})
        assert await status_check.refresh_from_provider(app.state.pay_in, order_id)
        assert await order_state(database, order["orderId"]) == ("PENDING", 0, 0)  # amount_mismatch, flagged
        assert await fetch(database, "SELECT count(*) FROM alerts WHERE kind = 'callback_flagged'") == 1
        await http.post(knob, json={"latestTransactionStatus": "00", "amount": 150_000})
    async with database.transaction() as connection:  # the next read after STALE_AFTER
        await connection.execute("UPDATE orders SET last_status_check_at = NULL WHERE id = $1", order_id)
    assert await status_check.refresh_from_provider(app.state.pay_in, order_id)
    assert await order_state(database, order["orderId"]) == ("PAID", 1, 1)


def test_the_demo_can_run_on_the_netzme_fake() -> None:
    from gerbang.cli.demo import demo_account
    from gerbang.config import load_settings

    account = demo_account(load_settings(demo_provider="netzme", public_url="http://127.0.0.1:8000"))
    assert (account.provider, account.base_url) == ("netzme", "http://127.0.0.1:8000/sandbox/netzme")
    checked = NETZME.check_credentials(account.credentials)
    assert checked["client_secret"] == fake.fake_client_secret(fake.DEMO_CLIENT_ID)
    assert checked["provider_public_key"].strip() == fake.NETZME_PUBLIC_KEY.strip()


def test_the_fakes_written_out_public_keys_are_the_halves_of_its_private_keys() -> None:
    def public_half(private_pem: str) -> str:
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
        return (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    assert public_half(fake._NETZME_PRIVATE_KEY) == fake.NETZME_PUBLIC_KEY
    assert public_half(fake.DEMO_CLIENT_PRIVATE_KEY) == fake._clients[fake.DEMO_CLIENT_ID]
