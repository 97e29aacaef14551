"""Webhook signatures over the exact bytes sent, recomputed at every attempt with a fresh timestamp.

Two schemes ride on every request, keyed by the 32 bytes inside the partner's `whsec_` secret:
- Standard Webhooks: `webhook-id` (the event id, stable across attempts, for dedupe), `webhook-timestamp`
  (epoch seconds) and `webhook-signature` = `v1,` + base64 HMAC-SHA256 over `id.timestamp.body`. During a
  secret rotation's overlap both secrets sign, space-separated, so receivers may switch at leisure.
- The original system's `X-Callback-Signature`: lowercase hex HMAC-SHA256 over the raw body, with the
  current secret (it covers no timestamp, so receivers should prefer the Standard Webhooks headers).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from gerbang.kit.crypto import hmac_sha256, hmac_sha256_hex, webhook_signing_key

USER_AGENT = "gerbang-webhooks/1"


def signed_headers(event_id: str, body: bytes, secrets: Sequence[str], timestamp: int) -> dict[str, str]:
    """The headers of one attempt; `secrets` is the current secret first, then any still in overlap."""
    keys = [webhook_signing_key(secret) for secret in secrets]
    signed = f"{event_id}.{timestamp}.".encode() + body
    signatures = " ".join("v1," + base64.b64encode(hmac_sha256(key, signed)).decode() for key in keys)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
        "X-Callback-Signature": hmac_sha256_hex(keys[0], body),
    }
