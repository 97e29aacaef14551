from __future__ import annotations

import base64

import pytest

from gerbang.kit.crypto import (
    DecryptionError,
    KeyRing,
    api_key_public_id,
    equal,
    hmac_sha256_hex,
    new_api_key,
    new_signing_secret,
    new_webhook_secret,
    sha256_hex,
    webhook_signing_key,
)

OLD = "old-secret-key-0123456789abcdef0123456789"
NEW = "new-secret-key-abcdef0123456789abcdef0123"


def test_hmac_matches_the_rfc_4231_vector() -> None:
    # RFC 4231, test case 2
    assert hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_equal_is_exact() -> None:
    assert equal("abc", b"abc")
    assert not equal("abc", "abd")
    assert not equal("abc", "abcd")


def test_webhook_secret_is_standard_webhooks_shaped() -> None:
    secret = new_webhook_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert webhook_signing_key(secret) == base64.b64decode(secret.removeprefix("whsec_"))
    assert new_webhook_secret() != secret


@pytest.mark.parametrize(
    "bad",
    [
        "whsec_notbase64!!",
        "key_" + base64.b64encode(bytes(32)).decode(),
        "whsec_" + base64.b64encode(bytes(16)).decode(),
    ],
)
def test_malformed_webhook_secrets_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="webhook secret"):
        webhook_signing_key(bad)


def test_api_keys_are_found_by_public_id_and_stored_hashed() -> None:
    issued = new_api_key()
    assert issued.key.startswith(f"gbk_{issued.public_id}_")
    assert api_key_public_id(issued.key) == issued.public_id
    assert issued.key_hash == sha256_hex(issued.key.encode())
    assert issued.key not in issued.key_hash
    assert new_api_key().public_id != issued.public_id


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "gbk_",
        "gbk_zzzzzzzzzzzz_" + "a" * 43,
        "gbk_0123456789ab_" + "a" * 42,
        "x" * 5000,
        "gbk_0123456789ab_" + "a" * 42 + "\n",
    ],
)
def test_malformed_api_keys_have_no_public_id(bad: str) -> None:
    assert api_key_public_id(bad) is None


def test_signing_secrets_are_random() -> None:
    assert new_signing_secret().startswith("gss_")
    assert new_signing_secret() != new_signing_secret()


def test_key_ring_round_trip_is_bound_to_its_context() -> None:
    ring = KeyRing([NEW])
    token = ring.encrypt("gss_partner-secret", context="api_key:1:signing_secret")
    assert "gss_partner-secret" not in token
    assert ring.decrypt(token, context="api_key:1:signing_secret") == "gss_partner-secret"
    with pytest.raises(DecryptionError):
        ring.decrypt(token, context="api_key:2:signing_secret")  # copied to another row


def test_a_kept_plaintext_opens_only_for_its_own_ciphertext_and_context() -> None:
    ring = KeyRing([NEW])
    token = ring.encrypt("gss_partner-secret", context="api_key:1:signing_secret")
    for _ in range(2):  # opened, then found kept
        assert ring.decrypt(token, context="api_key:1:signing_secret", keep=True) == "gss_partner-secret"
    with pytest.raises(DecryptionError):
        ring.decrypt(token, context="api_key:2:signing_secret", keep=True)  # the same bytes under another row
    rotated = ring.encrypt("gss_new-secret", context="api_key:1:signing_secret")
    assert ring.decrypt(rotated, context="api_key:1:signing_secret", keep=True) == "gss_new-secret"


def test_key_ring_rotation_reads_old_writes_new() -> None:
    old_token = KeyRing([OLD]).encrypt("whsec_x", context="c")
    rotated = KeyRing([NEW, OLD])
    assert rotated.decrypt(old_token, context="c") == "whsec_x"
    assert not rotated.is_current(old_token)
    new_token = rotated.encrypt("whsec_x", context="c")
    assert rotated.is_current(new_token)
    with pytest.raises(DecryptionError):
        KeyRing([NEW]).decrypt(old_token, context="c")  # the old key retired: refused, not garbage


@pytest.mark.parametrize(
    "bad", ["", "v1:", "v2:abcd:AAAA", "v1:abcd:!!!", "v1:ffffffff:" + base64.urlsafe_b64encode(bytes(40)).decode()]
)
def test_key_ring_refuses_garbage(bad: str) -> None:
    with pytest.raises(DecryptionError):
        KeyRing([NEW]).decrypt(bad, context="c")


def test_tampered_ciphertext_is_refused() -> None:
    ring = KeyRing([NEW])
    version, key_id, payload = ring.encrypt("secret", context="c").split(":")
    raw = bytearray(base64.urlsafe_b64decode(payload))
    raw[-1] ^= 1
    with pytest.raises(DecryptionError):
        ring.decrypt(f"{version}:{key_id}:{base64.urlsafe_b64encode(bytes(raw)).decode()}", context="c")
