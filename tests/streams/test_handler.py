"""The stream app's batch handler (streams/handler.py), driven with fakes: no broker.

The handler writes a batch partition by partition, keeps the counters, publishes
rejections, and seeks the consumer back to the ledger's position on an `OffsetGap`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any, cast

import pytest
from faust.types.tuples import Message

from ledger.domain.chain import EntryDraft
from ledger.domain.invariants import InvariantViolation
from ledger.domain.processing import RawMessage
from ledger.domain.submitters import OPERATOR, vendor_submitter
from schemas.codec import decode
from streams.app import raw_message
from streams.handler import BatchHandler, Progress, Rejections, rejected_record
from streams.writer import BatchResult, OffsetGap
from tests.store import event_draft
from tests.streams import usage_event


class FakeWriter:
    """Writes whatever it is given, or raises the gap planned for a partition."""

    def __init__(self, gaps: Mapping[int, OffsetGap] | None = None) -> None:
        self.gaps = dict(gaps or {})
        self.calls: list[tuple[int, list[int]]] = []
        self.positions: dict[int, int] = {}

    async def next_offset(self, partition: int) -> int:
        return self.positions.get(partition, 0)

    async def write(self, partition: int, messages: Sequence[RawMessage]) -> BatchResult:
        self.calls.append((partition, [m.offset for m in messages]))
        if partition in self.gaps:
            raise self.gaps.pop(partition)
        rejected = tuple(
            (m, event_draft(m.offset, status="rejected", reason_code="unknown_school"))
            for m in messages
            if m.offset % 5 == 4
        )
        return BatchResult(
            partition,
            len(messages),
            0,
            rejected,
            messages[-1].offset + 1,
            accepted=len(messages) - len(rejected),
        )


class Recorder:
    def __init__(self) -> None:
        self.seeks: list[dict[int, int]] = []
        self.published: list[tuple[int, int]] = []
        self.batches: list[BatchResult] = []

    async def seek(self, positions: Mapping[int, int]) -> None:
        self.seeks.append(dict(positions))

    async def publish(self, rejected: Rejections) -> None:
        self.published += [(m.partition, m.offset) for m, _ in rejected]

    async def on_batch(self, result: BatchResult) -> None:
        self.batches.append(result)


def handler_with(writer: FakeWriter) -> tuple[BatchHandler, Progress, Recorder]:
    progress, recorder = Progress(), Recorder()
    handler = BatchHandler(
        writer,
        progress,
        seek=recorder.seek,
        publish_rejected=recorder.publish,
        on_batch=recorder.on_batch,
    )
    return handler, progress, recorder


def messages(partition: int, *offsets: int) -> list[RawMessage]:
    return [usage_event(partition, offset) for offset in offsets]


async def test_a_batch_is_written_partition_by_partition_and_counted() -> None:
    writer = FakeWriter()
    handler, progress, recorder = handler_with(writer)
    batch = [*messages(2, 0, 1), *messages(0, 3, 4, 5), *messages(2, 2)]
    await handler.handle(batch)
    assert writer.calls == [(0, [3, 4, 5]), (2, [0, 1, 2])]
    assert (progress.written, progress.accepted, progress.rejected, progress.batches) == (
        6,
        5,
        1,
        2,
    )
    assert progress.next_offsets == {0: 6, 2: 3}
    assert recorder.published == [(0, 4)]
    assert [result.partition for result in recorder.batches] == [0, 2]
    assert recorder.seeks == []


async def test_an_empty_batch_writes_nothing() -> None:
    writer = FakeWriter()
    handler, progress, recorder = handler_with(writer)
    await handler.handle([])
    assert writer.calls == []
    assert progress == Progress()
    assert (recorder.seeks, recorder.published, recorder.batches) == ([], [], [])


async def test_a_gap_after_a_written_run_counts_the_run_and_seeks_back() -> None:
    written = BatchResult(1, 3, 0, (), 3, accepted=3)
    writer = FakeWriter({1: OffsetGap(1, 3, 5, written=written)})
    handler, progress, recorder = handler_with(writer)
    await handler.handle([*messages(1, 0, 1, 2, 5), *messages(3, 0)])
    assert recorder.seeks == [{1: 3}]
    assert (progress.written, progress.accepted, progress.batches) == (4, 4, 2)
    assert progress.next_offsets == {1: 3, 3: 1}
    assert [result.partition for result in recorder.batches] == [1, 3]
    assert recorder.batches[0] == written


async def test_a_gap_at_the_start_seeks_back_without_counting() -> None:
    writer = FakeWriter({0: OffsetGap(0, 7, 9)})
    handler, progress, recorder = handler_with(writer)
    await handler.handle(messages(0, 9, 10))
    assert recorder.seeks == [{0: 7}]
    assert (progress.written, progress.batches) == (0, 0)
    assert progress.next_offsets == {0: 7}
    assert recorder.batches == []


async def test_an_assignment_resumes_at_the_ledger_positions() -> None:
    writer = FakeWriter()
    writer.positions = {0: 12, 3: 4}
    handler, _, recorder = handler_with(writer)
    await handler.resume([0, 3, 1])
    assert recorder.seeks == [{0: 12, 3: 4, 1: 0}]


def test_a_rejection_notice_carries_the_original_message() -> None:
    message = usage_event(2, 41)
    draft: EntryDraft = event_draft(
        41, status="rejected", reason_code="unknown_school", reason_detail="no such school"
    )
    key, value = rejected_record(message, draft)
    assert key == b"2/41"
    name, record = decode(value)
    assert name == "no.ledger.RejectedEvent"
    assert record["source_partition"] == 2
    assert record["source_offset"] == 41
    assert (record["reason_code"], record["detail"]) == ("unknown_school", "no such school")
    assert record["original"] == message.value


def test_a_faust_event_becomes_a_raw_message() -> None:
    event = SimpleNamespace(
        message=SimpleNamespace(
            partition=1, offset=8, timestamp=1_790_000_000.1234, value=b"x", headers=()
        )
    )
    assert raw_message(event) == RawMessage(1, 8, 1_790_000_000_123, b"x")  # type: ignore[arg-type]
    event.message.value = "text"
    with pytest.raises(InvariantViolation):
        raw_message(event)  # type: ignore[arg-type]


def _faust_event(headers: object) -> SimpleNamespace:
    """An event around faust's own Message, as its aiokafka driver builds it (`_to_message`)."""
    timestamp_s = 1_790_000_000_123 / 1000.0
    message = Message("raw", 2, 5, timestamp_s, 0, cast(Any, headers), b"k", b"v", None)
    return SimpleNamespace(message=message)


@pytest.mark.parametrize(
    ("headers", "submitter"),
    [
        ((("ledger-submitter", b"vendor:987654325"),), vendor_submitter("987654325")),
        ([("trace", b"1"), ("ledger-submitter", b"operator")], OPERATOR),
        ({"ledger-submitter": b"vendor:987654325"}, vendor_submitter("987654325")),
        ((), None),
        (None, None),
        ((("ledger-submitter", b"vendor:123"),), None),
    ],
)
def test_a_faust_event_carries_its_submitter_header(headers: object, submitter: object) -> None:
    message = raw_message(_faust_event(headers))  # type: ignore[arg-type]
    assert message == RawMessage(2, 5, 1_790_000_000_123, b"v", submitter)  # type: ignore[arg-type]
