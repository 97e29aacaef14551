"""Reading a JSON object from bytes someone else wrote (a provider's answer, a request to a fake)."""

from __future__ import annotations

from typing import Any

import orjson


def json_object(raw: bytes) -> dict[str, Any]:
    """The JSON object in `raw`; {} for empty bytes, anything not JSON, or JSON that is not an object."""
    try:
        value = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
