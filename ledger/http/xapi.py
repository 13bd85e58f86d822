"""`POST /v1/xapi/statements`: xAPI statements (KS-AVT profile) as usage events.

The mapping is ledger/domain/xapi.py and docs/xapi.md; from there on a statement is an
event like any other: answered per statement, deduplicated by its id, billed by licence.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ledger.app.submission_body import BodyRefused, xapi_items
from ledger.domain.tokens import Principal
from ledger.http.auth import allow
from ledger.http.errors import ApiError
from ledger.http.events import (
    ANSWERED,
    SUBMISSION_ERRORS,
    WaitQuery,
    media_type,
    read_body,
    submit_and_answer,
)

router = APIRouter(tags=["usage events"])

STATEMENTS_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One xAPI statement or a JSON array of at most 10,000 (see docs/xapi.md).",
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"type": "object"},
                        {"type": "array", "maxItems": 10_000, "items": {"type": "object"}},
                    ]
                }
            }
        },
    }
}


@router.post(
    "/v1/xapi/statements",
    response_model=None,
    summary="Send xAPI statements (KS-AVT); each becomes one usage event",
    openapi_extra=STATEMENTS_REQUEST_BODY,
    responses={**ANSWERED, **SUBMISSION_ERRORS},
)
async def post_statements(
    request: Request,
    principal: Annotated[Principal, Depends(allow("vendor"))],
    wait: WaitQuery = 0,
) -> JSONResponse:
    if media_type(request) not in ("application/json", ""):
        raise ApiError(415, "unsupported_media_type", "xAPI statements are application/json")
    body = await read_body(request)
    try:
        items = xapi_items(body, principal.subject)
    except BodyRefused as refused:
        raise ApiError(refused.status, refused.code, refused.detail) from refused
    return await submit_and_answer(request, principal, items, wait, "xapi")
