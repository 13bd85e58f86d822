"""The stream application's batch handler, apart from faust so a test can drive it.

The handler groups a batch by partition, has the writer write each group, keeps the
counters, publishes rejections, and on an `OffsetGap` has the consumer seek back to
the ledger's next offset. Faust, the broker and the database are behind three
callables and the writer, so a unit test passes fakes.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ledger.domain.chain import EntryDraft
from ledger.domain.invariants import invariant
from ledger.domain.processing import RawMessage
from schemas.codec import encode, message_bytes_max
from streams.supervision import DatabaseGuard, WorkerMonitor, database_unreachable
from streams.writer import BatchResult, OffsetGap

log = logging.getLogger(__name__)

Rejections = Sequence[tuple[RawMessage, EntryDraft]]
# Moves the consumer of the raw topic: partition -> next offset to fetch.
Seek = Callable[[Mapping[int, int]], Awaitable[None]]
PublishRejected = Callable[[Rejections], Awaitable[None]]
OnBatch = Callable[[BatchResult], Awaitable[None]]


class BatchWriter(Protocol):
    """What the handler needs of `streams.writer.LedgerWriter`."""

    async def next_offset(self, partition: int) -> int: ...

    async def write(self, partition: int, messages: Sequence[RawMessage]) -> BatchResult: ...


@dataclass
class Progress:
    """Counters a caller (CLI, tests) can watch while the worker runs."""

    written: int = 0
    accepted: int = 0
    duplicates: int = 0
    skipped: int = 0
    rejected: int = 0
    batches: int = 0
    next_offsets: dict[int, int] = field(default_factory=dict)


# A notice shows the start of what was sent (the raw log keeps all of it): a rejected message
# of megabytes must not make a notice larger than the producer sends, or than the rejected
# topic takes, which would stop the worker at that message.
rejected_original_bytes_max = 64 * 1024
faust_producer_request_bytes_max = 1_000_000  # faust's default producer_max_request_size
rejected_notice_other_bytes_max = 4096  # ids (128 characters each), reason, detail (300)
invariant(
    rejected_original_bytes_max + rejected_notice_other_bytes_max
    < min(faust_producer_request_bytes_max, message_bytes_max),
    "a rejection notice must fit one produce request and the rejected topic",
)


def rejected_record(message: RawMessage, draft: EntryDraft) -> tuple[bytes, bytes]:
    """The (key, value) of the rejection notice sent to vendors for `message`."""
    key = f"{message.partition}/{message.offset}".encode()
    value = encode(
        "no.ledger.RejectedEvent",
        {
            "source_partition": message.partition,
            "source_offset": message.offset,
            "vendor": draft.vendor,
            "event_id": draft.event_id,
            "reason_code": draft.reason_code or "",
            "detail": draft.reason_detail or "",
            "original": message.value[:rejected_original_bytes_max],
        },
    )
    return key, value


class BatchHandler:
    """Writes the batches the agent takes from the raw topic and accounts for them."""

    def __init__(
        self,
        writer: BatchWriter,
        progress: Progress,
        *,
        seek: Seek,
        publish_rejected: PublishRejected,
        on_batch: OnBatch | None = None,
        monitor: WorkerMonitor | None = None,
        database: DatabaseGuard | None = None,
    ) -> None:
        self._writer = writer
        self._progress = progress
        self._seek = seek
        self._publish_rejected = publish_rejected
        self._on_batch = on_batch
        self._monitor = monitor or WorkerMonitor()
        self._database = database or DatabaseGuard(self._monitor)

    async def resume(self, partitions: Iterable[int]) -> None:
        """On assignment: fetch from the ledger's positions (faust's commits are a hint)."""
        positions = {}
        for partition in partitions:
            positions[partition] = await self._next_offset(partition)
            log.info("partition %s: resuming at ledger offset %s", partition, positions[partition])
        self._monitor.assigned(positions)
        await self._seek(positions)

    async def _next_offset(self, partition: int) -> int:
        try:
            return await self._writer.next_offset(partition)
        except Exception as error:
            if not database_unreachable(error):
                raise
            return await self._database.wait_until_back(
                error, lambda: self._writer.next_offset(partition), partition
            )

    async def _write_through_outages(
        self, partition: int, messages: Sequence[RawMessage]
    ) -> BatchResult:
        """Write; while PostgreSQL is unreachable wait for it, then write the batch again.

        A retry is safe: the failed transaction rolled back, and the writer skips what a
        commit that did land (its acknowledgement lost) already wrote.
        """
        while True:
            try:
                return await self._writer.write(partition, messages)
            except Exception as error:
                if not database_unreachable(error):
                    raise
                await self._database.wait_until_back(
                    error, lambda: self._writer.next_offset(partition), partition
                )

    async def handle(self, messages: Sequence[RawMessage]) -> None:
        """Write a batch, partition by partition in partition order."""
        log.debug("batch of %s events", len(messages))
        by_partition: dict[int, list[RawMessage]] = defaultdict(list)
        for message in messages:
            by_partition[message.partition].append(message)
        for partition, group in sorted(by_partition.items()):
            await self._write(partition, group)

    async def _write(self, partition: int, messages: Sequence[RawMessage]) -> None:
        started = time.monotonic()
        try:
            result = await self._write_through_outages(partition, messages)
        except OffsetGap as gap:
            log.info("%s; seeking back", gap)
            if gap.written is not None:
                await self._account(gap.written)
            self._progress.next_offsets[partition] = gap.expected_offset
            await self._seek({partition: gap.expected_offset})
            return
        log.debug(
            "partition %s: %s messages in %.3f s",
            partition,
            len(messages),
            time.monotonic() - started,
        )
        await self._account(result)

    async def _account(self, result: BatchResult) -> None:
        progress = self._progress
        progress.written += result.written
        progress.accepted += result.accepted
        progress.duplicates += result.duplicates
        progress.skipped += result.skipped
        progress.rejected += len(result.rejected)
        progress.batches += 1
        progress.next_offsets[result.partition] = result.next_offset
        self._monitor.batch_written(
            result.partition,
            result.next_offset,
            accepted=result.accepted,
            duplicates=result.duplicates,
            rejected=len(result.rejected),
        )
        await self._publish_rejected(result.rejected)
        if self._on_batch is not None:
            await self._on_batch(result)
