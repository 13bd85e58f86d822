"""The finance and school-owner page (municipality tokens): one month of one municipality.

The numbers are `finance_overview`'s (settled months: the settlement documents'; the
open month: use so far, with a forecast by Oslo school days). This module only turns
them into words and pictures for people: the warnings and late-event adjustments as
sentences in the page's language, and the charts, each beside a table of the same
numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Final

from fastapi import Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from ledger.app.finance_overview import (
    FinanceOverview,
    FinancePeriod,
    LateAdjustment,
    LicenceOverview,
    UnknownMunicipality,
    finance_overview,
    finance_periods,
    little_used_active_share_percent,
)
from ledger.app.workspace import WorkspaceError
from ledger.domain.periods import oslo_date, period_of_date
from ledger.domain.tokens import Principal
from ledger.http.auth import service_of
from ledger.http.web.charts import Series, bar_chart
from ledger.http.web.formatting import format_amount, format_count, format_period
from ledger.http.web.i18n import Language, text
from ledger.http.web.pages import (
    MunicipalityPage,
    checked_page_period,
    page_language,
    page_router,
    party_names,
    render_page,
)
from ledger.http.web.sessions import PageError

router = page_router()

licences_charted_max: Final = 20  # bars of one licence chart, largest first
schools_charted_max: Final = 10  # the top schools by events
school_rows_shown_max: Final = 200  # of the read model's (school, product) rows
unlicensed_rows_shown_max: Final = 100  # of its (product, school) rows of unlicensed use
rows_first: Final = 15  # rows of a long table shown open; the rest behind <details>
downloads_shown_max: Final = 240  # settlements listed: two years of ten vendors
chart_row_px: Final = 22  # height of one bar in a horizontal chart
chart_base_px: Final = 190  # axes, value labels, margins and the first legend row
chart_min_px: Final = 260  # below this pygal clips the legend of a chart of a few bars


@dataclass(frozen=True)
class PageWarning:
    """A warning for the headline: the licence, the reason code and the sentence."""

    licence: str
    code: str
    sentence: str


@dataclass(frozen=True)
class Adjustment:
    adjustment: LateAdjustment
    sentence: str


@dataclass(frozen=True)
class Download:
    settlement_id: str
    period: str
    vendor: str
    has_lines: bool  # False: only unlicensed use, so no e-invoice to offer


def warning_sentence(licence: LicenceOverview, code: str, settled: bool, language: Language) -> str:
    """Say what crosses what, with the amounts, in the page's language."""

    def money(ore: int) -> str:
        return format_amount(ore, language)

    if code == "forecast_reaches_cap":
        cap = licence.monthly_cap_ore or 0
        key = "finance.warning.cap_reached" if settled else "finance.warning.cap"
        total = licence.licence_amount_ore if settled else licence.forecast_licence_ore
        return text(language, key).format(
            licence=licence.licence, amount=money(total), cap=money(cap)
        )
    budget = licence.budget_ore or 0
    key = "finance.warning.budget_exceeded" if settled else "finance.warning.budget"
    return text(language, key).format(
        licence=licence.licence, amount=money(licence.forecast_ore), budget=money(budget)
    )


def adjustment_sentence(adjustment: LateAdjustment, language: Language) -> str:
    """`12 sene hendelser fra september 2026 økte L-2026-001 med kr 150,00`, and the like.

    No late events of this municipality yet a change: a joint licence's share moved
    because another buyer's late events changed the licence's total.
    """
    change = adjustment.amount_change_ore
    direction = "up" if change > 0 else "down"
    fields = {
        "count": format_count(adjustment.late_events, language),
        "month": format_period(adjustment.usage_period, language),
        "licence": adjustment.licence,
        "amount": format_amount(abs(change), language),
    }
    if adjustment.late_events == 0:
        return text(language, f"finance.adjustment.shared.{direction}").format(**fields)
    number = "one" if adjustment.late_events == 1 else "many"
    return text(language, f"finance.adjustment.{number}.{direction}").format(**fields)


def quantity_change_text(adjustment: LateAdjustment, language: Language) -> str:
    sign = "+" if adjustment.quantity_change > 0 else ""
    return text(language, "finance.adjustment.quantity").format(
        change=sign + format_count(adjustment.quantity_change, language)
    )


def _licence_label(licence: LicenceOverview) -> str:
    names = ", ".join(product.name for product in licence.products[:2])
    return f"{licence.licence} · {names}" if names else licence.licence


def _chart_height(bars: int) -> int:
    return max(chart_min_px, chart_base_px + chart_row_px * bars)


