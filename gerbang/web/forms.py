"""Forms posted by pages: a bounded urlencoded body, and signed double-submit CSRF tokens.

A token is `nonce.HMAC(key, scope:nonce)`, sent both in a SameSite=Strict cookie and in the form. Another
site can neither read the form's token nor make the browser send the cookie, and a cookie planted from a
sibling domain fails the signature; the scope (e.g. one order) keeps a token from serving another form.
The key is derived from the app's secret keys, so a rotated key still accepts tokens it issued before.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from urllib.parse import parse_qsl

from fastapi import Request

from gerbang.kit.crypto import equal, hmac_sha256, hmac_sha256_hex

FORM_LIMIT_BYTES = 4096
_MAX_FIELDS = 20
_KEY_INFO = b"gerbang/csrf/v1"


def _key(secret: str) -> bytes:
    return hmac_sha256(secret.encode(), _KEY_INFO)


def issue_token(secret: str, scope: str) -> str:
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{hmac_sha256_hex(_key(secret), f'{scope}:{nonce}'.encode())}"


def token_valid(secret_keys: Sequence[str], scope: str, token: str) -> bool:
    nonce, _, mac = token.partition(".")
    if not nonce or not mac:
        return False
    message = f"{scope}:{nonce}".encode()
    return any(equal(mac, hmac_sha256_hex(_key(secret), message)) for secret in secret_keys)


def double_submit_valid(secret_keys: Sequence[str], scope: str, form_token: str, cookie_token: str) -> bool:
    return bool(form_token) and equal(form_token, cookie_token) and token_valid(secret_keys, scope, form_token)


async def read_form(request: Request) -> dict[str, str] | None:
    """The fields of an urlencoded body (the first value of each), or None for any other or oversized body."""
    if request.headers.get("content-type", "").partition(";")[0].strip() != "application/x-www-form-urlencoded":
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT_BYTES:
            return None
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields
