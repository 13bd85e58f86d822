"""Money: øre as int, half-even rounding, two-decimal strings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.money import format_ore, format_rate, ore_from_decimal_half_even, parse_amount


@pytest.mark.parametrize(
    ("amount", "ore"),
    [
        ("10150", 1015000),
        ("10150.00", 1015000),
        ("0.125", 12),  # tie: to even 12
        ("0.135", 14),  # tie: to even 14
        ("0.375", 38),  # tie: to even 38
        ("0.625", 62),  # tie: to even 62
        ("0.005", 0),
        ("0.015", 2),
        ("0.1251", 13),  # above the tie: up
        ("0.1249", 12),
        ("-0.125", -12),
        ("-0.135", -14),
        ("-0.1251", -13),
        ("12.345", 1234),
        ("0", 0),
    ],
)
def test_ore_from_decimal_rounds_half_even(amount: str, ore: int) -> None:
    assert ore_from_decimal_half_even(Decimal(amount)) == ore


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_ore_from_decimal_refuses_non_finite(amount: str) -> None:
    with pytest.raises(ValueError):
        ore_from_decimal_half_even(Decimal(amount))


@pytest.mark.parametrize(
    ("ore", "text"),
    [
        (1015000, "10150.00"),
        (-1250, "-12.50"),
        (0, "0.00"),
        (5, "0.05"),
        (-5, "-0.05"),
        (100, "1.00"),
        (-100, "-1.00"),
        (123456789012, "1234567890.12"),
    ],
)
def test_format_ore(ore: int, text: str) -> None:
    assert format_ore(ore) == text


def test_format_ore_refuses_non_integers() -> None:
    with pytest.raises(TypeError):
        format_ore(True)
    with pytest.raises(TypeError):
        format_ore(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "ore"),
    [("10150.00", 1015000), ("-12.5", -1250), ("7", 700), ("0.05", 5), ("-0.05", -5),
     ("-0.00", 0), ("007.10", 710)],
)  # fmt: skip
def test_parse_amount(text: str, ore: int) -> None:
    assert parse_amount(text) == ore


@pytest.mark.parametrize(
    "text", ["1.234", "1,00", "", " 1.00", "1.00 ", "1e3", "NaN", "+1.00", ".5", "1.", "--1", "١٠"]
)
def test_parse_amount_refuses_anything_but_two_decimals(text: str) -> None:
    with pytest.raises(ValueError, match="at most two decimals"):
        parse_amount(text)


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_and_parse_are_inverse(ore: int) -> None:
    assert parse_amount(format_ore(ore)) == ore
    assert ore_from_decimal_half_even(Decimal(format_ore(ore))) == ore


@pytest.mark.parametrize(
    ("rate", "text"),
    [("0.25", "0.25"), ("0.250", "0.25"), ("0", "0.00"), ("0.00", "0.00"), ("0.1", "0.10"),
     ("0.125", "0.125"), ("0.15", "0.15")],
)  # fmt: skip
def test_format_rate_one_spelling_per_rate(rate: str, text: str) -> None:
    assert format_rate(Decimal(rate)) == text
