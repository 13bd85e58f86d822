"""`ledger verify`: recompute every hash chain, closing and settlement digest of a ledger.

Entries. PostgreSQL encodes each row with `ledger.entry_bytes` (SQL, created by the
migration) and hashes it, so the check does not trust the write path: `ledger/domain/chain.py`
encoded and hashed the row when it was written in Python, an independent implementation
encodes it again now. For each chain, in seq order:

- seq runs 1, 2, 3 … without a gap;
- prev_hash equals the hash stored in the entry before (GENESIS_HASH for seq 1);
- hash equals SHA-256(prev_hash ‖ entry_bytes(row)).

A row changed by anyone, even a superuser who disabled the triggers, no longer hashes
to its stored hash; a deleted row leaves a gap; a row replaced with a recomputed hash
breaks the link from the next entry. Closings pin every chain's head at a close, so a
rewritten tail is found too, and each settlement is checked against its digest and
its lines.

Speed: each chain is cut into segments of `verify_segment_entries` seqs. A segment is
first checked in one aggregate query (the fast path): PostgreSQL encodes and hashes
every row and returns one row, the count, whether every hash matched, and the stored
prev_hashes and hashes concatenated, which Python compares as two byte strings for the
links. Only a segment that this does not prove intact is read again row by row and
hashed with hashlib (the exact path), which finds and names the damage. Segments run on
two connections per core, all reading the same MVCC snapshot (exported by the
coordinating transaction), so the report describes one point in time even while writers
append. Measured with benchmarks/verify_bench.py: about 3.5 CPU µs per entry, nearly all
in PostgreSQL (mostly the ~170 expression steps of entry_bytes per row, then SHA-256).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import asyncpg

from ledger.domain.chain import DRAFT_FIELDS, GENESIS_HASH, EntryDraft, canonical_bytes, entry_hash
from ledger.domain.invariants import invariant
from ledger.store.engine import asyncpg_dsn

verify_segment_entries = 10_000  # seqs per unit of work: one query (two if damaged), held in memory
verify_in_process_entries_max = 50_000  # up to this many, one connection: more cost more
verify_connections_per_core = 2  # two per core overlap round trips with work (measured)
verify_connections_max = 16  # upper bound on concurrent connections, whatever the core count
verify_settlements_fetch_rows = 500  # settlements per round trip of the cursor
verify_damages_reported_max = 20  # damage lines a report carries (all are counted)
verify_hash_hex_shown = 16  # hex digits of a hash shown in a damage message

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

# The database functions verify relies on, as the migrations created them: sha256 of
# pg_proc.prosrc. A superuser who can change rows can also redefine these (for example
# to return the old bytes for a changed row), so verify checks them before trusting them.
EXPECTED_FUNCTION_SOURCES = {
    "ledger.encode_bytes(bytea)":
        "361d574b3efa2ddb12c4525da0f488b8ff4dd12e9d91f7ebc2fb2e4fb903978a",
    "ledger.encode_integer(bigint)":
        "9a50e313bb33dbeec1bab6487f7d8bc36ea48bf52b73559a2257ad0493916640",
    "ledger.encode_text(text)":
        "f56575fbce1d7bdba2223b438d39c775f3e26cbe2ec34521ca312d1efd5fadc8",
    "ledger.encode_timestamp(timestamp with time zone)":
        "bc4d9f2d15941546edcbaa9927a0c73da11b602148b037fd38e7be0e51dc43c1",
    "ledger.entry_bytes(ledger.entries)":
        "d84b38443c3df5e3ea64739e0920f4a8a743625f554073a8af62f6cc873adf35",
    "ledger.refuse_change()":
        "9cf387b2f137a7220668275d2be7cf6c0d4ac129b3a60f2f9f659dac90419c19",
}  # fmt: skip

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
class VerifyReport:
    ok: bool
    entries_checked: int
    chains: int
    closings_checked: int
    settlements_checked: int
    damages_found: int
    first_damage: str | None  # one readable line naming the first damage; None when ok
    # The first `verify_damages_reported_max` damages, in order (for each segment of a
    # chain only its first: a change often breaks several checks of the same entries).
    damages: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChainExtent:
    chain: int
    seq_min: int
    seq_max: int


@dataclass(frozen=True, order=True)
class Segment:
    chain: int
    first_seq: int
    last_seq: int


@dataclass(frozen=True)
class Finding:
    """Something wrong at one entry, before it is described for people."""

    seq: int
    kind: str  # gap | link | hash
    stored: bytes = b""  # link: the prev_hash stored; hash: the hash stored
    expected: bytes = b""  # link: the previous entry's hash; hash: the hash computed
    gap_from_seq: int = 0  # gap: the first missing seq (the last is seq - 1, or last_seq)


@dataclass(frozen=True)
class SegmentResult:
    segment: Segment
    entries_checked: int
    damages_found: int
    first_damage: str | None


# ---------------------------------------------------------------------- pure checks


def plan_segments(
    extents: Sequence[ChainExtent], segment_entries: int | None = None
) -> list[Segment]:
    """Every chain from seq 1 to its last seq, cut into segments of at most `segment_entries`."""
    if segment_entries is None:
        segment_entries = verify_segment_entries
    invariant(segment_entries >= 1, "a segment must hold at least one entry")
    segments: list[Segment] = []
    for extent in extents:
        for first_seq in range(1, extent.seq_max + 1, segment_entries):
            last_seq = min(first_seq + segment_entries - 1, extent.seq_max)
            segments.append(Segment(extent.chain, first_seq, last_seq))
    return segments


def scan_segment(
    rows: Sequence[Sequence[Any]], segment: Segment, predecessor_hash: bytes
) -> tuple[int, list[Finding]]:
    """Check rows (seq, hash, prev_hash ‖ entry bytes) of one segment, in seq order.

    `predecessor_hash` is the hash of the entry before the segment (GENESIS_HASH before
    seq 1), or b"" when that entry is missing: then the previous segment ended in a gap
    and already counted it, so a gap at this segment's start is the same one. Returns
    the rows checked and every finding, in seq order. The hot loop of `ledger verify`:
    keep it to a comparison, a prefix test and one hash per row.
    """
    sha256 = hashlib.sha256
    findings: list[Finding] = []
    expected_seq = segment.first_seq
    previous_hash = predecessor_hash
    for seq, stored_hash, message in rows:
        if seq != expected_seq or not message.startswith(previous_hash):
            if seq != expected_seq:
                if previous_hash:  # else: the previous segment's gap, continued
                    findings.append(Finding(seq, "gap", gap_from_seq=expected_seq))
            else:
                stored_prev = bytes(message[: len(GENESIS_HASH)])
                findings.append(Finding(seq, "link", stored=stored_prev, expected=previous_hash))
        computed = sha256(message).digest()
        if computed != stored_hash:
            findings.append(Finding(seq, "hash", stored=bytes(stored_hash), expected=computed))
        previous_hash = stored_hash
        expected_seq = seq + 1
    if expected_seq <= segment.last_seq:
        findings.append(Finding(segment.last_seq + 1, "gap", gap_from_seq=expected_seq))
    return len(rows), findings


def summary_is_intact(
    segment: Segment, entries: int, hashes_match: bool, prev_hashes: bytes, hashes: bytes
) -> bool:
    """Whether SEGMENT_SUMMARY_QUERY's row proves the segment intact (False: look row by row).

    The summary covers seqs max(first_seq - 1, 1) .. last_seq. Intact means: every one of
    those seqs is there (seq is the key within a chain, so the count says it), every row
    hashes to its stored hash, and each row's prev_hash is the hash of the row before it:
    the concatenated prev_hashes, shifted by one entry, equal the concatenated hashes.
    """
    size = len(GENESIS_HASH)
    first_fetched = max(segment.first_seq - 1, 1)
    expected_entries = segment.last_seq - first_fetched + 1
    if entries != expected_entries or not hashes_match:
        return False
    if len(prev_hashes) != entries * size or len(hashes) != entries * size:
        return False
    if segment.first_seq == 1 and prev_hashes[:size] != GENESIS_HASH:
        return False
    return prev_hashes[size:] == hashes[:-size]


def short_hex(value: bytes) -> str:
    text = value.hex()
    return text if len(text) <= verify_hash_hex_shown else text[:verify_hash_hex_shown] + "…"


def canonical_json_text(value: object) -> str:
    """Canonical JSON: keys sorted, separators "," and ":", non-ASCII as is (UTF-8)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def document_digest(document: dict[str, Any]) -> str:
    body = {key: value for key, value in document.items() if key != "digest"}
    return "sha256:" + hashlib.sha256(canonical_json_text(body).encode("utf-8")).hexdigest()


def amount_ore(amount: object) -> int | None:
    """A two-decimal amount string ("10150.00", "-12.50") as øre; None if it is not one."""
    if not isinstance(amount, str):
        return None
    try:
        ore = Decimal(amount) * 100
    except InvalidOperation:
        return None
    if not ore.is_finite() or ore != ore.to_integral_value():
        return None
    return int(ore)


def settlement_problem(
    key: tuple[str, str, str],
    close_id: str,
    closing_period: str | None,
    document_text: str,
    digest: str,
    lines_json: str | None,
) -> str | None:
    """What is wrong with one stored settlement, or None. `key` = (period, municipality, vendor)."""
    try:
        document = json.loads(document_text)
    except ValueError as error:
        return f"the document is not valid JSON ({error})"
    if not isinstance(document, dict):
        return "the document is not a JSON object"
    computed = document_digest(document)
    if digest != computed:
        return (
            f"digest column {digest} but the document hashes to {computed};"
            " the document or its digest was changed after it was issued"
        )
    if document.get("digest") != computed:
        return (
            f"the document's own digest {document.get('digest')!r} is not {computed};"
            " the document was changed after it was issued"
        )
    if canonical_json_text(document) != document_text:
        return "the document is not stored in canonical JSON form; it was rewritten"
    for name, value in zip(("period", "municipality", "vendor"), key, strict=True):
        if document.get(name) != value:
            return f"the document's {name} is {document.get(name)!r}, the row's is {value!r}"
    if closing_period is None:
        return f"close_id {close_id!r} names no closing"
    if closing_period != key[0]:
        return f"close_id {close_id!r} closes period {closing_period}, not {key[0]}"
    return lines_problem(document.get("lines"), json.loads(lines_json) if lines_json else [])


def lines_problem(document_lines: object, stored_lines: list[list[Any]]) -> str | None:
    """Compare the document's lines with the settlement_lines rows (in line_no order)."""
    if not isinstance(document_lines, list):
        return "the document has no list of lines"
    if len(document_lines) != len(stored_lines):
        return (
            f"the document has {len(document_lines)} lines,"
            f" settlement_lines has {len(stored_lines)}"
        )
    for number, (line, stored) in enumerate(zip(document_lines, stored_lines, strict=True), 1):
        line_no, licence, usage_period, quantity, stored_amount_ore, adjustment = stored
        if line_no != number:
            return f"settlement_lines has line_no {line_no} where line {number} belongs"
        if not isinstance(line, dict):
            return f"line {number} of the document is not an object"
        document_values = (
            line.get("licence"),
            line.get("usage_period"),
            line.get("quantity"),
            amount_ore(line.get("amount")),
            line.get("adjustment", adjustment),
        )
        stored_values = (licence, usage_period, quantity, stored_amount_ore, adjustment)
        if document_values != stored_values:
            return (
                f"line {number}: the document says (licence, usage_period, quantity,"
                f" amount_ore, adjustment) = {document_values},"
                f" settlement_lines says {stored_values}"
            )
    return None


def parse_heads(heads_text: str) -> list[tuple[int, int, str]] | str:
    """A closing's heads as (chain, seq, hash hex), or what is wrong with them."""
    try:
        heads = json.loads(heads_text)
    except ValueError as error:
        return f"heads is not valid JSON ({error})"
    if canonical_json_text(heads) != heads_text:
        return "heads is not stored in canonical JSON form; it was rewritten"
    parsed: list[tuple[int, int, str]] = []
    if not isinstance(heads, list):
        return "heads is not a JSON list"
    for head in heads:
        if not (
            isinstance(head, dict)
            and set(head) == {"chain", "seq", "hash"}
            and type(head["chain"]) is int
            and type(head["seq"]) is int
            and isinstance(head["hash"], str)
        ):
            return f"head {head!r} is not {{chain, seq, hash}}"
        parsed.append((head["chain"], head["seq"], head["hash"]))
    return parsed


