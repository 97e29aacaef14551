"""The hosted checkout: `/pay/{order_id}` pages, the status the page polls, and the QR image (`/api/v1`).

The pages take the order id as a plain string and answer an HTML 404 for anything that is not a known
order: a customer following a mangled link sees a page in their language, never a JSON validation error.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from gerbang.checkout import service
from gerbang.checkout.messages import Lang, error_message, lang_of, translator
from gerbang.checkout.service import CHANNELS, Checkout, View
from gerbang.config import Settings
from gerbang.db import DbConnection
from gerbang.exceptions import GerbangError
from gerbang.kit.money import format_idr
from gerbang.kit.time import to_jakarta, utcnow
from gerbang.order import service as order_service
from gerbang.order import status_check
from gerbang.order.service import OrderNotFound, PayIn
from gerbang.provider.base import PaymentMethod
from gerbang.web import forms
from gerbang.web.pages import SECURITY_HEADERS, render
from gerbang.web.qr import qr_png, qr_svg

router = APIRouter(tags=["hosted checkout"], include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["hosted checkout"])

CSRF_COOKIE = "gerbang_checkout_csrf"
CSRF_FIELD = "csrf"
_NO_STORE = {"Cache-Control": "no-store"}


def _order_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def _page_url(order_id: uuid.UUID, lang: Lang, *, error: str | None = None) -> str:
    query = ({"lang": lang} if lang == "en" else {}) | ({"error": error} if error else {})
    return f"/pay/{order_id}" + (f"?{urlencode(query)}" if query else "")


def _other(lang: Lang) -> Lang:
    return "id" if lang == "en" else "en"


def _clock(seconds: int) -> str:
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _csrf_scope(order_id: uuid.UUID) -> str:
    return f"checkout:{order_id}"


def _problem(lang: Lang, key: str, status_code: int, order_id: uuid.UUID | None, *, back: bool = True) -> HTMLResponse:
    """A page for a request we cannot serve. Its links are built from a parsed order id, never from the
    request's path."""
    context = {
        "lang": lang, "t": translator(lang), "title_key": f"{key}_title", "text_key": f"{key}_text",
        "back_url": _page_url(order_id, lang) if order_id and back else None,
        "other_lang_url": _page_url(order_id, _other(lang)) if order_id else None,
    }  # fmt: skip
    return render("checkout/problem.html", context, status_code=status_code)


def _not_found(lang: Lang, order_id: uuid.UUID | None = None) -> HTMLResponse:
    return _problem(lang, "not_found", 404, order_id, back=False)


def _context(checkout: Checkout, request: Request, lang: Lang, error: str, now: datetime) -> dict[str, Any]:
    order = checkout.order
    settings: Settings = request.app.state.settings
    context: dict[str, Any] = {
        "lang": lang, "t": translator(lang), "view": checkout.view.value, "order_id": str(order.id),
        "merchant": checkout.merchant, "amount": format_idr(order.amount), "reference": order.reference,
        "status": order.status, "page_url": _page_url(order.id, lang),
        "other_lang_url": _page_url(order.id, _other(lang)),
        "status_url": f"/pay/{order.id}/status", "polling": checkout.view in (View.pick, View.pending),
        "error": error_message(lang, error) if error else None,
        "expires_at": order.expires_at.isoformat(), "server_now": now.isoformat(),
        "expires_wib": to_jakarta(order.expires_at).strftime("%H:%M"),
        "countdown": _clock(math.ceil((order.expires_at - now).total_seconds())),
        "return_url": service.link(order.return_url), "sandbox": settings.sandbox_enabled,
    }  # fmt: skip
    if checkout.view is View.pick:
        context["methods"] = [method.value for method in checkout.methods]
        context["channels"] = {method.value: channels for method, channels in CHANNELS.items()}
    elif checkout.view is View.pending:
        context |= {
            "method": order.method, "channel": order.channel, "va_number": order.va_number,
            "qr": qr_svg(order.qr_payload) if order.method == PaymentMethod.qris and order.qr_payload else None,
            "qr_image_url": f"/api/v1/qris/{order.id}",
            "redirect_url": service.link(order.redirect_url),
        }  # fmt: skip
    return context


