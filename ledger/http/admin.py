"""The operator's changes over HTTP: load a catalogue, settle a period (admin tokens only).

The same checks and refusals as `ledger catalogue load` and `ledger settle`: a
catalogue with problems is refused whole, listing every problem, and nothing of it is
applied; a period is settled only once it has ended and no earlier period with usage
is open.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ledger.app.api_service import BrokerUnavailable
from ledger.app.catalogue_load import LoadResult, load_catalogue_content
from ledger.app.settle import CLOSE_NOT_PROCESSED, INVALID_PERIOD, LEDGER_BEHIND, SettleRefused
from ledger.app.settle_run import settle, wait_for_ledger
from ledger.app.settlement_reads import summary_of
from ledger.app.workspace import stream_target
from ledger.domain.catalogue_parse import catalogue_bytes_max
from ledger.domain.catalogue_problems import CatalogueRejected
from ledger.domain.tokens import Principal
from ledger.http.auth import allow, service_of
from ledger.http.errors import ApiError, ErrorBody, one_line
from ledger.http.events import broker_retry_after_s
from ledger.http.params import PERIOD_PATTERN, app_singleton
from ledger.http.settlements import SettlementSummaryModel, summary_model

router = APIRouter(tags=["administration"])

AdminOnly = Annotated[Principal, Depends(allow("admin"))]

CATALOGUE_MEDIA_TYPES: Final = frozenset(
    {
        "",
        "application/json",
        "application/yaml",
        "application/x-yaml",
        "text/yaml",
        "text/x-yaml",
        "text/plain",
    }
)
problems_in_detail_max: Final = 3  # the detail line names the first few; `problems` has all
settle_retry_after_s: Final = 5


class CatalogueRefusal(ErrorBody):
    problems: list[str] = Field(description="Every problem found (at most 1,000 listed)")


class CatalogueLoaded(BaseModel):
    version: int
    sha256: str
    changed: bool = Field(description="false: the same content as the latest version")
    municipalities: int
    vendors: int
    licences: int


class SettleAnswer(BaseModel):
    period: str
    dry_run: bool
    settlements: list[SettlementSummaryModel]


_CATALOGUE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": f"The catalogue (CONTRACT section 2) as YAML or JSON, at most "
        f"{catalogue_bytes_max} bytes.",
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["municipalities", "vendors", "licences"],
                    "properties": {
                        "municipalities": {"type": "array", "items": {"type": "object"}},
                        "vendors": {"type": "array", "items": {"type": "object"}},
                        "licences": {"type": "array", "items": {"type": "object"}},
                    },
                }
            },
        },
    }
}


async def read_bounded(request: Request, bytes_max: int) -> bytes:
    """The body, refused (413) as soon as it passes `bytes_max`: never read whole first."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > bytes_max:
        raise ApiError(413, "payload_too_large", f"the body is larger than {bytes_max} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > bytes_max:
            raise ApiError(413, "payload_too_large", f"the body is larger than {bytes_max} bytes")
    return bytes(body)


def refusal_response(rejected: CatalogueRejected) -> JSONResponse:
    problems = rejected.problems
    count = len(problems)
    shown = "; ".join(problems[:problems_in_detail_max])
    more = f" (and {count - problems_in_detail_max} more)" if count > problems_in_detail_max else ""
    detail = one_line(
        f"catalogue refused, nothing applied ({count} problem{'s' if count != 1 else ''}):"
        f" {shown}{more}"
    )
    body = CatalogueRefusal(error="invalid_catalogue", detail=detail, problems=problems)
    return JSONResponse(body.model_dump(), status_code=400)


def loaded_answer(result: LoadResult) -> CatalogueLoaded:
    return CatalogueLoaded(
        version=result.version,
        sha256=result.sha256,
        changed=result.changed,
        municipalities=result.municipalities,
        vendors=result.vendors,
        licences=result.licences,
    )


@router.put(
    "/v1/catalogue",
    response_model=CatalogueLoaded,
    summary="Load a catalogue (a new version when it changed)",
    description="The same checks as `ledger catalogue load`: a catalogue that breaks a rule "
    "is refused whole (400 `invalid_catalogue`, every problem in `problems`) and nothing of "
    "it is applied. Loading the same content again changes nothing.",
    openapi_extra=_CATALOGUE_BODY,
    responses={
        400: {"description": "refused: `invalid_catalogue` lists every problem in `problems`"},
        413: {"description": "the body is larger than a catalogue may be"},
        415: {"description": "the body is not YAML or JSON"},
        503: {"description": "the broker did not take the catalogue: retry after Retry-After"},
    },
)
async def put_catalogue(request: Request, _: AdminOnly) -> CatalogueLoaded | JSONResponse:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in CATALOGUE_MEDIA_TYPES:
        raise ApiError(
            415, "unsupported_media_type", "send the catalogue as application/yaml or JSON"
        )
    content = await read_bounded(request, catalogue_bytes_max)
    service = service_of(request)
    ws = service.ws
    try:
        result = await load_catalogue_content(
            service.engine, ws.kafka_ingest, ws.topics.raw, content
        )
    except CatalogueRejected as rejected:
        return refusal_response(rejected)
    except BrokerUnavailable as error:
        raise ApiError(
            503,
            "broker_unavailable",
            f"{error}; nothing was recorded: send it again",
            {"Retry-After": str(broker_retry_after_s)},
        ) from error
    service.forget_catalogue()  # events are checked against it from the next request
    return loaded_answer(result)


def settle_lock(request: Request) -> asyncio.Lock:
    """Settles through this server run one at a time: the second sees the first's closing."""
    return app_singleton(request, "settle_lock", asyncio.Lock)


@router.post(
    "/v1/periods/{period}/settle",
    response_model=SettleAnswer,
    summary="Close a period and issue its settlements",
    description="The same checks as `ledger settle`. The server first waits (at most "
    "30 s) for the worker (`ledger worker`) to have processed everything sent so far. The "
    "period is refused (409, the code says why) when it has not ended in Europe/Oslo time "
    "(`period_not_ended`), is already settled (`period_already_settled`), a later period "
    "is settled (`later_period_settled`), an earlier period with usage is still open "
    "(`earlier_period_open`) or no catalogue is loaded (`no_catalogue`). With `dry_run`, "
    "the settlements are computed and returned, and nothing is closed.",
    responses={
        409: {"description": "the period cannot be settled now: the code says why"},
        503: {
            "description": "the worker is behind (`ledger_behind`) or has not processed the "
            "close yet (`close_not_processed`): settle again after Retry-After"
        },
    },
)
async def post_settle(
    request: Request,
    period: Annotated[
        str,
        Path(
            description="The calendar month YYYY-MM (Europe/Oslo) to close.",
            json_schema_extra={"pattern": PERIOD_PATTERN},  # checked by settle itself
        ),
    ],
    _: AdminOnly,
    dry_run: Annotated[bool, Query(description="Preview; close nothing.")] = False,
) -> SettleAnswer:
    ws = service_of(request).ws
    async with settle_lock(request):
        try:
            issued = await settle(
                ws,
                stream_target(ws),
                period,
                datetime.now(UTC),
                dry_run=dry_run,
                catch_up=lambda: wait_for_ledger(ws),  # the worker processes, not the server
            )
        except SettleRefused as refused:
            if refused.code == INVALID_PERIOD:
                raise ApiError(400, refused.code, str(refused)) from refused
            if refused.code in (CLOSE_NOT_PROCESSED, LEDGER_BEHIND):
                raise ApiError(
                    503, refused.code, str(refused), {"Retry-After": str(settle_retry_after_s)}
                ) from refused
            raise ApiError(409, refused.code, str(refused)) from refused
    return SettleAnswer(
        period=period,
        dry_run=dry_run,
        settlements=[summary_model(summary_of(s.to_document())) for s in issued],
    )