# ---------------------------------------------------------------------- database work


async def connect(dsn: str) -> asyncpg.Connection:
    """A verify session on `dsn` (a libpq-style URL: see `ledger.store.engine.asyncpg_dsn`)."""
    connection: asyncpg.Connection = await asyncpg.connect(
        dsn, server_settings=verify_server_settings
    )
    return connection


async def _describe_entry(connection: asyncpg.Connection, chain: int, seq: int) -> str:
    row = await connection.fetchrow(
        "SELECT source_offset, event_id FROM ledger.entries WHERE chain = $1 AND seq = $2",
        chain,
        seq,
    )
    if row is None:
        return f"chain {chain} seq {seq}"
    event = f", event id {row['event_id']}" if row["event_id"] is not None else ""
    return f"chain {chain} seq {seq} (source offset {row['source_offset']}{event})"


async def _python_hash(connection: asyncpg.Connection, chain: int, seq: int) -> bytes | None:
    """The entry's hash computed by ledger/domain/chain.py from the row as stored."""
    row = await connection.fetchrow(ENTRY_QUERY, chain, seq)
    if row is None:
        return None
    draft = EntryDraft(**{name: row[name] for name in DRAFT_FIELDS})
    return entry_hash(bytes(row["prev_hash"]), canonical_bytes(chain, seq, draft))


async def describe_finding(connection: asyncpg.Connection, chain: int, finding: Finding) -> str:
    """One readable line naming the entry and what differs."""
    if finding.kind == "gap":
        # The gap may run on past the segment: name the next entry that exists.
        next_seq = await connection.fetchval(NEXT_SEQ_QUERY, chain, finding.gap_from_seq)
        missing_to = next_seq - 1 if next_seq is not None else finding.seq - 1
        missing = (
            f"seq {finding.gap_from_seq}"
            if missing_to == finding.gap_from_seq
            else f"seqs {finding.gap_from_seq}..{missing_to}"
        )
        after = (
            await _describe_entry(connection, chain, next_seq)
            if next_seq is not None
            else "the end of the chain"
        )
        return (
            f"chain {chain}: {missing} missing before {after};"
            " a row was deleted after it was written"
        )
    entry = await _describe_entry(connection, chain, finding.seq)
    if finding.kind == "link":
        return (
            f"{entry}: prev_hash {short_hex(finding.stored)} is not the hash of seq"
            f" {finding.seq - 1} ({short_hex(finding.expected)});"
            " an entry was replaced or the chain was re-linked"
        )
    python_hash = await _python_hash(connection, chain, finding.seq)
    if python_hash == finding.stored:
        stored_bytes = await connection.fetchval(ENTRY_BYTES_QUERY, chain, finding.seq)
        return (
            f"{entry}: ledger.entry_bytes (SQL) and ledger/domain/chain.py encode this row"
            f" differently ({len(stored_bytes)} bytes from SQL); a bug in one of them,"
            " not damage"
        )
    return (
        f"{entry}: hash mismatch: stored {short_hex(finding.stored)} computed"
        f" {short_hex(finding.expected)}; the row was changed after it was written"
    )


