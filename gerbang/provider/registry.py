"""Providers by name. [8/9] adds the real ones here."""

from __future__ import annotations

from gerbang.provider.base import PaymentProvider
from gerbang.provider.sandbox import SandboxProvider

PROVIDERS: dict[str, PaymentProvider] = {provider.name: provider for provider in (SandboxProvider(),)}


class UnknownProvider(LookupError):
    pass


def provider(name: str) -> PaymentProvider:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise UnknownProvider(f"no provider {name!r}") from None
