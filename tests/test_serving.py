"""How `gerbang serve` and `gerbang worker` run: uvicorn's settings, and the garbage collector's."""

from __future__ import annotations

import gc

import httpx
from starlette.types import Receive, Scope, Send

from gerbang.cli.main import server_config
from gerbang.config import load_settings
from gerbang.kit.collector import OLDER_THRESHOLDS, YOUNG_THRESHOLD, settle_for_serving
from tests.helpers import free_port, served


async def _client_address_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the client address the server put in the scope."""
    assert scope["type"] == "http"  # lifespan is off
    body = scope["client"][0].encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


async def test_a_forwarded_for_header_from_the_host_does_not_change_the_client_address() -> None:
    """Only `AccessMiddleware`, from `GERBANG_TRUSTED_PROXIES`, reads `X-Forwarded-For`: uvicorn trusts 127.0.0.1
    by default, and would hand the app the address a local caller wrote in the header as the peer."""
    config = server_config(_client_address_app, load_settings(host="127.0.0.1", port=free_port()))
    config.lifespan = "off"
    async with served(config) as url, httpx.AsyncClient(base_url=url) as client:
        answer = await client.get("/", headers={"X-Forwarded-For": "203.0.113.9"})
    assert answer.text == "127.0.0.1"


def test_settling_freezes_what_start_up_built_and_spaces_out_young_collections() -> None:
    threshold = gc.get_threshold()
    built_at_start = [[object()], {"route": [1]}]
    assert any(tracked is built_at_start for tracked in gc.get_objects())
    try:
        settle_for_serving()
        # Frozen: in no generation, so no collection walks it again.
        assert not any(tracked is built_at_start for tracked in gc.get_objects())
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
