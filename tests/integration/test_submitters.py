"""Vendor-submitted events through the real broker and database, and through archives.

A vendor's token may send only that vendor's events: the API marks each message with
the submitting vendor (the `ledger-submitter` header) and the worker rejects an event
that names another vendor as `vendor_mismatch`, listed for the vendor that sent it.
Messages without the header are decided as they always were. The header survives the
monthly archive, so a replay from archives reproduces the same entries.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ledger.app.archive import (
    ArchiveRange,
    read_archived_messages,
    write_manifest,
    write_raw_archive,
)
from ledger.app.feed import ingest_file
from ledger.app.rejections import workspace_rejections
from ledger.app.replay import replay
from ledger.app.workspace import Workspace, drop_workspace, open_workspace
from ledger.domain.catalogue_parse import load_catalogue_text
from ledger.domain.events import Rejection
from ledger.domain.processing import received_at_of, screen_record
from ledger.domain.submitters import OPERATOR, Submitter, vendor_submitter
from schemas.codec import decode
from streams.ingest import Submission, send_batch, submission_for_record
from streams.producer import raw_log_producer
from streams.runner import end_offsets
from tests.integration.conftest import CATALOGUE, event, load_catalogue, process, query

pytestmark = pytest.mark.integration

FORLAG = "987654325"
APPEN = "912000001"


def _submission(record: dict[str, object], submitter: Submitter | None) -> Submission:
    made = submission_for_record(record, json.dumps(record).encode())
    return made if submitter is None else made.with_submitter(submitter)


async def _send_batch(
    ws: Workspace, submissions: Sequence[Submission], timestamp_ms: int
) -> list[tuple[int, int]]:
    producer = raw_log_producer(ws.kafka_ingest)
    await producer.start()
    try:
        return await send_batch(producer, ws.topics.raw, submissions, timestamp_ms)
    finally:
        await producer.stop()


async def _entries_at(ws: Workspace, positions: Sequence[tuple[int, int]]) -> list[Any]:
    rows = await query(
        ws,
        "SELECT chain, source_offset, event_id, vendor, status, reason_code, reason_detail,"
        " received_at FROM ledger.entries WHERE kind = 'event'",
    )
    by_position = {(row.chain, row.source_offset): row for row in rows}
    return [by_position[position] for position in positions]


async def test_a_vendor_token_cannot_send_another_vendors_events(workspace: Workspace):
    await load_catalogue(workspace)
    forlag = vendor_submitter(FORLAG)
    sent = [
        (event("own"), forlag),
        (event("other", vendor=APPEN, product="eng-5-10"), forlag),
        (event("unmarked", vendor=APPEN, product="eng-5-10"), None),
    ]
    submissions = [_submission(record, submitter) for record, submitter in sent]
    timestamp_ms = time.time_ns() // 1_000_000
    positions = await _send_batch(workspace, submissions, timestamp_ms)
    assert len(set(positions)) == len(sent), "one place in the log per submission"
    await process(workspace)

    rows = await _entries_at(workspace, positions)
    assert [(r.event_id, r.vendor, r.status, r.reason_code) for r in rows] == [
        ("own", FORLAG, "accepted", None),
        ("other", FORLAG, "rejected", "vendor_mismatch"),
        ("unmarked", APPEN, "accepted", None),
    ]
    assert APPEN in rows[1].reason_detail
    assert all(r.received_at == received_at_of(timestamp_ms) for r in rows)

    # What the API answers at once (screen_record, same bytes, same time) is the ledger's.
    catalogue = load_catalogue_text(CATALOGUE.read_text(encoding="utf-8"))
    for (_, submitter), submission, row in zip(sent, submissions, rows, strict=True):
        name, record = decode(submission.value)
        screened = screen_record(name, record, catalogue, received_at_of(timestamp_ms), submitter)
        code = screened.reason_code if isinstance(screened, Rejection) else None
        assert code == row.reason_code

    # The rejection is the sending vendor's to read, never the named vendor's.
    forlag_rejections = await workspace_rejections(workspace, FORLAG, None, 100)
    appen_rejections = await workspace_rejections(workspace, APPEN, None, 100)
    assert [(r.event_id, r.reason_code) for r in forlag_rejections] == [
        ("other", "vendor_mismatch")
    ]
    assert forlag_rejections[0].explanation.startswith("The event names another vendor")
    assert appen_rejections == []


async def test_archives_keep_the_submitter_and_replay_reproduces_the_ledger(
    services: Any, workspace: Workspace, tmp_path: Path
):
    await load_catalogue(workspace)
    forlag = vendor_submitter(FORLAG)
    sent: list[tuple[dict[str, object], Submitter | None]] = [
        (event("own"), forlag),
        (event("other", vendor=APPEN, product="eng-5-10"), forlag),
        (event("unmarked", vendor=APPEN, product="eng-5-10"), None),
        (event("by-operator", vendor=APPEN, product="eng-5-10"), OPERATOR),
    ]
    submissions = [_submission(record, submitter) for record, submitter in sent]
    positions = await _send_batch(workspace, submissions, time.time_ns() // 1_000_000)
    events_file = tmp_path / "events.jsonl"
    events_file.write_text(json.dumps(event("ingested", vendor=APPEN, product="eng-5-10")) + "\n")
    assert await ingest_file(workspace, events_file) == 1
    await process(workspace)
    codes = [r.reason_code for r in await _entries_at(workspace, positions)]
    assert codes == [None, "vendor_mismatch", None, None]

    reader, topic = workspace.kafka_worker, workspace.topics.raw
    ends = await end_offsets(reader, topic)
    ranges = [ArchiveRange(p, 0, end - 1, 1, end) for p, end in sorted(ends.items()) if end]
    archive = tmp_path / "archive"
    directory = archive / "2026-10"
    directory.mkdir(parents=True)
    await write_raw_archive(reader, topic, ranges, directory)
    write_manifest(directory, "2026-10", ranges)

    archived = {
        (m.partition, m.offset): m
        for _, batch in read_archived_messages(archive, topic)
        for m in batch
    }
    assert len(archived) == sum(ends.values())
    assert [archived[p].submitter for p in positions] == [s for _, s in sent]
    # The rest are catalogue markers and the `ledger ingest` line: the operator's.
    others = [m for position, m in archived.items() if position not in set(positions)]
    assert len(others) == len(ends) + 1
    assert all(m.submitter == OPERATOR for m in others)

    # `ledger replay --from-archive`: every entry comes from the archive (the raw topic
    # has nothing beyond it), and all are reproduced identically.
    target = await open_workspace(f"{workspace.name}_r")
    try:
        report = await replay(workspace, target, archive_dir=archive)
        assert report.identical, report.differences
        assert report.entries_compared == len(archived)
    finally:
        await drop_workspace(services, target.name)
        target.learner_key_path.unlink(missing_ok=True)
