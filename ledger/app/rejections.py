"""What a vendor reads about its rejected events: reason code, explanation, detail.

Over HTTP the list is a feed read in pages (`rejections_page`). Its cursor is a
position per chain (the last seq read in each), not one position across the
ledger: within a chain, seq order is commit order, so resuming after each chain's
position never skips an entry the worker committed after the page was read, even
when one partition's worker runs behind another's. Items are therefore in ledger
order (chain, then seq), not strictly by time received.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.app.workspace import Workspace, ledger_connection
from ledger.domain.events import REASON_EXPLANATIONS
from ledger.domain.invariants import invariant
from ledger.store.entries import (
    RejectedEntry,
    rejected_entries,
    rejected_entries_after,
)
from streams.topics import raw_topic_partitions

rejections_listed_max = 100_000
rejections_page_default: Final = 100
rejections_page_max: Final = 1_000
# "chain:seq," is at most 29 characters, 40 in base64, per chain. Short enough that a
# URL carrying it stays far below the HTTP server's request-line limit (16 KiB).
cursor_chain_characters_max: Final = 40
cursor_characters_max: Final = 1_024
invariant(
    raw_topic_partitions * cursor_chain_characters_max <= cursor_characters_max,
    "a cursor over every chain of the raw topic must fit the cursor limit",
)
cursor_version: Final = "r1"
_cursor_position: Final = re.compile(r"([0-9]{1,9}):([0-9]{1,18})", re.ASCII)
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

# By any text: the ledger's reason_code column is text, and a code unknown to this
# version explains as "".
_EXPLANATIONS: dict[str, str] = {str(code): text for code, text in REASON_EXPLANATIONS.items()}


@dataclass(frozen=True)
class RejectedEvent:
    vendor: str | None
    event_id: str | None
    received_at: str
    reason_code: str
    explanation: str
    detail: str
    partition: int
    offset: int


class CursorInvalid(ValueError):
    """A cursor this server did not issue (or that was changed): bad input."""


@dataclass(frozen=True)
class RejectionsPage:
    events: list[RejectedEvent]
    next_cursor: str  # resume here, now for the next page or later for new rejections
    has_more: bool  # a full page: more may follow at once


def encode_cursor(positions: Mapping[int, int]) -> str:
    """Opaque to clients: a version tag and base64url("chain:seq,…")."""
    text = ",".join(f"{chain}:{seq}" for chain, seq in sorted(positions.items()))
    return f"{cursor_version}.{base64.urlsafe_b64encode(text.encode()).decode().rstrip('=')}"


def decode_cursor(cursor: str) -> dict[int, int]:
    """The positions in a cursor from `encode_cursor`; `CursorInvalid` for anything else."""
    version, _, encoded = cursor.partition(".")
    if version != cursor_version or len(cursor) > cursor_characters_max:
        raise CursorInvalid("the cursor is not one this API returned: start again without it")
    try:
        padded = encoded + "=" * (-len(encoded) % 4)
        text = base64.b64decode(padded, altchars=b"-_", validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise CursorInvalid(
            "the cursor is not one this API returned: start again without it"
        ) from error
    positions: dict[int, int] = {}
    for part in text.split(",") if text else []:
        match = _cursor_position.fullmatch(part)
        if match is None or int(match.group(1)) in positions:
            raise CursorInvalid("the cursor is not one this API returned: start again without it")
        positions[int(match.group(1))] = int(match.group(2))
    return positions


def _rejected_event(row: RejectedEntry) -> RejectedEvent:
    return RejectedEvent(
        vendor=row.vendor,
        event_id=row.event_id,
        received_at=row.received_at.isoformat(),
        reason_code=row.reason_code,
        explanation=_EXPLANATIONS.get(row.reason_code, ""),
        detail=row.reason_detail or "",
        partition=row.chain,
        offset=row.source_offset,
    )


async def rejections_page(
    conn: AsyncConnection, vendor: str, since: datetime | None, cursor: str | None, limit: int
) -> RejectionsPage:
    """One page of the vendor's rejected events received at or after `since`, after `cursor`."""
    positions = decode_cursor(cursor) if cursor is not None else {}
    limit = max(1, min(limit, rejections_page_max))
    rows = await rejected_entries_after(conn, vendor, positions, since or EPOCH, limit)
    for row in rows:
        positions[row.chain] = row.seq  # rows come in (chain, seq) order: the last wins
    return RejectionsPage(
        events=[_rejected_event(row) for row in rows],
        next_cursor=encode_cursor(positions),
        has_more=len(rows) == limit,
    )


async def rejected_events(
    conn: AsyncConnection, vendor: str | None, period: str | None, limit: int
) -> list[RejectedEvent]:
    """Rejected events in the order received, with the reason explained for the vendor."""
    rows = await rejected_entries(conn, vendor, period, min(limit, rejections_listed_max))
    return [_rejected_event(row) for row in rows]


async def workspace_rejections(
    ws: Workspace, vendor: str | None, period: str | None, limit: int
) -> list[RejectedEvent]:
    """`rejected_events` of a workspace's ledger."""
    async with ledger_connection(ws) as conn:
        return await rejected_events(conn, vendor, period, limit)
