"""Vendors read their own rejected events (`GET /v1/events/rejected`), as a paged feed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from ledger.app.rejections import (
    CursorInvalid,
    rejections_page,
    rejections_page_default,
    rejections_page_max,
)
from ledger.domain.tokens import Principal
from ledger.http.auth import allow, service_of
from ledger.http.errors import ApiError
from ledger.http.params import SinceQuery, checked_instant, cursor_query

router = APIRouter(tags=["usage events"])

CURSOR_PATTERN: Final = r"^r1\.[A-Za-z0-9_-]*$"


class RejectedEvent(BaseModel):
    event_id: str | None = Field(description="null when the message could not be read at all")
    received_at: datetime
    reason: str = Field(description="The reason code (CONTRACT section 3, or vendor_mismatch).")
    explanation: str = Field(description="What the code means and what to fix.")
    detail: str = Field(description="What exactly was wrong with this event.")
    partition: int
    offset: int


class RejectedEvents(BaseModel):
    events: list[RejectedEvent]
    next_cursor: str = Field(
        description="Pass as `cursor` for the next page; keep it to ask later for new rejections."
    )
    has_more: bool = Field(description="The page is full: ask again at once for the next.")


@router.get(
    "/v1/events/rejected",
    response_model=RejectedEvents,
    summary="Your rejected events, with the reason and what to fix",
    description="A feed of the token's vendor's rejected submissions, in ledger order (per "
    "partition, in the order the ledger recorded them; not strictly by time received). "
    "Follow `next_cursor` while `has_more`; later, the same cursor returns only "
    "rejections recorded since, and never skips one.",
)
async def get_rejected_events(
    request: Request,
    principal: Annotated[Principal, Depends(allow("vendor"))],
    since: SinceQuery = None,
    limit: Annotated[int, Query(ge=1, le=rejections_page_max)] = rejections_page_default,
    cursor: Annotated[str | None, cursor_query(CURSOR_PATTERN)] = None,
) -> RejectedEvents:
    since_utc = checked_instant(since, "since") if since is not None else None
    try:
        async with service_of(request).connection() as conn:
            page = await rejections_page(conn, principal.subject, since_utc, cursor, limit)
    except CursorInvalid as error:
        raise ApiError(400, "invalid_cursor", str(error)) from error
    return RejectedEvents(
        events=[
            RejectedEvent(
                event_id=event.event_id,
                received_at=datetime.fromisoformat(event.received_at),
                reason=event.reason_code,
                explanation=event.explanation,
                detail=event.detail,
                partition=event.partition,
                offset=event.offset,
            )
            for event in page.events
        ],
        next_cursor=page.next_cursor,
        has_more=page.has_more,
    )
