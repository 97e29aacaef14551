from __future__ import annotations

from decimal import Decimal

import pytest

from gerbang.kit.money import FeeRate, MoneyError, amount, format_idr, positive_amount


@pytest.mark.parametrize("bad", [1.0, 0.1, "100", True, None, Decimal("5")])
def test_amount_refuses_anything_but_int(bad: object) -> None:
    with pytest.raises(MoneyError):
        amount(bad)


def test_positive_amount() -> None:
    assert positive_amount(1) == 1
    with pytest.raises(MoneyError):
        positive_amount(0)
    with pytest.raises(MoneyError):
        positive_amount(-5)


@pytest.mark.parametrize(
    ("percent", "flat", "gross", "fee"),
    [
        ("1.05", 0, 100_000, 1_050),
        ("1.05", 0, 150, 2),  # 1.575 rounds half-up to 2
        ("0.7", 0, 50, 0),  # 0.35 rounds down
        ("0.5", 0, 100, 1),  # 0.5 rounds half-up, never to even
        ("2.5", 0, 1, 0),  # 0.025
        ("1.05", 500, 100_000, 1_550),
        (0, 2_500, 10_000, 2_500),
        ("100", 0, 12_345, 12_345),
        ("0.3", 0, 10**15, 3 * 10**12),  # no float anywhere, so no drift at large amounts
    ],
)
def test_fee_is_percent_rounded_half_up_once_plus_flat(percent: str, flat: int, gross: int, fee: int) -> None:
    assert FeeRate(percent, flat).fee_for(gross) == fee


@pytest.mark.parametrize(
    ("percent", "flat"), [(1.05, 0), ("-1", 0), ("101", 0), ("abc", 0), ("NaN", 0), ("1", -1), ("1", 1.5)]
)
def test_fee_rate_refuses_bad_values(percent: object, flat: object) -> None:
    with pytest.raises(MoneyError):
        FeeRate(percent, flat)  # type: ignore[arg-type]


def test_fee_refuses_float_amounts() -> None:
    with pytest.raises(MoneyError):
        FeeRate("1").fee_for(100.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "text"), [(0, "Rp 0"), (999, "Rp 999"), (1_234_567, "Rp 1.234.567"), (-5_000, "-Rp 5.000")]
)
def test_format_idr(value: int, text: str) -> None:
    assert format_idr(value) == text
