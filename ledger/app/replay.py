"""`ledger replay`: rebuild a ledger from the raw log into an empty workspace and compare.

The target consumes the SOURCE workspace's raw topic (optionally starting from monthly
archives), with the source's learner key, then re-issues settlements at the same
closing points, which are themselves in the log. Then entry hashes, chain heads and
settlement digests are compared one by one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.app.archive import check_manifest, read_archived_messages
from ledger.app.settle import issue_for_closing
from ledger.app.workspace import Workspace, WorkspaceError, faust_data_dir, replay_app_id
from ledger.domain.invariants import InvariantViolation
from ledger.store.closings import closed_periods, closing_point
from ledger.store.engine import create_ledger_engine
from ledger.store.entries import entry_count, entry_hashes
from ledger.store.settlements import settlement_digests
from streams.runner import StreamTarget, end_offsets, process_until_idle
from streams.writer import LedgerWriter, OffsetGap

differences_listed_max = 20


@dataclass
class ReplayReport:
    entries_compared: int = 0
    settlements_compared: int = 0
    differences: list[str] = field(default_factory=list)
    difference_count: int = 0

    def differ(self, text_: str) -> None:
        self.difference_count += 1
        if len(self.differences) < differences_listed_max:
            self.differences.append(text_)

    @property
    def identical(self) -> bool:
        return self.difference_count == 0


async def _replay_archives(target: StreamTarget, archive_dir: Path, report: ReplayReport) -> bool:
    """Feed archived raw messages through the same writer; False if the archive has a hole."""
    for directory in sorted(p.parent for p in archive_dir.glob("*/manifest.json")):
        for problem in check_manifest(directory):
            report.differ(f"archive: {problem}")
    engine = create_ledger_engine(target.database_url)
    writer = LedgerWriter(engine, source_topic=target.raw_topic, learner_key=target.learner_key)
    try:
        for partition, batch in read_archived_messages(archive_dir, target.raw_topic):
            try:
                await writer.write(partition, batch)
            except OffsetGap as gap:
                report.differ(f"archive: {gap}; the archive is missing raw messages")
                return False
    finally:
        await engine.dispose()
    return True


async def _next(rows: AsyncIterator[tuple[int, int, bytes]]) -> tuple[int, int, bytes] | None:
    return await anext(rows, None)


async def _compare_entries(
    source: AsyncConnection, target: AsyncConnection, report: ReplayReport
) -> None:
    """Walk both ledgers in (chain, seq) order side by side."""
    ours, theirs = entry_hashes(source), entry_hashes(target)
    mine, replayed = await _next(ours), await _next(theirs)
    while mine is not None or replayed is not None:
        if replayed is None or (mine is not None and mine[:2] < replayed[:2]):
            if mine is None:
                raise InvariantViolation("the loop runs while either side has an entry")
            report.entries_compared += 1
            report.differ(f"entry chain {mine[0]} seq {mine[1]}: missing from the replay")
            mine = await _next(ours)
        elif mine is None or replayed[:2] < mine[:2]:
            report.differ(f"entry chain {replayed[0]} seq {replayed[1]}: only in the replay")
            replayed = await _next(theirs)
        else:
            report.entries_compared += 1
            if mine[2] != replayed[2]:
                report.differ(
                    f"entry chain {mine[0]} seq {mine[1]}: hash {mine[2].hex()[:16]}… in the"
                    f" ledger, {replayed[2].hex()[:16]}… replayed"
                )
            mine, replayed = await _next(ours), await _next(theirs)


async def compare_ledgers(source_url: str, target_url: str, report: ReplayReport) -> None:
    source_engine = create_ledger_engine(source_url)
    target_engine = create_ledger_engine(target_url)
    try:
        async with source_engine.connect() as source, target_engine.connect() as target:
            await _compare_entries(source, target, report)
            source_docs = await settlement_digests(source)
            target_docs = await settlement_digests(target)
            for key in sorted(source_docs.keys() | target_docs.keys()):
                report.settlements_compared += 1
                name = "_".join(key)
                if key not in target_docs:
                    report.differ(f"settlement {name}: not reproduced")
                elif key not in source_docs:
                    report.differ(f"settlement {name}: only in the replay")
                elif source_docs[key] != target_docs[key]:
                    report.differ(
                        f"settlement {name}: digest {source_docs[key]} in the ledger,"
                        f" {target_docs[key]} replayed"
                    )
    finally:
        await source_engine.dispose()
        await target_engine.dispose()


async def replay(
    source: Workspace, target: Workspace, *, archive_dir: Path | None = None
) -> ReplayReport:
    report = ReplayReport()
    target_engine = create_ledger_engine(target.database_url)
    try:
        async with target_engine.connect() as conn:
            if await entry_count(conn):
                raise WorkspaceError(
                    f"workspace {target.name} is not empty: replay needs an empty workspace"
                )
    finally:
        await target_engine.dispose()
    key = source.learner_key()
    target.adopt_learner_key(key)
    app_id = replay_app_id(target.name)
    stream = StreamTarget(
        app_id=app_id,
        kafka=source.kafka_worker,
        raw_topic=source.topics.raw,
        rejected_topic=target.topics.rejected,
        database_url=target.database_url,
        learner_key=key,
        data_dir=faust_data_dir(target.home, app_id),
    )
    if archive_dir is not None and not await _replay_archives(stream, archive_dir, report):
        return report
    await process_until_idle(stream)
    chain_count = len(await end_offsets(stream.kafka, stream.raw_topic))
    source_engine = create_ledger_engine(source.database_url)
    target_engine = create_ledger_engine(target.database_url)
    try:
        async with source_engine.connect() as conn:
            closings = await closed_periods(conn)
        for closed in closings:
            async with target_engine.begin() as conn:
                point = await closing_point(conn, closed.close_id, chain_count)
                if point is None:
                    report.differ(
                        f"closing {closed.close_id}: its close markers are not in the log"
                    )
                    continue
                await issue_for_closing(conn, point)
    finally:
        await source_engine.dispose()
        await target_engine.dispose()
    await compare_ledgers(source.database_url, target.database_url, report)
    return report