async def verify_segment(connection: asyncpg.Connection, segment: Segment) -> SegmentResult:
    """Verify one segment in the connection's current transaction.

    First the fast path (PostgreSQL encodes and hashes; one row comes back); only when that
    does not prove the segment intact, the exact path, which finds and names the damage.
    """
    first_fetched = max(segment.first_seq - 1, 1)
    summary = await connection.fetchrow(
        SEGMENT_SUMMARY_QUERY, segment.chain, first_fetched, segment.last_seq
    )
    invariant(summary is not None, "an aggregate query returns one row")
    if summary_is_intact(
        segment,
        summary["entries"],
        summary["hashes_match"],
        bytes(summary["prev_hashes"]),
        bytes(summary["hashes"]),
    ):
        return SegmentResult(segment, segment.last_seq - segment.first_seq + 1, 0, None)
    rows = await connection.fetch(SEGMENT_QUERY, segment.chain, first_fetched, segment.last_seq)
    predecessor_hash = GENESIS_HASH if segment.first_seq == 1 else b""
    if segment.first_seq > 1 and rows and rows[0]["seq"] == segment.first_seq - 1:
        predecessor_hash = bytes(rows[0]["hash"])
    if rows and rows[0]["seq"] < segment.first_seq:
        rows = rows[1:]
    checked, findings = scan_segment(rows, segment, predecessor_hash)
    first_damage = None
    if findings:
        first_damage = await describe_finding(connection, segment.chain, findings[0])
    return SegmentResult(segment, checked, len(findings), first_damage)


async def _import_snapshot(connection: asyncpg.Connection, snapshot: str) -> None:
    """See what the coordinating transaction sees (first statement of a repeatable read)."""
    invariant(SNAPSHOT_ID_PATTERN.match(snapshot) is not None, f"bad snapshot id {snapshot!r}")
    await connection.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")


def concurrent_connections(entries_total: int, segments: int) -> int:
    """How many connections verify segments at once; 0 = the coordinating one alone.

    PostgreSQL does nearly all the work (encoding and hashing), one backend per
    connection; two per core keep every core busy between round trips.
    """
    if entries_total <= verify_in_process_entries_max:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    connections = min((cores or 1) * verify_connections_per_core, verify_connections_max, segments)
    return connections if connections > 1 else 0


async def _verify_concurrently(
    dsn: str,
    snapshot: str,
    segments: Sequence[Segment],
    connections: int,
    record: Callable[[SegmentResult], None],
) -> None:
    """Segments from one queue, on `connections` connections that share the snapshot."""
    queue = deque(segments)

    async def drain_queue() -> None:
        connection = await connect(dsn)
        try:
            async with connection.transaction(isolation="repeatable_read", readonly=True):
                await _import_snapshot(connection, snapshot)
                while queue:
                    record(await verify_segment(connection, queue.popleft()))
        finally:
            await connection.close()

    # A TaskGroup: if one connection fails, the others are cancelled and the error raised.
    async with asyncio.TaskGroup() as group:
        for _ in range(connections):
            group.create_task(drain_queue())


async def _verify_entries(
    connection: asyncpg.Connection,
    dsn: str,
    snapshot: str,
    extents: Sequence[ChainExtent],
    progress: Callable[[int, int], None] | None,
) -> list[SegmentResult]:
    segments = plan_segments(extents)
    entries_total = sum(extent.seq_max for extent in extents)  # more if rows are missing
    results: list[SegmentResult] = []
    checked = 0

    def record(result: SegmentResult) -> None:
        nonlocal checked
        results.append(result)
        checked += result.entries_checked
        if progress is not None:
            progress(checked, entries_total)

    connections = concurrent_connections(entries_total, len(segments))
    if connections == 0:
        for segment in segments:
            record(await verify_segment(connection, segment))
    else:
        await _verify_concurrently(dsn, snapshot, segments, connections, record)
    return sorted(results, key=lambda result: result.segment)


