"""Partner request signatures: `X-API-Key`, `X-Timestamp`, `X-Signature`.

    X-Signature = lowercase hex HMAC-SHA256(key = the signing secret's UTF-8 bytes, exactly as shown,
                  message = METHOD ":" PATH ":" TIMESTAMP ":" RAWBODY)

METHOD is upper case; PATH is the request path as sent, without the query string; TIMESTAMP is the
`X-Timestamp` header exactly as sent (epoch milliseconds, within 5 minutes of our clock); RAWBODY is
the exact request bytes (empty for GET). Every malformed or wrong input is a 400 or 401 with a stable
code, never a 500. The replay cache (a signature is accepted once) sits with the authentication
dependency, which has the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from gerbang.exceptions import BadRequest, Unauthorized
from gerbang.kit.crypto import equal, hmac_sha256_hex

TIMESTAMP_WINDOW = timedelta(minutes=5)
_TIMESTAMP = re.compile(r"[0-9]{1,16}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")


class MissingSignatureHeaders(Unauthorized):
    code = "missing_signature_headers"


class InvalidTimestamp(BadRequest):
    code = "invalid_timestamp"


class TimestampOutOfWindow(Unauthorized):
    code = "timestamp_out_of_window"


class MalformedSignature(BadRequest):
    code = "malformed_signature"


class InvalidSignature(Unauthorized):
    code = "invalid_signature"


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str
    timestamp: str | None
    body: bytes
    signature: str | None


def canonical_message(method: str, path: str, timestamp: str, body: bytes) -> bytes:
    return f"{method.upper()}:{path}:{timestamp}:".encode() + body


def sign(signing_secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    """What a partner computes; used by our tests, docs and the sandbox's own client."""
    return hmac_sha256_hex(signing_secret.encode(), canonical_message(method, path, timestamp, body))


def check_timestamp(timestamp: str | None, now: datetime) -> int:
    """The timestamp in epoch milliseconds, if it is well formed and within the window."""
    if timestamp is None:
        raise MissingSignatureHeaders("X-Timestamp is required")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise InvalidTimestamp("X-Timestamp must be epoch milliseconds (digits only)")
    millis = int(timestamp)
    skew_ms = abs(now.timestamp() * 1000 - millis)
    if skew_ms > TIMESTAMP_WINDOW.total_seconds() * 1000:
        raise TimestampOutOfWindow("X-Timestamp is more than 5 minutes away from the server's clock")
    return millis


def verify(signing_secret: str, request: SignedRequest, now: datetime) -> None:
    """Raise the matching error unless `request` carries a valid, fresh signature."""
    if request.signature is None or request.timestamp is None:
        raise MissingSignatureHeaders("X-Timestamp and X-Signature are required")
    check_timestamp(request.timestamp, now)
    if not _SIGNATURE.fullmatch(request.signature):
        raise MalformedSignature("X-Signature must be 64 hexadecimal characters")
    expected = sign(signing_secret, request.method, request.path, request.timestamp, request.body)
    if not equal(expected, request.signature.lower()):
        raise InvalidSignature("X-Signature does not match the request")
