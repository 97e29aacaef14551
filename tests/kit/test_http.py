"""Client sessions for server-to-server calls keep no cookies (`gerbang.kit.http`)."""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from gerbang.kit.http import client_session
from tests.helpers import live_server


async def _sets_a_cookie_and_echoes_cookies(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"  # lifespan is off
    sent = b"; ".join(value for name, value in scope["headers"] if name == b"cookie")
    headers = [(b"content-type", b"text/plain"), (b"set-cookie", b"session=merchant-a; Path=/")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": sent})


async def test_a_cookie_one_call_was_given_is_not_sent_on_the_next() -> None:
    async with live_server(_sets_a_cookie_and_echoes_cookies) as base, client_session() as session:
        # By name: aiohttp's default jar already ignores cookies from a bare IP address; providers have names.
        named = base.replace("127.0.0.1", "localhost")
        for _ in range(2):
            async with session.get(f"{named}/api/charges") as response:
                assert response.status == 200
                assert await response.text() == ""
