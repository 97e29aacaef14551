"""What every real adapter shares: the time one call may take, reading credentials with the aliases the
original accepted, one JSON call with its failures sorted into the typed errors of `base`, reading amounts and
texts out of a provider's answer without trusting their types, and a per-account cache of bearer tokens."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp
import orjson

from gerbang.kit.log import get_logger
from gerbang.provider.base import (
    ProviderDuplicate,
    ProviderInsufficientBalance,
    ProviderInvalidAccount,
    ProviderRejected,
    ProviderResponseInvalid,
    ProviderTimeout,
    ProviderUnavailable,
)

log = get_logger("gerbang.provider")


class TimedAdapter:
    """An adapter's `timeout`: 15 s a call until `registry.apply_timeouts` sets `GERBANG_<PROVIDER>_TIMEOUT`
    on the adapter."""

    timeout: aiohttp.ClientTimeout = aiohttp.ClientTimeout(total=15)


def credentials_of(
    credentials: Mapping[str, object], fields: Mapping[str, Iterable[str]], *, optional: Iterable[str] = (),
    long: Iterable[str] = (),
) -> dict[str, str]:  # fmt: skip
    """`fields` maps each stored (snake_case) name to the aliases it may arrive under; values trimmed. Raises
    ValueError naming the fields that are missing, repeated under two aliases or unknown, never a value.
    Values are at most 500 characters, those of the `long` fields (PEM keys) at most 10,000."""
    optional = set(optional)
    long = set(long)
    known: dict[str, str] = {}
    for name, aliases in fields.items():
        for alias in {name, *aliases}:
            known[alias] = name
    unknown = sorted(set(credentials) - set(known))
    if unknown:
        raise ValueError(f"unknown credential fields: {unknown}")
    found: dict[str, str] = {}
    for alias, value in credentials.items():
        name = known[alias]
        if not isinstance(value, str):
            raise ValueError(f"{name} must be text")
        value = value.strip()
        if not value:
            continue
        if name in found and found[name] != value:
            raise ValueError(f"{name} is given twice with different values")
        if len(value) > (10_000 if name in long else 500):
            raise ValueError(f"{name} is too long")
        found[name] = value
    missing = sorted(set(fields) - set(found) - optional)
    if missing:
        raise ValueError(f"required credential fields: {missing}")
    return found


def amount_of(value: object) -> int | None:
    """Whole rupiah from an int, an integral float or a decimal string ("150000", "150000.00"); None for
    anything else (a fraction of a rupiah, a bool, garbage): never equal to an order's amount."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,15}(\.[0-9]{1,4})?", value.strip()):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover (the pattern admits only numbers)
            return None
        return int(number) if number == number.to_integral_value() else None
    return None


def text_of(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def refusal(provider: str, status: int, message: str | None, *, duplicate: bool = False) -> ProviderRejected:
    """A 4xx (or a refusal code) sorted by what the caller does next."""
    text = (message or "").lower()
    reason = f"{provider} refused ({status}): {(message or '')[:200]}"
    if duplicate or status == 409 or "duplicate" in text or "already exist" in text:
        return ProviderDuplicate(reason)
    if "insufficient" in text or "not enough" in text or "balance" in text:
        return ProviderInsufficientBalance(reason)
    if "account" in text and ("invalid" in text or "not found" in text or "not valid" in text):
        return ProviderInvalidAccount(reason)
    return ProviderRejected(reason)


async def call_json(
    session: aiohttp.ClientSession, provider: str, method: str, url: str, *, body: bytes | None,
    headers: Mapping[str, str], limit: aiohttp.ClientTimeout,
) -> tuple[int, Any]:  # fmt: skip
    """(HTTP status, parsed JSON) for any answer below 500; raises `ProviderTimeout`, `ProviderUnavailable`
    (network, 5xx) or `ProviderResponseInvalid` (not JSON). The caller sorts the 4xx."""
    try:
        async with session.request(method, url, data=body, headers=dict(headers), timeout=limit) as response:
            payload = await response.read()
            status = response.status
    except TimeoutError:
        raise ProviderTimeout(f"{provider} did not answer in time") from None
    except aiohttp.ClientError as error:
        raise ProviderUnavailable(f"{provider} unreachable: {type(error).__name__}") from None
    if status >= 500:
        raise ProviderUnavailable(f"{provider} answered {status}")
    try:
        return status, orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise ProviderResponseInvalid(f"{provider} answered {status} with a body that is not JSON") from None


def unknown_status(provider: str, kind: str, value: object) -> None:
    """Logged, so someone adds it to the mapping; the caller treats it as pending, never as success."""
    log.warning("provider.unknown_status", provider=provider, kind=kind, status=str(value)[:64])


class TokenCache:
    """Bearer tokens per provider account, in this process: a token is reused until `refresh_early_s` before
    its expiry; one fetch at a time per key (an asyncio lock), so concurrent calls that find no valid token
    wait for the same fetch instead of each logging in."""

    def __init__(self, refresh_early_s: float) -> None:
        self.refresh_early_s = refresh_early_s
        self._tokens: dict[Hashable, tuple[str, float]] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}

    async def get(
        self, key: Hashable, fetch: Callable[[], Awaitable[tuple[str, float]]], *, refused: str | None = None
    ) -> str:
        """The cached token for `key`, unless it is near its expiry or is `refused` (the one the provider just
        turned down); else the one `fetch()` answers with its expiry (seconds since the epoch). `key` should
        change with the credentials, so new credentials never get the old token."""
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._tokens.get(key)
            if cached is not None and cached[0] != refused and time.time() < cached[1] - self.refresh_early_s:
                return cached[0]
            self._tokens.pop(key, None)
            token, expires_at = await fetch()
            self._tokens[key] = (token, expires_at)
            return token
