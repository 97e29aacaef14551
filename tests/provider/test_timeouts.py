"""`GERBANG_<PROVIDER>_TIMEOUT` reaches the adapters: a provider slower than its timeout is a
`ProviderTimeout` (routing falls through, a withdrawal is retried), after that long and not 15 s."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web

from gerbang.config import Environment, Settings
from gerbang.provider.base import ProviderAccount, ProviderTimeout
from gerbang.provider.registry import PAYOUT_PROVIDERS, PROVIDERS, apply_timeouts


@pytest.fixture
def restored_timeouts() -> Iterator[None]:
    """The adapters are process-wide: put back what the other tests expect."""
    before = {name: adapter.timeout for name, adapter in PROVIDERS.items()}
    yield
    for name, adapter in PROVIDERS.items():
        adapter.timeout = before[name]


@pytest.fixture
async def slow_provider() -> AsyncIterator[str]:
    async def answer_late(_: web.Request) -> web.Response:
        await asyncio.sleep(1.5)  # past the 0.3 s timeout; short, since the fixture waits for it to end
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer_late)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def test_each_providers_setting_reaches_its_adapter(restored_timeouts: None) -> None:
    settings = Settings(_env_file=None, env=Environment.test, hilogate_timeout=timedelta(seconds=2),
                        oy_timeout=timedelta(milliseconds=1500))  # fmt: skip
    apply_timeouts(settings)
    assert PROVIDERS["hilogate"].timeout.total == 2
    assert PROVIDERS["oy"].timeout.total == 1.5
    assert PAYOUT_PROVIDERS["oy"].timeout.total == 1.5, "one adapter object serves pay-ins and payouts"
    assert PROVIDERS["ing1"].timeout.total == 15, "the default"


async def test_a_provider_slower_than_its_timeout_is_a_timeout_after_that_long(
    restored_timeouts: None, slow_provider: str
) -> None:
    apply_timeouts(Settings(_env_file=None, env=Environment.test, hilogate_timeout=timedelta(milliseconds=300)))
    account = ProviderAccount(
        id=uuid.uuid4(), provider="hilogate", base_url=slow_provider,
        credentials={"merchant_id": "M-1", "secret_key": "s" * 32},
    )  # fmt: skip
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ProviderTimeout):
            await PAYOUT_PROVIDERS["hilogate"].balance(session, account)
    assert 0.25 < time.monotonic() - started < 2
