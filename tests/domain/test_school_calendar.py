"""The Oslo school calendar: what a forecast's school days rest on."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.periods import first_date, last_date, period_of_date
from ledger.domain.school_calendar import (
    OSLO_SCHOOL_YEARS,
    easter_sunday,
    is_school_day,
    public_holidays,
    school_days,
    school_days_elapsed,
)

dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
periods = dates.map(period_of_date)

# Published Easter Sundays (Western churches).
KNOWN_EASTERS = {
    2000: date(2000, 4, 23),
    2008: date(2008, 3, 23),
    2011: date(2011, 4, 24),
    2019: date(2019, 4, 21),
    2024: date(2024, 3, 31),
    2025: date(2025, 4, 20),
    2026: date(2026, 4, 5),
    2027: date(2027, 3, 28),
    2028: date(2028, 4, 16),
    2038: date(2038, 4, 25),
}


def test_easter_sunday_of_known_years() -> None:
    for year, easter in KNOWN_EASTERS.items():
        assert easter_sunday(year) == easter, year


@given(st.integers(min_value=1900, max_value=2200))
def test_easter_is_a_sunday_between_22_march_and_25_april(year: int) -> None:
    easter = easter_sunday(year)
    assert easter.weekday() == 6
    assert date(year, 3, 22) <= easter <= date(year, 4, 25)


def test_public_holidays_of_2026() -> None:
    assert public_holidays(2026) == {
        date(2026, 1, 1),
        date(2026, 4, 2),  # Maundy Thursday
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 1),
        date(2026, 5, 17),
        date(2026, 5, 14),  # Ascension
        date(2026, 5, 25),  # Whit Monday
        date(2026, 12, 25),
        date(2026, 12, 26),
    }


@given(dates)
def test_a_weekend_or_public_holiday_is_never_a_school_day(day: date) -> None:
    if day.weekday() >= 5 or day in public_holidays(day.year):
        assert not is_school_day(day)


@given(periods)
def test_school_days_are_the_periods_own_weekdays_in_order(period: str) -> None:
    days = school_days(period)
    assert list(days) == sorted(set(days))
    assert all(first_date(period) <= day <= last_date(period) for day in days)
    assert all(day.weekday() < 5 for day in days)
    assert len(days) <= 23


@given(periods, dates)
def test_elapsed_and_left_add_up_to_the_months_school_days(period: str, today: date) -> None:
    elapsed, left = school_days_elapsed(period, today)
    assert elapsed >= 0 and left >= 0
    assert elapsed + left == len(school_days(period))
    if today < first_date(period):
        assert elapsed == 0
    if today >= last_date(period):
        assert left == 0


@given(periods, dates, dates)
def test_elapsed_never_decreases_as_days_pass(period: str, one: date, other: date) -> None:
    earlier, later = sorted((one, other))
    assert school_days_elapsed(period, earlier)[0] <= school_days_elapsed(period, later)[0]


def test_the_tables_holidays_and_summer_are_not_school_days() -> None:
    for school_year in OSLO_SCHOOL_YEARS:
        for start, end in school_year.holidays:
            day = start
            while day <= end:
                assert not is_school_day(day), day
                day += timedelta(days=1)
        assert is_school_day(school_year.first_day)
        assert is_school_day(school_year.last_day)
        assert not is_school_day(school_year.first_day - timedelta(days=1))
        assert not is_school_day(school_year.last_day + timedelta(days=1))


def test_autumn_2026_has_the_week_40_holiday() -> None:
    october = school_days("2026-10")
    assert date(2026, 9, 28) not in school_days("2026-09")
    assert date(2026, 10, 1) not in october
    assert date(2026, 10, 5) in october
    assert len(october) == 20  # 22 weekdays less 1-2 October
    assert school_days("2026-07") == ()  # summer holiday


def test_outside_the_table_weeks_40_and_8_are_holidays() -> None:
    assert not is_school_day(date(2030, 10, 2))  # Wednesday of ISO week 40
    assert is_school_day(date(2030, 10, 9))
    assert not is_school_day(date(2031, 2, 19))  # Wednesday of ISO week 8


def test_elapsed_counts_today() -> None:
    assert school_days_elapsed("2026-10", date(2026, 10, 5)) == (1, 19)
    assert school_days_elapsed("2026-10", date(2026, 10, 4)) == (0, 20)
