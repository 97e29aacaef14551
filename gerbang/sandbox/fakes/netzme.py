"""A fake of Netzme's SNAP BI API (reference anchors 2.1), at `/sandbox/netzme/v1.0/...`.

Onboarding, as Netzme's portal does it: `POST /sandbox/netzme/clients {clientId, publicKey}` registers a
merchant's RSA public key (PEM) under its client id (in this process) and answers its `clientSecret`
(`fake_client_secret(clientId)`) and Netzme's public key (`NETZME_PUBLIC_KEY`). The demo's client,
`DEMO_CLIENT_ID` with `DEMO_CLIENT_PRIVATE_KEY`, is registered from the start, so `gerbang run --provider
netzme` works in any process. The fake's own key pair and the demo's are fixed sandbox keys, published
here as a provider publishes its sandbox credentials: the demo's provider account (seeded in another
process) must hold the fake's public key, and a restart must not change it. Never use them elsewhere.

- `POST /v1.0/access-token/b2b {grantType: client_credentials}`: `X-CLIENT-KEY`, `X-TIMESTAMP` and
  `X-SIGNATURE` = base64 RSA-SHA256 over `clientId|timestamp`, verified with the registered public key;
  answers `2007300` with `accessToken`, `tokenType`, `expiresIn` (a string, seconds), else `4017300`.
- Transaction calls need `Authorization: Bearer` (a live token: else `4014701` Invalid Token),
  `X-TIMESTAMP` (within 5 minutes), `X-PARTNER-ID`, `X-EXTERNAL-ID` (digits, new within the day: else
  `4090000` Conflict), `CHANNEL-ID` and `X-SIGNATURE` = base64 HMAC-SHA512 with the client secret over
  `POST:<path as received>:<token>:<lowercase hex sha256 of the minified body>:<timestamp>` (else
  `4014700`).
- `POST /v1.0/qr/qr-mpm-generate {partnerReferenceNo, amount: {value, currency: IDR}, merchantId}` answers
  `2004700` with `referenceNo`, `qrContent` (a dynamic QRIS payload); a `partnerReferenceNo` it has already
  is `4094701`. `POST /v1.0/qr/qr-mpm-query {originalPartnerReferenceNo, ...}` answers `2005100` with
  `latestTransactionStatus` (03 pending, 00 paid, 06 failed, 08 expired), `amount` and `paidTime`;
  unknown: `4045101`.
- Paying it (`POST /sandbox/orders/{ref}/pay`) sends the notify to `<gerbang>/api/v1/transaction/callback/
  netzme`: JSON with spaces (SNAP minifies before hashing), `X-TIMESTAMP` and `X-SIGNATURE` = base64
  RSA-SHA256 with the fake's private key over `POST:/api/v1/transaction/callback/netzme:<sha256 hex of the
  minified body>:<timestamp>`.
- Test knobs (in this process): `POST /sandbox/netzme/transactions/{ref}/answer {latestTransactionStatus?,
  amount?}` makes queries answer that; `POST /sandbox/netzme/knobs {token_ttl_s?, reject_next_token?}` sets
  the life of new tokens and refuses the next authenticated call's token once; `GET /sandbox/netzme/knobs`
  counts the tokens issued.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gerbang.db import Database
from gerbang.kit.crypto import KeyRing
from gerbang.kit.qris import QrisMerchant, dynamic_payload
from gerbang.kit.time import JAKARTA, utcnow
from gerbang.sandbox import repository
from gerbang.sandbox.fakes import charge_context, own_charge, send

PREFIX = "/sandbox/netzme"
_FAKE = "netzme"
CHARGE_PREFIX = "ntz_"
NOTIFY_PATH = "/api/v1/transaction/callback/netzme"
TOKEN_TTL_S = 900
TIMESTAMP_TOLERANCE = timedelta(minutes=5)
DEMO_CLIENT_ID = "GERBANG-DEMO"
router = APIRouter(prefix=PREFIX, tags=["sandbox provider: Netzme"])

_NETZME_PRIVATE_KEY = """-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCs+JJPWsMm7rTM
GDnbVxt1TgkK1BNrpEpm02oUibvPRKvMOa4Hn1B7kl3TEJtZIw21BLcqVKRnKStH
QKzA0kuaozmAav4jjNhQJeZAWXJLuS2Z9rfTOYr9qPpgtgNagS+YbokAjsu77P56
wwQHNF67S49cFGkIhE6MugZMAwm/lHtIKXKcxUkVeVjiqJTgmPMhmgqAOkN7l3xs
dCDhHUep6clihdwArVwELvGSEd7500U392vOXzKgEyGkcXKW48+VyJVS0vDx6b5p
97eK36sI1tQq9bJWphY8hAExh73Ys6WUvU1hQCMBPEVzGEM8w5Bot6LM0bLIMw13
J9THEMTvAgMBAAECggEAT+k5AxNeBI8UlRP+KtEH/P5T3B5VaI4K142FvT5St7O0
oRHmzluyfZyF3zyVYK16qC4pBxP6rjRNa8o75YtiZWtSZftINRldWE3iHcmVLdm7
8R0UGTBE/+LA5cxBKV90ozox7kGKa2RWv1V4d3Gg8Gu8rCA71DT36zkILrbampiV
gaXVtFx7nH7F70t94QV3rSyGZd1kdAV5GomNWuW9XYx4PoAuVc7RYrY8IGbKi1MV
2PQuGct1uNT2BOAOLaauyKC8dmDeMFxjybnX506cc8YxvIh/jnKBwrT7ZguueIBM
F0+5aooHYPD8BAMbeNylJtD4dli0RuvEgxvbFLWCIQKBgQDqAOWJnAu4EtZ0fif4
VRGzYntPtxmMSIiMLvmL7ySgQsHO2bDvNeGc3MIz516TTZ5bqLLI81wSPm+NJ7bf
osCYRC6nUNd4+5MHGgtnHgnJoaJgdwpiPFsQr1swgCTyMOycijtmj7hSubW8i3QH
dEYRr47X06QUVkAfuzDN5kWioQKBgQC9Ovoi4GHnadPsjAbHuJQZYEKjT5mP4Bn+
EYPdz9dlz1VIb5+YfY6aEc/9Db+lDyw9ewsQk+8HTRDtWy62kbIbtLdfuVVFGCRD
WWVddRq9tOKVy9HhDsw7KvJn1Q2dP3XLIbfiu4BMNNYtnWrNX0g5MEypT5I88rHZ
ohsnbPDNjwKBgDlDuuhwHZYQVhbwAIwPFWPWx+J8Jm5kGbZkkIEkJsxpSdB7CYeg
ofOnOodFKanWptg7cnUmyPNWACqE+4XC6Gra1KfxaqmatyJXx06W1UJYocoFl67u
okJ1B1XZJjF2s5Cja2Hv7eWguM7JOb3RQIx3b/d1PYQUj2C0iH76yTPBAoGBAKTj
xmErqsQumEcwQRw5f3uZQJfz3bjcK2oTsxdOa8BAaW0EL0p+Zgtk6Br2pv9aeE9e
b2bTsV5oTg61/L+Dt3KjB4L3CRF7FuZE+Kn2SAX0n9it0UXOUjJgmvfVU9apHKiT
yhtdDU/aXqNC33TzyQhkSPjj6GcJh+Y/dm/lYvOLAoGBAN7lxL8rVO6a0m9jf//M
I6sRg1XpbA+7eN2jhQxA48tx1YcCnSjFDHZKG6Fg/38bCePAe2y6U4SeWH+gbYOG
1or+LAi/u3R1tv4+UoqAaSg//bZhmJR8wHB7MvooYOdCASKTX7JoUh1YlhqSwWZf
rNhX/sf+0yNf2VlZpHE0iSC6
-----END PRIVATE KEY-----
"""
DEMO_CLIENT_PRIVATE_KEY = """-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC4GJwDSrCrfxhG
IhlV6qTivHpy0l+y35syKU72ie5WOJ+ks9K635rPa9CzoHvse5rkvU3+7HddyRqg
gyIl/4HzUZuZ+OXmdl6uVZC5q4MorJpBLrUw9uzbP5CNrfMbmOGKi+5sjnr36dar
JaQ/503J+exo61ggl05PxLq/qT+Cccyo/CCHb/CyVMENykL/JAzI+05IRpznouOQ
/SCnO2vwMeaGVUg+9n7Aa76WxxMZRmAgiQBB2BowefvDcYS0bWd6hhH9Z3bys8OO
4d7Xpzs5zDDzbephdUj4N7gOsDTLgit/qEMozMvAPmFRCZ0/MmHBWENfk2GV00VM
BeTIULc9AgMBAAECggEABQPb8YBYt731R1PTz4deM98L5ueG5onjjHDw+b5gLnEf
HY7YhXFkoj8+/DsO+oOTgKUM5DjvjNqBozBvVGGq2e9ghx1EsLaLdcGsTk03JtCC
PexWe0hUGNTudy2Z8H0wXQ8wJjzraf2GH5DIR1q3FR191ziHZLvlIj8rEeA7yViM
ZoU5fw0VRXdNilc86QbROJZZ97nYQhERoaTzhtklRb8fiWdNw7/wzIZlGy4sx1F/
oR3qzQOxk3/e2GHZDjZMfqLiGeAaks8HtwcNXS4OqVqICFo9L7D8fuH85MWg2qiR
kz38sll0MG+PgT5ERT5E/T5y4j0wqlsFAEeLZ9f5cQKBgQDvvKj9oPcCwEYoRbVv
6qAR7pJQt1g/HJ4xHeqm4YKSf9iuoC5/XifZGjxClQEEeW4U3CsVJdKOzN+JsWcl
oGpa7GzNwxYWolBKk38vDh4dfklMAmD7InpzqShqr6JrWtoYs7DlhKukBTMrpPs6
w8xsQ9QvHswZW4DfgWY6GW92nwKBgQDElazNBIBW7J8V9wB5kQSEl/AtEKvV3xgM
396v6DsH3XW2Y7yajikw9ULxXH/lr/XjRLf6v7PrGTcTA5ohH/VHHZQYJVp9Jef8
akKC0y2PYd1RgUMzy/SwPLtnKxJVWSCt4Hxw5x5/NvgZc8jEP8QV3uky74NgYfFd
3LVQ6anQowKBgQCjuQ8b71LiEReYp0qqvOxGcsx/zUa6CzxJxOmcwIOgsyjy0TgQ
CehizxT6T7JbMOap3laZ4bOzjFzZN0t/GdeocrA3sZSjLoRw+dww8Y5FjBpYi4NZ
3wkLdinA+mOMt4YcupMDnCBwKpDwrIJadp9kDMqax4iRhLk1arS61uYVdwKBgCqL
2mJk3wHxJF00oD2vTTMFT03xlb8sEaB3s1KPCHejTp6y51br/a5C5sImKugjNSyC
6u6yHtZ7Fphe5zTUHdnOZQb0zqjXU2Yl+U8nNW0a2TOSrmC/e63I9yZVBBrEt3Xq
aARngQo3c2rOzFztEBtLq10CyYRKrlqKMhPY/o/RAoGASthNXLytvMgjKpZMQhhS
kNmaFpRcjKHrhU93aFbOQski7LVVopManmJ1GbT30Qr9xgV5RUwq6NIwKXYq9Dtk
qUcMEOVTntqcfZmHfvHeZaUjrKd87mkgbc+CcMbQCTGuTXsXwfHG541VvXYW6F1Y
dWkmtqCQ+ItrxVErz3n14Ek=
-----END PRIVATE KEY-----
"""


@functools.cache
def _signing_key() -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(_NETZME_PRIVATE_KEY.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)  # noqa: S101 (the constant above)
    return key


# The public halves, written out: deriving them at import parses two RSA keys (0.15 s in every process).
NETZME_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArPiST1rDJu60zBg521cb
dU4JCtQTa6RKZtNqFIm7z0SrzDmuB59Qe5Jd0xCbWSMNtQS3KlSkZykrR0CswNJL
mqM5gGr+I4zYUCXmQFlyS7ktmfa30zmK/aj6YLYDWoEvmG6JAI7Lu+z+esMEBzRe
u0uPXBRpCIROjLoGTAMJv5R7SClynMVJFXlY4qiU4JjzIZoKgDpDe5d8bHQg4R1H
qenJYoXcAK1cBC7xkhHe+dNFN/drzl8yoBMhpHFyluPPlciVUtLw8em+afe3it+r
CNbUKvWyVqYWPIQBMYe92LOllL1NYUAjATxFcxhDPMOQaLeizNGyyDMNdyfUxxDE
7wIDAQAB
-----END PUBLIC KEY-----
"""
"""What a merchant configures as Netzme's public key, to verify this fake's notifies."""
_DEMO_CLIENT_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuBicA0qwq38YRiIZVeqk
4rx6ctJfst+bMilO9onuVjifpLPSut+az2vQs6B77Hua5L1N/ux3XckaoIMiJf+B
81Gbmfjl5nZerlWQuauDKKyaQS61MPbs2z+Qja3zG5jhiovubI569+nWqyWkP+dN
yfnsaOtYIJdOT8S6v6k/gnHMqPwgh2/wslTBDcpC/yQMyPtOSEac56LjkP0gpztr
8DHmhlVIPvZ+wGu+lscTGUZgIIkAQdgaMHn7w3GEtG1neoYR/Wd28rPDjuHe16c7
Ocww823qYXVI+De4DrA0y4Irf6hDKMzLwD5hUQmdPzJhwVhDX5NhldNFTAXkyFC3
PQIDAQAB
-----END PUBLIC KEY-----
"""

_clients: dict[str, str] = {DEMO_CLIENT_ID: _DEMO_CLIENT_PUBLIC_KEY}
"""Client id -> the merchant's registered public key (PEM)."""
_tokens: dict[str, tuple[str, float]] = {}
_external_ids: set[tuple[str, str, str]] = set()
_answers: dict[uuid.UUID, dict[str, Any]] = {}
_knobs: dict[str, Any] = {"token_ttl_s": TOKEN_TTL_S, "reject_next_token": False, "tokens_issued": 0}
_STATUS = {"PENDING": "03", "PAID": "00", "FAILED": "06", "EXPIRED": "08"}
_DESCRIPTION = {"00": "Success", "03": "Pending", "06": "Failed", "08": "Expired"}