def licences_chart(overview: FinanceOverview, language: Language) -> Markup | None:
    """Spend per licence (largest first) beside its forecast, cap, budget and last month.

    A joint licence's cap limits the licence's total, not this municipality's share, so
    its cap bar is left out (the table says so) rather than drawn against the share.
    """
    licences = sorted(
        (item for vendor in overview.vendors for item in vendor.licences),
        key=lambda item: (-max(item.amount_ore, item.forecast_ore), item.licence),
    )[:licences_charted_max]
    if not licences:
        return None
    spent_key = "finance.chart.settled" if overview.settled else "finance.chart.so_far"
    series = [Series(text(language, spent_key), [item.amount_ore for item in licences])]
    if not overview.settled:
        series.append(
            Series(text(language, "col.forecast"), [item.forecast_ore for item in licences])
        )
    comparisons = [
        Series(
            text(language, "col.cap"),
            [None if item.joint else item.monthly_cap_ore for item in licences],
        ),
        Series(text(language, "col.budget"), [item.budget_ore for item in licences]),
        Series(text(language, "col.last_month"), [item.last_month_amount_ore for item in licences]),
    ]
    # A comparison no licence has (no caps, no budgets set, nothing last month) is left
    # out: an empty colour in the legend only makes people look for bars that are not there.
    series += [part for part in comparisons if any(part.values)]
    return bar_chart(
        text(language, "finance.chart.licences"),
        text(language, "finance.chart.licences.desc"),
        [_licence_label(item) for item in licences],
        series,
        language,
        money=True,
        horizontal=True,
        height=_chart_height(len(licences) * len(series)),
    )


def schools_chart(overview: FinanceOverview, language: Language) -> Markup | None:
    """Events per school (all products), the largest `schools_charted_max`."""
    events: dict[str, int] = defaultdict(int)
    names: dict[str, str] = {}
    for row in overview.schools:
        events[row.school] += row.events
        names[row.school] = row.school_name
    top = sorted(events, key=lambda school: (-events[school], school))[:schools_charted_max]
    if not top:
        return None
    return bar_chart(
        text(language, "finance.chart.schools"),
        text(language, "finance.chart.schools.desc"),
        [names[school] for school in top],
        [Series(text(language, "col.events"), [events[school] for school in top])],
        language,
        horizontal=True,
        height=_chart_height(len(top)),
    )


def _downloads(overview: FinanceOverview) -> list[Download]:
    """This municipality's settlements, newest first; whether each has lines is known only
    for the month shown (other months offer the e-invoice, which answers clearly if none)."""
    lined = {
        vendor.settlement_id: any(item.quantity or item.amount_ore for item in vendor.licences)
        or any(a.vendor == vendor.org_no for a in overview.adjustments)
        for vendor in overview.vendors
        if vendor.settlement_id is not None
    }
    downloads: list[Download] = []
    for settlement_id in overview.downloads[:downloads_shown_max]:
        period, _, vendor = settlement_id.split("_", 2)
        downloads.append(Download(settlement_id, period, vendor, lined.get(settlement_id, True)))
    return downloads


def _period_choices(periods: Sequence[FinancePeriod], shown: str) -> list[FinancePeriod]:
    """The picker's months; the month shown is among them even when nothing is in it."""
    choices = list(periods)
    if shown not in {item.period for item in choices}:
        choices.append(FinancePeriod(shown, False))
    return sorted(choices, key=lambda item: item.period, reverse=True)


def oslo_today() -> date:
    return oslo_date(datetime.now(UTC))


@router.get("/finance")
async def finance_page(
    request: Request,
    principal: MunicipalityPage,
    period: Annotated[str | None, Query(max_length=7)] = None,
) -> HTMLResponse:
    today = oslo_today()
    try:
        month = checked_page_period(period, period_of_date(today))
    except PageError as error:
        raise PageError(400, "finance.bad_period") from error
    return await render_finance(request, principal, month, today)


async def render_finance(
    request: Request, principal: Principal, month: str, today: date
) -> HTMLResponse:
    language = page_language(request)
    try:
        async with service_of(request).connection() as conn:
            periods = await finance_periods(conn, principal.subject, today)
            overview = await finance_overview(conn, principal.subject, month, today)
    except WorkspaceError:
        return render_page(
            request,
            "finance.html",
            principal,
            overview=None,
            period=month,
            periods=[FinancePeriod(month, False)],
            names={},
        )
    except UnknownMunicipality as error:
        raise PageError(404, "finance.unknown_municipality") from error
    licences = [item for vendor in overview.vendors for item in vendor.licences]
    warnings = [
        PageWarning(item.licence, code, warning_sentence(item, code, overview.settled, language))
        for item in licences
        for code in item.warnings
    ]
    shown_schools = overview.schools[:school_rows_shown_max]
    return render_page(
        request,
        "finance.html",
        principal,
        overview=overview,
        period=month,
        periods=_period_choices(periods, month),
        names=await party_names(request),
        licences=licences,
        warnings=warnings,
        adjustments=[Adjustment(a, adjustment_sentence(a, language)) for a in overview.adjustments],
        quantity_change=lambda a: quantity_change_text(a, language),
        licences_chart=licences_chart(overview, language),
        schools_chart=schools_chart(overview, language),
        shown_schools=shown_schools,
        shown_unlicensed=overview.unlicensed[:unlicensed_rows_shown_max],
        rows_first=rows_first,
        downloads=_downloads(overview),
        little_used_percent=little_used_active_share_percent,
        last_month_ore=sum(v.last_month_amount_ore for v in overview.vendors),
        adjustments_ore=sum(v.adjustments_ore for v in overview.vendors),
    )
