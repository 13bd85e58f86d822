"""The stream writer's query: accepted events by key (catalogue versions: `catalogues`).

Called inside the writer's transaction, under the chain lock (`append.lock_chain`),
so what they read is what the entries appended in the same transaction build on.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# One probe of the unique index per key, whatever the statistics say: a plan cached
# while the table was small (a scan per key) must not survive into a large ledger.
_ACCEPTED_DIGESTS = text(
    """
    SELECT k.vendor, k.event_id, e.content_digest
    FROM unnest(CAST(:vendors AS text[]), CAST(:event_ids AS text[])) AS k(vendor, event_id)
    CROSS JOIN LATERAL (
        SELECT content_digest FROM ledger.entries e
        WHERE e.vendor = k.vendor AND e.event_id = k.event_id AND e.status = 'accepted'
        LIMIT 1
    ) e
    """
)


async def accepted_digests(
    conn: AsyncConnection, keys: Collection[tuple[str, str]]
) -> dict[tuple[str, str], bytes]:
    """Content digests of already accepted events, by (vendor, event_id), for `keys`."""
    if not keys:
        return {}
    vendors = [vendor for vendor, _ in keys]
    event_ids = [event_id for _, event_id in keys]
    rows = await conn.execute(_ACCEPTED_DIGESTS, {"vendors": vendors, "event_ids": event_ids})
    return {(row.vendor, row.event_id): row.content_digest for row in rows}
