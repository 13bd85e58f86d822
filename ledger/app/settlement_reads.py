"""Settlements as the parties read them over the API: which ones, in which format.

A municipality reads the settlements it pays, a vendor those it is paid by, auditors
and admins all of them. A settlement of another party is answered exactly like one
that does not exist, so a token cannot learn who trades with whom.

The JSON served is the document exactly as stored when it was issued (canonical
JSON, covered by its digest) with the final newline `ledger export` writes, so the
bytes a client downloads equal the exported file; CSV and EHF are rendered by the
exporters, and an EHF document is checked against the official rules before it is
served, as export does.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from billing.export.json_export import render_json, settlement_file_name
from ledger.app.export import file_suffix, refuse_invalid_ehf, render_settlement
from ledger.app.rejections import CursorInvalid
from ledger.app.trace import TracedEvent, trace_events_max, trace_settlement
from ledger.domain.invariants import invariant
from ledger.domain.periods import parse_period
from ledger.domain.tokens import Principal
from ledger.store.catalogues import catalogue_version
from ledger.store.closings import period_catalogue_version
from ledger.store.settlements import (
    SettlementKey,
    issued_settlement,
    settlement_text,
    settlement_texts,
)

SettlementFormat = Literal["json", "csv", "ehf"]
SETTLEMENT_FORMATS: Final[tuple[SettlementFormat, ...]] = ("json", "csv", "ehf")
MEDIA_TYPES: Final[Mapping[SettlementFormat, str]] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "ehf": "application/xml",
}
settlements_page_default: Final = 100
settlements_page_max: Final = 1_000
trace_page_default: Final = 1_000
trace_page_max: Final = 10_000

# <period>_<kommunenummer>_<organisation number>: anything else names no settlement.
_SETTLEMENT_ID: Final = re.compile(r"([0-9]{4}-[0-9]{2})_([0-9]{4})_([0-9]{9})", re.ASCII)

# One thread checks e-invoices: the rules are compiled once (seconds, the first time)
# and a check is CPU work that must not stall the event loop; one at a time bounds it.
_ehf_checks: Final = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ehf-check")


class SettlementNotFound(Exception):
    """No such settlement, or not one this token may read (the same answer on purpose)."""


class NothingToInvoice(Exception):
    """The settlement has no lines (only unlicensed use): there is no e-invoice for it."""


class LineOutOfRange(ValueError):
    """The settlement has no line with that number."""


@dataclass(frozen=True)
class SettlementSummary:
    id: str
    period: str
    municipality: str
    vendor: str
    currency: str
    lines: int
    subtotal: str
    vat: str
    total: str
    unlicensed_events: int
    unlicensed_learners: int
    digest: str
    issue_date: str | None


@dataclass(frozen=True)
class SettlementsPage:
    settlements: list[SettlementSummary]
    next_cursor: str | None  # None: this was the last page


@dataclass(frozen=True)
class RenderedSettlement:
    content: bytes
    media_type: str
    file_name: str


@dataclass(frozen=True)
class TracedPage:
    settlement: str
    line: int
    licence: str
    usage_period: str
    adjustment: bool
    quantity: int
    amount: str
    events_total: int
    events: list[TracedEvent]
    next_offset: int | None  # None: this was the last page


def parse_settlement_id(text: str) -> SettlementKey | None:
    """(period, municipality, vendor) of an id `<period>_<municipality>_<vendor>`, else None."""
    match = _SETTLEMENT_ID.fullmatch(text)
    if match is None:
        return None
    try:
        parse_period(match.group(1))
    except ValueError:
        return None
    return match.group(1), match.group(2), match.group(3)


def settlement_id(key: SettlementKey) -> str:
    return "_".join(key)


def readable_parties(principal: Principal) -> tuple[str | None, str | None]:
    """(municipality, vendor) the token is confined to; None where it may read any."""
    if principal.scope == "municipality":
        return principal.subject, None
    if principal.scope == "vendor":
        return None, principal.subject
    return None, None


def may_read(principal: Principal, key: SettlementKey) -> bool:
    municipality, vendor = readable_parties(principal)
    return municipality in (None, key[1]) and vendor in (None, key[2])


def summary_of(document: Mapping[str, Any]) -> SettlementSummary:
    key = (str(document["period"]), str(document["municipality"]), str(document["vendor"]))
    issue_date = document.get("issue_date")
    return SettlementSummary(
        id=settlement_id(key),
        period=key[0],
        municipality=key[1],
        vendor=key[2],
        currency=str(document["currency"]),
        lines=len(document["lines"]),
        subtotal=str(document["subtotal"]),
        vat=str(document["vat"]),
        total=str(document["total"]),
        unlicensed_events=int(document["unlicensed"]["events"]),
        unlicensed_learners=int(document["unlicensed"]["learners"]),
        digest=str(document["digest"]),
        issue_date=str(issue_date) if issue_date is not None else None,
    )


async def list_settlements(
    conn: AsyncConnection,
    principal: Principal,
    period: str | None,
    cursor: str | None,
    limit: int,
) -> SettlementsPage:
    """The settlements `principal` may read, by id, after `cursor` (the last id of a page).

    Raises `CursorInvalid` for a cursor that is not a settlement id.
    """
    after = parse_settlement_id(cursor) if cursor is not None else None
    if cursor is not None and after is None:
        raise CursorInvalid("the cursor is not one this API returned: start again without it")
    municipality, vendor = readable_parties(principal)
    limit = max(1, min(limit, settlements_page_max))
    texts = await settlement_texts(
        conn, period=period, municipality=municipality, vendor=vendor, after=after, limit=limit
    )
    summaries = [summary_of(json.loads(text)) for text in texts]
    for summary in summaries:
        invariant(
            may_read(principal, (summary.period, summary.municipality, summary.vendor)),
            f"a {principal.scope} token was about to list settlement {summary.id}",
        )
    full = len(summaries) == limit
    return SettlementsPage(summaries, summaries[-1].id if full else None)


async def _readable_text(conn: AsyncConnection, principal: Principal, reference: str) -> str:
    key = parse_settlement_id(reference)
    if key is None or not may_read(principal, key):
        raise SettlementNotFound(reference)
    text = await settlement_text(conn, key)
    if text is None:
        raise SettlementNotFound(reference)
    return text


async def read_settlement(
    conn: AsyncConnection, principal: Principal, reference: str, format_: SettlementFormat
) -> RenderedSettlement:
    """One settlement as `format_`; EHF only after the official rules accepted it.

    Raises `SettlementNotFound`, `NothingToInvoice` (EHF of a settlement without lines)
    and `ledger.app.export.EhfInvalid`.
    """
    text = await _readable_text(conn, principal, reference)
    document: dict[str, Any] = json.loads(text)
    file_name = settlement_file_name(document, file_suffix(format_))
    if format_ == "json":
        content = text.encode("utf-8") + b"\n"
        # Pair check: the bytes as stored are what the exporter writes for the document.
        invariant(
            content == render_json(document), f"stored settlement {reference} is not canonical"
        )
        return RenderedSettlement(content, MEDIA_TYPES[format_], file_name)
    catalogue = None
    if format_ == "ehf":
        catalogue = await catalogue_version(
            conn, await period_catalogue_version(conn, str(document["period"]))
        )
    rendered = render_settlement(document, catalogue, format_)
    if rendered is None:
        raise NothingToInvoice(reference)
    if format_ == "ehf":
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(_ehf_checks, refuse_invalid_ehf, {file_name: rendered})
    return RenderedSettlement(rendered, MEDIA_TYPES[format_], file_name)


async def trace_page(
    conn: AsyncConnection, reference: str, line: int, offset: int, limit: int
) -> TracedPage:
    """The events behind one line of a settlement, a page of them from `offset`.

    Raises `SettlementNotFound` and `LineOutOfRange`.
    """
    key = parse_settlement_id(reference)
    issued = await issued_settlement(conn, key) if key is not None else None
    if key is None or issued is None:
        raise SettlementNotFound(reference)
    line_count = len(issued.document["lines"])
    if not 1 <= line <= line_count:
        raise LineOutOfRange(
            f"settlement {reference} has {line_count} lines; line must be 1..{line_count}"
            if line_count
            else f"settlement {reference} has no lines (only unlicensed use)"
        )
    (traced,) = await trace_settlement(conn, reference, line)
    limit = max(1, min(limit, trace_page_max))
    offset = max(0, min(offset, trace_events_max))
    end = offset + limit
    return TracedPage(
        settlement=traced.settlement,
        line=traced.line_no,
        licence=traced.licence,
        usage_period=traced.usage_period,
        adjustment=traced.adjustment,
        quantity=traced.quantity,
        amount=traced.amount,
        events_total=len(traced.events),
        events=traced.events[offset:end],
        next_offset=end if end < len(traced.events) else None,
    )
