"""How numbers, money and times read on the pages, in bokmål and English.

Money comes in as integer øre (the ledger's own unit), as `Decimal` kroner, or as
the two-decimal strings of settlement documents, never as float. Norwegian
writes `kr 12 687,50` (NO-BREAK SPACE between digit groups and after `kr`, so a
line never breaks inside an amount); English writes `NOK 12,687.50`. Times are
shown on Oslo's clock, where people read them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from ledger.domain.money import ore_from_decimal_half_even, ore_per_krone, parse_amount
from ledger.http.web.i18n import Language

NBSP: Final = "\u00a0"
OSLO: Final = ZoneInfo("Europe/Oslo")

_MONTHS: Final[dict[Language, tuple[str, ...]]] = {
    "nb": (
        "januar",
        "februar",
        "mars",
        "april",
        "mai",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "desember",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}
_WEEKDAYS: Final[dict[Language, tuple[str, ...]]] = {
    "nb": ("man.", "tir.", "ons.", "tor.", "fre.", "lør.", "søn."),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def _grouped(whole: int, separator: str) -> str:
    digits = str(whole)
    groups = [digits[max(0, end - 3) : end] for end in range(len(digits), 0, -3)]
    return separator.join(reversed(groups))


def amount_ore_of(amount: int | Decimal | str) -> int:
    """Øre of an amount: int is øre; Decimal and str are kroner (rounded half-even to øre)."""
    if isinstance(amount, bool) or not isinstance(amount, int | Decimal | str):
        raise TypeError(f"an amount is øre (int), kroner (Decimal or str), not {type(amount)}")
    if isinstance(amount, int):
        return amount
    if isinstance(amount, str):
        return parse_amount(amount)
    return ore_from_decimal_half_even(amount)


def format_amount(amount: int | Decimal | str, language: Language = "nb") -> str:
    ore = amount_ore_of(amount)
    sign = "-" if ore < 0 else ""
    kroner, rest = divmod(abs(ore), ore_per_krone)
    if language == "en":
        return f"NOK {sign}{_grouped(kroner, ',')}.{rest:02d}"
    return f"kr{NBSP}{sign}{_grouped(kroner, NBSP)},{rest:02d}"


def format_count(count: int, language: Language = "nb") -> str:
    sign = "-" if count < 0 else ""
    return sign + _grouped(abs(count), "," if language == "en" else NBSP)


def format_seconds(seconds: float, language: Language = "nb") -> str:
    """A duration to a tenth of a second (not money: a float is fine here)."""
    text = f"{seconds:.1f}"
    return text if language == "en" else text.replace(".", ",")


def format_period(period: str, language: Language = "nb") -> str:
    """`2026-10` as `oktober 2026` / `October 2026`."""
    year, month = period.split("-")
    return f"{_MONTHS[language][int(month) - 1]} {year}"


def format_day(day: date, language: Language = "nb") -> str:
    """A day in a table of days: `man. 5.10.` / `Mon 5 Oct`."""
    weekday = _WEEKDAYS[language][day.weekday()]
    if language == "en":
        return f"{weekday} {day.day} {_MONTHS['en'][day.month - 1][:3]}"
    return f"{weekday} {day.day}.{day.month}."


def format_date(day: date, language: Language = "nb") -> str:
    if language == "en":
        return f"{day.day} {_MONTHS['en'][day.month - 1]} {day.year}"
    return f"{day.day}.{NBSP}{_MONTHS['nb'][day.month - 1]} {day.year}"


def format_datetime(instant: datetime | str, language: Language = "nb") -> str:
    """An aware time (or ISO text) on Oslo's clock, to the second."""
    moment = datetime.fromisoformat(instant) if isinstance(instant, str) else instant
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the ledger's times are UTC
    local = moment.astimezone(OSLO)
    clock = local.strftime("%H:%M:%S")
    if language == "en":
        return f"{format_date(local.date(), 'en')}, {clock}"
    return f"{local.day}.{local.month}.{local.year} kl.{NBSP}{clock}"
