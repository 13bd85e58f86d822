"""Settlement downloads for the pages: the API's documents, with the session cookie.

The pages have their own route rather than the API's `/v1/settlements/{id}` taking
cookies: the API stays bearer-only (no cookie, so no cross-site forgery to think
about there), and a download here is always an attachment with the file name
`ledger export` gives it. The same use case decides what a party may read.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response

from ledger.app.export import EhfInvalid
from ledger.app.settlement_reads import (
    NothingToInvoice,
    SettlementFormat,
    SettlementNotFound,
    read_settlement,
)
from ledger.http.auth import service_of
from ledger.http.web.pages import AnyPage, page_router
from ledger.http.web.sessions import PageError

log = logging.getLogger(__name__)
router = page_router()


@router.get("/pages/settlements/{settlement_id}")
async def download_settlement(
    request: Request,
    settlement_id: str,
    principal: AnyPage,
    format_: Annotated[SettlementFormat, Query(alias="format")] = "json",
) -> Response:
    try:
        async with service_of(request).connection() as conn:
            rendered = await read_settlement(conn, principal, settlement_id, format_)
    except SettlementNotFound as error:
        raise PageError(404, "error.not_found") from error
    except NothingToInvoice as error:
        raise PageError(404, "error.no_invoice") from error
    except EhfInvalid as error:
        log.error("EHF of settlement %s refused by the rules: %s", settlement_id, error)
        raise
    return Response(
        rendered.content,
        media_type=rendered.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{rendered.file_name}"',
            "Cache-Control": "no-store",
        },
    )
