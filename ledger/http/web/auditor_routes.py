"""The auditor page: verification, chain heads, settlements with digests, and traces."""

from __future__ import annotations

import json
from typing import Annotated, Final

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ledger.app.auditor_overview import auditor_overview
from ledger.app.rejections import CursorInvalid
from ledger.app.settlement_reads import (
    LineOutOfRange,
    SettlementNotFound,
    read_settlement,
    trace_page,
)
from ledger.app.trace import trace_events_max
from ledger.app.verify import VerifyAlreadyRunning
from ledger.http.auditor import verify_runs
from ledger.http.auth import service_of
from ledger.http.web.pages import (
    AuditorPage,
    checked_page_period,
    page_router,
    party_names,
    render_page,
)
from ledger.http.web.sessions import PageError, require_same_origin

router = page_router()

trace_rows_per_page: Final = 100
trace_line_max: Final = 1_000_000


@router.get("/auditor")
async def auditor_page(
    request: Request,
    principal: AuditorPage,
    period: Annotated[str | None, Query(max_length=7)] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    verify: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    chosen = checked_page_period(period, "") or None
    try:
        async with service_of(request).connection() as conn:
            overview = await auditor_overview(conn, principal, chosen, cursor)
    except CursorInvalid as error:
        raise PageError(400, "error.bad_request") from error
    return render_page(
        request,
        "auditor.html",
        principal,
        overview=overview,
        latest=verify_runs(request).latest,
        verify_running=verify == "running",
        names=await party_names(request),
    )


@router.post("/auditor/verify")
async def start_verify(request: Request, _: AuditorPage) -> RedirectResponse:
    """Verify now and come back to the page, which shows the result (POST, then GET)."""
    require_same_origin(request)
    try:
        await verify_runs(request).run(service_of(request).ws)
    except VerifyAlreadyRunning:
        return RedirectResponse("/auditor?verify=running", status_code=303)
    return RedirectResponse("/auditor", status_code=303)


@router.get("/auditor/trace/{settlement_id}")
async def trace(
    request: Request,
    settlement_id: str,
    principal: AuditorPage,
    line: Annotated[int, Query(ge=1, le=trace_line_max)] = 1,
    offset: Annotated[int, Query(ge=0, le=trace_events_max)] = 0,
) -> HTMLResponse:
    try:
        async with service_of(request).connection() as conn:
            document = json.loads(
                (await read_settlement(conn, principal, settlement_id, "json")).content
            )
            page = await trace_page(conn, settlement_id, line, offset, trace_rows_per_page)
    except (SettlementNotFound, LineOutOfRange) as error:
        raise PageError(404, "error.not_found") from error
    return render_page(
        request,
        "trace.html",
        principal,
        document=document,
        settlement_id=settlement_id,
        page=page,
        previous_offset=max(0, offset - trace_rows_per_page) if offset > 0 else None,
        names=await party_names(request),
    )
