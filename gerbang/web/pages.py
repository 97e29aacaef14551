"""Rendering pages: one autoescaping Jinja2 environment, static URLs that change with the file's content
(so a long browser cache never serves an old script), and the headers every page is sent with."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from gerbang.kit.crypto import sha256_hex

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/static"

# No inline script or style anywhere: data reaches the first-party script through data- attributes.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Checkout URLs carry the order id: never hand them to the sites the customer goes on to.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@functools.cache
def static_url(name: str) -> str:
    return f"{STATIC_PREFIX}/{name}?v={sha256_hex((STATIC_DIR / name).read_bytes())[:12]}"


_environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=StrictUndefined, trim_blocks=True,
    lstrip_blocks=True,
)  # fmt: skip
_environment.globals["static_url"] = static_url


def render(template: str, context: Mapping[str, object], *, status_code: int = 200) -> HTMLResponse:
    html = _environment.get_template(template).render(context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