def fake_client_secret(client_id: str) -> str:
    """The client secret this fake hands out for `client_id`."""
    return "ntz_cs_" + hashlib.sha256(f"gerbang-sandbox-netzme:{client_id}".encode()).hexdigest()[:40]


def _answer(code: str, message: str, **fields: Any) -> JSONResponse:
    return JSONResponse({"responseCode": code, "responseMessage": message, **fields}, int(code[:3]))


def _minify(raw: bytes) -> bytes:
    return json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False).encode()


def _b64_rsa_verifies(public_pem: str, message: bytes, signature: str) -> bool:
    key = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)  # noqa: S101 (registered as one)
    try:
        key.verify(base64.b64decode(signature, validate=True), message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def _fresh(stamp: str) -> bool:
    try:
        at = datetime.fromisoformat(stamp)
    except ValueError:
        return False
    return at.tzinfo is not None and abs(datetime.now(UTC) - at) <= TIMESTAMP_TOLERANCE


@router.post("/clients", summary="Onboarding: register a merchant's public key (Netzme's portal)")
async def register_client(body: dict[str, Any]) -> JSONResponse:
    client_id, public_pem = body.get("clientId"), body.get("publicKey")
    if not isinstance(client_id, str) or not client_id or not isinstance(public_pem, str):
        return JSONResponse({"message": "clientId and publicKey are required"}, 400)
    try:
        key = serialization.load_pem_public_key(public_pem.encode())
    except ValueError:
        return JSONResponse({"message": "publicKey is not a PEM public key"}, 400)
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
        return JSONResponse({"message": "publicKey must be RSA, 2048 bits or more"}, 400)
    _clients[client_id] = public_pem
    return JSONResponse(
        {"clientId": client_id, "clientSecret": fake_client_secret(client_id), "netzmePublicKey": NETZME_PUBLIC_KEY}
    )


@router.post("/v1.0/access-token/b2b", summary="A B2B access token (Netzme, SNAP service 73)")
async def access_token(request: Request) -> JSONResponse:
    client_id = request.headers.get("x-client-key", "")
    stamp = request.headers.get("x-timestamp", "")
    signature = request.headers.get("x-signature", "")
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("grantType") != "client_credentials":
        return _answer("4007302", "Invalid Mandatory Field grantType")
    public_pem = _clients.get(client_id)
    if public_pem is None or not _fresh(stamp):
        return _answer("4017300", "Unauthorized. [Unknown client or stale timestamp]")
    if not _b64_rsa_verifies(public_pem, f"{client_id}|{stamp}".encode(), signature):
        return _answer("4017300", "Unauthorized. [Signature]")
    token = secrets.token_urlsafe(32)
    ttl = int(_knobs["token_ttl_s"])
    _tokens[token] = (client_id, time.time() + ttl)
    _knobs["tokens_issued"] += 1
    return _answer("2007300", "Successful", accessToken=token, tokenType="Bearer", expiresIn=str(ttl))


async def _client(request: Request, service: str) -> tuple[str | None, bytes, JSONResponse | None]:
    """The client of a correctly authenticated and signed call, the raw body, or the refusal to answer."""
    raw = await request.body()
    header = request.headers.get("authorization", "")
    token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
    found = _tokens.get(token)
    if _knobs["reject_next_token"] or found is None or found[1] <= time.time():
        _knobs["reject_next_token"] = False
        return None, raw, _answer(f"401{service}01", "Invalid Token (B2B)")
    client_id = found[0]
    stamp, external_id = request.headers.get("x-timestamp", ""), request.headers.get("x-external-id", "")
    partner, channel = request.headers.get("x-partner-id", ""), request.headers.get("channel-id", "")
    if not partner or not channel or not external_id.isdigit() or len(external_id) > 36 or not _fresh(stamp):
        return None, raw, _answer(f"400{service}02", "Invalid Mandatory Field [headers]")
    try:
        digest = hashlib.sha256(_minify(raw)).hexdigest()
    except ValueError:
        return None, raw, _answer(f"400{service}00", "Bad Request")
    signed = f"{request.method}:{request.url.path}:{token}:{digest}:{stamp}".encode()
    expected = base64.b64encode(hmac.new(fake_client_secret(client_id).encode(), signed, hashlib.sha512).digest())
    if not hmac.compare_digest(request.headers.get("x-signature", "").encode(), expected):
        return None, raw, _answer(f"401{service}00", "Unauthorized. [Signature]")
    seen = (partner, datetime.now(JAKARTA).date().isoformat(), external_id)
    if seen in _external_ids:
        return None, raw, _answer(f"409{service}00", "Conflict")
    _external_ids.add(seen)
    return client_id, raw, None


def _money(amount: object) -> dict[str, str]:
    return {"value": f"{amount}.00", "currency": "IDR"}


def _paid_time(row: asyncpg.Record) -> str | None:
    return row["paid_at"].astimezone(JAKARTA).isoformat(timespec="seconds") if row["paid_at"] else None


@router.post("/v1.0/qr/qr-mpm-generate", summary="Generate a dynamic QRIS (Netzme, SNAP service 47)")
async def qr_generate(request: Request) -> JSONResponse:
    client_id, raw, refused = await _client(request, "47")
    if refused is not None or client_id is None:
        return refused or _answer("4014701", "Invalid Token (B2B)")
    try:
        body = json.loads(raw)
        ref, amount = uuid.UUID(str(body["partnerReferenceNo"])), body["amount"]
        value = str(amount["value"])
        whole, _, cents = value.partition(".")
        if amount.get("currency") != "IDR" or not whole.isdigit() or cents != "00" or int(whole) <= 0:
            raise ValueError("bad amount")
        if not body.get("merchantId"):
            raise ValueError("no merchant")
    except (ValueError, KeyError, TypeError, AttributeError):
        return _answer("4004702", "Invalid Mandatory Field")
    database: Database = request.app.state.database
    ring: KeyRing = request.app.state.key_ring
    async with database.connection() as connection:
        row = await repository.insert_charge(
            connection, merchant_ref=ref, charge_id=CHARGE_PREFIX + secrets.token_hex(12), amount=int(whole),
            method="qris", channel=None, merchant_name="netzme", settlement_delay_s=0,
            callback_url=str(request.base_url).rstrip("/") + NOTIFY_PATH,
            expires_at=utcnow() + timedelta(minutes=30),
            merchant_key_encrypted=ring.encrypt(client_id, context=charge_context(_FAKE, ref)),
        )  # fmt: skip
    if row is None:
        return _answer("4094701", "Duplicate partnerReferenceNo")
    merchant = QrisMerchant(name="GERBANG", city="Jakarta", nmid="ID1000000000005", merchant_pan="9360000000000000005")
    return _answer(
        "2004700", "Successful", referenceNo=row["charge_id"], partnerReferenceNo=str(ref),
        qrContent=dynamic_payload(merchant, amount=row["amount"], reference=row["charge_id"]),
        merchantName="GERBANG",
    )  # fmt: skip


@router.post("/v1.0/qr/qr-mpm-query", summary="A QRIS payment's status (Netzme, SNAP service 51)")
async def qr_query(request: Request) -> JSONResponse:
    client_id, raw, refused = await _client(request, "51")
    if refused is not None or client_id is None:
        return refused or _answer("4015101", "Invalid Token (B2B)")
    try:
        ref = uuid.UUID(str(json.loads(raw)["originalPartnerReferenceNo"]))
    except (ValueError, KeyError, TypeError):
        return _answer("4005102", "Invalid Mandatory Field originalPartnerReferenceNo")
    row = await own_charge(request, _FAKE, CHARGE_PREFIX, client_id, ref)
    if row is None:
        return _answer("4045101", "Transaction Not Found")
    answer = _answers.get(ref, {})
    status = answer.get("latestTransactionStatus", _STATUS[row["status"]])
    return _answer(
        "2005100", "Successful", originalReferenceNo=row["charge_id"], originalPartnerReferenceNo=str(ref),
        serviceCode="47", latestTransactionStatus=status, transactionStatusDesc=_DESCRIPTION.get(status, status),
        paidTime=_paid_time(row), amount=_money(answer.get("amount", row["amount"])),
    )  # fmt: skip


@router.post("/transactions/{ref}/answer", summary="Test knob: what queries answer for this charge")
async def set_answer(ref: uuid.UUID, answer: dict[str, Any]) -> dict[str, Any]:
    _answers[ref] = {key: answer[key] for key in ("latestTransactionStatus", "amount") if key in answer}
    return {"partnerReferenceNo": str(ref), "answer": _answers[ref]}


@router.post("/knobs", summary="Test knob: token life, and one refused token on the next call")
async def set_knobs(knobs: dict[str, Any]) -> dict[str, Any]:
    if "token_ttl_s" in knobs:
        _knobs["token_ttl_s"] = int(knobs["token_ttl_s"])
    if "reject_next_token" in knobs:
        _knobs["reject_next_token"] = bool(knobs["reject_next_token"])
    return dict(_knobs)


@router.get("/knobs", summary="Test knob: the knobs, and how many tokens were issued")
async def get_knobs() -> dict[str, Any]:
    return dict(_knobs)


async def notify_payment(row: asyncpg.Record, ring: KeyRing) -> dict[str, Any]:
    status = _STATUS[row["status"]]
    event = {
        "originalReferenceNo": row["charge_id"], "originalPartnerReferenceNo": str(row["merchant_ref"]),
        "latestTransactionStatus": status, "transactionStatusDesc": _DESCRIPTION[status],
        "amount": _money(row["amount"]), "additionalInfo": {"paymentTime": _paid_time(row)},
    }  # fmt: skip
    body = json.dumps(event).encode()  # with spaces: the signature is over the minified form
    stamp = datetime.now(JAKARTA).isoformat(timespec="seconds")
    signed = f"POST:{NOTIFY_PATH}:{hashlib.sha256(_minify(body)).hexdigest()}:{stamp}".encode()
    signature = base64.b64encode(_signing_key().sign(signed, padding.PKCS1v15(), hashes.SHA256())).decode()
    headers = {"X-TIMESTAMP": stamp, "X-SIGNATURE": signature, "X-EXTERNAL-ID": str(time.time_ns())}
    return await send(row["callback_url"], body, headers)
