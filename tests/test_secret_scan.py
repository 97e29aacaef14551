"""The scan that runs over the whole suite (tests/fixtures/secret_scan.py) finds what it must."""

from __future__ import annotations

import orjson

from gerbang.kit.crypto import new_api_key, new_signing_secret, new_webhook_secret
from tests.fixtures.secret_scan import Exchange, SecretScan


def _exchange(path: str, request: object = None, response: object = None) -> Exchange:
    return Exchange(
        "POST", path, orjson.dumps(request) if request else b"", orjson.dumps(response) if response else b""
    )


def test_a_secret_in_its_creation_response_only_is_clean() -> None:
    created = {
        "apiKey": new_api_key().key,
        "signingSecret": new_signing_secret(),
        "webhookSecret": new_webhook_secret(),
    }
    scan = SecretScan(
        [_exchange("/api/v1/admin/partners", {"name": "x"}, created), _exchange("/api/v1/x", None, {"ok": 1})]
    )
    assert scan.findings() == []


def test_leaks_are_found() -> None:
    totp = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    key = new_api_key().key
    scan = SecretScan([
        _exchange("/api/v1/auth/2fa/setup", None, {"secret": totp}),
        _exchange("/api/v1/auth/me", None, {"note": f"your secret is {totp}"}),
        _exchange("/api/v1/client/login", {"email": "a@b.example", "password": "hunter2-hunter2"}, {"ok": 1}),
        _exchange("/api/v1/client/users", None, {"echo": "hunter2-hunter2"}),
        _exchange("/api/v1/client/api-keys", None, {"key": key}),  # a credential no response created
    ])  # fmt: skip
    scan.log.extend(b'{"event":"oops","signing":"' + new_signing_secret().encode() + b'"}\n')
    assert scan.findings() == [
        "a credential appears in POST /api/v1/client/api-keys (response 4)",
        "a credential appears in the logs",
        "a password appears in POST /api/v1/client/users (response 3)",
        "a secret created by response 0 reappears in POST /api/v1/auth/me (response 1)",
    ]
