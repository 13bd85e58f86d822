"""How amounts, counts and times read on the pages: exact, and parsed back to the same øre."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.money import format_ore
from ledger.http.web.formatting import (
    NBSP,
    format_amount,
    format_count,
    format_date,
    format_datetime,
    format_day,
    format_period,
)

ore_values = st.integers(min_value=-(10**15), max_value=10**15)


def parse_nb(text: str) -> int:
    """A reader's parse of `kr 12 687,50`: an independent inverse of the nb format."""
    assert text.startswith("kr" + NBSP)
    number = text.removeprefix("kr" + NBSP).replace(NBSP, "")
    kroner, ore = number.split(",")
    sign = -1 if kroner.startswith("-") else 1
    return sign * (abs(int(kroner)) * 100 + int(ore))


def parse_en(text: str) -> int:
    assert text.startswith("NOK ")
    kroner, ore = text.removeprefix("NOK ").replace(",", "").split(".")
    sign = -1 if kroner.startswith("-") else 1
    return sign * (abs(int(kroner)) * 100 + int(ore))


def test_the_settlement_example_reads_as_people_write_it() -> None:
    assert format_amount(1_268_750) == "kr\u00a012\u00a0687,50"
    assert format_amount(1_268_750, "en") == "NOK 12,687.50"
    assert (
        format_amount("12687.50") == format_amount(Decimal("12687.50")) == "kr\u00a012\u00a0687,50"
    )
    assert format_amount(0) == "kr\u00a00,00"
    assert format_amount(-5) == "kr\u00a0-0,05"
    assert format_amount(100_000_000, "en") == "NOK 1,000,000.00"


def test_decimal_kroner_round_half_even_to_ore_and_floats_are_refused() -> None:
    assert format_amount(Decimal("0.125")) == "kr\u00a00,12"
    assert format_amount(Decimal("0.135")) == "kr\u00a00,14"
    with pytest.raises(TypeError):
        format_amount(12.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        format_amount("12.505")  # a document amount has two decimals at most


@given(ore_values)
def test_an_amount_parses_back_to_its_ore_in_both_languages(ore: int) -> None:
    assert parse_nb(format_amount(ore)) == ore
    assert parse_en(format_amount(ore, "en")) == ore
    # The document's own spelling of the same amount formats the same.
    assert format_amount(format_ore(ore)) == format_amount(ore)
    assert " " not in format_amount(ore)  # no breakable space inside an amount


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_counts_are_grouped_by_thousands(count: int) -> None:
    nb, en = format_count(count), format_count(count, "en")
    assert int(nb.replace(NBSP, "")) == count
    assert int(en.replace(",", "")) == count
    assert all(len(group) == 3 for group in nb.lstrip("-").split(NBSP)[1:])
    assert format_count(1_234_567) == "1\u00a0234\u00a0567"


def test_times_are_on_oslos_clock() -> None:
    summer = datetime(2026, 10, 5, 8, 15, tzinfo=UTC)  # CEST, UTC+2
    winter = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # CET, UTC+1
    assert format_datetime(summer) == "5.10.2026 kl.\u00a010:15:00"
    assert format_datetime(winter, "en") == "1 December 2026, 09:00:00"
    assert format_datetime("2026-10-05T08:15:00+00:00") == format_datetime(summer)
    assert format_period("2026-10") == "oktober 2026"
    assert format_period("2026-10", "en") == "October 2026"
    assert format_day(date(2026, 10, 5)) == "man. 5.10."
    assert format_day(date(2026, 10, 5), "en") == "Mon 5 Oct"
    assert format_date(date(2026, 10, 5)) == "5.\u00a0oktober 2026"
