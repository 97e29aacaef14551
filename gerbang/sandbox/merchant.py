"""The sandbox's side of talking to a merchant (us): the bearer merchant key its API takes, and the signed
callbacks it sends, shared by pay-ins (`endpoints`) and payouts (`payouts`)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from gerbang.exceptions import Unauthorized
from gerbang.kit.http import client_session
from gerbang.sandbox.protocol import SIGNATURE_HEADER, sign

_CALLBACK_TIMEOUT = aiohttp.ClientTimeout(total=10)


class SandboxUnauthorized(Unauthorized):
    code = "sandbox_unauthorized"


def merchant_key(authorization: str | None) -> str:
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or len(key.strip()) < 16:
        raise SandboxUnauthorized("Authorization: Bearer <merchant key> is required")
    return key.strip()


class _Callbacks:
    """One client session per event loop for every callback the sandbox sends, so its connections to the
    merchant are kept alive between callbacks, as a provider's are (a session per callback paid a new TCP
    connection, on both sides, every time). Made on first use in a loop; `close` at the app's shutdown."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session, self._loop = client_session(timeout=_CALLBACK_TIMEOUT), loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = self._loop = None


callbacks = _Callbacks()


async def call_back(
    method: str, url: str, *, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Send one callback; what the merchant answered, for the caller to show (a failure to deliver is reported,
    not raised: a provider notifies, it does not depend on being heard)."""
    try:
        async with callbacks.session().request(method, url, data=body, headers=headers) as response:
            return {"status_code": response.status, "body": (await response.text())[:500]}
    except (aiohttp.ClientError, TimeoutError) as error:
        return {"status_code": None, "body": f"not delivered: {type(error).__name__}"}


async def deliver(url: str, merchant_key: str, event: dict[str, Any]) -> dict[str, Any]:
    """POST `event` to `url`, signed `X-Sandbox-Signature: hex(HMAC-SHA256(merchant key, raw body))`."""
    body = orjson.dumps(event)
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(merchant_key, body)}
    return await call_back("POST", url, body=body, headers=headers)
