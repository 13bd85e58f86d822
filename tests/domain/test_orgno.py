from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.orgno import is_valid_org_no, org_no_check_digit


@pytest.mark.parametrize("text", ["935478715", "987654325", "974626993"])
def test_known_numbers_are_valid(text: str) -> None:
    assert is_valid_org_no(text)


@pytest.mark.parametrize(
    "text",
    [
        "935478716",  # wrong check digit
        "98765432",  # 8 digits
        "9876543250",  # 10 digits
        "98765432a",
        " 98765432",
        "",
        "٩٨٧٦٥٤٣٢٥",  # Arabic-Indic digits are digits to str.isdigit, not to us
        "100000130",  # remainder 1: no check digit exists, every ending is invalid
    ],
)
def test_invalid_numbers(text: str) -> None:
    assert not is_valid_org_no(text)


def test_non_strings_are_invalid() -> None:
    assert not is_valid_org_no(987654325)
    assert not is_valid_org_no(None)


def test_remainder_one_has_no_check_digit() -> None:
    assert org_no_check_digit("10000013") is None
    assert not any(is_valid_org_no(f"10000013{digit}") for digit in range(10))


eight_digits = st.text(alphabet="0123456789", min_size=8, max_size=8)


@st.composite
def org_numbers(draw: st.DrawFn) -> str:
    first = draw(eight_digits.filter(lambda digits: org_no_check_digit(digits) is not None))
    return f"{first}{org_no_check_digit(first)}"


@given(org_numbers())
def test_generated_numbers_are_valid(number: str) -> None:
    assert is_valid_org_no(number)


@given(org_numbers(), st.integers(0, 8), st.integers(1, 9))
def test_every_single_digit_typo_is_caught(number: str, position: int, shift: int) -> None:
    # Weights and 11 are coprime, so changing one digit always changes the check.
    changed = str((int(number[position]) + shift) % 10)
    typo = number[:position] + changed + number[position + 1 :]
    assert not is_valid_org_no(typo)
