"""CONTRACT 5.6: largest remainder on øre, ties to the smaller municipality id."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.sharing import largest_remainder


def test_equal_weights_leftover_goes_to_smallest_id() -> None:
    # 100.00 NOK among three: 33.33 each and one øre left, tie -> "0301".
    shares = largest_remainder(10000, {"3201": 1, "0301": 1, "3301": 1})
    assert shares == {"0301": 3334, "3201": 3333, "3301": 3333}


def test_ties_compare_ids_as_strings() -> None:
    # As strings "10" < "9" (as numbers it would be the other way round).
    assert largest_remainder(1, {"9": 1, "10": 1}) == {"10": 1, "9": 0}
    assert largest_remainder(3, {"9": 1, "10": 1}) == {"10": 2, "9": 1}


def test_larger_remainder_wins_before_id() -> None:
    # 10 øre at 1:2 -> exact 3.33 and 6.67: the leftover øre goes to "b" (0.67 > 0.33).
    assert largest_remainder(10, {"a": 1, "b": 2}) == {"a": 3, "b": 7}


def test_proportional_without_rounding() -> None:
    assert largest_remainder(1000, {"3201": 1, "0301": 3}) == {"3201": 250, "0301": 750}
    assert largest_remainder(830000, {"3201": 130000, "0301": 700000}) == {
        "3201": 130000,
        "0301": 700000,
    }


def test_decimal_weights() -> None:
    # 1.00 NOK at 0.1 : 0.2 -> 33.33 and 66.67 øre.
    assert largest_remainder(100, {"a": Decimal("0.1"), "b": Decimal("0.2")}) == {"a": 33, "b": 67}


def test_negative_total_mirrors_the_positive_split() -> None:
    assert largest_remainder(-10, {"a": 1, "b": 2}) == {"a": -3, "b": -7}
    assert largest_remainder(-10000, {"3201": 1, "0301": 1, "3301": 1}) == {
        "0301": -3334,
        "3201": -3333,
        "3301": -3333,
    }


def test_zero_weight_gets_nothing() -> None:
    assert largest_remainder(101, {"a": 0, "b": 1}) == {"a": 0, "b": 101}


def test_all_zero_weights_share_equally() -> None:
    assert largest_remainder(10, {"c": 0, "a": 0, "b": 0}) == {"a": 4, "b": 3, "c": 3}


def test_zero_total() -> None:
    assert largest_remainder(0, {"a": 1, "b": 0}) == {"a": 0, "b": 0}
    assert largest_remainder(0, {}) == {}


def test_refused_inputs() -> None:
    with pytest.raises(ValueError, match="no one"):
        largest_remainder(1, {})
    with pytest.raises(ValueError, match="negative"):
        largest_remainder(10, {"a": -1, "b": 2})
    with pytest.raises(ValueError, match="finite"):
        largest_remainder(10, {"a": Decimal("NaN")})


_keys = st.text(alphabet="0123456789", min_size=1, max_size=4)
_weight = st.one_of(
    st.integers(min_value=0, max_value=10**9),
    st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False),
)


@given(
    total=st.integers(min_value=-(10**12), max_value=10**12),
    weights=st.dictionaries(_keys, _weight, min_size=1, max_size=8),
)
def test_shares_always_sum_exactly_and_stay_within_one_ore(
    total: int, weights: dict[str, int | Decimal]
) -> None:
    shares = largest_remainder(total, weights)
    assert set(shares) == set(weights)
    assert sum(shares.values()) == total
    weight_sum = sum(Fraction(weight) for weight in weights.values())
    for key, weight in weights.items():
        exact = (
            Fraction(total) * Fraction(weight) / weight_sum
            if weight_sum
            else Fraction(total, len(weights))
        )
        assert abs(shares[key] - exact) < 1


@given(
    total=st.integers(min_value=0, max_value=10**9),
    weights=st.dictionaries(_keys, st.integers(min_value=0, max_value=10**6), min_size=1),
    factor=st.integers(min_value=1, max_value=1000),
)
def test_scaling_all_weights_changes_nothing(
    total: int, weights: dict[str, int], factor: int
) -> None:
    scaled = {key: weight * factor for key, weight in weights.items()}
    assert largest_remainder(total, scaled) == largest_remainder(total, weights)


@given(
    total=st.integers(min_value=1, max_value=10**9),
    weights=st.dictionaries(_keys, st.integers(min_value=0, max_value=10**6), min_size=2),
)
def test_larger_weight_never_gets_a_smaller_share(total: int, weights: dict[str, int]) -> None:
    shares = largest_remainder(total, weights)
    for a in weights:
        for b in weights:
            if weights[a] > weights[b]:
                assert shares[a] >= shares[b]
