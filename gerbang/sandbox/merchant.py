"""The sandbox's side of talking to a merchant (us): the bearer merchant key its API takes, and the signed
callbacks it sends, shared by pay-ins (`endpoints`) and payouts (`payouts`)."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from gerbang.exceptions import Unauthorized
from gerbang.sandbox.protocol import SIGNATURE_HEADER, sign

_CALLBACK_TIMEOUT = aiohttp.ClientTimeout(total=10)


class SandboxUnauthorized(Unauthorized):
    code = "sandbox_unauthorized"


def merchant_key(authorization: str | None) -> str:
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or len(key.strip()) < 16:
        raise SandboxUnauthorized("Authorization: Bearer <merchant key> is required")
    return key.strip()


async def deliver(url: str, merchant_key: str, event: dict[str, Any]) -> dict[str, Any]:
    """POST `event` to `url`, signed `X-Sandbox-Signature: hex(HMAC-SHA256(merchant key, raw body))`; what the
    merchant answered, for the caller to show (a failure to deliver is reported, not raised: a provider
    notifies, it does not depend on being heard)."""
    body = orjson.dumps(event)
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(merchant_key, body)}
    try:
        async with (
            aiohttp.ClientSession(timeout=_CALLBACK_TIMEOUT) as session,
            session.post(url, data=body, headers=headers) as response,
        ):
            return {"status_code": response.status, "body": (await response.text())[:500]}
    except (aiohttp.ClientError, TimeoutError) as error:
        return {"status_code": None, "body": f"not delivered: {type(error).__name__}"}
