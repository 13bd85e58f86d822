"""CONTRACT 5.1: periods are calendar months on Oslo's clock, edges correct around DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.periods import (
    OSLO,
    next_period,
    oslo_date,
    parse_period,
    period_end_utc,
    period_has_ended,
    period_of,
    period_overlaps,
    period_start_utc,
    previous_period,
)
from tests.billing import utc


def test_oslo_is_the_europe_oslo_zone() -> None:
    assert str(OSLO) == "Europe/Oslo"


@pytest.mark.parametrize("text", ["2026-10", "2026-01", "2026-12", "1900-01", "9998-12"])
def test_parse_period_accepts_yyyy_mm(text: str) -> None:
    assert parse_period(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "2026-1",
        "2026-13",
        "2026-00",
        " 2026-10",
        "2026-10 ",
        "202610",
        "2026/10",
        "2026-10-01",
        "",
        "٢٠٢٦-١٠",  # Arabic-Indic digits match \d but are not a period
        "1899-12",
        "9999-01",
    ],
)
def test_parse_period_refuses_anything_else_with_a_sentence(text: str) -> None:
    with pytest.raises(ValueError, match="period") as caught:
        parse_period(text)
    message = str(caught.value)
    assert message[0].isupper() and message.endswith(".")


def test_parse_period_refuses_non_text() -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_period(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("instant", "period"),
    [
        # Winter time (UTC+1) after the October DST night: 31 Oct 23:30 UTC is 1 Nov in Oslo.
        ("2026-10-31T23:30:00Z", "2026-11"),
        ("2026-10-31T23:00:00Z", "2026-11"),
        ("2026-10-31T22:59:59Z", "2026-10"),
        # Summer time (UTC+2): 31 July 22:00 UTC is already 1 August in Oslo.
        ("2026-07-31T22:00:00Z", "2026-08"),
        ("2026-07-31T21:59:59Z", "2026-07"),
        # New year: 31 Dec 23:00 UTC is 1 Jan in Oslo.
        ("2026-12-31T23:00:00Z", "2027-01"),
        ("2026-12-31T22:59:59Z", "2026-12"),
        # An offset other than UTC is honoured as an instant.
        ("2026-10-31T18:30:00-05:00", "2026-11"),
    ],
)
def test_period_of_uses_oslo_clock(instant: str, period: str) -> None:
    assert period_of(utc(instant)) == period


def test_october_dst_night_both_two_thirties_are_the_25th() -> None:
    # 2026-10-25: clocks go back from 03:00 CEST to 02:00 CET at 01:00 UTC, so 02:30 Oslo
    # happens twice: at 00:30 UTC and 01:30 UTC.
    assert oslo_date(utc("2026-10-25T00:30:00Z")) == date(2026, 10, 25)
    assert oslo_date(utc("2026-10-25T01:30:00Z")) == date(2026, 10, 25)
    assert oslo_date(utc("2026-10-24T22:00:00Z")) == date(2026, 10, 25)  # 00:00 CEST
    assert oslo_date(utc("2026-10-24T21:59:59Z")) == date(2026, 10, 24)
    assert oslo_date(utc("2026-10-25T22:59:59Z")) == date(2026, 10, 25)  # 23:59:59 CET
    assert oslo_date(utc("2026-10-25T23:00:00Z")) == date(2026, 10, 26)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        period_of(datetime(2026, 10, 5, 8, 15))
    with pytest.raises(ValueError, match="no UTC offset"):
        oslo_date(datetime(2026, 10, 5, 8, 15))
    with pytest.raises(ValueError, match="no UTC offset"):
        period_has_ended("2026-10", datetime(2026, 12, 1))


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        # October 2026 starts in summer time and ends in winter time: 31 days + 1 hour.
        ("2026-10", "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z"),
        ("2026-11", "2026-10-31T23:00:00Z", "2026-11-30T23:00:00Z"),
        # March 2026 (DST from 29 March) is 31 days - 1 hour.
        ("2026-03", "2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z"),
        ("2026-12", "2026-11-30T23:00:00Z", "2026-12-31T23:00:00Z"),
        ("2027-01", "2026-12-31T23:00:00Z", "2027-01-31T23:00:00Z"),
    ],
)
def test_period_bounds_are_oslo_midnights_in_utc(period: str, start: str, end: str) -> None:
    assert period_start_utc(period) == utc(start)
    assert period_end_utc(period) == utc(end)
    assert period_start_utc(period).utcoffset() == timedelta(0)
    assert period_end_utc(period).utcoffset() == timedelta(0)


def test_month_lengths_across_dst() -> None:
    assert period_end_utc("2026-10") - period_start_utc("2026-10") == timedelta(hours=745)
    assert period_end_utc("2026-03") - period_start_utc("2026-03") == timedelta(hours=743)
    assert period_end_utc("2026-06") - period_start_utc("2026-06") == timedelta(hours=720)


@pytest.mark.parametrize(
    ("period", "previous", "following"),
    [("2026-10", "2026-09", "2026-11"), ("2026-01", "2025-12", "2026-02"),
     ("2026-12", "2026-11", "2027-01")],
)  # fmt: skip
def test_neighbours(period: str, previous: str, following: str) -> None:
    assert previous_period(period) == previous
    assert next_period(period) == following


def test_neighbours_outside_the_range_are_refused() -> None:
    with pytest.raises(ValueError):
        previous_period("1900-01")
    with pytest.raises(ValueError):
        next_period("9998-12")


def test_period_has_ended_at_oslo_midnight_exactly() -> None:
    assert not period_has_ended("2026-10", utc("2026-10-31T22:59:59.999999Z"))
    assert period_has_ended("2026-10", utc("2026-10-31T23:00:00Z"))
    assert not period_has_ended("2026-10", utc("2026-10-15T12:00:00Z"))
    # Oslo's clock shows 1 Nov 00:00 here, given with a +01:00 offset.
    assert period_has_ended("2026-10", datetime(2026, 11, 1, tzinfo=timezone(timedelta(hours=1))))


@pytest.mark.parametrize(
    ("period", "valid_from", "valid_to", "overlaps"),
    [
        ("2026-07", date(2026, 8, 1), date(2027, 7, 31), False),
        ("2026-08", date(2026, 8, 1), date(2027, 7, 31), True),
        ("2027-07", date(2026, 8, 1), date(2027, 7, 31), True),
        ("2027-08", date(2026, 8, 1), date(2027, 7, 31), False),
        ("2026-08", date(2026, 8, 31), date(2027, 7, 31), True),  # last day only
        ("2026-09", date(2026, 8, 1), date(2026, 9, 1), True),  # first day only
        ("2026-10", date(2026, 8, 1), date(2026, 9, 30), False),
        ("2026-02", date(2026, 2, 28), date(2026, 2, 28), True),
        ("2026-03", date(2026, 2, 28), date(2026, 2, 28), False),
    ],
)
def test_period_overlaps_inclusive_validity(
    period: str, valid_from: date, valid_to: date, overlaps: bool
) -> None:
    assert period_overlaps(period, valid_from, valid_to) is overlaps


@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)
    )
)
def test_every_instant_lies_in_its_period(instant: datetime) -> None:
    period = period_of(instant)
    assert period_start_utc(period) <= instant < period_end_utc(period)
    assert period_end_utc(previous_period(period)) == period_start_utc(period)
    assert oslo_date(instant).strftime("%Y-%m") == period
