"""The faust-streaming application: raw log → validated, deduplicated, attributed ledger.

One agent (concurrency 1, as faust can commit past in-flight messages otherwise)
takes bounded batches from the raw topic, groups them by partition and hands each
group to `LedgerWriter`, which writes entries and their offsets in one transaction.
Faust's own committed offsets are only a hint: on every assignment the consumer is
moved to the position stored in the ledger.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import faust
from faust.types import TP, EventT

from ledger.domain.chain import EntryDraft
from ledger.domain.processing import RawMessage
from schemas.codec import encode
from streams.writer import BatchResult, LedgerWriter, OffsetGap, batch_events_max

log = logging.getLogger(__name__)

flush_interval_s = 0.2
broker_commit_interval_s = 1.0
# A killed worker's partitions move to the survivors after the session timeout.
broker_session_timeout_s = 10.0
broker_heartbeat_interval_s = 1.0


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


def _raw_message(event: EventT[bytes]) -> RawMessage:
    message = event.message
    value = message.value
    assert isinstance(value, bytes)
    return RawMessage(
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=round(message.timestamp * 1000),
        value=value,
    )


def build_app(
    *,
    app_id: str,
    bootstrap: str,
    raw_topic: str,
    rejected_topic: str,
    writer: LedgerWriter,
    progress: Progress,
    on_batch: Callable[[BatchResult], Awaitable[None]] | None = None,
) -> faust.App:
    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        value_serializer="raw",
        key_serializer="raw",
        autodiscover=False,
        web_enabled=False,
        topic_partitions=1,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=broker_commit_interval_s,
        broker_session_timeout=broker_session_timeout_s,
        broker_heartbeat_interval=broker_heartbeat_interval_s,
        stream_buffer_maxsize=batch_events_max * 2,
        producer_acks=-1,
    )
    raw = app.topic(raw_topic, value_type=bytes, key_type=bytes, internal=False)
    rejected_topic_ = app.topic(rejected_topic, value_type=bytes, key_type=bytes, internal=False)

    async def _seek_to_ledger(sender: Any, assigned: set[TP], **_: Any) -> None:
        positions = {}
        for tp in assigned:
            if tp.topic == raw_topic:
                positions[tp] = await writer.next_offset(tp.partition)
                log.info("partition %s: resuming at ledger offset %s", tp.partition, positions[tp])
        # seek_wait runs in the consumer's own thread; a plain seek races its fetcher.
        await app.consumer.seek_wait(positions)

    app.on_partitions_assigned.connect(_seek_to_ledger)  # type: ignore[arg-type]

    async def _publish_rejected(rejected: Sequence[tuple[RawMessage, EntryDraft]]) -> None:
        """Tell vendors (at least once: the database holds the authoritative copy)."""
        for message, draft in rejected:
            await rejected_topic_.send(
                key=f"{message.partition}/{message.offset}".encode(),
                value=encode(
                    "no.ledger.RejectedEvent",
                    {
                        "source_partition": message.partition,
                        "source_offset": message.offset,
                        "vendor": draft.vendor,
                        "event_id": draft.event_id,
                        "reason_code": draft.reason_code or "",
                        "detail": draft.reason_detail or "",
                        "original": message.value,
                    },
                ),
            )

    async def _account(result: BatchResult) -> None:
        progress.written += result.written
        progress.accepted += result.accepted
        progress.duplicates += result.duplicates
        progress.skipped += result.skipped
        progress.rejected += len(result.rejected)
        progress.batches += 1
        progress.next_offsets[result.partition] = result.next_offset
        await _publish_rejected(result.rejected)
        if on_batch is not None:
            await on_batch(result)

    async def _handle(events: Sequence[EventT[bytes]]) -> None:
        log.debug("batch of %s events", len(events))
        by_partition: dict[int, list[RawMessage]] = defaultdict(list)
        for event in events:
            by_partition[event.message.partition].append(_raw_message(event))
        for partition, messages in sorted(by_partition.items()):
            started = time.monotonic()
            try:
                result = await writer.write(partition, messages)
            except OffsetGap as gap:
                log.info("%s; seeking back", gap)
                if gap.written is not None:
                    await _account(gap.written)
                progress.next_offsets[partition] = gap.expected_offset
                await app.consumer.seek_wait({TP(raw_topic, partition): gap.expected_offset})
                continue
            log.debug(
                "partition %s: %s messages in %.3f s",
                partition,
                len(messages),
                time.monotonic() - started,
            )
            await _account(result)

    @app.agent(raw, concurrency=1)
    async def process(stream: faust.StreamT[bytes]) -> None:
        # take_events is on the concrete Stream only; bounded size and wait.
        batches = cast(faust.Stream[bytes], stream).take_events(
            batch_events_max, within=flush_interval_s
        )
        async for events in batches:
            await _handle(events)

    return app


async def run_app(app: faust.App, stop: asyncio.Event) -> None:
    """Run the app inside the current event loop until `stop` is set."""
    app.finalize()
    await app.start()
    try:
        crashed = asyncio.ensure_future(app.wait_until_stopped())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({crashed, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for task in (crashed, stopped):
            task.cancel()
        if app.crash_reason is not None:
            raise app.crash_reason
    finally:
        await app.stop()
