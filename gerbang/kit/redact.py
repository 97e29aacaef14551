"""Keeping secrets out of what we store for people to read (audit trails, request logs)."""

from __future__ import annotations

from typing import Any

MASK = "***"
_SECRET_WORDS = ("secret", "password", "token", "api_key", "apikey", "totp", "otp", "credential", "hash", "signature")
_MAX_STRING = 256
_MAX_ITEMS = 50
_MAX_DEPTH = 6


def is_secret_field(name: str) -> bool:
    lowered = name.lower().replace("-", "_")
    return any(word in lowered for word in _SECRET_WORDS)


def redact(value: Any, depth: int = 0) -> Any:
    """A copy of a JSON value with secret fields masked, long strings cut and deep or long structures
    trimmed, so a stored copy is bounded in size and holds no credentials."""
    if depth > _MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        items = list(value.items())[:_MAX_ITEMS]
        return {str(k): MASK if is_secret_field(str(k)) and v is not None else redact(v, depth + 1) for k, v in items}
    if isinstance(value, list):
        return [redact(item, depth + 1) for item in value[:_MAX_ITEMS]]
    if isinstance(value, str) and len(value) > _MAX_STRING:
        return value[:_MAX_STRING] + "…"
    return value