def _chain_problems(extents: Sequence[ChainExtent]) -> list[tuple[int, str]]:
    """Rows below seq 1, which no segment reads (the CHECK constraint was dropped)."""
    return [
        (
            extent.chain,
            f"chain {extent.chain}: it has rows at seq {extent.seq_min}, below 1;"
            " rows were inserted by hand",
        )
        for extent in extents
        if extent.seq_min < 1
    ]


async def _verify_closings(connection: asyncpg.Connection) -> tuple[int, list[str]]:
    problems: list[str] = []
    closings = await connection.fetch(CLOSINGS_QUERY)
    for closing in closings:
        name = f"closing {closing['close_id']} (period {closing['period']})"
        heads = parse_heads(closing["heads"])
        if isinstance(heads, str):
            problems.append(f"{name}: {heads}")
            continue
        rows = await connection.fetch(
            HEAD_ENTRIES_QUERY, [head[0] for head in heads], [head[1] for head in heads]
        )
        stored = {(row["chain"], row["seq"]): row["hash"] for row in rows}
        for chain, seq, hash_hex in heads:
            stored_hash = stored.get((chain, seq))
            if stored_hash is None:
                problems.append(
                    f"{name}: the head of chain {chain} at seq {seq} does not exist;"
                    " entries were deleted after the close"
                )
            elif bytes(stored_hash).hex() != hash_hex:
                problems.append(
                    f"{name}: the head of chain {chain} at seq {seq} is"
                    f" {hash_hex[:verify_hash_hex_shown]}…, the entry's hash is"
                    f" {short_hex(bytes(stored_hash))}; entries up to it were rewritten"
                )
    return len(closings), problems


async def _verify_catalogues(connection: asyncpg.Connection) -> list[str]:
    """Each stored catalogue version hashes to its sha256, and every marker names it.

    Attribution and pricing read these documents, so a changed one would change bills
    without touching an entry.
    """
    from ledger.domain.catalogue_file import (
        CatalogueRejected,
        canonical_catalogue_json,
        catalogue_from_canonical_json,
        catalogue_sha256,
    )

    problems: list[str] = []
    versions: dict[int, str] = {}
    for row in await connection.fetch(
        "SELECT version, sha256, document FROM ledger.catalogue_versions ORDER BY version"
    ):
        name = f"catalogue version {row['version']}"
        versions[row["version"]] = row["sha256"]
        document = row["document"].encode()
        try:
            catalogue = catalogue_from_canonical_json(document)
        except (CatalogueRejected, ValueError) as error:
            problems.append(f"{name}: the stored document is no longer a catalogue ({error})")
            continue
        if catalogue_sha256(catalogue) != row["sha256"]:
            problems.append(f"{name}: the document does not hash to its sha256; it was changed")
        elif canonical_catalogue_json(catalogue) != document:
            problems.append(f"{name}: the document is not in canonical form; it was changed")
    for marker in await connection.fetch(
        "SELECT chain, seq, catalogue_version, reference FROM ledger.entries"
        " WHERE kind = 'catalogue' ORDER BY chain, seq"
    ):
        expected = versions.get(marker["catalogue_version"])
        if expected is None or expected != marker["reference"]:
            problems.append(
                f"chain {marker['chain']} seq {marker['seq']}: catalogue marker for version"
                f" {marker['catalogue_version']} does not match the stored catalogue version"
            )
    return problems


