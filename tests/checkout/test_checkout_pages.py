"""The hosted checkout over HTTP: views by state, language, the method picker and its CSRF guard, the status
the page polls, the QR image and the headers. Orders are routed to the sandbox provider over real HTTP."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from gerbang.db import Database
from gerbang.web.pages import static_url
from gerbang.web.qr import qr_png
from tests.auth.people import Tenant
from tests.checkout.conftest import AddAccount, MakeOrder, csrf_token
from tests.helpers import changed_behind_the_apps_back

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def _order_row(database: Database, order_id: str) -> Any:
    async with database.transaction() as connection:
        return await connection.fetchrow(
            "SELECT status, method, channel, va_number, qr_payload, provider_account_id,"
            " (SELECT count(*) FROM provider_attempts WHERE order_id = orders.id) AS attempts"
            " FROM orders WHERE id = $1",
            uuid.UUID(order_id),
        )


def _assert_page_headers(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


def _scripts(html: str) -> list[str]:
    return re.findall(r"<script[^>]*>", html)


async def test_a_qris_order_in_indonesian_and_in_english(
    client: httpx.AsyncClient, sandbox: dict[str, Any], make_order: MakeOrder
) -> None:
    order = await make_order(amount=150_000, reference="INV-QR-1")
    page = await client.get(f"/pay/{order['orderId']}")
    assert page.status_code == 200
    _assert_page_headers(page)
    html = page.text
    assert '<html lang="id">' in html
    assert "Toko Bayar" in html
    assert "Rp 150.000" in html
    assert "INV-QR-1" in html
    assert 'class="qr-code"' in html
    assert "<svg" in html
    assert "Pindai kode QR" in html
    assert "Selesaikan dalam" in html
    assert f'href="/api/v1/qris/{order["orderId"]}" download="qris.png"' in html
    assert f'data-status-url="/pay/{order["orderId"]}/status"' in html
    for move, label in (("pay", "Bayar"), ("fail", "Gagal"), ("expire", "Kedaluwarsa")):
        assert f'data-sandbox-url="/sandbox/orders/{order["orderId"]}/{move}">{label}</button>' in html
    assert f'href="/pay/{order["orderId"]}?lang=en"' in html
    # Only first-party scripts, loaded from the static mount; nothing inline.
    assert _scripts(html) == [f'<script src="{static_url("checkout.js")}" defer>']
    assert "style=" not in html

    english = await client.get(f"/pay/{order['orderId']}", params={"lang": "en"})
    assert english.status_code == 200
    assert '<html lang="en">' in english.text
    assert "Scan this QR code" in english.text
    assert "Complete within" in english.text
    assert f'data-page-url="/pay/{order["orderId"]}?lang=en"' in english.text
    assert f'href="/pay/{order["orderId"]}" hreflang="id">Bahasa Indonesia</a>' in english.text
    # Any other language falls back to Indonesian.
    assert '<html lang="id">' in (await client.get(f"/pay/{order['orderId']}", params={"lang": "fr"})).text


async def test_virtual_account_and_e_wallet_orders(
    client: httpx.AsyncClient, sandbox: dict[str, Any], make_order: MakeOrder
) -> None:
    va = await make_order(method="va", channel="BCA", amount=75_000)
    html = (await client.get(f"/pay/{va['orderId']}")).text
    assert f'<code class="va-number">{va["vaNumber"]}</code>' in html
    assert f'data-copy="{va["vaNumber"]}"' in html
    assert "virtual account BCA" in html
    assert "Rp 75.000" in html
    assert "qr-code" not in html

    wallet = await make_order(method="ewallet", channel="DANA")
    english = (await client.get(f"/pay/{wallet['orderId']}", params={"lang": "en"})).text
    assert f'href="{wallet["redirectUrl"]}"' in english
    assert "Pay with DANA" in english


async def test_unknown_and_malformed_order_ids_get_an_html_404(client: httpx.AsyncClient) -> None:
    unknown = uuid.uuid4()
    pages = [
        (f"/pay/{unknown}", "Pesanan tidak ditemukan"),
        ("/pay/not-a-uuid", "Pesanan tidak ditemukan"),
        (f"/pay/{unknown}?lang=en", "Order not found"),
        ("/pay/%2F%2Fevil.example", "tidak ditemukan"),
    ]
    for path, text in pages:
        response = await client.get(path)
        assert response.status_code == 404, path
        _assert_page_headers(response)
        assert text in response.text
        assert "evil.example" not in response.text
    posted = await client.post("/pay/nope", content=b"method=qris", headers=FORM)
    assert posted.status_code == 404
    assert posted.headers["content-type"].startswith("text/html")
    for path in (f"/pay/{unknown}/status", "/pay/nope/status", f"/api/v1/qris/{unknown}", "/api/v1/qris/nope"):
        response = await client.get(path)
        assert (response.status_code, response.json()["error"]) == (404, "order_not_found"), path


async def test_the_method_picker_routes_and_charges_the_order(
    client: httpx.AsyncClient, sandbox: dict[str, Any], make_order: MakeOrder, database: Database
) -> None:
    order = await make_order(pick=True, amount=99_000)
    page = await client.get(f"/pay/{order['orderId']}", params={"lang": "en"})
    assert page.status_code == 200
    _assert_page_headers(page)
    html = page.text
    for method in ("qris", "va", "ewallet"):
        assert f'data-method="{method}"' in html
    assert '<option value="BNI">BNI</option>' in html
    assert '<option value="OVO">OVO</option>' in html
    assert f'action="/pay/{order["orderId"]}?lang=en"' in html
    cookie = page.headers["set-cookie"]
    assert "SameSite=strict" in cookie
    assert "HttpOnly" in cookie
    assert f"Path=/pay/{order['orderId']}" in cookie
    token = csrf_token(html)
    # The same browser keeps its token while it is valid (another tab's form stays good).
    assert csrf_token((await client.get(f"/pay/{order['orderId']}")).text) == token

    chosen = await client.post(
        f"/pay/{order['orderId']}?lang=en", content=f"csrf={token}&method=va&channel=BNI".encode(), headers=FORM
    )
    assert chosen.status_code == 303, chosen.text
    assert chosen.headers["location"] == f"/pay/{order['orderId']}?lang=en"
    row = await _order_row(database, order["orderId"])
    assert (row["status"], row["method"], row["channel"], row["attempts"]) == ("PENDING", "va", "BNI", 1)
    assert row["va_number"].startswith("8009")
    shown = await client.get(chosen.headers["location"])
    assert f'<code class="va-number">{row["va_number"]}</code>' in shown.text
    assert "this BNI virtual account number" in shown.text

    # A second pick (another tab, a double click) changes nothing and says why.
    again = await client.post(f"/pay/{order['orderId']}", content=f"csrf={token}&method=qris".encode(), headers=FORM)
    assert again.headers["location"] == f"/pay/{order['orderId']}?error=order_not_pending"
    assert "tidak lagi menunggu" in (await client.get(again.headers["location"])).text
    assert (await _order_row(database, order["orderId"]))["attempts"] == 1


async def test_picks_sent_at_once_charge_the_order_once(
    client: httpx.AsyncClient, sandbox: dict[str, Any], make_order: MakeOrder, database: Database
) -> None:
    order = await make_order(pick=True)
    path = f"/pay/{order['orderId']}"
    token = csrf_token((await client.get(path)).text)
    picks = ["method=qris", "method=va&channel=BCA", "method=ewallet&channel=DANA"] * 4
    responses = await asyncio.gather(
        *(client.post(path, content=f"csrf={token}&{pick}".encode(), headers=FORM) for pick in picks)
    )
    locations = [r.headers["location"] for r in responses]
    assert locations.count(path) == 1, locations
    assert all(location == f"{path}?error=order_not_pending" for location in locations if location != path)
    row = await _order_row(database, order["orderId"])
    assert (row["status"], row["attempts"]) == ("PENDING", 1)
    assert row["provider_account_id"] is not None


async def test_the_picker_refuses_a_missing_or_wrong_csrf_token(
    app: Any, client: httpx.AsyncClient, sandbox: dict[str, Any], make_order: MakeOrder, database: Database
) -> None:
    order = await make_order(pick=True)
    other = await make_order(pick=True, reference="OTHER")
    path = f"/pay/{order['orderId']}"
    token = csrf_token((await client.get(path)).text)
    other_token = csrf_token((await client.get(f"/pay/{other['orderId']}")).text)
    forged = token.split(".")[0] + "." + "0" * 64

    async def post(body: str, cookie: str | None = None, **headers: str) -> httpx.Response:
        if cookie is None:
            return await client.post(path, content=body.encode(), headers=FORM | headers)
        fresh = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
        async with fresh:
            fresh.cookies.set("gerbang_checkout_csrf", cookie, path=path)
            return await fresh.post(path, content=body.encode(), headers=FORM | headers)

    refusals = [
        await post("method=qris"),  # no token
        await post("csrf=&method=qris"),
        await post(f"csrf={token}x&method=qris"),  # not the cookie's token
        await post(f"csrf={forged}&method=qris", cookie=forged),  # both match, the signature does not
        await post(f"csrf={other_token}&method=qris", cookie=other_token),  # signed for another order
        await post(f"csrf={token}&method=qris", cookie=""),  # no cookie: another site's form
        await post(f'{{"csrf": "{token}", "method": "qris"}}', **{"Content-Type": "application/json"}),
        await post(f"csrf={token}&method=qris&pad={'x' * 5000}"),  # oversized
    ]
    for response in refusals:
        assert response.status_code == 403, response.text
        _assert_page_headers(response)
        assert "Formulir kedaluwarsa" in response.text
        assert f'href="{path}"' in response.text
    row = await _order_row(database, order["orderId"])
    assert (row["status"], row["method"], row["attempts"]) == ("PENDING", None, 0)

    for bad in ("method=cash", "method=va", "method=va&channel=XYZ", "method=ewallet&channel=BCA"):
        refused = await client.post(path, content=f"csrf={token}&{bad}".encode(), headers=FORM)
        assert refused.status_code == 422, bad
        assert "Pilihan tidak valid" in refused.text
    assert (await _order_row(database, order["orderId"]))["attempts"] == 0


async def test_the_picker_offers_the_partners_methods_and_explains_refusals(
    app: FastAPI,
    client: httpx.AsyncClient,
    add_account: AddAccount,
    make_order: MakeOrder,
    shop: Tenant,
    database: Database,
) -> None:
    await add_account(methods=["qris", "ewallet"])
    async with changed_behind_the_apps_back(app), database.transaction() as connection:
        await connection.execute("UPDATE partners SET payment_methods = '{QRIS,VA}' WHERE id = $1", shop.id)
    order = await make_order(pick=True)
    path = f"/pay/{order['orderId']}"
    html = (await client.get(path)).text
    assert 'data-method="qris"' in html
    assert 'data-method="va"' in html
    assert 'data-method="ewallet"' not in html
    token = csrf_token(html)

    async def pick(body: str) -> str:
        response = await client.post(path, content=f"csrf={token}&{body}".encode(), headers=FORM)
        assert response.status_code == 303, response.text
        return str(response.headers["location"])

    assert await pick("method=ewallet&channel=OVO") == f"{path}?error=method_not_allowed"
    assert "tidak tersedia untuk merchant ini" in (await client.get(f"{path}?error=method_not_allowed")).text
    # No account offers VA: the order stays open for another pick.
    assert await pick("method=va&channel=BRI") == f"{path}?error=no_provider_available"
    again = (await client.get(f"{path}?error=no_provider_available")).text
    assert "Silakan pilih metode lain" in again
    assert 'data-method="qris"' in again
    # An error code that is not ours is not echoed: a general sentence instead.
    crafted = (await client.get(f"{path}?error=%3Cb%3Epwned")).text
    assert "pwned" not in crafted
    assert "Terjadi kesalahan" in crafted
    assert (await _order_row(database, order["orderId"]))["method"] is None

    assert await pick("method=qris") == path
    row = await _order_row(database, order["orderId"])
    assert (row["method"], row["attempts"]) == ("qris", 1)
    assert 'class="qr-code"' in (await client.get(path)).text


async def test_a_provider_failure_on_the_picker_shows_the_failed_page(
    client: httpx.AsyncClient, add_account: AddAccount, make_order: MakeOrder, post: Any, shop: Tenant
) -> None:
    await add_account("Down", key="sbx_down_0123456789abcdef", methods=["qris"])
    order = await make_order(pick=True)
    path = f"/pay/{order['orderId']}"
    token = csrf_token((await client.get(path)).text)
    chosen = await client.post(path, content=f"csrf={token}&method=qris".encode(), headers=FORM)
    assert chosen.headers["location"] == f"{path}?error=provider_error"
    html = (await client.get(chosen.headers["location"])).text
    assert "Pembayaran gagal" in html
    assert "Penyedia pembayaran sedang mengalami gangguan" in html


async def test_the_status_json_and_the_paid_failed_and_expired_pages(
    client: httpx.AsyncClient, sandbox: dict[str, Any], make_order: MakeOrder, database: Database
) -> None:
    paid = await make_order(reference="PAID", returnUrl="https://toko.example/done?order=7&ok=1")
    status = await client.get(f"/pay/{paid['orderId']}/status")
    assert status.status_code == 200
    assert status.headers["cache-control"] == "no-store"
    assert status.json() == {"status": "PENDING", "expiresAt": paid["expiresAt"].replace("Z", "+00:00")}
    moved = await client.post(f"/sandbox/orders/{paid['orderId']}/pay")
    assert moved.json()["callback"]["status_code"] == 200, moved.text
    assert (await client.get(f"/pay/{paid['orderId']}/status")).json()["status"] == "PAID"
    page = await client.get(f"/pay/{paid['orderId']}")
    _assert_page_headers(page)
    assert 'data-view="paid"' in page.text
    assert "Pembayaran berhasil" in page.text
    assert 'href="https://toko.example/done?order=7&amp;ok=1" data-return-after="5"' in page.text
    assert "Kembali ke Toko Bayar" in page.text
    assert "data-status-url" not in page.text
    assert "data-sandbox-url" not in page.text
    assert "Payment successful" in (await client.get(f"/pay/{paid['orderId']}?lang=en")).text

    for move, view, text in (("fail", "failed", "Pembayaran gagal"), ("expire", "expired", "Waktu pembayaran habis")):
        order = await make_order(reference=move, returnUrl="https://toko.example/back")
        assert (await client.post(f"/sandbox/orders/{order['orderId']}/{move}")).status_code == 200
        html = (await client.get(f"/pay/{order['orderId']}")).text
        assert f'data-view="{view}"' in html
        assert text in html
        assert 'href="https://toko.example/back">' in html  # a button, no automatic redirect

    # Past its time but not yet swept by the expiry job: already shown as expired, not payable.
    late = await make_order(reference="LATE")
    async with database.transaction() as connection:
        await connection.execute(
            "UPDATE orders SET expires_at = now() - interval '1 minute' WHERE id = $1", uuid.UUID(late["orderId"])
        )
    html = (await client.get(f"/pay/{late['orderId']}")).text
    assert 'data-view="expired"' in html
    assert "qr-code" not in html


async def test_unsafe_return_urls_are_never_linked(
    client: httpx.AsyncClient, sandbox: dict[str, Any], make_order: MakeOrder
) -> None:
    for number, url in enumerate(("javascript:alert(1)", "data:text/html,hi", "//evil.example", "https:///x")):
        order = await make_order(reference=f"R{number}", returnUrl=url)
        await client.post(f"/sandbox/orders/{order['orderId']}/pay")
        html = (await client.get(f"/pay/{order['orderId']}")).text
        assert 'data-view="paid"' in html
        assert "Kembali ke" not in html
        assert url not in html


async def test_the_qr_image(
    client: httpx.AsyncClient, sandbox: dict[str, Any], make_order: MakeOrder, database: Database
) -> None:
    order = await make_order(amount=120_000)
    image = await client.get(f"/api/v1/qris/{order['orderId']}")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(PNG_SIGNATURE)
    assert image.content == qr_png(order["qrPayload"])
    va = await make_order(method="va", channel="BRI", reference="VA")
    no_qr = await client.get(f"/api/v1/qris/{va['orderId']}")
    assert (no_qr.status_code, no_qr.json()["error"]) == (404, "order_not_found")


async def test_static_files_are_served(client: httpx.AsyncClient) -> None:
    for name, media_type in (("checkout.js", "javascript"), ("checkout.css", "text/css"), ("favicon.svg", "svg")):
        response = await client.get(static_url(name))
        assert response.status_code == 200
        assert media_type in response.headers["content-type"]
