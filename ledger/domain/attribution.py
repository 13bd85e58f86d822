"""Attribution (CONTRACT 5.2): which licence covers an accepted event.

Licence L covers an event when L's vendor is the event's, the product is in L's
products, the school's municipality is one of L's buyers, the school is in L's schools
(or L has `all`), and the event's Europe/Oslo date is within [valid_from, valid_to].
When several cover it: a licence listing schools wins over one with `all`; then the
later valid_from; then the smaller licence id.

This runs for every event, so the index does the work once per catalogue version:
candidates per (vendor, product, municipality) are pre-sorted by precedence, so the
first candidate that covers the event is the answer; validity is pre-converted from
Oslo dates to UTC instants, so no time zone arithmetic happens per event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from ledger.domain.catalogue import Catalogue, Licence
from ledger.domain.invariants import invariant
from ledger.domain.periods import OSLO


@dataclass(frozen=True, slots=True)
class _Candidate:
    licence: Licence
    schools: frozenset[str] | None  # None = all schools of the buyers
    starts_at: datetime  # UTC instant of Oslo midnight at valid_from, inclusive
    ends_before: datetime  # UTC instant of Oslo midnight the day after valid_to, exclusive


def oslo_midnight(day: date) -> datetime:
    """The UTC instant at which `day` begins on Oslo's clock (midnight always exists there:
    Norway changes clocks at 02:00/03:00)."""
    return datetime.combine(day, time(0), tzinfo=OSLO).astimezone(UTC)


def precedence(licence: Licence) -> tuple[int, int, str]:
    """Sort key: earlier wins. Listing schools beats `all`; later valid_from; smaller id."""
    return (0 if licence.schools is not None else 1, -licence.valid_from.toordinal(), licence.id)


class AttributionIndex:
    """Built once per catalogue version; `attribute` is then a dict look-up and a short scan."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue
        school_municipality: dict[str, str] = {}
        for municipality in catalogue.municipalities:
            for school in municipality.schools:
                school_municipality.setdefault(school.id, municipality.id)
        self._school_municipality = school_municipality
        grouped: dict[tuple[str, str, str], list[_Candidate]] = {}
        for licence in catalogue.licences:
            candidate = _candidate(licence)
            for key in _keys(licence):
                grouped.setdefault(key, []).append(candidate)
        self._candidates: dict[tuple[str, str, str], tuple[_Candidate, ...]] = {
            key: tuple(sorted(candidates, key=lambda c: precedence(c.licence)))
            for key, candidates in grouped.items()
        }

    @property
    def catalogue(self) -> Catalogue:
        return self._catalogue

    def attribute(
        self, vendor: str, product: str, school: str, occurred_at: datetime
    ) -> Licence | None:
        """The licence that covers the event, or None (unlicensed)."""
        municipality = self._school_municipality.get(school)
        if municipality is None:
            return None
        candidates = self._candidates.get((vendor, product, municipality))
        if candidates is None:
            return None
        invariant(occurred_at.tzinfo is not None, "occurred_at must be timezone-aware")
        for candidate in candidates:
            if candidate.starts_at <= occurred_at < candidate.ends_before and (
                candidate.schools is None or school in candidate.schools
            ):
                return candidate.licence
        return None


def _candidate(licence: Licence) -> _Candidate:
    return _Candidate(
        licence=licence,
        schools=None if licence.schools is None else frozenset(licence.schools),
        starts_at=oslo_midnight(licence.valid_from),
        ends_before=_day_after_ends(licence.valid_to),
    )


def _day_after_ends(day: date) -> datetime:
    if day == date.max:
        return datetime.max.replace(tzinfo=UTC)  # no day after 9999-12-31: open-ended
    return oslo_midnight(day + timedelta(days=1))


def _keys(licence: Licence) -> Iterable[tuple[str, str, str]]:
    for product in dict.fromkeys(licence.products):
        for buyer in dict.fromkeys(licence.buyers):
            yield (licence.vendor, product, buyer)
