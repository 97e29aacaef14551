"""The sandbox provider's wire protocol, shared by its server side (`gerbang.sandbox.endpoints`) and our
adapter for it (`gerbang.provider.sandbox`), as a real provider's published docs would be."""

from __future__ import annotations

from gerbang.kit.crypto import hmac_sha256_hex

SIGNATURE_HEADER = "x-sandbox-signature"


def sign(merchant_key: str, body: bytes) -> str:
    """The callback signature: lowercase hex HMAC-SHA256 of the raw body, keyed with the merchant key."""
    return hmac_sha256_hex(merchant_key.encode(), body)
