"""Providers by name. [8/9] adds the real ones here."""

from __future__ import annotations

from gerbang.provider.base import PaymentProvider, PayoutProvider
from gerbang.provider.hilogate import HilogateProvider
from gerbang.provider.oy import OyProvider
from gerbang.provider.sandbox import SandboxProvider

_SANDBOX = SandboxProvider()
_HILOGATE = HilogateProvider()
_OY = OyProvider()
# One line per provider: an adapter that pays in goes in the first tuple; one that also pays out, in both.
PROVIDERS: dict[str, PaymentProvider] = {provider.name: provider for provider in (_SANDBOX, _HILOGATE, _OY)}
PAYOUT_PROVIDERS: dict[str, PayoutProvider] = {provider.name: provider for provider in (_SANDBOX, _HILOGATE, _OY)}
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
