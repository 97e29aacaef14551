"""Providers by name: one adapter instance each, built at import (docs/providers.md, "Adding a provider")."""

from __future__ import annotations

import aiohttp

from gerbang.config import Settings
from gerbang.provider.base import PaymentProvider, PayoutProvider
from gerbang.provider.genesis import GenesisProvider
from gerbang.provider.gidi import GidiProvider
from gerbang.provider.gudangvoucher import GudangVoucherProvider
from gerbang.provider.hilogate import HilogateProvider
from gerbang.provider.ing1 import Ing1Provider
from gerbang.provider.netzme import NetzmeProvider
from gerbang.provider.oy import OyProvider
from gerbang.provider.piro import PiroProvider
from gerbang.provider.sandbox import SandboxProvider

_SANDBOX = SandboxProvider()
_HILOGATE = HilogateProvider()
_OY = OyProvider()
_ING1 = Ing1Provider()
_PIRO = PiroProvider()
_GENESIS = GenesisProvider()
_GIDI = GidiProvider()
_GUDANGVOUCHER = GudangVoucherProvider()
_NETZME = NetzmeProvider()
# One line per provider: an adapter that pays in goes in the first tuple; one that also pays out, in both.
_PAY_INS: tuple[PaymentProvider, ...] = (
    _SANDBOX, _HILOGATE, _OY, _ING1, _GUDANGVOUCHER, _GIDI, _PIRO, _GENESIS, _NETZME,
)  # fmt: skip
_PAYOUTS: tuple[PayoutProvider, ...] = (_SANDBOX, _HILOGATE, _OY, _ING1, _GIDI, _PIRO)
PROVIDERS: dict[str, PaymentProvider] = {provider.name: provider for provider in _PAY_INS}
PAYOUT_PROVIDERS: dict[str, PayoutProvider] = {provider.name: provider for provider in _PAYOUTS}
"""The providers that also pay out to bank accounts."""


def apply_timeouts(settings: Settings) -> None:
    """`GERBANG_<PROVIDER>_TIMEOUT` into each adapter: they are built once, at import, before settings exist."""
    adapters: list[PaymentProvider | PayoutProvider] = [*_PAY_INS, *_PAYOUTS]
    for adapter in adapters:
        timeout = settings.provider_timeout(adapter.name)
        if timeout is not None:
            adapter.timeout = aiohttp.ClientTimeout(total=timeout.total_seconds())


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
