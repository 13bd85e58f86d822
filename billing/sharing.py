"""Sharing a joint licence's amount among its buyers (CONTRACT 5.6).

The largest-remainder method on whole øre: every buyer gets the floor of its exact
proportional share, and the øre left over go one each to the largest remainders,
ties to the smaller municipality id. Arithmetic is on exact fractions, so the result
never depends on decimal precision, and the shares always add up to the total.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

from ledger.domain.invariants import invariant


def largest_remainder(total_ore: int, weights: Mapping[str, Decimal | int]) -> dict[str, int]:
    """Share `total_ore` among the keys of `weights` in proportion to the weights.

    - Ties between equal remainders go to the smaller key, comparing keys as strings
      (municipality ids are strings: "0301" < "3201").
    - A negative total is shared as the mirror image of the positive one, so that a
      credit is split exactly like the charge it reverses (no bias toward any key).
    - When every weight is zero there is nothing to be proportional to; the total is
      then shared equally (as if every weight were 1), which is the only split that
      favours nobody. A zero total always gives every key zero.
    - Negative or non-finite weights, and a non-zero total with no keys, are refused
      with `ValueError`: those are callers' bugs, not rounding questions.
    """
    exact_weights = {key: _as_fraction(key, weight) for key, weight in weights.items()}
    if not exact_weights:
        if total_ore != 0:
            raise ValueError(f"Cannot share {total_ore} øre among no one.")
        return {}
    if sum(exact_weights.values()) == 0:
        exact_weights = dict.fromkeys(exact_weights, Fraction(1))
    magnitude = abs(total_ore)
    shares = _share_non_negative(magnitude, exact_weights)
    if total_ore < 0:
        shares = {key: -share for key, share in shares.items()}
    invariant(
        sum(shares.values()) == total_ore,
        f"shares {shares} do not add up to the total {total_ore}",
    )
    invariant(set(shares) == set(weights), "every key gets exactly one share")
    return shares


def _as_fraction(key: str, weight: Decimal | int) -> Fraction:
    if isinstance(weight, Decimal) and not weight.is_finite():
        raise ValueError(f"The weight of {key} must be a finite number; got {weight}.")
    value = Fraction(weight)
    if value < 0:
        raise ValueError(f"The weight of {key} must not be negative; got {weight}.")
    return value


def _share_non_negative(total_ore: int, weights: Mapping[str, Fraction]) -> dict[str, int]:
    weight_sum = sum(weights.values(), Fraction(0))
    exact = {key: total_ore * weight / weight_sum for key, weight in weights.items()}
    shares = {key: int(value.numerator // value.denominator) for key, value in exact.items()}
    left_over = total_ore - sum(shares.values())
    invariant(
        0 <= left_over < len(weights),
        f"largest remainder left {left_over} øre for {len(weights)} keys",
    )
    by_remainder = sorted(exact, key=lambda key: (-(exact[key] - shares[key]), key))
    for key in by_remainder[:left_over]:
        shares[key] += 1
    return shares
