"""The hosted checkout in a real browser: Debian's chromium, driven by Playwright, against the app served over
real HTTP on 127.0.0.1. `make test` installs chromium; without it these tests fail (they never skip)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import ConsoleMessage, Page, async_playwright, expect

from tests.checkout.conftest import MakeOrder

CHROMIUM = Path("/usr/bin/chromium")
# Nothing may leave 127.0.0.1: no first-run, sync, component or QUIC traffic of the browser's own.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
FLIP_TIMEOUT_MS = 6000  # the page polls every 2 s


@dataclass
class Tab:
    page: Page
    errors: list[str] = field(default_factory=list)
    """Console errors and uncaught exceptions: a CSP refusal or a failed request shows up here."""


@asynccontextmanager
async def browser_tab() -> AsyncIterator[Tab]:
    # Checked in the test itself, so a missing browser is a failed test, not a setup error or a skip.
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)", pytrace=False)
    async with async_playwright() as playwright:
        # launch() starts the browser on a fresh temporary profile (user-data dir) and removes it afterwards.
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context()
            await context.grant_permissions(["clipboard-read", "clipboard-write"])
            tab = Tab(await context.new_page())

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    tab.errors.append(message.text)

            tab.page.on("console", on_console)
            tab.page.on("pageerror", lambda error: tab.errors.append(str(error)))
            yield tab
        finally:
            await browser.close()


async def test_the_qr_shows_the_clock_runs_and_the_page_flips_to_paid_by_itself(
    live: str, sandbox: dict[str, Any], make_order: MakeOrder
) -> None:
    order = await make_order(amount=150_000)
    async with browser_tab() as tab:
        page = tab.page
        await page.goto(f"{live}/pay/{order['orderId']}")
        qr = page.locator("svg.qr-code")
        await expect(qr).to_be_visible()
        box = await qr.bounding_box()
        assert box is not None
        assert box["width"] > 100
        assert box["height"] > 100
        countdown = page.locator(".countdown")
        before = await countdown.text_content()
        await page.wait_for_timeout(1500)
        assert await countdown.text_content() != before

        async with httpx.AsyncClient() as http:
            moved = await http.post(f"{live}/sandbox/orders/{order['orderId']}/pay")
        assert moved.status_code == 200, moved.text
        await expect(page.locator('main[data-view="paid"]')).to_be_visible(timeout=FLIP_TIMEOUT_MS)
        await expect(page.get_by_role("heading", name="Pembayaran berhasil")).to_be_visible()
        assert tab.errors == []


async def test_the_customer_picks_a_method_then_pays_with_the_sandbox_buttons(
    live: str, sandbox: dict[str, Any], make_order: MakeOrder
) -> None:
    order = await make_order(pick=True, amount=80_000)
    url = f"{live}/pay/{order['orderId']}?lang=en"
    async with browser_tab() as tab:
        page = tab.page
        await page.goto(url)
        await expect(page.get_by_role("heading", name="Choose a payment method")).to_be_visible()
        va = page.locator('form[data-method="va"]')
        await va.locator("select").select_option("BRI")
        await va.get_by_role("button", name="Continue").click()

        number = page.locator(".va-number")
        await expect(number).to_be_visible()
        assert page.url == url  # POST/redirect/GET, in the customer's language
        assert (await number.text_content() or "").startswith("8002")
        await page.get_by_role("button", name="Copy").click()
        await expect(page.get_by_role("button", name="Copied")).to_be_visible()
        assert await page.evaluate("navigator.clipboard.readText()") == await number.text_content()

        await page.get_by_role("button", name="Pay", exact=True).click()
        await expect(page.locator('main[data-view="paid"]')).to_be_visible(timeout=FLIP_TIMEOUT_MS)
        await expect(page.get_by_role("heading", name="Payment successful")).to_be_visible()
        assert tab.errors == []
