"""Auditors read the ledger itself: entries with their hashes, chain heads, and verify runs.

Read-only (admin tokens may use it too). The entries carry every field of the
canonical encoding, so an auditor can recompute each chain without this code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from ledger.app.ledger_reads import (
    ENTRY_FIELDS,
    entries_page,
    entries_page_default,
    entries_page_max,
    ledger_heads,
)
from ledger.app.verify import VerifyAlreadyRunning, VerifyRun, VerifyRuns
from ledger.domain.chain import canonical_encoding_version
from ledger.domain.invariants import invariant
from ledger.domain.tokens import Principal
from ledger.http.auth import allow, service_of
from ledger.http.errors import ApiError
from ledger.http.params import app_singleton

router = APIRouter(tags=["audit"])

chain_max: Final = 2**31 - 1  # chain is a PostgreSQL integer
seq_max: Final = 2**62  # seq is a bigint; room for from_seq + limit
verify_retry_after_s: Final = 10

AuditorOrAdmin = Annotated[Principal, Depends(allow("auditor", "admin"))]

ENTRIES_DESCRIPTION: Final = f"""Entries of one chain (one per raw-log partition) from
`from_seq`, in seq order (1, 2, 3 … without gaps), with every field and both hashes.

To recompute a chain outside this service (`ledger/domain/chain.py`, canonical encoding
version {canonical_encoding_version}):

- `hash = SHA-256(prev_hash ‖ encoding)`; seq 1's `prev_hash` is 32 zero bytes, and each
  entry's `prev_hash` is the `hash` of the entry before it.
- `encoding` is the byte 0x{canonical_encoding_version:02x}, then every field of the entry
  from `chain` to `reference`, in the order listed here, each as:
  - null: 0x00;
  - text: 0x01, the length of its UTF-8 bytes (4 bytes, big-endian), the UTF-8 bytes;
  - bytes (`learner_hash`, `content_digest`, given here as hex): 0x02, the length
    (4 bytes, big-endian), the bytes;
  - integer (`chain`, `seq`, `source_offset`, `quantity`, `catalogue_version`): 0x03,
    8 bytes big-endian signed;
  - time (`received_at`, `occurred_at`, given here in UTC with microseconds): 0x04,
    microseconds since 1970-01-01T00:00:00Z, 8 bytes big-endian signed.
- Follow `next_from_seq` while `has_more`; `GET /v1/ledger/chains` gives each chain's head
  to check the last hash against, and every settlement names the heads of its closing.
