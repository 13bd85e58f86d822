"""The vendor page: what became of the month's submissions, what to correct, who pays."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from ledger.app.rejections import CursorInvalid
from ledger.app.vendor_overview import VendorOverview, vendor_overview
from ledger.domain.periods import period_of
from ledger.http.auth import service_of
from ledger.http.web.charts import Series, stacked_bars_by_day
from ledger.http.web.formatting import format_day
from ledger.http.web.i18n import Language, reason_explanation, text
from ledger.http.web.pages import (
    VendorPage,
    checked_page_period,
    page_language,
    page_router,
    party_names,
    render_page,
)
from ledger.http.web.sessions import PageError

router = page_router()


def days_chart(overview: VendorOverview, language: Language) -> Markup:
    """Outcomes per day, stacked: billable first, then what was not billed, then refusals."""
    labels = [format_day(day.day, language) for day in overview.days]
    series = [
        Series(text(language, "col.accepted"), [d.accepted for d in overview.days]),
        Series(text(language, "col.unlicensed"), [d.unlicensed for d in overview.days]),
        Series(text(language, "col.duplicates"), [d.duplicates for d in overview.days]),
        *(
            Series(
                f"{text(language, 'col.rejected')}: {reason}",
                [d.rejected_by_reason.get(reason, 0) for d in overview.days],
            )
            for reason in overview.reasons
        ),
    ]
    return stacked_bars_by_day(
        text(language, "vendor.days.chart"),
        text(language, "vendor.days.desc"),
        labels,
        series,
        language,
    )


@router.get("/vendor")
async def vendor_page(
    request: Request,
    principal: VendorPage,
    period: Annotated[str | None, Query(max_length=7)] = None,
    cursor: Annotated[str | None, Query(max_length=1_024)] = None,
) -> HTMLResponse:
    month = checked_page_period(period, period_of(datetime.now(UTC)))
    try:
        async with service_of(request).connection() as conn:
            overview = await vendor_overview(conn, principal, month, cursor)
    except CursorInvalid as error:
        raise PageError(400, "error.bad_request") from error
    language = page_language(request)
    return render_page(
        request,
        "vendor.html",
        principal,
        overview=overview,
        chart=days_chart(overview, language),
        explanation_of=partial(reason_explanation, language),
        names=await party_names(request),
    )
