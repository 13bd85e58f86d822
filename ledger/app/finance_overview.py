"""The finance and school-owner page's read model: one municipality's month in one call.

For a settled month every amount is the settlement documents' (what was invoiced);
for the open month it is the month so far, priced as `usage_so_far` prices it (as if
the month closed now), with a forecast to month end by Oslo school days, priced by
the settlement code (`billing.forecast`). Counts of events and pupils come from the
ledger as known now, late events included.

A municipality's page never holds another municipality's data: every query is
confined to `municipality`, and a joint licence shows the licence's total only where
its cap is compared (the cap is on the total), never the other buyers' own use.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from billing.forecast import LicenceForecast, covered_pupils, forecast_licence
from ledger.app.month_to_date import UsageSoFar, usage_so_far
from ledger.app.settlement_reads import settlement_id
from ledger.app.workspace import WorkspaceError
from ledger.domain.catalogue import Catalogue, Licence
from ledger.domain.forecast import school_days_in_validity
from ledger.domain.invariants import invariant
from ledger.domain.money import ore_per_krone, parse_amount, round_half_even
from ledger.domain.periods import (
    next_period,
    parse_period,
    period_of_date,
    period_overlaps,
    previous_period,
)
from ledger.domain.school_calendar import school_days, school_days_elapsed
from ledger.domain.usage import BuyerUsage
from ledger.store.budgets import budgets_in_force
from ledger.store.catalogues import catalogue_version, latest_catalogue
from ledger.store.closings import (
    Closed,
    closed_periods,
    open_periods_with_usage,
    period_catalogue_version,
)
from ledger.store.settlements import settlement_texts
from ledger.store.usage_breakdown import (
    SchoolProductCount,
    late_event_counts,
    municipality_settlement_keys,
    unlicensed_counts,
    usage_breakdown,
)

# Under this share of the pupils a licence covers being active, it is flagged as
# little used: a quarter is low enough that a school owner should ask whether the
# licence is worth renewing (the partnership's "under-consumption"), high enough
# that a licence for a few year groups of a school is not flagged for being narrow.
little_used_active_share_percent: Final = 25
open_periods_listed_max: Final = 12  # open months offered besides the settled ones
settlements_per_period_max: Final = 1_000  # one municipality's vendors in one month

ForecastWarning = Literal["forecast_reaches_cap", "forecast_exceeds_budget"]


class UnknownMunicipality(LookupError):
    """The municipality is not in the catalogue."""


@dataclass(frozen=True)
class ProductName:
    id: str
    name: str


@dataclass(frozen=True)
class LicenceOverview:
    """One licence this municipality buys, for one month; money in øre."""

    licence: str
    products: tuple[ProductName, ...]
    metric: str
    unit: str | None
    joint: bool  # several buyers: the cap is on the licence's total, shared
    quantity: int  # the municipality's own (settled: the document's line)
    amount_ore: int  # its share (settled: the document's line; open: so far)
    # The licence's total over all buyers (what the cap limits) in an open month; in a
    # settled one the municipality's share, as its documents hold nothing of the others'.
    licence_amount_ore: int
    monthly_cap_ore: int | None  # on the licence's total
    cap_applied: bool
    budget_ore: int | None  # the municipality's budget for this licence and month
    last_month_amount_ore: int  # its share last month (0 without a line)
    forecast_ore: int  # its share at month end (settled: the amount)
    forecast_licence_ore: int  # the same at month end (settled: licence_amount_ore)
    warnings: tuple[ForecastWarning, ...]
    events: int
    active_pupils: int  # distinct pupils with an event under the licence this month
    pupils_covered: int  # pupils of this municipality's schools in the licence's scope
    cost_per_active_pupil_ore: int | None  # amount / active pupils, half-even; None: none
    little_used: bool  # see `little_used_active_share_percent`


@dataclass(frozen=True)
class VendorOverview:
    org_no: str
    name: str
    amount_ore: int  # this month's own lines (settled) or use so far (open), before VAT
    adjustments_ore: int  # late-event adjustment lines of this month's settlement
    last_month_amount_ore: int
    forecast_ore: int
    settlement_id: str | None  # None while the month is open or without a settlement
    unlicensed_events: int
    unlicensed_learners: int
    licences: tuple[LicenceOverview, ...]


@dataclass(frozen=True)
class SchoolProductUsage:
    school: str
    school_name: str
    vendor: str
    product: str
    product_name: str
    events: int
    active_pupils: int


@dataclass(frozen=True)
class UnlicensedUse:
    vendor: str
    vendor_name: str
    product: str
    product_name: str
    school: str
    school_name: str
    events: int
    learners: int  # any role, as the settlement counts them
    pupils: int


@dataclass(frozen=True)
class LateAdjustment:
    """One adjustment line: late events of `usage_period` changed `licence` by `amount_ore`."""

    settlement_id: str
    vendor: str
    usage_period: str
    licence: str
    late_events: int  # this municipality's events of usage_period that came after it closed
    quantity_change: int
    amount_change_ore: int


@dataclass(frozen=True)
class FinancePeriod:
    period: str
    settled: bool


@dataclass(frozen=True)
class FinanceOverview:
    municipality: str
    municipality_name: str
    period: str
    today: date
    settled: bool
    catalogue_version: int
    school_days_total: int
    school_days_elapsed: int
    school_days_left: int
    amount_ore: int  # all vendors, before VAT and adjustments
    forecast_ore: int
    vendors: tuple[VendorOverview, ...]  # by name
    schools: tuple[SchoolProductUsage, ...]  # largest first, bounded
    unlicensed: tuple[UnlicensedUse, ...]  # largest first, bounded
    adjustments: tuple[LateAdjustment, ...]
    downloads: tuple[str, ...]  # settlement ids, newest period first


# ---------------------------------------------------------------------------------------
# Pure helpers


def cost_per_pupil_ore(amount_ore: int, pupils: int) -> int | None:
    """Øre per active pupil, rounded half-even (the ledger's one rounding rule)."""
    if pupils <= 0:
        return None
    quotient, remainder = divmod(amount_ore, pupils)
    if remainder * 2 > pupils or (remainder * 2 == pupils and quotient % 2 == 1):
        return quotient + 1
    return quotient


def is_little_used(amount_ore: int, active_pupils: int, pupils_covered: int) -> bool:
    """Paid for, yet fewer than the threshold share of its pupils use it."""
    return (
        amount_ore > 0
        and pupils_covered > 0
        and active_pupils * 100 < pupils_covered * little_used_active_share_percent
    )


def forecast_warnings(
    reaches_cap: bool, forecast_ore: int, budget_ore: int | None
) -> tuple[ForecastWarning, ...]:
    warnings: list[ForecastWarning] = []
    if reaches_cap:
        warnings.append("forecast_reaches_cap")
    if budget_ore is not None and forecast_ore > budget_ore:
        warnings.append("forecast_exceeds_budget")
    return tuple(warnings)


def _cap_ore(licence: Licence) -> int | None:
    cap = licence.pricing.monthly_cap
    return None if cap is None else round_half_even(cap * ore_per_krone)


def _buys(licence: Licence, municipality: str, period: str) -> bool:
    return municipality in licence.buyers and period_overlaps(
        period, licence.valid_from, licence.valid_to
    )


def _usage_by_licence(usage: UsageSoFar) -> dict[str, dict[str, BuyerUsage]]:
    by_licence: dict[str, dict[str, BuyerUsage]] = defaultdict(dict)
    for item in usage.licences:
        if item.quantity > 0:
            by_licence[item.licence][item.buyer] = BuyerUsage(item.quantity, dict(item.schools))
    return by_licence


def _shares(usage: UsageSoFar, municipality: str) -> dict[str, int]:
    return {item.licence: item.amount_ore for item in usage.licences if item.buyer == municipality}


def _document_shares(documents: Iterable[Mapping[str, Any]], period: str) -> dict[str, int]:
    """Licence -> the municipality's own (not adjustment) line amounts of `period`."""
    shares: dict[str, int] = defaultdict(int)
    for document in documents:
        for line in document["lines"]:
            if not line.get("adjustment", False) and line["usage_period"] == period:
                shares[str(line["licence"])] += parse_amount(str(line["amount"]))
    return dict(shares)


# ---------------------------------------------------------------------------------------
# Reads


async def _documents(conn: AsyncConnection, municipality: str, period: str) -> list[dict[str, Any]]:
    texts = await settlement_texts(
        conn,
        period=period,
        municipality=municipality,
        vendor=None,
        after=None,
        limit=settlements_per_period_max,
    )
    documents: list[dict[str, Any]] = [json.loads(text) for text in texts]
    for document in documents:
        invariant(
            document["municipality"] == municipality and document["period"] == period,
            f"settlement {document['period']}/{document['municipality']} read for {municipality}",
        )
    return documents


async def _last_month_shares(
    conn: AsyncConnection, municipality: str, period: str, closed: Sequence[Closed]
) -> dict[str, int]:
    """Licence -> the municipality's share last month: invoiced if settled, else so far."""
    previous = previous_period(period)
    if previous in {c.period for c in closed}:
        return _document_shares(await _documents(conn, municipality, previous), previous)
    return _shares(await usage_so_far(conn, previous), municipality)


async def _adjustments(
    conn: AsyncConnection,
    municipality: str,
    period: str,
    documents: Sequence[Mapping[str, Any]],
    closed: Sequence[Closed],
) -> list[LateAdjustment]:
    heads = {c.period: c.heads for c in closed}
    adjustment_lines = [
        (document, line)
        for document in documents
        for line in document["lines"]
        if line.get("adjustment", False)
    ]
    late: dict[str, dict[str, int]] = {}
    for usage_period in sorted({str(line["usage_period"]) for _, line in adjustment_lines}):
        invariant(usage_period in heads, f"adjustment for {usage_period}, which never closed")
        late[usage_period] = await late_event_counts(
            conn, municipality, usage_period, heads[usage_period], heads[period]
        )
    return [
        LateAdjustment(
            settlement_id=settlement_id((period, municipality, str(document["vendor"]))),
            vendor=str(document["vendor"]),
            usage_period=str(line["usage_period"]),
            licence=str(line["licence"]),
            late_events=late[str(line["usage_period"])].get(str(line["licence"]), 0),
            quantity_change=int(line["quantity"]),
            amount_change_ore=parse_amount(str(line["amount"])),
        )
        for document, line in adjustment_lines
    ]


@dataclass(frozen=True)
class _Month:
    """A month's amounts for one municipality, whichever way they were obtained."""

    catalogue: Catalogue
    catalogue_version: int
    shares: dict[str, int]  # licence -> the municipality's share
    quantities: dict[str, int]  # licence -> the municipality's own quantity
    licence_amounts: dict[str, int]  # licence -> total over buyers
    cap_applied: dict[str, bool]
    forecasts: dict[str, LicenceForecast]  # open months only
    unlicensed: dict[str, tuple[int, int]]  # vendor -> (events, learners)
    documents: list[dict[str, Any]]  # settled months only


async def _settled_month(
    conn: AsyncConnection, municipality: str, period: str, version: int
) -> _Month:
    documents = await _documents(conn, municipality, period)
    quantities: dict[str, int] = defaultdict(int)
    cap_applied: dict[str, bool] = defaultdict(bool)
    for document in documents:
        for line in document["lines"]:
            if not line.get("adjustment", False):
                quantities[str(line["licence"])] += int(line["quantity"])
                cap_applied[str(line["licence"])] |= bool(line.get("cap_applied", False))
    shares = _document_shares(documents, period)
    return _Month(
        catalogue=await catalogue_version(conn, version),
        catalogue_version=version,
        shares=shares,
        quantities=dict(quantities),
        licence_amounts=dict(shares),  # the other buyers' shares are theirs to see
        cap_applied=dict(cap_applied),
        forecasts={},
        unlicensed={
            str(d["vendor"]): (int(d["unlicensed"]["events"]), int(d["unlicensed"]["learners"]))
            for d in documents
        },
        documents=documents,
    )


async def _open_month(conn: AsyncConnection, municipality: str, period: str, today: date) -> _Month:
    usage = await usage_so_far(conn, period)
    latest = await latest_catalogue(conn)
    invariant(latest is not None, "usage_so_far found a catalogue")
    catalogue = latest.catalogue if latest is not None else Catalogue((), (), ())
    days = school_days(period)
    by_licence = _usage_by_licence(usage)
    forecasts: dict[str, LicenceForecast] = {}
    for licence in catalogue.licences:
        if not _buys(licence, municipality, period):
            continue
        elapsed, left = school_days_in_validity(days, today, licence.valid_from, licence.valid_to)
        forecasts[licence.id] = forecast_licence(
            licence, catalogue, by_licence.get(licence.id, {}), elapsed, left
        )
    mine = [item for item in usage.licences if item.buyer == municipality]
    return _Month(
        catalogue=catalogue,
        catalogue_version=usage.catalogue_version,
        shares={item.licence: item.amount_ore for item in mine},
        quantities={item.licence: item.quantity for item in mine},
        licence_amounts={item.licence: item.licence_amount_ore for item in mine},
        cap_applied={item.licence: item.cap_applied for item in mine},
        forecasts=forecasts,
        unlicensed={
            u.vendor: (u.events, u.learners)
            for u in usage.unlicensed
            if u.municipality == municipality
        },
        documents=[],
    )


def _licence_overview(
    licence: Licence,
    month: _Month,
    municipality: str,
    *,
    budget_ore: int | None,
    last_month_ore: int,
    events: int,
    active_pupils: int,
) -> LicenceOverview:
    catalogue = month.catalogue
    vendor = catalogue.vendor(licence.vendor)
    names = {p.id: p.name for p in vendor.products} if vendor is not None else {}
    amount = month.shares.get(licence.id, 0)
    forecast = month.forecasts.get(licence.id)
    licence_amount = month.licence_amounts.get(licence.id, amount)
    forecast_ore = forecast.buyer_forecast_ore(municipality) if forecast else amount
    forecast_licence_ore = forecast.projected.amount_ore if forecast else licence_amount
    cap = _cap_ore(licence)
    # The cap is on the licence's total: open months compare the projected total with it;
    # a settled month reached it when its lines say the cap applied.
    if forecast is not None:
        reaches_cap = cap is not None and forecast_licence_ore >= cap
    else:
        reaches_cap = cap is not None and month.cap_applied.get(licence.id, False)
    pupils_covered = sum(covered_pupils(licence, catalogue, municipality).values())
    return LicenceOverview(
        licence=licence.id,
        products=tuple(ProductName(p, names.get(p, p)) for p in licence.products),
        metric=licence.pricing.metric,
        unit=licence.pricing.unit,
        joint=len(licence.buyers) > 1,
        quantity=month.quantities.get(licence.id, 0),
        amount_ore=amount,
        licence_amount_ore=licence_amount,
        monthly_cap_ore=cap,
        cap_applied=month.cap_applied.get(licence.id, False),
        budget_ore=budget_ore,
        last_month_amount_ore=last_month_ore,
        forecast_ore=forecast_ore,
        forecast_licence_ore=forecast_licence_ore,
        warnings=forecast_warnings(reaches_cap, forecast_ore, budget_ore),
        events=events,
        active_pupils=active_pupils,
        pupils_covered=pupils_covered,
        cost_per_active_pupil_ore=cost_per_pupil_ore(amount, active_pupils),
        little_used=is_little_used(amount, active_pupils, pupils_covered),
    )


async def finance_overview(
    conn: AsyncConnection, municipality: str, period: str, today: date
) -> FinanceOverview:
    """Everything the finance page shows for `municipality` and `period`, seen on Oslo
    date `today`. Raises `UnknownMunicipality`, `WorkspaceError` (no catalogue) and
    `ValueError` (a malformed period)."""
    parse_period(period)
    latest = await latest_catalogue(conn)
    if latest is None:
        raise WorkspaceError("no catalogue loaded: run `ledger catalogue load FILE` first")
    named = latest.catalogue.municipality(municipality)
    if named is None:
        raise UnknownMunicipality(municipality)
    closed = await closed_periods(conn)
    close = next((c for c in closed if c.period == period), None)
    if close is not None:
        version = await period_catalogue_version(conn, period)
        month = await _settled_month(conn, municipality, period, version)
    else:
        month = await _open_month(conn, municipality, period, today)
    catalogue = month.catalogue
    budgets = await budgets_in_force(conn, municipality, period)
    last_month = await _last_month_shares(conn, municipality, period, closed)
    breakdown = await usage_breakdown(conn, municipality, period)
    counts = breakdown.licences
    licences = [
        licence
        for licence in catalogue.licences
        if _buys(licence, municipality, period) or licence.id in month.shares
    ]
    overviews = [
        _licence_overview(
            licence,
            month,
            municipality,
            budget_ore=budgets.get(licence.id),
            last_month_ore=last_month.get(licence.id, 0),
            events=counts[licence.id].events if licence.id in counts else 0,
            active_pupils=counts[licence.id].pupils if licence.id in counts else 0,
        )
        for licence in sorted(licences, key=lambda lic: lic.id)
    ]
    adjustments = (
        await _adjustments(conn, municipality, period, month.documents, closed) if close else []
    )
    vendors = _vendors(catalogue, municipality, period, month, overviews, adjustments, last_month)
    elapsed, left = school_days_elapsed(period, today)
    return FinanceOverview(
        municipality=municipality,
        municipality_name=named.name,
        period=period,
        today=today,
        settled=close is not None,
        catalogue_version=month.catalogue_version,
        school_days_total=elapsed + left,
        school_days_elapsed=elapsed,
        school_days_left=left,
        amount_ore=sum(v.amount_ore for v in vendors),
        forecast_ore=sum(v.forecast_ore for v in vendors),
        vendors=tuple(vendors),
        schools=tuple(_schools(latest.catalogue, breakdown.schools)),
        unlicensed=tuple(await _unlicensed(conn, latest.catalogue, municipality, period)),
        adjustments=tuple(adjustments),
        downloads=tuple(
            settlement_id(key) for key in await municipality_settlement_keys(conn, municipality)
        ),
    )


def _vendors(
    catalogue: Catalogue,
    municipality: str,
    period: str,
    month: _Month,
    overviews: Sequence[LicenceOverview],
    adjustments: Sequence[LateAdjustment],
    last_month: Mapping[str, int],
) -> list[VendorOverview]:
    licence_vendor = {lic.id: lic.vendor for lic in catalogue.licences}
    by_vendor: dict[str, list[LicenceOverview]] = defaultdict(list)
    for overview in overviews:
        by_vendor[licence_vendor[overview.licence]].append(overview)
    documents = {str(d["vendor"]): d for d in month.documents}
    org_nos = set(by_vendor) | set(documents) | set(month.unlicensed)
    vendors: list[VendorOverview] = []
    for org_no in org_nos:
        vendor = catalogue.vendor(org_no)
        items = by_vendor.get(org_no, [])
        amount = sum(item.amount_ore for item in items)
        adjusted = sum(a.amount_change_ore for a in adjustments if a.vendor == org_no)
        document = documents.get(org_no)
        if document is not None:
            # Pair check: the page's amounts add up to what the settlement invoiced.
            invariant(
                amount + adjusted == parse_amount(str(document["subtotal"])),
                f"finance overview of {period}/{municipality}/{org_no} disagrees with the"
                " settlement",
            )
        events, learners = month.unlicensed.get(org_no, (0, 0))
        vendors.append(
            VendorOverview(
                org_no=org_no,
                name=vendor.name if vendor is not None else org_no,
                amount_ore=amount,
                adjustments_ore=adjusted,
                last_month_amount_ore=sum(
                    share
                    for licence, share in last_month.items()
                    if licence_vendor.get(licence) == org_no
                ),
                forecast_ore=sum(item.forecast_ore for item in items),
                settlement_id=(
                    settlement_id((period, municipality, org_no)) if document is not None else None
                ),
                unlicensed_events=events,
                unlicensed_learners=learners,
                licences=tuple(items),
            )
        )
    return sorted(vendors, key=lambda v: (v.name, v.org_no))


def _product_name(catalogue: Catalogue, vendor: str, product: str) -> str:
    found = catalogue.vendor(vendor)
    if found is None:
        return product
    return next((p.name for p in found.products if p.id == product), product)


def _school_name(catalogue: Catalogue, school: str) -> str:
    found = catalogue.school(school)
    return found.name if found is not None else school


def _schools(
    catalogue: Catalogue, counts: Sequence[SchoolProductCount]
) -> list[SchoolProductUsage]:
    return [
        SchoolProductUsage(
            school=row.school,
            school_name=_school_name(catalogue, row.school),
            vendor=row.vendor,
            product=row.product,
            product_name=_product_name(catalogue, row.vendor, row.product),
            events=row.events,
            active_pupils=row.pupils,
        )
        for row in counts
    ]


async def _unlicensed(
    conn: AsyncConnection, catalogue: Catalogue, municipality: str, period: str
) -> list[UnlicensedUse]:
    rows = await unlicensed_counts(conn, municipality, period)
    result: list[UnlicensedUse] = []
    for row in rows:
        vendor = catalogue.vendor(row.vendor)
        result.append(
            UnlicensedUse(
                vendor=row.vendor,
                vendor_name=vendor.name if vendor is not None else row.vendor,
                product=row.product,
                product_name=_product_name(catalogue, row.vendor, row.product),
                school=row.school,
                school_name=_school_name(catalogue, row.school),
                events=row.events,
                learners=row.learners,
                pupils=row.pupils,
            )
        )
    return result


async def finance_periods(
    conn: AsyncConnection, municipality: str, today: date
) -> tuple[FinancePeriod, ...]:
    """The months a municipality can look at, newest first (for a month picker): those
    settled for it, and the open ones: months with use not yet settled, and every month
    after the last closing up to today's (at most `open_periods_listed_max`)."""
    settled = {key[0] for key in await municipality_settlement_keys(conn, municipality)}
    closed = await closed_periods(conn)
    current = period_of_date(today)
    open_periods = set(await open_periods_with_usage(conn, current))
    period = next_period(closed[-1].period) if closed else current
    while period <= current and len(open_periods) <= open_periods_listed_max:
        open_periods.add(period)
        period = next_period(period)
    newest_open = sorted(open_periods - settled, reverse=True)[:open_periods_listed_max]
    listed = [FinancePeriod(p, False) for p in newest_open] + [
        FinancePeriod(p, True) for p in settled
    ]
    return tuple(sorted(listed, key=lambda item: item.period, reverse=True))
