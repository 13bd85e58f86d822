"""The faust-streaming application: raw log → validated, deduplicated, attributed ledger.

One agent (concurrency 1, as faust can commit past in-flight messages otherwise)
takes bounded batches from the raw topic and hands them to `BatchHandler`, which has
`LedgerWriter` write each partition's group: entries and their offsets in one
transaction. Faust's own committed offsets are only a hint: on every assignment the
consumer is moved to the position stored in the ledger.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any, cast

import faust
from faust.types import TP, EventT

from ledger.domain.invariants import invariant
from ledger.domain.processing import RawMessage
from ledger.domain.submitters import submitter_from_headers
from streams.handler import BatchHandler, OnBatch, Progress, Rejections, rejected_record
from streams.writer import LedgerWriter, batch_events_max

flush_interval_s = 0.2
broker_commit_interval_s = 1.0
# A killed worker's partitions move to the survivors after the session timeout.
broker_session_timeout_s = 10.0
broker_heartbeat_interval_s = 1.0


def raw_message(event: EventT[bytes]) -> RawMessage:
    """The message as the broker delivered it; its headers as faust passes them on from
    aiokafka (a sequence of (name, value) pairs; a mapping is read too)."""
    message = event.message
    value = message.value
    invariant(isinstance(value, bytes), "the raw topic's values are read as raw bytes")
    return RawMessage(
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=round(message.timestamp * 1000),
        value=cast(bytes, value),
        submitter=submitter_from_headers(message.headers),
    )


def _faust_app(app_id: str, bootstrap: str, data_dir: Path) -> faust.App:
    return faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        # Faust formats the path with str.format: keep braces in the path literal.
        datadir=str(data_dir).replace("{", "{{").replace("}", "}}"),
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


async def _seek(app: faust.App, topic: str, positions: Mapping[int, int]) -> None:
    # seek_wait runs in the consumer's own thread; a plain seek races its fetcher.
    await app.consumer.seek_wait({TP(topic, p): offset for p, offset in positions.items()})


async def _publish_rejected(topic: faust.TopicT, rejected: Rejections) -> None:
    """Tell vendors (at least once: the database holds the authoritative copy)."""
    for message, draft in rejected:
        key, value = rejected_record(message, draft)
        await topic.send(key=key, value=value)


async def _resume_assigned(
    handler: BatchHandler, topic: str, sender: Any, assigned: set[TP], **_: Any
) -> None:
    await handler.resume(tp.partition for tp in assigned if tp.topic == topic)


def build_app(
    *,
    app_id: str,
    bootstrap: str,
    raw_topic: str,
    rejected_topic: str,
    data_dir: Path,
    writer: LedgerWriter,
    progress: Progress,
    on_batch: OnBatch | None = None,
) -> faust.App:
    """The faust app; its own files (faust's data folder) go to `data_dir`."""
    app = _faust_app(app_id, bootstrap, data_dir)
    raw = app.topic(raw_topic, value_type=bytes, key_type=bytes, internal=False)
    rejected = app.topic(rejected_topic, value_type=bytes, key_type=bytes, internal=False)
    handler = BatchHandler(
        writer,
        progress,
        seek=partial(_seek, app, raw_topic),
        publish_rejected=partial(_publish_rejected, rejected),
        on_batch=on_batch,
    )
    app.on_partitions_assigned.connect(partial(_resume_assigned, handler, raw_topic))

    @app.agent(raw, concurrency=1)
    async def process(stream: faust.StreamT[bytes]) -> None:
        # take_events is on the concrete Stream only; bounded size and wait.
        batches = cast(faust.Stream[bytes], stream).take_events(
            batch_events_max, within=flush_interval_s
        )
        async for events in batches:
            await handler.handle([raw_message(event) for event in events])

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
