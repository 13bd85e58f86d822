"""`ledger verify`'s SQL: its sessions, the queries, and the SQL encoding of entries.

Plain asyncpg rather than SQLAlchemy: verify reads every row of the ledger, and the
hashing happens in PostgreSQL (`ledger.entry_bytes`, created by the migration), so
all that comes back is one summary row per segment unless something is damaged.
Each function returns plain values for `rules.py` to judge.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from ledger.domain.invariants import invariant
from ledger.store.verify.rules import (
    CatalogueMarker,
    ChainExtent,
    FunctionDefinition,
    Segment,
    StoredCatalogue,
    first_fetched_seq,
)

# Verify sessions: read only; JIT compile time is not worth it for these plain queries;
# the segment query must walk the primary key in order (no bitmap scan + sort, which
# the planner likes for a large range but which sorts on disk); we run our own
# parallelism, so no parallel query on top.
verify_server_settings = {
    "application_name": "ledger-verify",
    "default_transaction_read_only": "on",
    "jit": "off",
    "enable_bitmapscan": "off",
    "enable_sort": "off",
    "max_parallel_workers_per_gather": "0",
}

FUNCTIONS_QUERY = """
SELECT p.oid::regprocedure::text AS signature, p.prosrc, p.proconfig, p.prosecdef
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
WHERE n.nspname = 'ledger'
"""

SNAPSHOT_ID_PATTERN = re.compile(r"^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$")

# The chains and their seq ranges by walking the primary key ("loose index scan"): a
# few index probes per chain instead of reading every row.
CHAINS_QUERY = """
WITH RECURSIVE chains (chain) AS (
    (SELECT chain FROM ledger.entries ORDER BY chain LIMIT 1)
    UNION ALL
    SELECT (SELECT e.chain FROM ledger.entries AS e WHERE e.chain > c.chain
            ORDER BY e.chain LIMIT 1)
    FROM chains AS c WHERE c.chain IS NOT NULL
)
SELECT c.chain,
       (SELECT min(e.seq) FROM ledger.entries AS e WHERE e.chain = c.chain) AS seq_min,
       (SELECT max(e.seq) FROM ledger.entries AS e WHERE e.chain = c.chain) AS seq_max
FROM chains AS c WHERE c.chain IS NOT NULL
ORDER BY c.chain
"""

# The fast path: one row summing up a segment and the entry before it, all hashing done
# in PostgreSQL. The rows reach the aggregates in seq order (the ordered subquery); if
# they ever did not, the links would not line up and the exact path would run, so the
# order can cost time but never a wrong verdict. coalesce: a NULL (a NOT NULL constraint
# dropped by a superuser) counts as a mismatch, not as "no opinion" to bool_and.
SEGMENT_SUMMARY_QUERY = """
SELECT count(*) AS entries,
       coalesce(bool_and(s.hash_matches), false) AS hashes_match,
       coalesce(string_agg(s.prev_hash, ''::bytea), ''::bytea) AS prev_hashes,
       coalesce(string_agg(s.hash, ''::bytea), ''::bytea) AS hashes
FROM (SELECT e.prev_hash, e.hash,
             coalesce(pg_catalog.sha256(e.prev_hash || ledger.entry_bytes(e)) = e.hash, false)
                 AS hash_matches
      FROM ledger.entries AS e
      WHERE e.chain = $1 AND e.seq BETWEEN $2 AND $3
      ORDER BY e.seq) AS s
"""

# The exact path, row by row: one segment, plus the entry before it (for the link); the
# message is what was hashed.
SEGMENT_QUERY = """
SELECT e.seq, e.hash, e.prev_hash || ledger.entry_bytes(e) AS message
FROM ledger.entries AS e
WHERE e.chain = $1 AND e.seq BETWEEN $2 AND $3
ORDER BY e.seq
"""

ENTRY_QUERY = """
SELECT * FROM ledger.entries WHERE chain = $1 AND seq = $2
"""

ENTRY_ORIGIN_QUERY = """
SELECT source_offset, event_id FROM ledger.entries WHERE chain = $1 AND seq = $2
"""

NEXT_SEQ_QUERY = """
SELECT min(seq) FROM ledger.entries WHERE chain = $1 AND seq >= $2
"""

ENTRY_BYTES_QUERY = """
SELECT ledger.entry_bytes(e) FROM ledger.entries AS e WHERE chain = $1 AND seq = $2
"""

CLOSINGS_QUERY = """
SELECT close_id, period, heads FROM ledger.closings ORDER BY period, close_id
"""

HEAD_ENTRIES_QUERY = """
SELECT e.chain, e.seq, e.hash
FROM unnest($1::integer[], $2::bigint[]) AS h (chain, seq)
JOIN ledger.entries AS e ON e.chain = h.chain AND e.seq = h.seq
"""

CATALOGUE_VERSIONS_QUERY = """
SELECT version, sha256, document FROM ledger.catalogue_versions ORDER BY version
"""

CATALOGUE_MARKERS_QUERY = """
SELECT chain, seq, catalogue_version, reference FROM ledger.entries
WHERE kind = 'catalogue' ORDER BY chain, seq
"""

SETTLEMENTS_QUERY = """
SELECT s.period, s.municipality, s.vendor, s.close_id, s.document, s.digest,
       c.period AS closing_period,
       (SELECT json_agg(json_build_array(l.line_no, l.licence, l.usage_period, l.quantity,
                                         l.amount_ore, l.adjustment) ORDER BY l.line_no)::text
          FROM ledger.settlement_lines AS l
         WHERE l.period = s.period AND l.municipality = s.municipality
           AND l.vendor = s.vendor) AS lines
FROM ledger.settlements AS s
LEFT JOIN ledger.closings AS c ON c.close_id = s.close_id
ORDER BY s.period, s.municipality, s.vendor
"""

ORPHAN_LINES_QUERY = """
SELECT l.period, l.municipality, l.vendor, l.line_no
FROM ledger.settlement_lines AS l
WHERE NOT EXISTS (SELECT FROM ledger.settlements AS s
                  WHERE s.period = l.period AND s.municipality = l.municipality
                    AND s.vendor = l.vendor)
ORDER BY l.period, l.municipality, l.vendor, l.line_no
"""


@dataclass(frozen=True)
class SegmentSummary:
    entries: int
    hashes_match: bool
    prev_hashes: bytes
    hashes: bytes


@dataclass(frozen=True)
class StoredClosing:
    close_id: str
    period: str
    heads: str  # canonical JSON as stored


@dataclass(frozen=True)
class StoredSettlement:
    key: tuple[str, str, str]  # (period, municipality, vendor)
    close_id: str
    closing_period: str | None  # None: the close_id names no closing
    document: str
    digest: str
    lines: str | None  # JSON [[line_no, licence, usage_period, quantity, amount_ore, adj]]


async def connect(dsn: str) -> asyncpg.Connection:
    """A verify session on `dsn` (a libpq-style URL: see `ledger.store.engine.asyncpg_dsn`)."""
    connection: asyncpg.Connection = await asyncpg.connect(
        dsn, server_settings=verify_server_settings
    )
    return connection


async def check_encodings(connection: asyncpg.Connection) -> None:
    """`ledger.entry_bytes` encodes text as the server sends it: it must be UTF-8 both ways."""
    for setting in ("server_encoding", "client_encoding"):
        value = await connection.fetchval(f"SHOW {setting}")
        invariant(value == "UTF8", f"ledger.entry_bytes needs {setting} UTF8, not {value}")


async def export_snapshot(connection: asyncpg.Connection) -> str:
    """The id of this transaction's snapshot, for the other verify sessions to import."""
    snapshot: str = await connection.fetchval("SELECT pg_export_snapshot()")
    return snapshot


async def import_snapshot(connection: asyncpg.Connection, snapshot: str) -> None:
    """See what the coordinating transaction sees (first statement of a repeatable read)."""
    invariant(SNAPSHOT_ID_PATTERN.match(snapshot) is not None, f"bad snapshot id {snapshot!r}")
    await connection.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")


async def ledger_functions(connection: asyncpg.Connection) -> dict[str, FunctionDefinition]:
    """The functions of schema `ledger` by signature, as pg_proc has them now."""
    return {
        row["signature"]: FunctionDefinition(row["prosrc"], row["proconfig"], row["prosecdef"])
        for row in await connection.fetch(FUNCTIONS_QUERY)
    }


