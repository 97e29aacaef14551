"""QR codes drawn on the server (segno): inline SVG for pages, PNG for clients that want an image."""

from __future__ import annotations

import io

import segno
from markupsafe import Markup

# Level M survives a smudged phone screen and keeps a QRIS payload (about 200 characters) easy to scan.
_ERROR_LEVEL = "m"


def qr_svg(payload: str) -> Markup:
    """The code as an `<svg>` element that scales to its box (a viewBox, no fixed size)."""
    code = segno.make(payload, error=_ERROR_LEVEL, micro=False)
    # segno writes only path data and colours: nothing of the payload appears as markup.
    return Markup(code.svg_inline(scale=1, border=4, dark="#000", light="#fff", omitsize=True, svgclass="qr-code"))  # noqa: S704


def qr_png(payload: str) -> bytes:
    code = segno.make(payload, error=_ERROR_LEVEL, micro=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()
