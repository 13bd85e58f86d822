"""Billing periods: calendar months on Oslo's clock (CONTRACT 5.1).

Time is aware UTC everywhere else in the ledger; this module is the one place that
decides which Oslo month or date an instant falls in, so that every part (stream,
store, settlement) agrees about month edges, including the daylight-saving nights.
Periods are strings "YYYY-MM".
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

OSLO: Final = ZoneInfo("Europe/Oslo")  # months and dates are decided on Oslo's clock

# Years outside this range are refused so that every period's start, end and
# neighbours stay representable as `datetime` (year 9999's December would end in
# year 10000). Nothing in a pay-per-use ledger needs years outside it.
period_year_min = 1900
period_year_max = 9998

# ASCII digits only: `\d` would also accept other scripts' digits.
_PERIOD_PATTERN = re.compile(r"([0-9]{4})-([0-9]{2})")


def parse_period(text: str) -> str:
    """Check that `text` is a period "YYYY-MM" and return it unchanged.

    Strict on purpose: a period is a key in file names and database rows, so
    " 2026-10" or "2026-1" must not silently become a second spelling of a month.
    """
    match = _PERIOD_PATTERN.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"A period must be written YYYY-MM, for example 2026-10; got {text!r}.")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise ValueError(f"The month of period {text!r} must be 01 to 12.")
    if not period_year_min <= year <= period_year_max:
        raise ValueError(
            f"The year of period {text!r} must be between {period_year_min} and {period_year_max}."
        )
    return text


def _year_month(period: str) -> tuple[int, int]:
    parse_period(period)
    return int(period[:4]), int(period[5:7])


def _format(year: int, month: int) -> str:
    return parse_period(f"{year:04d}-{month:02d}")


def _require_aware(instant: datetime) -> None:
    # A naive datetime has no defined instant; guessing its zone would move events
    # between months, so refuse it.
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"The time {instant.isoformat()} has no UTC offset; give an aware time.")


def oslo_date(instant: datetime) -> date:
    """The calendar date on Oslo's clock at `instant` (validity of licences is in Oslo dates)."""
    _require_aware(instant)
    return instant.astimezone(OSLO).date()


def period_of(instant: datetime) -> str:
    """The Oslo month in which `instant` falls."""
    day = oslo_date(instant)
    return _format(day.year, day.month)


def period_of_date(day: date) -> str:
    """The period an Oslo calendar date belongs to."""
    return _format(day.year, day.month)


def first_date(period: str) -> date:
    """The first Oslo date of the period."""
    year, month = _year_month(period)
    return date(year, month, 1)


def last_date(period: str) -> date:
    """The last Oslo date of the period (inclusive)."""
    return first_date(next_period(period)) - timedelta(days=1)


def next_period(period: str) -> str:
    year, month = _year_month(period)
    return _format(year + 1, 1) if month == 12 else _format(year, month + 1)


def previous_period(period: str) -> str:
    year, month = _year_month(period)
    return _format(year - 1, 12) if month == 1 else _format(year, month - 1)


def period_start_utc(period: str) -> datetime:
    """The instant the period begins: midnight Oslo time on its first day, as aware UTC.

    Midnight always exists exactly once in Oslo (the clock changes at 02:00/03:00),
    so there is no ambiguous or missing local time to resolve here.
    """
    year, month = _year_month(period)
    return datetime(year, month, 1, tzinfo=OSLO).astimezone(UTC)


def period_end_utc(period: str) -> datetime:
    """The instant the period ends, exclusive: the start of the next period."""
    year, month = _year_month(period)
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    return datetime(following[0], following[1], 1, tzinfo=OSLO).astimezone(UTC)


def period_has_ended(period: str, now: datetime) -> bool:
    """True when `now` is at or after the period's end on Oslo's clock (settle needs this)."""
    _require_aware(now)
    return now >= period_end_utc(period)


def period_overlaps(period: str, valid_from: date, valid_to: date) -> bool:
    """True when the month shares at least one Oslo date with [valid_from, valid_to] (inclusive)."""
    return first_date(period) <= valid_to and valid_from <= last_date(period)
