"""What the vendor page shows: per-day outcomes of a month, rejections, and who pays what.

A vendor sees only its own submissions and the settlements it is paid by: every
read here is confined to the principal's vendor, with the same checks the API
uses (`list_settlements`, `visible_usage`, `rejections_page`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.app.month_to_date import LicenceUsage, UnlicensedUsage, usage_so_far, visible_usage
from ledger.app.rejections import RejectionsPage, rejections_page
from ledger.app.settlement_reads import SettlementSummary, list_settlements, settlements_page_max
from ledger.app.workspace import WorkspaceError
from ledger.domain.invariants import invariant
from ledger.domain.periods import first_date, last_date, period_end_utc, period_start_utc
from ledger.domain.processing import STATUS_ACCEPTED, STATUS_REJECTED
from ledger.domain.tokens import Principal
from ledger.store.closings import closed_periods
from ledger.store.daily_counts import daily_counts

rejections_shown_default: Final = 50


@dataclass(frozen=True)
class DayCounts:
    """One Oslo day of a vendor's submissions, by what became of them."""

    day: date
    accepted: int = 0  # accepted and covered by a licence: billable use
    unlicensed: int = 0  # accepted, no licence covers it: recorded, never billed
    duplicates: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    @property
    def received(self) -> int:
        return self.accepted + self.unlicensed + self.duplicates + self.rejected


@dataclass(frozen=True)
class MunicipalityToDate:
    """What one municipality owes the vendor so far this month (excl. VAT), not yet settled."""

    municipality: str
    amount_ore: int
    licences: tuple[LicenceUsage, ...]
    unlicensed_events: int


@dataclass(frozen=True)
class VendorOverview:
    vendor: str
    period: str
    settled: bool  # the period has been closed: `settlements` are what is paid
    days: tuple[DayCounts, ...]  # every day of the month, in order
    total: DayCounts  # the month's sums (its `day` is the month's first)
    reasons: tuple[str, ...]  # reason codes that occur, sorted
    settlements: tuple[SettlementSummary, ...]
    month_to_date: tuple[MunicipalityToDate, ...]  # open periods only
    rejections: RejectionsPage


def fold_days(period: str, rows: list[tuple[date, str, bool, str, int]]) -> list[DayCounts]:
    """Pure: the grouped rows as one `DayCounts` per day of the month (zeros included)."""
    first, last = first_date(period), last_date(period)
    by_day: dict[date, DayCounts] = {
        first + timedelta(days=n): DayCounts(first + timedelta(days=n))
        for n in range((last - first).days + 1)
    }
    accepted: Counter[date] = Counter()
    unlicensed: Counter[date] = Counter()
    duplicates: Counter[date] = Counter()
    for day, status, is_unlicensed, reason, entries in rows:
        invariant(day in by_day, f"a count for {day} is outside {period}")
        if status == STATUS_ACCEPTED:
            (unlicensed if is_unlicensed else accepted)[day] += entries
        elif status == STATUS_REJECTED:
            reasons = by_day[day].rejected_by_reason
            reasons[reason] = reasons.get(reason, 0) + entries
        else:
            duplicates[day] += entries
    return [
        DayCounts(
            day,
            accepted=accepted[day],
            unlicensed=unlicensed[day],
            duplicates=duplicates[day],
            rejected_by_reason=dict(sorted(counts.rejected_by_reason.items())),
        )
        for day, counts in sorted(by_day.items())
    ]


def month_total(period: str, days: list[DayCounts]) -> DayCounts:
    reasons: Counter[str] = Counter()
    for day in days:
        reasons.update(day.rejected_by_reason)
    return DayCounts(
        first_date(period),
        accepted=sum(d.accepted for d in days),
        unlicensed=sum(d.unlicensed for d in days),
        duplicates=sum(d.duplicates for d in days),
        rejected_by_reason=dict(sorted(reasons.items())),
    )


def _by_municipality(
    licences: tuple[LicenceUsage, ...], unlicensed: tuple[UnlicensedUsage, ...]
) -> tuple[MunicipalityToDate, ...]:
    buyers = sorted({item.buyer for item in licences} | {u.municipality for u in unlicensed})
    return tuple(
        MunicipalityToDate(
            municipality=buyer,
            amount_ore=sum(item.amount_ore for item in licences if item.buyer == buyer),
            licences=tuple(item for item in licences if item.buyer == buyer),
            unlicensed_events=sum(u.events for u in unlicensed if u.municipality == buyer),
        )
        for buyer in buyers
    )


async def vendor_overview(
    conn: AsyncConnection,
    principal: Principal,
    period: str,
    rejections_cursor: str | None = None,
    rejections_limit: int = rejections_shown_default,
) -> VendorOverview:
    """The vendor page of `period` for a vendor token.

    Raises `ledger.app.rejections.CursorInvalid` for a rejections cursor not ours.
    """
    invariant(principal.scope == "vendor", "the vendor overview is for vendor tokens")
    vendor = principal.subject
    rows = await daily_counts(conn, vendor, period_start_utc(period), period_end_utc(period))
    days = fold_days(
        period, [(r.day, r.status, r.unlicensed, r.reason_code, r.entries) for r in rows]
    )
    total = month_total(period, days)
    invariant(total.received == sum(r.entries for r in rows), "the day folds lost or added entries")
    settled = period in {closed.period for closed in await closed_periods(conn)}
    settlements: tuple[SettlementSummary, ...] = ()
    to_date: tuple[MunicipalityToDate, ...] = ()
    if settled:
        page = await list_settlements(conn, principal, period, None, settlements_page_max)
        settlements = tuple(page.settlements)
    else:
        try:
            usage = visible_usage(await usage_so_far(conn, period), principal)
        except WorkspaceError:  # no catalogue yet: nothing is owed
            usage = None
        if usage is not None:
            to_date = _by_municipality(usage.licences, usage.unlicensed)
    rejections = await rejections_page(
        conn, vendor, period_start_utc(period), rejections_cursor, rejections_limit
    )
    return VendorOverview(
        vendor=vendor,
        period=period,
        settled=settled,
        days=tuple(days),
        total=total,
        reasons=tuple(total.rejected_by_reason),
        settlements=settlements,
        month_to_date=to_date,
        rejections=rejections,
    )
