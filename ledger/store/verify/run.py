"""The run of `ledger verify`: sessions, the shared snapshot, segments, and their order.

`sql.py` asks, `rules.py` judges; this module decides what to ask next and on which
connection. See `ledger.store.verify` for what is checked and how fast.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Callable, Sequence

import asyncpg

from ledger.store.engine import asyncpg_dsn
from ledger.store.verify import sql
from ledger.store.verify.rules import (
    ChainExtent,
    Finding,
    RunResults,
    Segment,
    SegmentResult,
    VerifyReport,
    build_report,
    catalogue_problems,
    encodings_differ_message,
    entry_name,
    function_problems,
    gap_message,
    hash_message,
    head_problems,
    link_message,
    orphan_line_problem,
    parse_heads,
    plan_segments,
    python_entry_hash,
    scan_segment,
    settlement_problem,
    split_predecessor,
    summary_is_intact,
)

verify_segment_entries = 10_000  # seqs per unit of work: one query (two if damaged), held in memory
verify_in_process_entries_max = 50_000  # up to this many, one connection: more cost more
verify_connections_per_core = 2  # two per core overlap round trips with work (measured)
verify_connections_max = 16  # upper bound on concurrent connections, whatever the core count
verify_settlements_fetch_rows = 500  # settlements per round trip of the cursor


async def _describe_entry(connection: asyncpg.Connection, chain: int, seq: int) -> str:
    origin = await sql.entry_origin(connection, chain, seq)
    if origin is None:
        return entry_name(chain, seq, None, None)
    return entry_name(chain, seq, *origin)


async def describe_finding(connection: asyncpg.Connection, chain: int, finding: Finding) -> str:
    """One readable line naming the entry and what differs."""
    if finding.kind == "gap":
        # The gap may run on past the segment: name the next entry that exists.
        following = await sql.next_seq(connection, chain, finding.gap_from_seq)
        after = (
            await _describe_entry(connection, chain, following)
            if following is not None
            else "the end of the chain"
        )
        return gap_message(chain, finding, following, after)
    entry = await _describe_entry(connection, chain, finding.seq)
    if finding.kind == "link":
        return link_message(entry, finding)
    row = await sql.entry_row(connection, chain, finding.seq)
    python_hash = None if row is None else python_entry_hash(row, chain, finding.seq)
    if python_hash == finding.stored:
        sql_bytes = await sql.entry_bytes_length(connection, chain, finding.seq)
        return encodings_differ_message(entry, sql_bytes)
    return hash_message(entry, finding)


async def verify_segment(connection: asyncpg.Connection, segment: Segment) -> SegmentResult:
    """Verify one segment in the connection's current transaction.

    First the fast path (PostgreSQL encodes and hashes; one row comes back); only when that
    does not prove the segment intact, the exact path, which finds and names the damage.
    """
    summary = await sql.segment_summary(connection, segment)
    if summary_is_intact(
        segment, summary.entries, summary.hashes_match, summary.prev_hashes, summary.hashes
    ):
        return SegmentResult(segment, segment.last_seq - segment.first_seq + 1, 0, None)
    predecessor_hash, rows = split_predecessor(await sql.segment_rows(connection, segment), segment)
    checked, findings = scan_segment(rows, segment, predecessor_hash)
    first_damage = None
    if findings:
        first_damage = await describe_finding(connection, segment.chain, findings[0])
    return SegmentResult(segment, checked, len(findings), first_damage)


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
        connection = await sql.connect(dsn)
        try:
            async with connection.transaction(isolation="repeatable_read", readonly=True):
                await sql.import_snapshot(connection, snapshot)
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
    segments = plan_segments(extents, verify_segment_entries)
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


async def _verify_closings(connection: asyncpg.Connection) -> tuple[int, list[str]]:
    problems: list[str] = []
    closings = await sql.closings(connection)
    for closing in closings:
        name = f"closing {closing.close_id} (period {closing.period})"
        heads = parse_heads(closing.heads)
        if isinstance(heads, str):
            problems.append(f"{name}: {heads}")
            continue
        problems += head_problems(name, heads, await sql.head_hashes(connection, heads))
    return len(closings), problems


async def _verify_catalogues(connection: asyncpg.Connection) -> list[str]:
    return catalogue_problems(
        await sql.catalogue_versions(connection), await sql.catalogue_markers(connection)
    )


async def _verify_settlements(connection: asyncpg.Connection) -> tuple[int, list[str]]:
    problems: list[str] = []
    checked = 0
    async for stored in sql.settlements(connection, verify_settlements_fetch_rows):
        checked += 1
        problem = settlement_problem(
            stored.key,
            stored.close_id,
            stored.closing_period,
            stored.document,
            stored.digest,
            stored.lines,
        )
        if problem is not None:
            problems.append(f"settlement {'/'.join(stored.key)}: {problem}")
    problems += [orphan_line_problem(*line) for line in await sql.orphan_lines(connection)]
    return checked, problems


async def verify_ledger(
    database_url: str, progress: Callable[[int, int], None] | None = None
) -> VerifyReport:
    """Check the whole ledger of `database_url`; `progress(entries_checked, entries_total)`.

    The report names the first damage: the lowest (chain, seq) among entries, else the
    first closing, else the first settlement.
    """
    dsn = asyncpg_dsn(database_url)
    connection = await sql.connect(dsn)
    try:
        await sql.check_encodings(connection)
        functions = function_problems(await sql.ledger_functions(connection))
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await sql.export_snapshot(connection)
            extents = await sql.chain_extents(connection)
            results = await _verify_entries(connection, dsn, snapshot, extents, progress)
            closings_checked, closing_problems = await _verify_closings(connection)
            catalogues = await _verify_catalogues(connection)
            settlements_checked, settlement_problems = await _verify_settlements(connection)
    finally:
        await connection.close()
    return build_report(
        RunResults(
            function_problems=functions,
            extents=extents,
            segment_results=results,
            closings_checked=closings_checked,
            closing_problems=closing_problems,
            catalogue_problems=catalogues,
            settlements_checked=settlements_checked,
            settlement_problems=settlement_problems,
        )
    )
