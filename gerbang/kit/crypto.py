"""Secrets and signatures: HMAC, constant-time comparison, generated secrets, encryption at rest.

Everything that compares a secret or a signature goes through `equal()` (constant time), never `==`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
API_KEY_PREFIX = "gbk_"
SIGNING_SECRET_PREFIX = "gss_"  # noqa: S105 (a prefix, not a secret)
_API_KEY = re.compile(r"gbk_([0-9a-f]{12})_[A-Za-z0-9_-]{43}")
_NONCE_BYTES = 12
_ENCRYPTION_INFO = b"gerbang/encryption-at-rest/v1"


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def hmac_sha256_hex(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def equal(a: str | bytes, b: str | bytes) -> bool:
    """Constant-time equality for secrets, signatures and hashes."""
    left = a.encode() if isinstance(a, str) else a
    right = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(left, right)


def new_webhook_secret() -> str:
    """`whsec_` + base64 of 32 random bytes: the Standard Webhooks format."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode()


def webhook_signing_key(secret: str) -> bytes:
    """The 32 bytes a webhook secret stands for (the HMAC key for both of our webhook signatures)."""
    if not secret.startswith(WEBHOOK_SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    try:
        key = base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret is whsec_ followed by base64") from None
    if len(key) != 32:
        raise ValueError("a webhook secret encodes 32 bytes")
    return key


def new_signing_secret() -> str:
    """A partner's request-signing secret; partners sign with its UTF-8 bytes exactly as shown."""
    return SIGNING_SECRET_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class NewApiKey:
    key: str
    """Shown to the partner once, never stored."""
    public_id: str
    """Stored and indexed: finds the key's row without revealing the key."""
    key_hash: str
    """Stored: SHA-256 of the whole key (a high-entropy random key needs no slow hash)."""


def new_api_key() -> NewApiKey:
    public_id = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}{public_id}_{secrets.token_urlsafe(32)}"
    return NewApiKey(key=key, public_id=public_id, key_hash=sha256_hex(key.encode()))


def api_key_public_id(presented: str) -> str | None:
    """The public id of a well-formed API key, or None: malformed keys are refused before any lookup."""
    match = _API_KEY.fullmatch(presented)
    return match.group(1) if match else None


class DecryptionError(Exception):
    """A ciphertext that no key in the ring opens, or that was tampered with or moved to another record."""


_KEPT_MAX = 4096
"""Plaintexts a key ring keeps (`decrypt(keep=True)`) before it forgets them all and starts again."""


class KeyRing:
    """AES-256-GCM encryption at rest with keys derived from the configured secret keys.

    The first secret encrypts; all of them decrypt, so a new `GERBANG_SECRET_KEY` can be rolled in with
    the old one kept in `GERBANG_PREVIOUS_SECRET_KEYS` until every record is re-encrypted (`is_current`).
    `context` is bound as associated data: a ciphertext copied to another record or field does not open.
    Format: `v1:<key id>:<base64url(nonce + ciphertext)>`.
    """

    def __init__(self, secret_keys: Sequence[str]) -> None:
        if not secret_keys:
            raise ValueError("a key ring needs at least one secret key")
        self._keys: dict[str, AESGCM] = {}
        self._kept: dict[tuple[str, str], str] = {}
        self._primary = ""
        for secret in secret_keys:
            derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_ENCRYPTION_INFO).derive(
                secret.encode()
            )
            key_id = sha256_hex(derived)[:8]
            self._keys.setdefault(key_id, AESGCM(derived))
            self._primary = self._primary or key_id

    def encrypt(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self._primary].encrypt(nonce, plaintext.encode(), context.encode())
        return f"v1:{self._primary}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, *, context: str, keep: bool = False) -> str:
        """`keep`: remember the plaintext for this process, for a secret opened on every request (an API key's
        signing secret, a provider account's credentials). A ciphertext never changes (a new secret is a new
        ciphertext, so a new entry), and an entry is found only by the exact ciphertext and context."""
        if keep:
            kept = self._kept.get((token, context))
            if kept is not None:
                return kept
        plaintext = self._open(token, context)
        if keep:
            if len(self._kept) >= _KEPT_MAX:
                self._kept.clear()
            self._kept[(token, context)] = plaintext
        return plaintext

    def _open(self, token: str, context: str) -> str:
        try:
            version, key_id, payload = token.split(":", 2)
            raw = base64.urlsafe_b64decode(payload.encode())
        except (ValueError, binascii.Error):
            raise DecryptionError("not a gerbang ciphertext") from None
        cipher = self._keys.get(key_id)
        if version != "v1" or cipher is None or len(raw) <= _NONCE_BYTES:
            raise DecryptionError("no key in the ring opens this ciphertext")
        try:
            return cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode()).decode()
        except InvalidTag:
            raise DecryptionError("ciphertext was altered or belongs to another record") from None

    def is_current(self, token: str) -> bool:
        """True if `token` was encrypted with the primary key (no re-encryption needed)."""
        return token.startswith(f"v1:{self._primary}:")
