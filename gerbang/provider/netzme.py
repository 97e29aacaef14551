"""Netzme: QRIS pay-ins over SNAP BI (Bank Indonesia's Standar Nasional Open API Pembayaran; reference
anchors 2.1). The original had only a stub (seed inventory 4.8) and the env vars `NETZ_URL`,
`NETZ_PARTNER_ID`, `NETZ_PRIVATE_KEY`, `NETZ_CLIENT_SECRET` (section 12); here the same values are the
credentials of each provider account.

Access token (service 73): `POST <baseUrl>/v1.0/access-token/b2b {"grantType": "client_credentials"}` with
`X-CLIENT-KEY` (client id), `X-TIMESTAMP` (ISO 8601, `+07:00`) and `X-SIGNATURE` = base64 of RSA-SHA256
(PKCS#1 v1.5) with our private key over `clientId|timestamp`. The token is kept per account (the shared
`TokenCache`: one request in flight per account) until 60 s before its `expiresIn`; when Netzme answers
that the token is invalid or unknown (`401xx01`, `401xx03`) it is dropped, a new one fetched and the call
retried once.

Transaction calls: `Authorization: Bearer`, `X-TIMESTAMP`, `X-PARTNER-ID`, `X-EXTERNAL-ID` (random digits,
unique per day), `CHANNEL-ID` and `X-SIGNATURE` = base64 of HMAC-SHA512 with the client secret over
`METHOD:path:accessToken:lowercase hex(sha256(minified body)):timestamp`. QR MPM generate (service 47)
`POST /v1.0/qr/qr-mpm-generate` with our order id as `partnerReferenceNo`; query (service 51)
`POST /v1.0/qr/qr-mpm-query`. Response codes are 7 digits (HTTP status, service, case), sorted by
`response_outcome`; `latestTransactionStatus` is mapped by `payment_status`.

Notify (service 52) at `POST /api/v1/transaction/callback/netzme`, signed by Netzme: `X-SIGNATURE` = base64
RSA-SHA256 with Netzme's private key over `POST:/api/v1/transaction/callback/netzme:lowercase hex(sha256(
minified body)):X-TIMESTAMP`, verified with the Netzme public key of the account that owns the order; a
timestamp more than 5 minutes from now is refused (a replay). That signature covers the whole body (status
and amount included) and the time, so a verified notify is trusted as it is (`callbacks_confirmed` False):
no status query is needed, the amount is still checked against the order, and a replay of the same notify
is the same event (`order:referenceNo:status`). Answered `2005200 Successful` (refused: 401, `4015200`).

Assumptions (the reference leaves them open; confirm with Netzme):
- the base URL includes Netzme's path prefix (`https://tokoapisnap.netzme.com/api`, from its staging host
  `tokoapisnap-stg.netzme.com/api`), and the signed path is the whole path of the URL called
  (`/api/v1.0/qr/qr-mpm-generate`), as SNAP's "relative URL" is everything after the host;
- the notify URL registered with Netzme is our `/api/v1/transaction/callback/netzme` at the host's root:
  that path is what the notify signature covers (behind a proxy that rewrites paths it would not verify);
- `merchantId` in the QR calls is the account's `merchant_id` (alias `merchantId`, `custIdMerchant`), else
  its partner id; the client id (`X-CLIENT-KEY`) defaults to the partner id, as the original had only
  `NETZ_PARTNER_ID`;
- `expiresIn` may be a number or a numeric string (SNAP writes it as a string); unreadable: 15 minutes;
- `latestTransactionStatus` 04 (refunded), 05, 06 and 09 are FAILED for us (a refund of a paid order is
  then a contradiction, flagged for people), 08 EXPIRED, 07 (not found) and a query answered `404xx01`
  PENDING: Netzme not knowing a charge never pays it;
- PEM keys may arrive with their line breaks written as `\\n` (as in an environment variable); both keys
  must be RSA of at least 2048 bits, our private key unencrypted.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gerbang.kit.crypto import sha256_hex
from gerbang.kit.time import JAKARTA
from gerbang.provider.base import (
    Acknowledgement,
    Charge,
    ChargeRequest,
    InboundCallback,
    PaymentCallback,
    PaymentMethod,
    PaymentStatus,
    ProviderAccount,
    ProviderDuplicate,
    ProviderInsufficientBalance,
    ProviderInvalidAccount,
    ProviderRejected,
    ProviderResponseInvalid,
    ProviderUnavailable,
    StatusResult,
)
from gerbang.provider.common import (
    TimedAdapter,
    TokenCache,
    amount_of,
    call_json,
    credentials_of,
    text_of,
    unknown_status,
)

NAME = "netzme"
TOKEN_PATH = "/v1.0/access-token/b2b"  # noqa: S105 (a path, not a secret)
GENERATE_PATH = "/v1.0/qr/qr-mpm-generate"
QUERY_PATH = "/v1.0/qr/qr-mpm-query"
CALLBACK_PATH = "/api/v1/transaction/callback/netzme"
SERVICE_TOKEN, SERVICE_GENERATE, SERVICE_QUERY, SERVICE_NOTIFY = "73", "47", "51", "52"
REFRESH_EARLY_S = 60
UNKNOWN_EXPIRY_S = 900
CALLBACK_TOLERANCE = timedelta(minutes=5)
MIN_KEY_BITS = 2048
_SIGNATURE_HEADER = "x-signature"
_TIMESTAMP_HEADER = "x-timestamp"
# A JSON string (escapes included) is kept whole; whitespace between tokens is dropped.
_JSON_STRING_OR_SPACE = re.compile(rb'("(?:[^"\\]|\\.)*")|[ \t\r\n]+')


class Outcome(enum.Enum):
    """What a SNAP `responseCode` tells the caller to do."""

    success = "success"
    token_refused = "token_refused"  # noqa: S105 (an outcome, not a secret)
    duplicate = "duplicate"
    not_found = "not_found"
    insufficient_balance = "insufficient_balance"
    invalid_account = "invalid_account"
    unavailable = "unavailable"
    rejected = "rejected"
    unexpected = "unexpected"


def response_outcome(code: object, service: str) -> Outcome:
    """A SNAP `responseCode` (HTTP status, 2-digit service code, 2-digit case code) for a call to `service`.
    A success for another service, or a code we do not know, is `unexpected` (logged), never a success."""
    text = code if isinstance(code, str) and re.fullmatch(r"[0-9]{7}", code) else None
    if text is None:
        unknown_status(NAME, f"response:{service}", code)
        return Outcome.unexpected
    status, answered_service, case = text[:3], text[3:5], text[5:]
    match status, case:
        case ("200" | "202", _) if answered_service == service:
            return Outcome.success
        case ("200" | "202", _):
            unknown_status(NAME, f"response:{service}", code)
            return Outcome.unexpected
        case ("401", "01" | "03"):  # Invalid Token (B2B), Token Not Found (B2B)
            return Outcome.token_refused
        case ("409", "01"):  # Duplicate partnerReferenceNo
            return Outcome.duplicate
        case ("404", "01"):  # Transaction Not Found
            return Outcome.not_found
        case ("404", "11"):  # Invalid Card/Account/Customer
            return Outcome.invalid_account
        case ("403", "14"):  # Insufficient Funds
            return Outcome.insufficient_balance
        case ("429" | "500" | "502" | "503" | "504", _):
            return Outcome.unavailable
        case ("400" | "401" | "403" | "404" | "405" | "409" | "422", _):
            return Outcome.rejected
        case _:
            unknown_status(NAME, f"response:{service}", code)
            return Outcome.unexpected


def payment_status(value: object) -> PaymentStatus:
    """SNAP's `latestTransactionStatus` onto ours; an unknown one is logged and pending, never paid."""
    match value:
        case "00":
            return PaymentStatus.paid
        case "01" | "02" | "03" | "07":  # initiated, paying, pending; not found: not paid (yet)
            return PaymentStatus.pending
        case "04" | "05" | "06" | "09":  # refunded, cancelled, failed, rejected
            return PaymentStatus.failed
        case "08":
            return PaymentStatus.expired
        case _:
            unknown_status(NAME, "payment", value)
            return PaymentStatus.pending


