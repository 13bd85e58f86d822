"""Who submitted a raw-log message (ledger.domain.submitters): the header and its reading.

What the rest relies on: a submitter written with `header_value` reads back as itself,
exactly one spelling reads as a given submitter, and anything else a header may hold
(absent, unreadable, too long, given twice) reads as no submitter, never raising.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.invariants import InvariantViolation
from ledger.domain.orgno import is_valid_org_no, org_no_check_digit
from ledger.domain.submitters import (
    OPERATOR,
    SUBMITTER_HEADER,
    Submitter,
    parse_submitter,
    submitter_from_headers,
    submitter_header_bytes_max,
    vendor_submitter,
)

FORLAG = "987654325"
APPEN = "912000001"


def test_the_header_has_one_name_and_two_forms() -> None:
    assert SUBMITTER_HEADER == "ledger-submitter"
    assert vendor_submitter(FORLAG).header() == ("ledger-submitter", b"vendor:987654325")
    assert OPERATOR.header() == ("ledger-submitter", b"operator")
    assert vendor_submitter(FORLAG).header_name == SUBMITTER_HEADER
    assert Submitter("operator") == OPERATOR and OPERATOR.vendor is None


def test_a_submitter_refuses_to_be_inconsistent() -> None:
    with pytest.raises(InvariantViolation):
        Submitter("vendor", "123456789")  # check digit wrong
    with pytest.raises(InvariantViolation):
        Submitter("vendor")
    with pytest.raises(InvariantViolation):
        Submitter("operator", FORLAG)
    with pytest.raises(InvariantViolation):
        Submitter("auditor")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"vendor:987654325", vendor_submitter(FORLAG)),
        (b"vendor:912000001", vendor_submitter(APPEN)),
        (b"operator", OPERATOR),
    ],
)
def test_the_two_forms_are_read(value: bytes, expected: Submitter) -> None:
    assert parse_submitter(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"",
        b"vendor:",
        b"vendor:987654321",  # bad check digit
        b"vendor:98765432",  # eight digits
        b"vendor:9876543250",
        b"vendor: 987654325",
        b"vendor:987654325 ",
        b"VENDOR:987654325",
        b"Operator",
        b"operator ",
        b"municipality:3201",
        b"vendor:\xd9\xa3\xd9\xa3",  # other scripts' digits are not organisation numbers
        b"vendor:\xff\xfe",  # not ASCII
        b"operator" * 1000,
        "operator",  # text where bytes belong: a producer's mistake, not ours to crash on
    ],
)
def test_anything_else_is_no_submitter(value: bytes | None) -> None:
    assert parse_submitter(value) is None


def _with_check_digit(first_eight: str) -> str:
    return first_eight + str(org_no_check_digit(first_eight))


org_nos = (
    st.integers(0, 99_999_999)
    .map(lambda n: f"{n:08d}")
    .filter(lambda first_eight: org_no_check_digit(first_eight) is not None)
    .map(_with_check_digit)
)


@given(org_nos)
def test_property_a_vendor_reads_back_as_itself(org_no: str) -> None:
    submitter = vendor_submitter(org_no)
    assert len(submitter.header_value()) <= submitter_header_bytes_max
    assert parse_submitter(submitter.header_value()) == submitter


@given(st.binary(max_size=64))
def test_property_any_bytes_read_safely_with_one_spelling(value: bytes) -> None:
    submitter = parse_submitter(value)
    if submitter is not None:
        assert submitter.header_value() == value
        assert submitter == OPERATOR or is_valid_org_no(submitter.vendor)


def test_headers_as_pairs_or_mapping() -> None:
    vendor = vendor_submitter(FORLAG)
    assert submitter_from_headers([("trace-id", b"x"), (SUBMITTER_HEADER, b"operator")]) == OPERATOR
    assert submitter_from_headers(((SUBMITTER_HEADER, vendor.header_value()),)) == vendor
    assert submitter_from_headers({SUBMITTER_HEADER: vendor.header_value()}) == vendor
    assert submitter_from_headers(None) is None
    assert submitter_from_headers([]) is None
    assert submitter_from_headers([("trace-id", b"x")]) is None
    assert submitter_from_headers([(SUBMITTER_HEADER, None)]) is None
    assert submitter_from_headers([("Ledger-Submitter", b"operator")]) is None  # names are exact


def test_the_header_given_twice_is_ambiguous_and_reads_as_none() -> None:
    forlag = vendor_submitter(FORLAG).header()
    assert submitter_from_headers([forlag, OPERATOR.header()]) is None
    assert submitter_from_headers([forlag, forlag]) is None
