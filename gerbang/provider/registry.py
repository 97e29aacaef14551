"""Providers by name. [8/9] adds the real ones here."""

from __future__ import annotations

from gerbang.provider.base import PaymentProvider, PayoutProvider
from gerbang.provider.sandbox import SandboxProvider

_SANDBOX = SandboxProvider()
PROVIDERS: dict[str, PaymentProvider] = {provider.name: provider for provider in (_SANDBOX,)}
PAYOUT_PROVIDERS: dict[str, PayoutProvider] = {provider.name: provider for provider in (_SANDBOX,)}
"""The providers that also pay out to bank accounts."""


class UnknownProvider(LookupError):
    pass


def provider(name: str) -> PaymentProvider:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise UnknownProvider(f"no provider {name!r}") from None


def payout_provider(name: str) -> PayoutProvider:
    try:
        return PAYOUT_PROVIDERS[name]
    except KeyError:
        raise UnknownProvider(f"no payout provider {name!r}") from None
