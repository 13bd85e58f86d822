"""Settlements for the parties: the list, one settlement as JSON, CSV or EHF, and its trace.

A municipality token reads its own settlements, a vendor token those it is paid by,
auditor and admin tokens all. Another party's settlement is 404, like one that does
not exist. The JSON of a settlement is the document as issued (CONTRACT section 6),
byte for byte what `ledger export --format json` writes.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from ledger.app.export import EhfInvalid
from ledger.app.rejections import CursorInvalid
from ledger.app.settlement_reads import (
    LineOutOfRange,
    NothingToInvoice,
    SettlementFormat,
    SettlementNotFound,
    SettlementSummary,
    list_settlements,
    read_settlement,
    settlements_page_default,
    settlements_page_max,
    trace_page,
    trace_page_default,
    trace_page_max,
)
from ledger.app.trace import trace_events_max
from ledger.domain.tokens import Principal
from ledger.http.auth import allow, service_of
from ledger.http.errors import ApiError
from ledger.http.params import PERIOD_PATTERN, PeriodQuery, checked_period, cursor_query

log = logging.getLogger(__name__)
router = APIRouter(tags=["settlements"])

AMOUNT_PATTERN: Final = r"^-?[0-9]+\.[0-9]{2}$"
# A settlement id: the exact period, a kommunenummer and an organisation number.
SETTLEMENT_ID_PATTERN: Final = PERIOD_PATTERN.removesuffix("$") + r"_[0-9]{4}_[0-9]{9}$"
trace_line_max: Final = 1_000_000  # far above any settlement's line count

# Media ranges a client may accept, and the format each one gets (the first listed wins).
_FORMAT_OF_MEDIA: Final[dict[str, SettlementFormat]] = {
    "application/json": "json",
    "text/csv": "csv",
    "application/xml": "ehf",
    "text/xml": "ehf",
    "application/*": "json",
    "text/*": "csv",
    "*/*": "json",
}


class Unlicensed(BaseModel):
    events: int
    learners: int


class SettlementLine(BaseModel):
    model_config = ConfigDict(extra="allow")

    licence: str
    metric: str
    usage_period: str
    quantity: int = Field(description="The buyer's own quantity (its change, on an adjustment)")
    amount: str = Field(pattern=AMOUNT_PATTERN, description="NOK, two decimals")
    vat_rate: str
    cap_applied: bool
    adjustment: bool = Field(
        False, description="A correction of an earlier, closed period for late events"
    )


class SettlementDocument(BaseModel):
    """CONTRACT section 6; other keys may be added (all covered by the digest)."""

    model_config = ConfigDict(extra="allow")

    period: str
    municipality: str
    vendor: str
    currency: str
    lines: list[SettlementLine]
    subtotal: str = Field(pattern=AMOUNT_PATTERN)
    vat: str = Field(pattern=AMOUNT_PATTERN)
    total: str = Field(pattern=AMOUNT_PATTERN)
    unlicensed: Unlicensed
    digest: str = Field(
        description="sha256:<hex> of the canonical JSON (keys sorted, no whitespace, UTF-8) "
        "of this object without digest"
    )


class SettlementSummaryModel(BaseModel):
    id: str = Field(description="<period>_<municipality>_<vendor>")
    period: str
    municipality: str
    vendor: str
    currency: str
    lines: int = Field(description="How many lines")
    subtotal: str = Field(pattern=AMOUNT_PATTERN)
    vat: str = Field(pattern=AMOUNT_PATTERN)
    total: str = Field(pattern=AMOUNT_PATTERN)
    unlicensed: Unlicensed
    digest: str
    issue_date: str | None = Field(description="null in a dry run")


class SettlementList(BaseModel):
    settlements: list[SettlementSummaryModel]
    next_cursor: str | None = Field(description="null on the last page")


class TracedEvent(BaseModel):
    event_id: str
    school: str
    occurred_at: str
    quantity: int
    counted: bool = Field(description="false: absorbed by the 30-second double-click rule")


class TracedLine(BaseModel):
    settlement: str
    line: int
    licence: str
    usage_period: str
    adjustment: bool
    quantity: int
    amount: str
    events_total: int
    events: list[TracedEvent]
    next_offset: int | None = Field(description="null on the last page")


def summary_model(summary: SettlementSummary) -> SettlementSummaryModel:
    return SettlementSummaryModel(
        id=summary.id,
        period=summary.period,
        municipality=summary.municipality,
        vendor=summary.vendor,
        currency=summary.currency,
        lines=summary.lines,
        subtotal=summary.subtotal,
        vat=summary.vat,
        total=summary.total,
        unlicensed=Unlicensed(
            events=summary.unlicensed_events, learners=summary.unlicensed_learners
        ),
        digest=summary.digest,
        issue_date=summary.issue_date,
    )


def negotiated_format(format_: SettlementFormat | None, accept: str | None) -> SettlementFormat:
    """`?format=` wins; else the Accept header (by q, then order); no Accept is JSON."""
    if format_ is not None:
        return format_
    if not accept or not accept.strip():
        return "json"
    ranges: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((-quality, position, media.lower()))
    for negative_quality, _, media in sorted(ranges):
        if negative_quality < 0 and media in _FORMAT_OF_MEDIA:
            return _FORMAT_OF_MEDIA[media]
    raise ApiError(
        406,
        "not_acceptable",
        "a settlement is served as application/json, text/csv or application/xml (EHF);"
        " or ask with ?format=json|csv|ehf",
    )


@router.get(
    "/v1/settlements",
    response_model=SettlementList,
    summary="The settlements this token may read",
    description="A municipality token lists its own settlements, a vendor token those it is "
    "paid by, auditor and admin tokens all; by id (period, municipality, vendor). Without "
    "`period`, every period.",
)
async def get_settlements(
    request: Request,
    principal: Annotated[Principal, Depends(allow("municipality", "vendor", "auditor", "admin"))],
    period: PeriodQuery = None,
    limit: Annotated[int, Query(ge=1, le=settlements_page_max)] = settlements_page_default,
    cursor: Annotated[str | None, cursor_query(SETTLEMENT_ID_PATTERN)] = None,
) -> SettlementList:
    if period is not None:
        checked_period(period)
    try:
        async with service_of(request).connection() as conn:
            page = await list_settlements(conn, principal, period, cursor, limit)
    except CursorInvalid as error:
        raise ApiError(400, "invalid_cursor", str(error)) from error
    return SettlementList(
        settlements=[summary_model(s) for s in page.settlements], next_cursor=page.next_cursor
    )


_DOCUMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The settlement: JSON (CONTRACT section 6, exactly as issued), CSV "
        "(one row per line, `;`-separated, UTF-8 with BOM) or EHF (PEPPOL BIS Billing 3.0 "
        "UBL Invoice or CreditNote, checked against the official rules).",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/xml": {"schema": {"type": "string"}},
        },
    },
    404: {"description": "no such settlement of yours, or (EHF) a settlement without lines"},
    406: {"description": "none of the accepted media types can be served"},
}


@router.get(
    "/v1/settlements/{settlement_id}",
    response_model=SettlementDocument,
    summary="One settlement as JSON, CSV or EHF",
    responses=_DOCUMENT_RESPONSES,
)
async def get_settlement(
    request: Request,
    settlement_id: str,
    principal: Annotated[Principal, Depends(allow("municipality", "vendor", "auditor", "admin"))],
    format_: Annotated[
        SettlementFormat | None,
        Query(alias="format", description="Overrides the Accept header."),
    ] = None,
) -> Response:
    chosen = negotiated_format(format_, request.headers.get("accept"))
    try:
        async with service_of(request).connection() as conn:
            rendered = await read_settlement(conn, principal, settlement_id, chosen)
    except SettlementNotFound as error:
        raise ApiError(404, "unknown_settlement", "no such settlement of yours") from error
    except NothingToInvoice as error:
        raise ApiError(
            404,
            "no_invoice",
            "this settlement has no lines (only unlicensed use), so there is no e-invoice;"
            " read it as json or csv",
        ) from error
    except EhfInvalid as error:
        log.error("EHF of settlement %s refused by the rules: %s", settlement_id, error)
        raise ApiError(500, "invalid_ehf", "the e-invoice failed the official rules") from error
    return Response(
        rendered.content,
        media_type=rendered.media_type,
        headers={"Content-Disposition": f'inline; filename="{rendered.file_name}"'},
    )


@router.get(
    "/v1/settlements/{settlement_id}/trace",
    response_model=TracedLine,
    summary="The events behind one settlement line (auditors)",
    description="For a current-period line, the billable events of its licence, buyer and "
    "period known at the closing; for an adjustment line, those that arrived late. Events "
    "absorbed by the 30-second double-click rule are listed with `counted: false`. Paged "
    "by `offset`.",
    responses={404: {"description": "no such settlement, or no such line in it"}},
)
async def get_trace(
    request: Request,
    settlement_id: str,
    _: Annotated[Principal, Depends(allow("auditor", "admin"))],
    line: Annotated[int, Query(ge=1, le=trace_line_max, description="1-based line number")],
    offset: Annotated[int, Query(ge=0, le=trace_events_max)] = 0,
    limit: Annotated[int, Query(ge=1, le=trace_page_max)] = trace_page_default,
) -> TracedLine:
    try:
        async with service_of(request).connection() as conn:
            page = await trace_page(conn, settlement_id, line, offset, limit)
    except SettlementNotFound as error:
        raise ApiError(404, "unknown_settlement", "no such settlement") from error
    except LineOutOfRange as error:
        raise ApiError(404, "unknown_line", str(error)) from error
    return TracedLine(
        settlement=page.settlement,
        line=page.line,
        licence=page.licence,
        usage_period=page.usage_period,
        adjustment=page.adjustment,
        quantity=page.quantity,
        amount=page.amount,
        events_total=page.events_total,
        events=[
            TracedEvent(
                event_id=e.event_id,
                school=e.school,
                occurred_at=e.occurred_at,
                quantity=e.quantity,
                counted=e.counted,
            )
            for e in page.events
        ],
        next_offset=page.next_offset,
    )