async def chain_extents(connection: asyncpg.Connection) -> list[ChainExtent]:
    return [
        ChainExtent(row["chain"], row["seq_min"], row["seq_max"])
        for row in await connection.fetch(CHAINS_QUERY)
    ]


async def segment_summary(connection: asyncpg.Connection, segment: Segment) -> SegmentSummary:
    """The fast path's one row for `segment` and the entry before it."""
    row = await connection.fetchrow(
        SEGMENT_SUMMARY_QUERY, segment.chain, first_fetched_seq(segment), segment.last_seq
    )
    invariant(row is not None, "an aggregate query returns one row")
    return SegmentSummary(
        row["entries"], row["hashes_match"], bytes(row["prev_hashes"]), bytes(row["hashes"])
    )


async def segment_rows(connection: asyncpg.Connection, segment: Segment) -> Sequence[Any]:
    """The exact path's rows (seq, hash, prev_hash ‖ entry_bytes), from the entry before."""
    rows: Sequence[Any] = await connection.fetch(
        SEGMENT_QUERY, segment.chain, first_fetched_seq(segment), segment.last_seq
    )
    return rows


async def next_seq(connection: asyncpg.Connection, chain: int, from_seq: int) -> int | None:
    """The first seq at or after `from_seq` that exists in `chain`."""
    found: int | None = await connection.fetchval(NEXT_SEQ_QUERY, chain, from_seq)
    return found


async def entry_origin(
    connection: asyncpg.Connection, chain: int, seq: int
) -> tuple[int, str | None] | None:
    """(source offset, event id) of an entry, or None when the row is gone."""
    row = await connection.fetchrow(ENTRY_ORIGIN_QUERY, chain, seq)
    return None if row is None else (row["source_offset"], row["event_id"])


async def entry_row(connection: asyncpg.Connection, chain: int, seq: int) -> Any | None:
    """Every column of one entry, or None."""
    return await connection.fetchrow(ENTRY_QUERY, chain, seq)


async def entry_bytes_length(connection: asyncpg.Connection, chain: int, seq: int) -> int:
    """How many bytes `ledger.entry_bytes` (the SQL encoding) makes of one entry."""
    encoded = await connection.fetchval(ENTRY_BYTES_QUERY, chain, seq)
    return len(encoded)


async def closings(connection: asyncpg.Connection) -> list[StoredClosing]:
    return [
        StoredClosing(row["close_id"], row["period"], row["heads"])
        for row in await connection.fetch(CLOSINGS_QUERY)
    ]


async def head_hashes(
    connection: asyncpg.Connection, heads: Sequence[tuple[int, int, str]]
) -> dict[tuple[int, int], bytes]:
    """The stored hash of each (chain, seq) in `heads` that exists."""
    rows = await connection.fetch(
        HEAD_ENTRIES_QUERY, [head[0] for head in heads], [head[1] for head in heads]
    )
    return {(row["chain"], row["seq"]): bytes(row["hash"]) for row in rows}


async def catalogue_versions(connection: asyncpg.Connection) -> list[StoredCatalogue]:
    return [
        StoredCatalogue(row["version"], row["sha256"], row["document"])
        for row in await connection.fetch(CATALOGUE_VERSIONS_QUERY)
    ]


async def catalogue_markers(connection: asyncpg.Connection) -> list[CatalogueMarker]:
    return [
        CatalogueMarker(row["chain"], row["seq"], row["catalogue_version"], row["reference"])
        for row in await connection.fetch(CATALOGUE_MARKERS_QUERY)
    ]


async def settlements(
    connection: asyncpg.Connection, fetch_rows: int
) -> AsyncIterator[StoredSettlement]:
    """Every settlement with its closing's period and its lines, `fetch_rows` per round trip."""
    async for row in connection.cursor(SETTLEMENTS_QUERY, prefetch=fetch_rows):
        yield StoredSettlement(
            (row["period"], row["municipality"], row["vendor"]),
            row["close_id"],
            row["closing_period"],
            row["document"],
            row["digest"],
            row["lines"],
        )


async def orphan_lines(connection: asyncpg.Connection) -> list[tuple[str, str, str, int]]:
    """Settlement lines whose settlement row is gone: (period, municipality, vendor, line_no)."""
    return [
        (row["period"], row["municipality"], row["vendor"], row["line_no"])
        for row in await connection.fetch(ORPHAN_LINES_QUERY)
    ]