"""


class LedgerEntry(BaseModel):
    """An entry of `ledger.entries`: fields in the order of the canonical encoding."""

    chain: int
    seq: int
    kind: str = Field(description="event | catalogue | close")
    status: str | None = Field(description="events: accepted | duplicate | rejected")
    source_topic: str
    source_offset: int
    received_at: str = Field(description="UTC, six fractional digits")
    vendor: str | None
    event_id: str | None
    product: str | None
    school: str | None
    municipality: str | None
    learner_hash: str | None = Field(description="hex of HMAC-SHA256(workspace key, learner)")
    role: str | None
    action: str | None
    item: str | None
    unit: str | None
    quantity: int | None
    occurred_at: str | None = Field(description="UTC, six fractional digits")
    period: str | None
    licence_id: str | None = Field(description="null on an accepted event: unlicensed")
    catalogue_version: int | None
    content_digest: str | None = Field(description="hex")
    reason_code: str | None
    reason_detail: str | None
    reference: str | None
    prev_hash: str = Field(description="hex")
    hash: str = Field(description="hex")


# The listed fields are the encoding's, in its order: a new column must be listed here too.
invariant(
    tuple(LedgerEntry.model_fields) == ENTRY_FIELDS,
    "LedgerEntry does not list the fields of the canonical encoding in order",
)


class EntriesAnswer(BaseModel):
    chain: int
    encoding_version: int
    entries: list[LedgerEntry]
    next_from_seq: int
    has_more: bool


class ChainHead(BaseModel):
    chain: int
    seq: int
    hash: str = Field(description="hex")


class ChainsAnswer(BaseModel):
    chains: list[ChainHead]


class VerifyAnswer(BaseModel):
    ok: bool
    entries_checked: int
    chains: int
    closings_checked: int
    settlements_checked: int
    damages_found: int
    first_damage: str | None = Field(description="The first damage, named; null when intact")
    damages: list[str] = Field(description="The first damages found, in order")
    started_at: datetime
    finished_at: datetime
    seconds: float


def verify_answer(run: VerifyRun) -> VerifyAnswer:
    report = run.report
    return VerifyAnswer(
        ok=report.ok,
        entries_checked=report.entries_checked,
        chains=report.chains,
        closings_checked=report.closings_checked,
        settlements_checked=report.settlements_checked,
        damages_found=report.damages_found,
        first_damage=report.first_damage,
        damages=list(report.damages),
        started_at=run.started_at,
        finished_at=run.finished_at,
        seconds=round(run.seconds, 3),
    )


def verify_runs(request: Request) -> VerifyRuns:
    return app_singleton(request, "verify_runs", VerifyRuns)


@router.get(
    "/v1/ledger/entries",
    response_model=EntriesAnswer,
    summary="Ledger entries of one chain, with their hashes",
    description=ENTRIES_DESCRIPTION,
)
async def get_entries(
    request: Request,
    _: AuditorOrAdmin,
    chain: Annotated[int, Query(ge=0, le=chain_max, description="The chain (partition)")],
    from_seq: Annotated[int, Query(ge=1, le=seq_max)] = 1,
    limit: Annotated[int, Query(ge=1, le=entries_page_max)] = entries_page_default,
) -> EntriesAnswer:
    async with service_of(request).connection() as conn:
        page = await entries_page(conn, chain, from_seq, limit)
    return EntriesAnswer(
        chain=page.chain,
        encoding_version=canonical_encoding_version,
        entries=[LedgerEntry.model_validate(entry) for entry in page.entries],
        next_from_seq=page.next_from_seq,
        has_more=page.has_more,
    )


@router.get(
    "/v1/ledger/chains",
    response_model=ChainsAnswer,
    summary="Each chain's head: its last seq and hash",
)
async def get_chains(request: Request, _: AuditorOrAdmin) -> ChainsAnswer:
    async with service_of(request).connection() as conn:
        heads = await ledger_heads(conn)
    return ChainsAnswer(chains=[ChainHead(chain=h.chain, seq=h.seq, hash=h.hash) for h in heads])


@router.post(
    "/v1/ledger/verify",
    response_model=VerifyAnswer,
    summary="Verify the whole ledger now, and wait for the result",
    description="Recomputes every hash chain in the database (independently of the code "
    "that wrote it), every closing and every settlement digest, as `ledger verify` does. "
    "It takes a few seconds per million entries. One run at a time: 409 while one runs. "
    "The result is kept: `GET /v1/ledger/verify/latest`.",
    responses={409: {"description": "a verification is already running"}},
)
async def post_verify(request: Request, _: AuditorOrAdmin) -> VerifyAnswer:
    try:
        run = await verify_runs(request).run(service_of(request).ws)
    except VerifyAlreadyRunning as error:
        raise ApiError(
            409, "verify_running", str(error), {"Retry-After": str(verify_retry_after_s)}
        ) from error
    return verify_answer(run)


@router.get(
    "/v1/ledger/verify/latest",
    response_model=VerifyAnswer,
    summary="The result of the latest verification run by this server",
    responses={404: {"description": "no verification has run since the server started"}},
)
async def get_verify(request: Request, _: AuditorOrAdmin) -> VerifyAnswer:
    latest = verify_runs(request).latest
    if latest is None:
        raise ApiError(
            404, "no_verify_run", "no verification has run since the server started: POST one"
        )
    return verify_answer(latest)
