"""The faust-streaming application: raw log → validated, deduplicated, attributed ledger.

One agent (concurrency 1, as faust can commit past in-flight messages otherwise)
takes bounded batches from the raw topic and hands them to `BatchHandler`, which has
`LedgerWriter` write each partition's group: entries and their offsets in one
transaction. Faust's own committed offsets are only a hint: on every assignment the
consumer is moved to the position stored in the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, cast

import faust
from aiokafka.errors import KafkaError
from faust.types import TP, EventT

from ledger.domain.invariants import invariant
from ledger.domain.processing import RawMessage
from ledger.domain.submitters import submitter_from_headers
from streams.access import KafkaAccess
from streams.handler import BatchHandler, OnBatch, Progress, Rejections, rejected_record
from streams.supervision import DatabaseGuard, WorkerFailed, WorkerMonitor
from streams.writer import LedgerWriter, batch_events_max

flush_interval_s = 0.2
broker_commit_interval_s = 1.0
# A killed worker's partitions move to the survivors after the session timeout.
broker_session_timeout_s = 10.0
broker_heartbeat_interval_s = 1.0
app_stop_on_failed_start_s = 5.0  # cleaning up after a start the broker's absence ended


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


def _faust_app(app_id: str, access: KafkaAccess, data_dir: Path) -> faust.App:
    return faust.App(
        app_id,
        broker=f"kafka://{access.bootstrap}",
        broker_credentials=access.faust_credentials(),
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
    kafka: KafkaAccess,
    raw_topic: str,
    rejected_topic: str,
    data_dir: Path,
    writer: LedgerWriter,
    progress: Progress,
    on_batch: OnBatch | None = None,
    monitor: WorkerMonitor | None = None,
    database: DatabaseGuard | None = None,
    on_crash: Callable[[BaseException], None] | None = None,
) -> faust.App:
    """The faust app; its own files (faust's data folder) go to `data_dir`.

    `on_crash` hears of an agent that raised: faust would otherwise restart or drop the
    actor and leave the process alive and idle, holding its partitions.
    """
    app = _faust_app(app_id, kafka, data_dir)
    raw = app.topic(raw_topic, value_type=bytes, key_type=bytes, internal=False)
    rejected = app.topic(rejected_topic, value_type=bytes, key_type=bytes, internal=False)
    handler = BatchHandler(
        writer,
        progress,
        seek=partial(_seek, app, raw_topic),
        publish_rejected=partial(_publish_rejected, rejected),
        on_batch=on_batch,
        monitor=monitor,
        database=database,
    )
    app.on_partitions_assigned.connect(partial(_resume_assigned, handler, raw_topic))

    @app.agent(raw, concurrency=1)
    async def process(stream: faust.StreamT[bytes]) -> None:
        # take_events is on the concrete Stream only; bounded size and wait.
        batches = cast(faust.Stream[bytes], stream).take_events(
            batch_events_max, within=flush_interval_s
        )
        try:
            async for events in batches:
                await handler.handle([raw_message(event) for event in events])
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if on_crash is not None:
                on_crash(error)
            raise

    return app


class StartFailed(Exception):
    """Faust could not start because the broker was unreachable; nothing was processed."""


def describe_failure(error: BaseException) -> str:
    """One line: the exception's type and message, whitespace folded."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def run_app(
    app: faust.App,
    stop: asyncio.Event,
    *,
    failed: asyncio.Future[str] | None = None,
    watchers: Sequence[Awaitable[None]] = (),
    on_stopping: Callable[[bool], None] | None = None,
) -> None:
    """Run the app inside the current event loop until `stop` is set.

    Raises `WorkerFailed` when the app stops by itself, an agent crashes (`failed` gets
    its reason) or a watcher (e.g. the broker watch) raises or ends: never alive and idle.
    `on_stopping(failed)` is called before faust's stop (which may hang: arm a deadline).
    """
    failed = failed if failed is not None else asyncio.get_running_loop().create_future()
    app.finalize()
    try:
        await app.start()
    except (KafkaError, OSError) as error:
        # Faust bootstraps its clients once, while starting: a broker that goes away in that
        # moment ends the start with a connection error (and a traceback) instead of the
        # reconnecting the running clients do. The caller waits for the broker and retries.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(app.stop(), app_stop_on_failed_start_s)
        for watcher in watchers:
            if inspect.iscoroutine(watcher):
                watcher.close()  # never started: closed, or Python warns of it at exit
        raise StartFailed(describe_failure(error)) from error
    watching = [asyncio.ensure_future(watcher) for watcher in watchers]
    app_stopped = asyncio.ensure_future(app.wait_until_stopped())
    stopped = asyncio.ensure_future(stop.wait())
    waits: list[asyncio.Future[Any]] = [app_stopped, stopped, failed, *watching]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if not stop.is_set():
            raise WorkerFailed(_failure_reason(app, failed, watching))
    finally:
        if on_stopping is not None:
            on_stopping(not stop.is_set())
        for task in waits:
            task.cancel()
        await app.stop()


def _failure_reason(app: faust.App, failed: asyncio.Future[str], watching: list[Any]) -> str:
    if failed.done() and not failed.cancelled():
        return f"the stream agent crashed: {failed.result()}"
    for task in watching:
        if task.done() and not task.cancelled():
            error = task.exception()
            if isinstance(error, WorkerFailed):
                return str(error)
            if error is not None:
                return f"a watch failed: {describe_failure(error)}"
    if app.crash_reason is not None:
        return f"faust crashed: {describe_failure(app.crash_reason)}"
    return "faust stopped by itself"
