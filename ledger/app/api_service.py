"""The use cases behind `ledger serve`, with what they share for the life of the server.

One `ApiService` per server: a pooled engine, one producer to the raw log, and two
short-lived caches (tokens, the latest catalogue) so a request costs no more round
trips than it must. Every event a vendor sends is checked at once by
`screen_record`, the same pure function the stream worker applies to the message,
with the same received time (the Kafka timestamp the API sets), so the answer given
now and the ledger's final word never disagree.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.app.submission_body import event_body
from ledger.app.tokens import authenticate
from ledger.app.workspace import Workspace
from ledger.domain.events import Rejection, is_storable_text
from ledger.domain.processing import (
    STATUS_ACCEPTED,
    CatalogueVersion,
    received_at_of,
    screen_record,
)
from ledger.domain.submitters import Submitter
from ledger.domain.tokens import Principal
from ledger.store.catalogues import latest_catalogue
from ledger.store.engine import create_ledger_engine
from ledger.store.health import database_reachable
from ledger.store.outcomes import EntryOutcome, ledger_positions, outcomes_at, outcomes_of_event
from schemas.codec import USAGE_EVENT, decode
from streams.ingest import (
    Submission,
    event_submission,
    submission_for_record,
    usage_event_record,
)
from streams.runner import end_offsets
from streams.sender import BrokerUnavailable, RawLogSender

__all__ = ["ApiService", "BrokerUnavailable", "EventOutcome", "Receipt"]

token_cache_s: Final = 5.0  # a revoked token stops working within this long
token_cache_entries_max: Final = 10_000
catalogue_cache_s: Final = 2.0  # a newly loaded catalogue is used for checks within this long
wait_s_max: Final = 30.0  # POST /v1/events?wait=: the longest a client may hold a request
outcome_poll_s: Final = 0.1

# Final outcomes as the API names them.
ACCEPTED: Final = "accepted"
UNLICENSED: Final = "unlicensed"
DUPLICATE: Final = "duplicate"
REJECTED: Final = "rejected"
PENDING: Final = "pending"


@dataclass(frozen=True)
class Receipt:
    """What became of one event of a request the moment the broker acknowledged it."""

    index: int
    event_id: str | None
    partition: int
    offset: int
    refusal: Rejection | None  # refused at once: the ledger will record the same reason


@dataclass(frozen=True)
class EventOutcome:
    """The ledger's final word on one submission (or `pending`)."""

    status: str
    event_id: str | None
    licence: str | None = None
    period: str | None = None
    reason: str | None = None
    detail: str | None = None
    received_at: datetime | None = None


def outcome_of_entry(entry: EntryOutcome) -> EventOutcome:
    if entry.status == STATUS_ACCEPTED:
        status = ACCEPTED if entry.licence_id is not None else UNLICENSED
    elif entry.status == REJECTED:
        status = REJECTED
    else:
        status = DUPLICATE
    return EventOutcome(
        status=status,
        event_id=entry.event_id,
        licence=entry.licence_id if status == ACCEPTED else None,
        period=entry.period if status != REJECTED else None,
        reason=entry.reason_code,
        detail=entry.reason_detail,
        received_at=entry.received_at,
    )


