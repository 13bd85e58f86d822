"""Running the stream application: continuously (`ledger worker`) or until idle."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition

from ledger.store.engine import create_ledger_engine
from streams.access import KafkaAccess
from streams.app import StartFailed, build_app, describe_failure, run_app
from streams.handler import Progress
from streams.supervision import (
    OUTAGE_BROKER,
    DatabaseGuard,
    Outage,
    StopDeadline,
    WorkerFailed,
    WorkerMonitor,
    broker_probe_interval_s,
    outage_limit_s_default,
    tcp_probe,
    wait_for_broker,
    watch_broker,
)
from streams.topics import admin_client, wait_for_topics
from streams.writer import LedgerWriter

log = logging.getLogger(__name__)

idle_poll_interval_s = 0.1
idle_wait_s_default = 1800.0
start_attempts_max = 100  # faust starts, each after the broker answered again; then give up


class ProcessingTimeout(Exception):
    """The ledger did not reach the end of the raw log in the time allowed."""


@dataclass(frozen=True)
class StreamTarget:
    """Where the worker reads from and writes to (a replay reads another workspace's log)."""

    app_id: str
    kafka: KafkaAccess  # the worker principal: reads the raw log, writes the rejected one
    raw_topic: str
    rejected_topic: str
    database_url: str
    learner_key: bytes
    data_dir: Path  # faust's own files: under the state folder, never the working directory


def _stream_app(
    target: StreamTarget,
    writer: LedgerWriter,
    progress: Progress,
    failed: asyncio.Future[str],
    *,
    monitor: WorkerMonitor | None = None,
    database: DatabaseGuard | None = None,
) -> faust.App:
    # Faust creates its data folder but not the folders above it.
    target.data_dir.parent.mkdir(parents=True, exist_ok=True)

    def on_crash(error: BaseException) -> None:
        if not failed.done():
            reason = str(error) if isinstance(error, WorkerFailed) else describe_failure(error)
            failed.set_result(reason)

    return build_app(
        app_id=target.app_id,
        kafka=target.kafka,
        raw_topic=target.raw_topic,
        rejected_topic=target.rejected_topic,
        data_dir=target.data_dir,
        writer=writer,
        progress=progress,
        monitor=monitor,
        database=database,
        on_crash=on_crash,
    )


async def end_offsets(access: KafkaAccess, topic: str) -> dict[int, int]:
    """The offset after the last message of each partition, as of now."""
    async with admin_client(access) as admin:
        partitions = (await wait_for_topics(admin, (topic,)))[topic]
    # A group id avoids aiokafka 0.14's group-less coordinator, whose stop() raises
    # CancelledError; nothing is committed and no group is joined (manual assignment).
    consumer = AIOKafkaConsumer(
        **access.client_options(), enable_auto_commit=False, group_id=f"{topic}-probe"
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = await consumer.end_offsets(tps)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def _ledger_offsets(writer: LedgerWriter, partitions: list[int]) -> dict[int, int]:
    return {p: await writer.next_offset(p) for p in partitions}


def _behind(ends: dict[int, int], positions: dict[int, int]) -> int:
    return sum(max(0, end - positions.get(p, 0)) for p, end in ends.items())


async def _watch_until_idle(
    ends: dict[int, int],
    positions: dict[int, int],
    progress: Progress,
    stop: asyncio.Event,
    *,
    timeout_s: float,
    on_progress: Callable[[int, int], None] | None,
) -> None:
    """Set `stop` once the ledger reaches `ends`; raise `ProcessingTimeout` if it does not."""
    total = _behind(ends, positions)
    deadline = time.monotonic() + timeout_s
    while True:
        current = {**positions, **progress.next_offsets}
        remaining = _behind(ends, current)
        if on_progress is not None:
            on_progress(total - remaining, total)
        if remaining == 0:
            stop.set()
            return
        if time.monotonic() > deadline:
            stop.set()
            raise ProcessingTimeout(
                f"{remaining} of {total} messages still unprocessed after {timeout_s:.0f} s"
            )
        await asyncio.sleep(idle_poll_interval_s)


async def process_until_idle(
    target: StreamTarget,
    *,
    timeout_s: float = idle_wait_s_default,
    on_progress: Callable[[int, int], None] | None = None,
) -> Progress:
    """Process every message sent before this call, then stop.

    Idle means: for every partition the ledger's next offset has reached the end
    offset taken at the start. Returns the counters of this run.
    """
    engine = create_ledger_engine(target.database_url)
    writer = LedgerWriter(engine, source_topic=target.raw_topic, learner_key=target.learner_key)
    progress = Progress()
    try:
        ends = await end_offsets(target.kafka, target.raw_topic)
        positions = await _ledger_offsets(writer, list(ends))
        if _behind(ends, positions) == 0:
            return progress
        stop = asyncio.Event()
        failed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        app = _stream_app(target, writer, progress, failed)
        watcher = asyncio.ensure_future(
            _watch_until_idle(
                ends, positions, progress, stop, timeout_s=timeout_s, on_progress=on_progress
            )
        )
        try:
            await run_app(app, stop, failed=failed)
            await watcher
        finally:
            watcher.cancel()  # the app may have crashed: do not leave the watch running
        return progress
    finally:
        await engine.dispose()


class _NoDeadline:
    """No hard exit: the caller owns the process."""

    def arm(self, exit_code: int) -> None:
        return None


async def run_worker(
    target: StreamTarget,
    stop: asyncio.Event,
    *,
    monitor: WorkerMonitor | None = None,
    outage_limit_s: float = outage_limit_s_default,
    deadline: StopDeadline | None = None,
) -> Progress:
    """Run until `stop` is set (SIGTERM/SIGINT in `ledger worker`).

    Rides out PostgreSQL and broker outages up to `outage_limit_s` each; raises
    `WorkerFailed` for anything it cannot survive. Once stopping (asked or failed), a
    given `deadline` is armed so a hung faust stop cannot keep the process alive. Only a
    process of its own passes one (`ledger worker`): a hard exit must never end a caller
    that runs the worker inside a larger process (tests, `ledger serve` one day).
    """
    monitor = monitor or WorkerMonitor()
    armed = deadline if deadline is not None else _NoDeadline()
    engine = create_ledger_engine(target.database_url)
    writer = LedgerWriter(engine, source_topic=target.raw_topic, learner_key=target.learner_key)
    progress = Progress()
    failed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    database = DatabaseGuard(monitor, limit_s=outage_limit_s)
    broker = Outage("Kafka broker", OUTAGE_BROKER, monitor, limit_s=outage_limit_s)
    publisher = asyncio.ensure_future(monitor.publish_periodically())
    # Armed the moment a stop is asked, whatever the worker is doing (even starting faust).
    asked = asyncio.ensure_future(stop.wait())
    asked.add_done_callback(lambda task: None if task.cancelled() else armed.arm(0))
    monitor.publish()
    probe = partial(tcp_probe, target.kafka.bootstrap)
    try:
        for _attempt in range(start_attempts_max):
            if not await wait_for_broker(probe, broker, stop):
                return progress
            app = _stream_app(target, writer, progress, failed, monitor=monitor, database=database)
            try:
                await run_app(
                    app,
                    stop,
                    failed=failed,
                    watchers=[watch_broker(probe, broker)],
                    on_stopping=lambda failing: armed.arm(1 if failing else 0),
                )
                return progress
            except StartFailed as error:
                # The broker went away while faust started: wait for it and start afresh.
                broker.begin(error, broker_probe_interval_s)
                broker.check_limit()
        raise WorkerFailed(
            f"faust did not start in {start_attempts_max} attempts: the broker keeps going away"
        )
    finally:
        publisher.cancel()
        if not asked.done():
            asked.cancel()
        await engine.dispose()
