"""Per-day counts of one vendor's submissions, as the vendor page charts them.

One grouped query over `ledger.entries`: the vendor's event entries of one window,
grouped by the Oslo day of use, by outcome and by reason code. The day of use is
the day the event occurred (as settlement periods are decided, so a month here is
the month its settlement covers); a rejected event without a readable time counts
on the day it was received.

Cost: an index-only scan of `entries_vendor_day_of_use` (revision 0005), keyed
by vendor and exactly the time-of-use expression below, with the grouped columns
included. Measured on 1,000,000 entries (five vendors, two months): 0.13 s for a
vendor's month, against 1.2-2.2 s for the table scan it replaces. Keep the WHERE
clause's expression identical to the index's, or the planner cannot use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.invariants import invariant
from ledger.domain.processing import KIND_EVENT

# Days in a month × (accepted, unlicensed, duplicate) plus the reason codes there are:
# far below this; a result that reaches it is a bug, not a big month.
daily_count_rows_max: Final = 10_000

_DAILY_COUNTS = text(
    """
    SELECT CAST(coalesce(e.occurred_at, e.received_at) AT TIME ZONE 'Europe/Oslo' AS date)
               AS day,
           e.status,
           (e.licence_id IS NULL) AS unlicensed,
           coalesce(e.reason_code, '') AS reason_code,
           count(*) AS entries
    FROM ledger.entries e
    WHERE e.kind = :kind AND e.vendor = :vendor
      AND coalesce(e.occurred_at, e.received_at) >= :start
      AND coalesce(e.occurred_at, e.received_at) < :end
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    LIMIT :limit
    """
)


@dataclass(frozen=True)
class DailyCount:
    """How many of the vendor's entries of one day had one outcome (and reason)."""

    day: date  # Europe/Oslo: the day of use (of receipt, without a readable time)
    status: str  # accepted | duplicate | rejected
    unlicensed: bool  # accepted with no licence covering it
    reason_code: str  # "" unless rejected
    entries: int


async def daily_counts(
    conn: AsyncConnection, vendor: str, start: datetime, end: datetime
) -> list[DailyCount]:
    """The vendor's event entries of [start, end), counted per Oslo day of use and outcome."""
    invariant(start.tzinfo is not None and end.tzinfo is not None, "daily_counts needs aware times")
    rows = await conn.execute(
        _DAILY_COUNTS,
        {
            "kind": KIND_EVENT,
            "vendor": vendor,
            "start": start,
            "end": end,
            "limit": daily_count_rows_max,
        },
    )
    counts = [
        DailyCount(
            row.day, str(row.status), bool(row.unlicensed), row.reason_code, int(row.entries)
        )
        for row in rows
    ]
    invariant(len(counts) < daily_count_rows_max, "daily counts reached their row limit")
    return counts