async def _verify_settlements(connection: asyncpg.Connection) -> tuple[int, list[str]]:
    problems: list[str] = []
    checked = 0
    async for row in connection.cursor(SETTLEMENTS_QUERY, prefetch=verify_settlements_fetch_rows):
        checked += 1
        key = (row["period"], row["municipality"], row["vendor"])
        problem = settlement_problem(
            key,
            row["close_id"],
            row["closing_period"],
            row["document"],
            row["digest"],
            row["lines"],
        )
        if problem is not None:
            problems.append(f"settlement {'/'.join(key)}: {problem}")
    for line in await connection.fetch(ORPHAN_LINES_QUERY):
        problems.append(
            f"settlement line {line['period']}/{line['municipality']}/{line['vendor']}"
            f" #{line['line_no']} belongs to no settlement; the settlement was deleted"
        )
    return checked, problems


async def _verify_functions(connection: asyncpg.Connection) -> list[str]:
    """The database functions verify relies on are still the migrations' own."""
    found = {row["signature"]: row for row in await connection.fetch(FUNCTIONS_QUERY)}
    problems: list[str] = []
    for signature, expected in EXPECTED_FUNCTION_SOURCES.items():
        row = found.get(signature)
        if row is None:
            problems.append(f"function {signature} is missing; the schema was altered")
            continue
        source_sha256 = hashlib.sha256(row["prosrc"].encode("utf-8")).hexdigest()
        if source_sha256 != expected or row["proconfig"] is not None or row["prosecdef"]:
            problems.append(
                f"function {signature} was redefined after the migration;"
                " the checks that use it cannot be trusted"
            )
    return problems


async def _check_encodings(connection: asyncpg.Connection) -> None:
    for setting in ("server_encoding", "client_encoding"):
        value = await connection.fetchval(f"SHOW {setting}")
        invariant(value == "UTF8", f"ledger.entry_bytes needs {setting} UTF8, not {value}")


async def verify_ledger(
    database_url: str, progress: Callable[[int, int], None] | None = None
) -> VerifyReport:
    """Check the whole ledger of `database_url`; `progress(entries_checked, entries_total)`.

    The report names the first damage: the lowest (chain, seq) among entries, else the
    first closing, else the first settlement.
    """
    dsn = asyncpg_dsn(database_url)
    connection = await connect(dsn)
    try:
        await _check_encodings(connection)
        function_problems = await _verify_functions(connection)
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await connection.fetchval("SELECT pg_export_snapshot()")
            extents = [
                ChainExtent(row["chain"], row["seq_min"], row["seq_max"])
                for row in await connection.fetch(CHAINS_QUERY)
            ]
            results = await _verify_entries(connection, dsn, snapshot, extents, progress)
            closings_checked, closing_problems = await _verify_closings(connection)
            catalogue_problems = await _verify_catalogues(connection)
            settlements_checked, settlement_problems = await _verify_settlements(connection)
    finally:
        await connection.close()
    chain_problems = _chain_problems(extents)
    # In (chain, seq) order: rows below seq 1 come before a chain's segments.
    ordered_entry_problems = sorted(
        [(chain, 0, message) for chain, message in chain_problems]
        + [
            (result.segment.chain, result.segment.first_seq, result.first_damage)
            for result in results
            if result.first_damage is not None
        ]
    )
    problems = (
        function_problems
        + [message for _, _, message in ordered_entry_problems]
        + closing_problems
        + catalogue_problems
        + settlement_problems
    )
    damages_found = (
        len(function_problems)
        + sum(result.damages_found for result in results)
        + len(chain_problems)
        + len(closing_problems)
        + len(catalogue_problems)
        + len(settlement_problems)
    )
    return VerifyReport(
        ok=damages_found == 0,
        entries_checked=sum(result.entries_checked for result in results),
        chains=len(extents),
        closings_checked=closings_checked,
        settlements_checked=settlements_checked,
        damages_found=damages_found,
        first_damage=problems[0] if problems else None,
        damages=tuple(problems[:verify_damages_reported_max]),
    )
