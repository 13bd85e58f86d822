"""Vendors send usage (`POST /v1/events`) and ask what became of it (`GET /v1/events/{id}`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ledger.app.api_service import (
    ApiService,
    BrokerUnavailable,
    EventOutcome,
    Receipt,
    wait_s_max,
)
from ledger.app.submission_body import (
    BodyRefused,
    decompressed,
    event_items,
    request_bytes_max,
)
from ledger.domain.events import EVENT_FIELDS, Rejection, identifier_characters_max
from ledger.domain.submitters import Submitter
from ledger.domain.tokens import Principal
from ledger.http.auth import allow, service_of
from ledger.http.errors import ApiError
from ledger.http.metrics import ApiMetrics

router = APIRouter(tags=["usage events"])

broker_retry_after_s: Final = 5

EventStatus = Literal["received", "rejected", "accepted", "unlicensed", "duplicate", "pending"]


class EventAnswer(BaseModel):
    """One event of a request, by its index in the request."""

    index: int
    event_id: str | None
    status: EventStatus
    reason: str | None = None
    detail: str | None = None
    licence: str | None = None
    period: str | None = None


class EventsAnswer(BaseModel):
    received: int
    refused: int
    events: list[EventAnswer]


class Submission(BaseModel):
    received_at: datetime | None
    status: EventStatus
    reason: str | None = None
    detail: str | None = None


class EventLookup(BaseModel):
    event_id: str
    status: EventStatus
    licence: str | None = None
    period: str | None = None
    reason: str | None = None
    detail: str | None = None
    submissions: list[Submission]


_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A usage event (CONTRACT section 3). Events that break the schema are "
    "answered one by one with a reason code; they never fail the batch.",
    "properties": {
        **{name: {"type": "string"} for name in EVENT_FIELDS if name != "quantity"},
        "quantity": {"type": "integer", "minimum": 1},
        "role": {"type": "string", "enum": ["pupil", "teacher"]},
        "occurred_at": {"type": "string", "format": "date-time"},
    },
    "required": list(EVENT_FIELDS),
}

EVENTS_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": f"At most 10,000 events and {request_bytes_max} bytes (after "
        "decompression; Content-Encoding: gzip is accepted).",
        "content": {
            "application/json": {
                "schema": {"type": "array", "maxItems": 10_000, "items": _EVENT_SCHEMA}
            },
            "application/avro": {
                "schema": {
                    "type": "string",
                    "format": "binary",
                    "description": "An Avro object container file of UsageEvent records",
                }
            },
        },
    }
}


ANSWERED: dict[int | str, dict[str, Any]] = {
    200: {"model": EventsAnswer, "description": "each event by its index"}
}
# Whole-request refusals of the routes that take usage (documented; the body is ErrorBody).
SUBMISSION_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"description": "more than 10,000 events or 16 MiB: nothing was sent"},
    415: {"description": "an unsupported Content-Type or Content-Encoding"},
    503: {"description": "the broker did not take the batch: retry after Retry-After"},
}


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_body(request: Request) -> bytes:
    """The body, decompressed; refused as soon as it passes its bound (never read whole)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > request_bytes_max:
        raise ApiError(
            413, "payload_too_large", f"the body is larger than {request_bytes_max} bytes"
        )
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > request_bytes_max:
            raise ApiError(
                413, "payload_too_large", f"the body is larger than {request_bytes_max} bytes"
            )
    try:
        return decompressed(bytes(chunks), request.headers.get("content-encoding"))
    except BodyRefused as refused:
        raise ApiError(refused.status, refused.code, refused.detail) from refused


def answer(receipt: Receipt, outcome: EventOutcome | None, waited: bool) -> dict[str, object]:
    """One event's answer as plain JSON (an `EventAnswer`): a request holds up to 10,000, so
    the answers skip per-item model validation (the schema test checks the shape)."""
    if outcome is not None:
        status, reason, detail = outcome.status, outcome.reason, outcome.detail
        licence, period = outcome.licence, outcome.period
    elif receipt.refusal is not None:
        status, reason, detail = (
            "rejected",
            str(receipt.refusal.reason_code),
            receipt.refusal.detail,
        )
        licence = period = None
    else:
        status = "pending" if waited else "received"
        reason = detail = licence = period = None
    return {
        "index": receipt.index,
        "event_id": receipt.event_id,
        "status": status,
        "reason": reason,
        "detail": detail,
        "licence": licence,
        "period": period,
    }


