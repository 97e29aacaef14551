"""Money: whole rupiah as `int`, the currency beside it, and fees rounded exactly once.

Indonesian rails settle whole rupiah, so IDR amounts have no minor unit here (ISO 4217 says 2; no
rail we use moves sen). A float is refused everywhere it could enter: 0.1 + 0.2 is not money.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

IDR = "IDR"
SUPPORTED_CURRENCIES = frozenset({IDR})
_HUNDRED = Decimal(100)


class MoneyError(ValueError):
    """A value that is not an amount of money, or not a fee rate."""


def amount(value: object) -> int:
    """`value` as whole rupiah; refuses floats, booleans, strings and anything else that is not an int."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise MoneyError(f"an amount must be an integer number of rupiah, not {type(value).__name__}")
    return value


def positive_amount(value: object) -> int:
    result = amount(value)
    if result <= 0:
        raise MoneyError("an amount must be positive")
    return result


def currency(value: str) -> str:
    if value not in SUPPORTED_CURRENCIES:
        raise MoneyError(f"unsupported currency {value!r}")
    return value


def _percent(value: Decimal | str | int) -> Decimal:
    if isinstance(value, float | bool):
        raise MoneyError("a percent must be a Decimal, a string or an int, never a float")
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise MoneyError(f"not a percent: {value!r}") from None
    if not result.is_finite() or not 0 <= result <= 100:
        raise MoneyError("a percent must be between 0 and 100")
    return result


@dataclass(frozen=True)
class FeeRate:
    """A fee of `percent` of the amount plus `flat` rupiah, e.g. `FeeRate("1.05", 500)`."""

    percent: Decimal
    flat: int = 0

    def __init__(self, percent: Decimal | str | int, flat: int = 0) -> None:
        object.__setattr__(self, "percent", _percent(percent))
        flat_amount = amount(flat)
        if flat_amount < 0:
            raise MoneyError("a flat fee cannot be negative")
        object.__setattr__(self, "flat", flat_amount)

    def fee_for(self, gross: int) -> int:
        """The fee on `gross` rupiah: the percent part rounded half-up to a whole rupiah, once, plus flat."""
        proportional = (Decimal(amount(gross)) * self.percent / _HUNDRED).quantize(Decimal(1), ROUND_HALF_UP)
        return int(proportional) + self.flat


def format_idr(value: int) -> str:
    """For people: `Rp 1.234.567`, `-Rp 5.000` (Indonesian thousands separator)."""
    whole = amount(value)
    digits = f"{abs(whole):,}".replace(",", ".")
    return f"{'-' if whole < 0 else ''}Rp {digits}"