def timestamp(at: datetime) -> str:
    """SNAP's X-TIMESTAMP: ISO 8601 to the second in WIB (`2026-01-31T10:00:00+07:00`)."""
    return at.astimezone(JAKARTA).isoformat(timespec="seconds")


def minified(body: bytes) -> bytes:
    """The body as SNAP hashes it: JSON without whitespace between tokens, fields in the order and with the
    values as sent (never re-serialised: that could reorder keys or rewrite numbers and escapes)."""
    return _JSON_STRING_OR_SPACE.sub(lambda match: match.group(1) or b"", body)


def token_string(client_id: str, at: str) -> bytes:
    return f"{client_id}|{at}".encode()


def transaction_string(method: str, path: str, token: str, body: bytes, at: str) -> bytes:
    """What the symmetric (HMAC-SHA512) signature of a transaction call covers."""
    return f"{method}:{path}:{token}:{sha256_hex(minified(body))}:{at}".encode()


def notify_string(path: str, body: bytes, at: str) -> bytes:
    """What the asymmetric (RSA-SHA256) signature of a notify covers: no token."""
    return f"POST:{path}:{sha256_hex(minified(body))}:{at}".encode()


def rsa_signature(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def hmac_signature(client_secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(client_secret.encode(), message, hashlib.sha512).digest()).decode()


def rsa_verified(public_key: rsa.RSAPublicKey, message: bytes, presented: str) -> bool:
    try:
        public_key.verify(base64.b64decode(presented, validate=True), message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def _pem(value: str) -> bytes:
    return value.replace("\\n", "\n").encode()


def private_key_of(pem: str) -> rsa.RSAPrivateKey:
    """Our RSA private key from its PEM; ValueError (naming no value) for anything else."""
    try:
        key = serialization.load_pem_private_key(_pem(pem), password=None)
    except (ValueError, TypeError):
        raise ValueError("private_key is not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < MIN_KEY_BITS:
        raise ValueError(f"private_key must be an RSA key of at least {MIN_KEY_BITS} bits")
    return key


def public_key_of(pem: str) -> rsa.RSAPublicKey:
    """Netzme's RSA public key from its PEM; ValueError (naming no value) for anything else."""
    try:
        key = serialization.load_pem_public_key(_pem(pem))
    except (ValueError, TypeError):
        raise ValueError("provider_public_key is not a PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_KEY_BITS:
        raise ValueError(f"provider_public_key must be an RSA key of at least {MIN_KEY_BITS} bits")
    return key


def _amount(value: object) -> int | None:
    """`{"value": "10000.00", "currency": "IDR"}` in whole rupiah; None for another currency or a fraction."""
    if not isinstance(value, Mapping) or value.get("currency") != "IDR":
        return None
    return amount_of(value.get("value"))


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _expires_in(value: object) -> float:
    if isinstance(value, int | str) and not isinstance(value, bool) and str(value).strip().isdigit():
        return float(str(value).strip())
    return UNKNOWN_EXPIRY_S


def _external_id() -> str:
    """X-EXTERNAL-ID: digits, unique within the day (milliseconds and 12 random digits)."""
    return f"{time.time_ns() // 1_000_000}{secrets.randbelow(10**12):012d}"


def _raise_for(outcome: Outcome, answer: Mapping[str, Any], what: str) -> None:
    """The typed error for a refusal; nothing for a success."""
    reason = f"{NAME} refused {what} ({answer.get('responseCode')}): {str(answer.get('responseMessage', ''))[:200]}"
    match outcome:
        case Outcome.success:
            return
        case Outcome.duplicate:
            raise ProviderDuplicate(reason)
        case Outcome.insufficient_balance:
            raise ProviderInsufficientBalance(reason)
        case Outcome.invalid_account:
            raise ProviderInvalidAccount(reason)
        case Outcome.unavailable:
            raise ProviderUnavailable(reason)
        case Outcome.unexpected:
            raise ProviderResponseInvalid(f"{NAME} answered {what} with an unexpected code")
        case Outcome.token_refused | Outcome.not_found | Outcome.rejected:
            raise ProviderRejected(reason)


class NetzmeProvider(TimedAdapter):
    name: ClassVar[str] = NAME
    methods: ClassVar[frozenset[PaymentMethod]] = frozenset({PaymentMethod.qris})
    callbacks_signed: ClassVar[bool] = True
    callbacks_confirmed: ClassVar[bool] = False

    def __init__(self) -> None:
        self._tokens = TokenCache(REFRESH_EARLY_S)

    def check_credentials(self, credentials: Mapping[str, str]) -> dict[str, str]:
        found = credentials_of(
            credentials,
            {
                "partner_id": ("partnerId",), "client_id": ("clientId", "clientKey"),
                "client_secret": ("clientSecret",), "private_key": ("privateKey",),
                "provider_public_key": ("providerPublicKey", "netzmePublicKey"), "channel_id": ("channelId",),
                "merchant_id": ("merchantId", "custIdMerchant"),
            },
            optional=("client_id", "merchant_id"),
            long=("private_key", "provider_public_key"),
        )  # fmt: skip
        for name in ("private_key", "provider_public_key"):
            found[name] = found[name].replace("\\n", "\n")
        private_key_of(found["private_key"])
        public_key_of(found["provider_public_key"])
        if len(found["client_secret"]) < 16:
            raise ValueError("client_secret is too short")
        return found

    def _url(self, account: ProviderAccount, path: str) -> str:
        return account.base_url.rstrip("/") + path

    def _token_key(self, account: ProviderAccount) -> tuple[uuid.UUID, str]:
        credentials = account.credentials
        who = "\0".join(credentials.get(name, "") for name in ("client_id", "partner_id", "private_key"))
        return account.id, sha256_hex(who.encode())

    async def _fetch_token(self, session: aiohttp.ClientSession, account: ProviderAccount) -> tuple[str, float]:
        credentials = account.credentials
        client_id = credentials.get("client_id") or credentials["partner_id"]
        at = timestamp(datetime.now(JAKARTA))
        headers = {
            "Content-Type": "application/json", "X-TIMESTAMP": at, "X-CLIENT-KEY": client_id,
            "X-SIGNATURE": rsa_signature(private_key_of(credentials["private_key"]), token_string(client_id, at)),
        }  # fmt: skip
        body = orjson.dumps({"grantType": "client_credentials"})
        now = time.time()
        _, answer = await call_json(
            session, NAME, "POST", self._url(account, TOKEN_PATH), body=body, headers=headers, limit=self.timeout
        )
        if not isinstance(answer, dict):
            raise ProviderResponseInvalid(f"{NAME} answered the token request with something other than an object")
        _raise_for(response_outcome(answer.get("responseCode"), SERVICE_TOKEN), answer, "the token request")
        token = text_of(answer.get("accessToken"))
        if token is None:
            raise ProviderResponseInvalid(f"{NAME} answered the token request without a token")
        return token, now + _expires_in(answer.get("expiresIn"))

    async def _token(self, session: aiohttp.ClientSession, account: ProviderAccount, refused: str | None = None) -> str:
        async def fetch() -> tuple[str, float]:
            return await self._fetch_token(session, account)

        return await self._tokens.get(self._token_key(account), fetch, refused=refused)

    async def _post(
        self, session: aiohttp.ClientSession, account: ProviderAccount, path: str, body: bytes, token: str
    ) -> Any:
        url = self._url(account, path)
        at = timestamp(datetime.now(JAKARTA))
        credentials = account.credentials
        headers = {
            "Content-Type": "application/json", "Authorization": f"Bearer {token}", "X-TIMESTAMP": at,
            "X-PARTNER-ID": credentials["partner_id"], "X-EXTERNAL-ID": _external_id(),
            "CHANNEL-ID": credentials["channel_id"],
            "X-SIGNATURE": hmac_signature(
                credentials["client_secret"], transaction_string("POST", urlsplit(url).path, token, body, at)
            ),
        }  # fmt: skip
        _, answer = await call_json(session, NAME, "POST", url, body=body, headers=headers, limit=self.timeout)
        if not isinstance(answer, dict):
            raise ProviderResponseInvalid(f"{NAME} answered with something other than an object")
        return answer

    async def _call(
        self, session: aiohttp.ClientSession, account: ProviderAccount, path: str, service: str, body: Mapping[str, Any]
    ) -> tuple[Outcome, dict[str, Any]]:
        """One signed call; when Netzme refuses the token, one fresh token and one retry (a second refusal is
        a `ProviderRejected`, never a loop)."""
        raw = orjson.dumps(body)
        token = await self._token(session, account)
        answer = await self._post(session, account, path, raw, token)
        outcome = response_outcome(answer.get("responseCode"), service)
        if outcome is Outcome.token_refused:
            token = await self._token(session, account, refused=token)
            answer = await self._post(session, account, path, raw, token)
            outcome = response_outcome(answer.get("responseCode"), service)
            if outcome is Outcome.token_refused:
                raise ProviderRejected(f"{NAME} refused a fresh token ({answer.get('responseCode')})")
        return outcome, answer

    def _merchant_id(self, account: ProviderAccount) -> str:
        return account.credentials.get("merchant_id") or account.credentials["partner_id"]

    async def create_payment(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: ChargeRequest
    ) -> Charge:
        if request.method is not PaymentMethod.qris:
            raise ProviderRejected(f"{NAME} refused: method {request.method.value} is not offered")
        body = {
            "partnerReferenceNo": str(request.order_id),
            "amount": {"value": f"{request.amount}.00", "currency": "IDR"},
            "merchantId": self._merchant_id(account),
            "validityPeriod": timestamp(request.expires_at),
        }
        outcome, answer = await self._call(session, account, GENERATE_PATH, SERVICE_GENERATE, body)
        _raise_for(outcome, answer, "the QR")
        if answer.get("partnerReferenceNo") != str(request.order_id):
            raise ProviderResponseInvalid(f"{NAME} answered a QR for another order")
        if "amount" in answer and _amount(answer["amount"]) != request.amount:
            raise ProviderResponseInvalid(f"{NAME} answered a QR for another amount")
        reference, qr = text_of(answer.get("referenceNo")), text_of(answer.get("qrContent"))
        if reference is None or qr is None:
            raise ProviderResponseInvalid(f"{NAME} answered without a reference or a QR")
        return Charge(
            provider_reference=reference, amount=request.amount, qr_payload=qr,
            redirect_url=text_of(answer.get("qrUrl")), raw=answer,
        )  # fmt: skip

    async def payment_status(
        self,
        session: aiohttp.ClientSession,
        account: ProviderAccount,
        order_id: uuid.UUID,
        provider_reference: str | None,
    ) -> StatusResult:
        body: dict[str, Any] = {"originalPartnerReferenceNo": str(order_id)}
        if provider_reference:
            body["originalReferenceNo"] = provider_reference
        body |= {"serviceCode": SERVICE_GENERATE, "merchantId": self._merchant_id(account)}
        outcome, answer = await self._call(session, account, QUERY_PATH, SERVICE_QUERY, body)
        if outcome is Outcome.not_found:  # Netzme does not know it: not paid
            return StatusResult(status=PaymentStatus.pending, amount=None, provider_reference=provider_reference)
        _raise_for(outcome, answer, "the query")
        if answer.get("originalPartnerReferenceNo") != str(order_id):
            raise ProviderResponseInvalid(f"{NAME} answered for another order")
        return StatusResult(
            status=payment_status(answer.get("latestTransactionStatus")),
            amount=_amount(answer.get("amount")),
            provider_reference=text_of(answer.get("originalReferenceNo")) or provider_reference,
            paid_at=_time(answer.get("paidTime")),
        )

    def parse_callback(self, callback: InboundCallback) -> PaymentCallback:
        try:
            data = orjson.loads(callback.body)
            order_id = uuid.UUID(data["originalPartnerReferenceNo"])
            status = data["latestTransactionStatus"]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise ValueError("not a Netzme notify") from None
        if not isinstance(status, str):
            raise ValueError("not a Netzme notify")
        reference = text_of(data.get("originalReferenceNo"))
        info = data.get("additionalInfo")
        paid_at = _time(data.get("paidTime")) or (_time(info.get("paymentTime")) if isinstance(info, dict) else None)
        return PaymentCallback(
            event_id=f"{order_id}:{reference or ''}:{status}"[:200],
            order_id=order_id,
            provider_reference=reference,
            status=payment_status(status),
            amount=_amount(data.get("amount")),
            paid_at=paid_at,
        )

    def verify_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        """Netzme's RSA signature over this path, these bytes and this timestamp, with the account's Netzme
        public key; a timestamp more than CALLBACK_TOLERANCE from now is a replay, refused."""
        presented = callback.headers.get(_SIGNATURE_HEADER, "")
        at = callback.headers.get(_TIMESTAMP_HEADER, "")
        sent_at = _time(at)
        if not presented or sent_at is None or abs(datetime.now(JAKARTA) - sent_at) > CALLBACK_TOLERANCE:
            return False
        public_key = public_key_of(account.credentials["provider_public_key"])
        return rsa_verified(public_key, notify_string(CALLBACK_PATH, callback.body, at), presented.strip())

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        if accepted:
            return Acknowledgement(200, orjson.dumps({"responseCode": "2005200", "responseMessage": "Successful"}))
        refused = {"responseCode": "4015200", "responseMessage": "Unauthorized. [Signature]"}
        return Acknowledgement(401, orjson.dumps(refused))