@router.get("/pay/{order_id}", response_class=HTMLResponse)
async def checkout_page(
    order_id: str, request: Request, connection: DbConnection, lang: str = "", error: str = ""
) -> Response:
    language = lang_of(lang)
    parsed = _order_id(order_id)
    if parsed is None:
        return _not_found(language)
    now = utcnow()
    try:
        checkout = await service.get_checkout(connection, parsed, now)
    except OrderNotFound:
        return _not_found(language, parsed)
    context = _context(checkout, request, language, error, now)
    if checkout.view is not View.pick:
        return render("checkout/pending.html" if checkout.view is View.pending else "checkout/result.html", context)
    # One token per browser and order, kept while it is valid, so two open tabs do not void each other.
    settings: Settings = request.app.state.settings
    scope = _csrf_scope(parsed)
    token = request.cookies.get(CSRF_COOKIE, "")
    if not forms.token_valid(settings.secret_keys, scope, token):
        token = forms.issue_token(settings.secret_key_value, scope)
    context["csrf"] = token
    response = render("checkout/pick.html", context)
    response.set_cookie(
        CSRF_COOKIE, token, max_age=max(60, int((checkout.order.expires_at - now).total_seconds())),
        path=f"/pay/{parsed}", secure=request.url.scheme == "https" or settings.public_base_url.startswith("https:"),
        httponly=True, samesite="strict",
    )  # fmt: skip
    return response


def _choice(form: dict[str, str]) -> tuple[PaymentMethod, str | None] | None:
    try:
        method = PaymentMethod(form.get("method", ""))
    except ValueError:
        return None
    channel = form.get("channel") or None
    if method in CHANNELS:
        return (method, channel) if channel in CHANNELS[method] else None
    return method, None


@router.post("/pay/{order_id}")
async def choose_method(order_id: str, request: Request, lang: str = "") -> Response:
    """The method picker's form: route and charge the order, then show it (POST/redirect/GET)."""
    language = lang_of(lang)
    parsed = _order_id(order_id)
    if parsed is None:
        return _not_found(language)
    settings: Settings = request.app.state.settings
    form = await forms.read_form(request)
    if form is None or not forms.double_submit_valid(
        settings.secret_keys, _csrf_scope(parsed), form.get(CSRF_FIELD, ""), request.cookies.get(CSRF_COOKIE, "")
    ):
        return _problem(language, "form_expired", 403, parsed)
    choice = _choice(form)
    if choice is None:
        return _problem(language, "invalid_choice", 422, parsed)
    pay_in: PayIn = request.app.state.pay_in
    try:
        await order_service.choose_method(pay_in, parsed, *choice)
    except OrderNotFound:
        return _not_found(language, parsed)
    except GerbangError as refused:
        return RedirectResponse(_page_url(parsed, language, error=refused.code), 303, headers=SECURITY_HEADERS)
    return RedirectResponse(_page_url(parsed, language), 303, headers=SECURITY_HEADERS)


@router.get("/pay/{order_id}/status")
async def checkout_status(order_id: str, request: Request) -> JSONResponse:
    """What the page polls: it reloads itself when the status moves. A customer waiting on the page is
    when a lost callback hurts most, so a stale PENDING order is checked with the provider (at most once
    per order per 30 seconds, however many pages poll)."""
    parsed = _order_id(order_id)
    if parsed is None:
        raise OrderNotFound("no such order")
    pay_in: PayIn = request.app.state.pay_in
    order = await order_service.get_order(pay_in.database, parsed)
    if order.status == "PENDING" and await status_check.refresh_from_provider(pay_in, parsed):
        order = await order_service.get_order(pay_in.database, parsed)
    return JSONResponse({"status": order.status, "expiresAt": order.expires_at.isoformat()}, headers=_NO_STORE)


@router.get("/pay/{mangled:path}", response_class=HTMLResponse)
async def mangled_link(lang: str = "") -> HTMLResponse:
    """Anything else under `/pay/` is a link broken on its way to the customer (declared last)."""
    return _not_found(lang_of(lang))


@api_router.get(
    "/qris/{order_id}",
    operation_id="qris-image",
    summary="An order's QRIS code as a PNG image (public, like the checkout page)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 404: {"description": "`order_not_found` (or no QR code)"}},
)
async def qris_image(order_id: str, connection: DbConnection) -> Response:
    parsed = _order_id(order_id)
    if parsed is None:
        raise OrderNotFound("no such order")
    return Response(qr_png(await service.qr_payload(connection, parsed)), media_type="image/png", headers=_NO_STORE)