async def submit_and_answer(
    request: Request,
    principal: Principal,
    items: Sequence[tuple[object, Rejection | None]],
    wait: float,
    source: str,
) -> JSONResponse:
    """Send, screen, optionally wait for final outcomes; shared by events and xAPI."""
    service: ApiService = service_of(request)
    metrics: ApiMetrics = request.app.state.metrics
    started = time.monotonic()
    try:
        receipts = await service.submit(items, Submitter("vendor", principal.subject))
    except BrokerUnavailable as error:
        raise ApiError(
            503,
            "broker_unavailable",
            f"{error}; nothing of this request is promised: send it again (retries are safe)",
            {"Retry-After": str(broker_retry_after_s)},
        ) from error
    metrics.kafka_send_seconds.observe(time.monotonic() - started)
    metrics.events_received.labels(source).inc(len(receipts))
    for receipt in receipts:
        if receipt.refusal is not None:
            metrics.events_refused.labels(str(receipt.refusal.reason_code)).inc()
    outcomes = await service.outcomes(receipts, wait) if wait > 0 else {}
    return JSONResponse(
        {
            "received": len(receipts),
            "refused": sum(1 for r in receipts if r.refusal is not None),
            "events": [answer(r, outcomes.get(r.index), wait > 0) for r in receipts],
        }
    )


WaitQuery = Annotated[
    float,
    Query(
        ge=0,
        le=wait_s_max,
        description="Seconds to wait for the ledger's final outcome of each event (0: answer "
        "when the broker has the batch). Events not final by then are `pending`.",
    ),
]


@router.post(
    "/v1/events",
    response_model=None,
    summary="Send usage events (JSON array or Avro container, optionally gzip)",
    openapi_extra=EVENTS_REQUEST_BODY,
    responses={**ANSWERED, **SUBMISSION_ERRORS},
)
async def post_events(
    request: Request,
    principal: Annotated[Principal, Depends(allow("vendor"))],
    wait: WaitQuery = 0,
) -> JSONResponse:
    body = await read_body(request)
    try:
        records = event_items(body, media_type(request))
    except BodyRefused as refused:
        raise ApiError(refused.status, refused.code, refused.detail) from refused
    items: list[tuple[object, Rejection | None]] = [(record, None) for record in records]
    return await submit_and_answer(request, principal, items, wait, "events")


def lookup_status(outcomes: Sequence[EventOutcome]) -> EventOutcome:
    """An event's status: its accepted copy if any (later copies are duplicates), else the last."""
    for outcome in outcomes:
        if outcome.status in ("accepted", "unlicensed"):
            return outcome
    return outcomes[-1]


@router.get(
    "/v1/events/{event_id}",
    response_model=EventLookup,
    summary="What became of one of your events",
    responses={404: {"description": "no such event of yours (and the ledger has caught up)"}},
)
async def get_event(
    request: Request,
    event_id: str,
    principal: Annotated[Principal, Depends(allow("vendor"))],
) -> EventLookup:
    if not event_id or len(event_id) > identifier_characters_max:
        raise ApiError(404, "unknown_event", "no such event id")
    outcomes = await service_of(request).event_outcomes(principal.subject, event_id)
    if outcomes is None:
        raise ApiError(404, "unknown_event", f"no event {event_id!r} of vendor {principal.subject}")
    if not outcomes:
        return EventLookup(event_id=event_id, status="pending", submissions=[])
    final = lookup_status(outcomes)
    return EventLookup(
        event_id=event_id,
        status=final.status,  # type: ignore[arg-type]
        licence=final.licence,
        period=final.period,
        reason=final.reason,
        detail=final.detail,
        submissions=[
            Submission(
                received_at=o.received_at,
                status=o.status,  # type: ignore[arg-type]
                reason=o.reason,
                detail=o.detail,
            )
            for o in outcomes
        ],
    )
