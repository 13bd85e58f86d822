"""Norwegian organisation numbers (organisasjonsnummer): 9 digits, the last a mod-11 check digit.

Vendors, municipalities and schools (NSR) are all identified by one. The check digit
catches every single-digit typo, so a catalogue with a mistyped number is refused
before it can misdirect money.
"""

from __future__ import annotations

org_no_digits = 9
check_weights: tuple[int, ...] = (3, 2, 7, 6, 5, 4, 3, 2)
_ascii_digits = frozenset("0123456789")


def org_no_check_digit(first_eight_digits: str) -> int | None:
    """The check digit for the first eight digits, or None when no digit fits (remainder 1)."""
    if len(first_eight_digits) != len(check_weights) or not _is_ascii_digits(first_eight_digits):
        raise ValueError("an organisation number check digit needs exactly 8 ASCII digits")
    total = sum(
        int(digit) * weight for digit, weight in zip(first_eight_digits, check_weights, strict=True)
    )
    remainder = total % 11
    if remainder == 0:
        return 0
    if remainder == 1:
        return None  # 11 - 1 = 10 is not a digit: such numbers are never issued
    return 11 - remainder


def is_valid_org_no(text: object) -> bool:
    """True when `text` is a string of 9 ASCII digits whose last digit is the mod-11 check."""
    if not isinstance(text, str) or len(text) != org_no_digits or not _is_ascii_digits(text):
        return False
    check = org_no_check_digit(text[:8])
    return check is not None and check == int(text[8])


def _is_ascii_digits(text: str) -> bool:
    # str.isdigit() also accepts other scripts' digits ("٣"), which are not organisation numbers.
    return all(character in _ascii_digits for character in text)
