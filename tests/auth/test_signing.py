"""Request signatures: fixed vectors (computed independently with `openssl dgst -sha256 -hmac`), and
every way a signature can be wrong, each with its status and stable code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gerbang.auth.signing import SignedRequest, sign, verify
from gerbang.exceptions import GerbangError

SECRET = "gss_test-secret-0001"
TIMESTAMP = "1764000000000"
NOW = datetime.fromtimestamp(1764000000, tz=UTC)
BODY = b'{"amount":10000,"reference":"INV-1"}'
POST_SIGNATURE = "de20b6b6c2258be0aa24a9df3f3bbea1799631cbd26bd957d1d652f7d16935f8"
GET_SIGNATURE = "fe875780ed5c1ba1054489b8b4c246cc4745ee7ca199291c4101bddb460ef901"


def _request(**overrides: object) -> SignedRequest:
    values: dict[str, object] = {
        "method": "POST", "path": "/api/v1/payments", "timestamp": TIMESTAMP, "body": BODY,
        "signature": POST_SIGNATURE,
    }  # fmt: skip
    return SignedRequest(**(values | overrides))  # type: ignore[arg-type]


def test_fixed_vectors() -> None:
    # printf 'POST:/api/v1/payments:1764000000000:{"amount":10000,"reference":"INV-1"}' \
    #   | openssl dgst -sha256 -hmac gss_test-secret-0001
    assert sign(SECRET, "POST", "/api/v1/payments", TIMESTAMP, BODY) == POST_SIGNATURE
    # printf 'GET:/api/v1/payments/order/abc:1764000000000:' | openssl dgst -sha256 -hmac gss_test-secret-0001
    assert sign(SECRET, "get", "/api/v1/payments/order/abc", TIMESTAMP, b"") == GET_SIGNATURE


def test_a_valid_signature_passes() -> None:
    verify(SECRET, _request(), NOW)
    verify(SECRET, _request(signature=POST_SIGNATURE.upper()), NOW)  # hex case is not a secret
    verify(SECRET, _request(), NOW + timedelta(minutes=4, seconds=59))
    verify(SECRET, _request(), NOW - timedelta(minutes=4, seconds=59))


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"signature": None}, 401, "missing_signature_headers"),
        ({"timestamp": None}, 401, "missing_signature_headers"),
        ({"timestamp": "1764000000000.5"}, 400, "invalid_timestamp"),
        ({"timestamp": "-1764000000000"}, 400, "invalid_timestamp"),
        ({"timestamp": "9" * 40}, 400, "invalid_timestamp"),
        ({"timestamp": "1764000301000"}, 401, "timestamp_out_of_window"),
        ({"timestamp": "1763999699000"}, 401, "timestamp_out_of_window"),
        ({"signature": "xyz"}, 400, "malformed_signature"),
        ({"signature": POST_SIGNATURE[:-1]}, 400, "malformed_signature"),
        ({"signature": POST_SIGNATURE + "0"}, 400, "malformed_signature"),
        ({"signature": "g" * 64}, 400, "malformed_signature"),
        ({"body": BODY + b" "}, 401, "invalid_signature"),
        ({"path": "/api/v1/payments/create-order"}, 401, "invalid_signature"),
        ({"method": "PUT"}, 401, "invalid_signature"),
        ({"signature": GET_SIGNATURE}, 401, "invalid_signature"),
    ],
)
def test_every_bad_signature_has_its_status_and_code(overrides: dict[str, object], status: int, code: str) -> None:
    with pytest.raises(GerbangError) as refused:
        verify(SECRET, _request(**overrides), NOW)
    assert (refused.value.status_code, refused.value.code) == (status, code)


def test_a_timestamp_that_is_not_the_signed_one_fails() -> None:
    with pytest.raises(GerbangError) as refused:
        verify(SECRET, _request(timestamp="1764000000001"), NOW)
    assert refused.value.code == "invalid_signature"


def test_the_wrong_key_fails() -> None:
    with pytest.raises(GerbangError) as refused:
        verify("gss_another-secret", _request(), NOW)
    assert refused.value.code == "invalid_signature"
