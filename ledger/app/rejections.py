"""What a vendor reads about its rejected events: reason code, explanation, detail."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.app.workspace import Workspace, ledger_connection
from ledger.domain.events import REASON_EXPLANATIONS
from ledger.store.entries import rejected_entries

rejections_listed_max = 100_000

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


async def rejected_events(
    conn: AsyncConnection, vendor: str | None, period: str | None, limit: int
) -> list[RejectedEvent]:
    """Rejected events in the order received, with the reason explained for the vendor."""
    rows = await rejected_entries(conn, vendor, period, min(limit, rejections_listed_max))
    return [
        RejectedEvent(
            vendor=row.vendor,
            event_id=row.event_id,
            received_at=row.received_at.isoformat(),
            reason_code=row.reason_code,
            explanation=_EXPLANATIONS.get(row.reason_code, ""),
            detail=row.reason_detail or "",
            partition=row.chain,
            offset=row.source_offset,
        )
        for row in rows
    ]


async def workspace_rejections(
    ws: Workspace, vendor: str | None, period: str | None, limit: int
) -> list[RejectedEvent]:
    """`rejected_events` of a workspace's ledger."""
    async with ledger_connection(ws) as conn:
        return await rejected_events(conn, vendor, period, limit)
