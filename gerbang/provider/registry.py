"""Providers by name. [8/9] adds the real ones here."""

from __future__ import annotations

from gerbang.provider.base import PaymentProvider, PayoutProvider
from gerbang.provider.hilogate import HilogateProvider
from gerbang.provider.ing1 import Ing1Provider
from gerbang.provider.oy import OyProvider
from gerbang.provider.sandbox import SandboxProvider

_SANDBOX = SandboxProvider()
_HILOGATE = HilogateProvider()
_OY = OyProvider()
_ING1 = Ing1Provider()
# One line per provider: an adapter that pays in goes in the first tuple; one that also pays out, in both.
_PAY_INS: tuple[PaymentProvider, ...] = (_SANDBOX, _HILOGATE, _OY, _ING1)
_PAYOUTS: tuple[PayoutProvider, ...] = (_SANDBOX, _HILOGATE, _OY, _ING1)
PROVIDERS: dict[str, PaymentProvider] = {provider.name: provider for provider in _PAY_INS}
PAYOUT_PROVIDERS: dict[str, PayoutProvider] = {provider.name: provider for provider in _PAYOUTS}
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
