"""What a vendor reads about its rejected events: reason code, explanation, detail."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.events import REASON_EXPLANATIONS
from ledger.domain.processing import STATUS_REJECTED
from ledger.store.schema import entries

rejections_listed_max = 100_000


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
    query = (
        select(
            entries.c.vendor,
            entries.c.event_id,
            entries.c.received_at,
            entries.c.reason_code,
            entries.c.reason_detail,
            entries.c.chain,
            entries.c.source_offset,
        )
        .where(entries.c.status == STATUS_REJECTED)
        .order_by(entries.c.received_at, entries.c.chain, entries.c.seq)
        .limit(min(limit, rejections_listed_max))
    )
    if vendor is not None:
        query = query.where(entries.c.vendor == vendor)
    if period is not None:
        query = query.where(entries.c.period == period)
    return [
        RejectedEvent(
            vendor=row.vendor,
            event_id=row.event_id,
            received_at=row.received_at.isoformat(),
            reason_code=row.reason_code,
            explanation=REASON_EXPLANATIONS.get(row.reason_code, ""),
            detail=row.reason_detail or "",
            partition=row.chain,
            offset=row.source_offset,
        )
        for row in await conn.execute(query)
    ]