class ApiService:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.engine = create_ledger_engine(ws.database_url)
        self.sender = RawLogSender(ws.kafka_ingest, ws.topics.raw)
        self._tokens: dict[str, tuple[float, Principal | None]] = {}
        self._catalogue: tuple[float, CatalogueVersion | None] | None = None

    async def close(self) -> None:
        await self.sender.close()
        await self.engine.dispose()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A read connection from the server's pool, for the read-only use cases."""
        async with self.engine.connect() as conn:
            yield conn

    async def principal(self, token: str) -> Principal | None:
        now = time.monotonic()
        cached = self._tokens.get(token)
        if cached is not None and cached[0] > now:
            return cached[1]
        principal = await authenticate(self.engine, token, datetime.now(UTC))
        if len(self._tokens) >= token_cache_entries_max:
            self._tokens.clear()  # bounded; refilled by the next requests
        self._tokens[token] = (now + token_cache_s, principal)
        return principal

    async def catalogue(self) -> CatalogueVersion | None:
        now = time.monotonic()
        if self._catalogue is not None and self._catalogue[0] > now:
            return self._catalogue[1]
        async with self.connection() as conn:
            latest = await latest_catalogue(conn)
        self._catalogue = (now + catalogue_cache_s, latest)
        return latest

    def forget_catalogue(self) -> None:
        """After a catalogue load through the API: check against it from the next request."""
        self._catalogue = None

    async def submit(
        self, items: Sequence[tuple[object, Rejection | None]], submitter: Submitter
    ) -> list[Receipt]:
        """Send the items to the raw log (all of them, valid or not) and screen each.

        Each item is (record, a refusal found before it became an event, e.g. an xAPI
        statement that cannot be mapped). A well-typed event is screened as the record it
        is (what the stream decodes from its message is the same record); anything else
        is screened as the stream will see it, decoded from the exact bytes sent.
        """
        timestamp_ms = time.time_ns() // 1_000_000
        received_at = received_at_of(timestamp_ms)  # exactly the worker's received time
        version = await self.catalogue()
        catalogue = version.catalogue if version is not None else None
        submissions: list[Submission] = []
        refusals: list[Rejection | None] = []
        for record, refusal in items:
            event = usage_event_record(record) if refusal is None else None
            submission = event_submission(event) if event is not None else None
            if submission is None:
                event = None
                submission = submission_for_record(record, event_body(record))
            submission = submission.with_submitter(submitter)
            submissions.append(submission)
            if refusal is None:
                name, screened_record = (
                    (USAGE_EVENT, event) if event is not None else decode(submission.value)
                )
                screened = screen_record(name, screened_record, catalogue, received_at, submitter)
                refusal = screened if isinstance(screened, Rejection) else None
            refusals.append(refusal)
        positions = await self.sender.send(submissions, timestamp_ms)
        return [
            Receipt(
                index=index,
                event_id=_event_id(record),
                partition=partition,
                offset=offset,
                refusal=refusal,
            )
            for index, ((record, _), (partition, offset), refusal) in enumerate(
                zip(items, positions, refusals, strict=True)
            )
        ]

    async def outcomes(self, receipts: Sequence[Receipt], wait_s: float) -> dict[int, EventOutcome]:
        """Final outcomes by index, waiting up to `wait_s` (bounded) for the worker."""
        deadline = time.monotonic() + min(max(wait_s, 0.0), wait_s_max)
        by_position = {(r.partition, r.offset): r.index for r in receipts}
        found: dict[int, EventOutcome] = {}
        while True:
            missing = [position for position, index in by_position.items() if index not in found]
            if missing:
                async with self.connection() as conn:
                    entries = await outcomes_at(conn, self.ws.topics.raw, missing)
                for position, entry in entries.items():
                    found[by_position[position]] = outcome_of_entry(entry)
            if len(found) == len(by_position) or time.monotonic() >= deadline:
                break
            await asyncio.sleep(outcome_poll_s)
        return found

    async def event_outcomes(self, vendor: str, event_id: str) -> list[EventOutcome] | None:
        """Every submission of one of the vendor's event ids; [] while the ledger is
        behind the raw log (it may still come), None when the ledger has caught up and
        holds no such event."""
        async with self.connection() as conn:
            entries = await outcomes_of_event(conn, vendor, event_id)
        if entries:
            return [outcome_of_entry(entry) for entry in entries]
        ends = await end_offsets(self.ws.kafka_ingest, self.ws.topics.raw)
        async with self.connection() as conn:
            positions = await ledger_positions(conn, sorted(ends))
        behind = any(positions.get(partition, 0) < end for partition, end in ends.items())
        return [] if behind else None

    async def ready(self) -> dict[str, bool]:
        """Whether PostgreSQL and the broker answer now."""
        database, broker = await asyncio.gather(
            database_reachable(self.engine), self.sender.reachable()
        )
        return {"postgresql": database, "kafka": broker}


def _event_id(record: object) -> str | None:
    if isinstance(record, dict):
        event_id = record.get("event_id")
        # Echoed in the answer: only text that JSON over UTF-8 can carry.
        return event_id if isinstance(event_id, str) and is_storable_text(event_id) else None
    return None
