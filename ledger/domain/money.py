"""Money: integer øre inside billing, `Decimal` for prices and rates, strings outside.

Every rounding in billing happens through `round_half_even` (CONTRACT 5.5 and 5.7
both say half-even to whole øre), and every other operation on money must be exact:
`exact_arithmetic()` makes an accidental rounding raise instead of passing silently.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    localcontext,
)

# Enough digits for any quantity × price × rate a ledger can meet (hundreds of
# millions of events times prices with a few decimals), so exact products never round.
decimal_digits_max = 60

_EXACT = Context(
    prec=decimal_digits_max,
    rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact, Rounded],
)

# An amount as written in files and documents: optional minus, digits, up to two decimals.
_AMOUNT_PATTERN = re.compile(r"-?[0-9]+(?:\.[0-9]{1,2})?")

ore_per_krone = 100


def exact_arithmetic() -> AbstractContextManager[Context]:
    """A decimal context in which any operation that would round raises instead."""
    return localcontext(_EXACT)


def round_half_even(value: Decimal) -> int:
    """Round to a whole number, ties to even (banker's rounding), the ledger's one rounding rule."""
    if not value.is_finite():
        raise ValueError(f"Cannot round {value} to a whole number.")
    return int(value.to_integral_value(rounding=ROUND_HALF_EVEN))


def ore_from_decimal_half_even(amount: Decimal) -> int:
    """NOK as a `Decimal` to whole øre, rounding half-even (0.125 NOK -> 12 øre)."""
    if not amount.is_finite():
        raise ValueError(f"An amount must be a finite number; got {amount}.")
    with exact_arithmetic():
        in_ore = amount * ore_per_krone
    return round_half_even(in_ore)


def format_ore(ore: int) -> str:
    """Øre as a two-decimal NOK string: 1015000 -> "10150.00", -1250 -> "-12.50", 0 -> "0.00"."""
    if isinstance(ore, bool) or not isinstance(ore, int):
        raise TypeError(f"An amount in øre must be an int; got {type(ore).__name__}.")
    sign = "-" if ore < 0 else ""
    kroner, ore_part = divmod(abs(ore), ore_per_krone)
    return f"{sign}{kroner}.{ore_part:02d}"


def parse_amount(text: str) -> int:
    """A NOK amount string ("10150.00", "-12.5", "7") to øre; refuses more than two decimals.

    Refusing rather than rounding: an amount with fractions of an øre is a mistake
    in whatever wrote it, and rounding it here would hide that.
    """
    if not isinstance(text, str) or _AMOUNT_PATTERN.fullmatch(text) is None:
        raise ValueError(
            f"An amount must be a number of kroner with at most two decimals, "
            f"for example 10150.00; got {text!r}."
        )
    with exact_arithmetic():
        in_ore = Decimal(text) * ore_per_krone
    return int(in_ore)


def format_rate(rate: Decimal) -> str:
    """A VAT rate as a plain decimal string with at least two decimals: "0.25", "0.00", "0.125".

    One spelling per rate so that documents (and their digests) do not change when a
    catalogue writes "0.250" instead of "0.25".
    """
    if not rate.is_finite():
        raise ValueError(f"A rate must be a finite number; got {rate}.")
    text = format(rate.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"
