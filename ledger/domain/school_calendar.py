"""Oslo's school calendar: which dates are school days, for forecasting a month's use.

Pupils use learning materials on school days, so a month's use is projected by
school days, not calendar days. A school day is a weekday that is not a public
holiday and not inside the school holidays of Oslo's calendar.

The holiday table below follows Oslo kommune's skoleruteplan (the school-year plan the
municipality publishes) for 2025/26, 2026/27 and 2027/28. The weeks are the ones the
plan fixes by rule (autumn holiday in week 40, winter holiday in week 8, Easter week
from the Monday before Easter, Christmas from the last week before 24 December to the
first weekday after New Year). The first and last school days of each year (mid
August, around 20 June) and the first day after Christmas are recalled, not checked
against the published plan: each may be a day off. Check them against
oslo.kommune.no/skole-og-utdanning/skoleruta before relying on a single day.

Outside the table the rule is: weekends, public holidays, ISO weeks 40 and 8 are
not school days; every other date is (no Christmas or summer holiday is guessed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from ledger.domain.periods import first_date, last_date


@dataclass(frozen=True)
class SchoolYear:
    """One school year of the plan: its first and last school day, and its holidays."""

    first_day: date
    last_day: date
    holidays: tuple[tuple[date, date], ...]  # inclusive ranges, weekends inside included


# Oslo kommune, skoleruteplan (see the module docstring for what is not verified).
OSLO_SCHOOL_YEARS: Final[tuple[SchoolYear, ...]] = (
    SchoolYear(
        first_day=date(2025, 8, 19),
        last_day=date(2026, 6, 19),
        holidays=(
            (date(2025, 9, 29), date(2025, 10, 3)),  # autumn, week 40
            (date(2025, 12, 22), date(2026, 1, 2)),  # Christmas
            (date(2026, 2, 16), date(2026, 2, 20)),  # winter, week 8
            (date(2026, 3, 30), date(2026, 4, 6)),  # Easter (Easter Sunday 5 April)
        ),
    ),
    SchoolYear(
        first_day=date(2026, 8, 18),
        last_day=date(2027, 6, 18),
        holidays=(
            (date(2026, 9, 28), date(2026, 10, 2)),  # autumn, week 40
            (date(2026, 12, 21), date(2027, 1, 1)),  # Christmas
            (date(2027, 2, 22), date(2027, 2, 26)),  # winter, week 8
            (date(2027, 3, 22), date(2027, 3, 29)),  # Easter (Easter Sunday 28 March)
        ),
    ),
    SchoolYear(
        first_day=date(2027, 8, 17),
        last_day=date(2028, 6, 20),
        holidays=(
            (date(2027, 10, 4), date(2027, 10, 8)),  # autumn, week 40
            (date(2027, 12, 20), date(2027, 12, 31)),  # Christmas
            (date(2028, 2, 21), date(2028, 2, 25)),  # winter, week 8
            (date(2028, 4, 10), date(2028, 4, 17)),  # Easter (Easter Sunday 16 April)
        ),
    ),
)

# The fallback's holiday weeks (ISO week numbers): autumn and winter holidays.
fallback_holiday_weeks: Final = frozenset({40, 8})


def easter_sunday(year: int) -> date:
    """Western Easter Sunday by the anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def public_holidays(year: int) -> frozenset[date]:
    """Norway's public holidays (helligdager and 1 and 17 May) that can fall on a weekday."""
    easter = easter_sunday(year)
    return frozenset(
        {
            date(year, 1, 1),
            easter - timedelta(days=3),  # Maundy Thursday
            easter - timedelta(days=2),  # Good Friday
            easter + timedelta(days=1),  # Easter Monday
            date(year, 5, 1),
            date(year, 5, 17),
            easter + timedelta(days=39),  # Ascension Day
            easter + timedelta(days=50),  # Whit Monday
            date(year, 12, 25),
            date(year, 12, 26),
        }
    )


def _school_year_of(day: date) -> SchoolYear | None:
    """The plan's school year whose span (1 August to 31 July) holds `day`, if tabled."""
    start_year = day.year if day.month >= 8 else day.year - 1
    for school_year in OSLO_SCHOOL_YEARS:
        if school_year.first_day.year == start_year:
            return school_year
    return None


def is_school_day(day: date) -> bool:
    if day.weekday() >= 5 or day in public_holidays(day.year):
        return False
    school_year = _school_year_of(day)
    if school_year is None:
        return day.isocalendar().week not in fallback_holiday_weeks
    if not school_year.first_day <= day <= school_year.last_day:
        return False
    return not any(start <= day <= end for start, end in school_year.holidays)


def school_days(period: str) -> tuple[date, ...]:
    """The school days of a period (an Oslo calendar month "YYYY-MM"), in order."""
    first, last = first_date(period), last_date(period)
    days = (first + timedelta(days=offset) for offset in range((last - first).days + 1))
    return tuple(day for day in days if is_school_day(day))


def school_days_elapsed(period: str, today: date) -> tuple[int, int]:
    """(elapsed, left) school days of `period` as seen on Oslo date `today`.

    Today counts as elapsed: the pages are read during or after the school day, and
    its use so far is already in the ledger.
    """
    days = school_days(period)
    elapsed = sum(1 for day in days if day <= today)
    return elapsed, len(days) - elapsed
