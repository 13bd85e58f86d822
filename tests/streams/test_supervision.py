"""The worker's supervision pieces: backoff, outage bookkeeping, log throttle, state, metrics."""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import generate_latest
from sqlalchemy import exc as sqlalchemy_exc

from ledger.app.worker_state import WorkerStateFile, read_worker_states
from ledger.domain.processing import RawMessage
from streams.handler import BatchHandler, Progress
from streams.metrics import WorkerMetrics
from streams.supervision import (
    Backoff,
    DatabaseGuard,
    LogThrottle,
    OutageTooLong,
    StopDeadline,
    WorkerMonitor,
    database_unreachable,
)
from streams.writer import BatchResult


@given(st.integers(min_value=1, max_value=60))
def test_backoff_doubles_from_its_start_and_never_passes_its_ceiling(steps: int) -> None:
    backoff = Backoff(0.5, 5.0)
    delays = [backoff.next_delay_s() for _ in range(steps)]
    assert delays[0] == 0.5
    assert all(d <= 5.0 for d in delays)
    assert all(b == min(a * 2, 5.0) for a, b in itertools.pairwise(delays))
    backoff.reset()
    assert backoff.next_delay_s() == 0.5


def wrapped(driver_error: BaseException) -> BaseException:
    """A driver error as SQLAlchemy raises it."""
    try:
        raise sqlalchemy_exc.DBAPIError("SELECT 1", None, driver_error) from driver_error
    except sqlalchemy_exc.DBAPIError as error:
        return error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "refused"),
        ConnectionResetError(104, "reset"),
        TimeoutError(),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.ConnectionDoesNotExistError("connection was closed"),
        wrapped(ConnectionResetError(104, "reset")),
        wrapped(asyncpg.AdminShutdownError("terminating")),
    ],
)
def test_connection_failures_count_as_outages(error: BaseException) -> None:
    assert database_unreachable(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad value"),
        asyncpg.UniqueViolationError("duplicate key"),
        wrapped(asyncpg.UniqueViolationError("duplicate key")),
    ],
)
def test_query_errors_are_not_outages(error: BaseException) -> None:
    assert not database_unreachable(error)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


class FlakyWriter:
    """Unreachable for the first `failures` calls (writes and position reads alike)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.writes: list[list[int]] = []

    def _maybe_fail(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionRefusedError(111, "Connection refused")

    async def next_offset(self, partition: int) -> int:
        self._maybe_fail()
        return 7

    async def write(self, partition: int, messages: Sequence[RawMessage]) -> BatchResult:
        self._maybe_fail()
        self.writes.append([m.offset for m in messages])
        return BatchResult(partition, len(messages), 0, (), messages[-1].offset + 1, accepted=1)


def messages(partition: int, offsets: range) -> list[RawMessage]:
    return [RawMessage(partition, o, 0, b"{}", None) for o in offsets]


async def no_seek(_: object) -> None:
    return None


async def no_publish(_: object) -> None:
    return None


async def test_a_database_outage_is_waited_out_logged_twice_and_the_batch_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    monitor = WorkerMonitor()
    states: list[str] = []
    monitor.listeners.append(lambda snapshot: states.append(snapshot.state))
    guard = DatabaseGuard(monitor, limit_s=300, sleep=clock.sleep, clock=clock)
    writer = FlakyWriter(failures=12)
    handler = BatchHandler(
        writer,
        Progress(),
        seek=no_seek,
        publish_rejected=no_publish,
        monitor=monitor,
        database=guard,
    )
    with caplog.at_level(logging.INFO, logger="streams.supervision"):
        await handler.handle(messages(2, range(7, 10)))
    assert writer.writes == [[7, 8, 9]], "the batch is written once, after the outage"
    lines = [r.getMessage() for r in caplog.records if r.name == "streams.supervision"]
    assert len(lines) == 2
    assert lines[0].startswith("PostgreSQL unreachable since ")
    assert "retrying every 5 s" in lines[0]
    assert lines[1].startswith("PostgreSQL back after ")
    assert lines[1].endswith("resuming partition 2 at offset 7")
    assert "waiting_for_database" in states
    assert states[-1] == "running"
    assert clock.now <= 0.5 + 1 + 2 + 4 + 5 * 8, "backoff bounded by 5 s"


async def test_an_outage_longer_than_the_limit_ends_the_worker() -> None:
    clock = Clock()
    monitor = WorkerMonitor()
    guard = DatabaseGuard(monitor, limit_s=30, sleep=clock.sleep, clock=clock)
    handler = BatchHandler(
        FlakyWriter(failures=10_000),
        Progress(),
        seek=no_seek,
        publish_rejected=no_publish,
        monitor=monitor,
        database=guard,
    )
    with pytest.raises(OutageTooLong, match="PostgreSQL unreachable for more than 30 s"):
        await handler.handle(messages(0, range(0, 2)))
    assert 30 < clock.now <= 36


def record(name: str, message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, args, None)


def test_the_throttle_lets_each_library_template_through_once_per_interval() -> None:
    clock = Clock()
    throttle = LogThrottle(interval_s=60, clock=clock)
    passed = 0
    for step in range(600):  # 60 s of 10 lines per 100 ms, as a broker outage gave
        clock.now = step * 0.1
        for node in range(10):
            name = "aiokafka.conn" if node % 2 else "aiokafka.consumer.group_coordinator"
            passed += throttle.filter(record(name, f"Unable connect to node {node}: %r", "refused"))
    assert passed == 2
    assert throttle.filter(record("streams.supervision", "PostgreSQL back")), "ours pass"
    assert throttle.filter(record("streams.supervision", "PostgreSQL back"))
    clock.now = 61
    assert throttle.filter(record("aiokafka.conn", "Unable connect to node 1: %r", "refused"))


def test_the_throttle_remembers_a_bounded_number_of_templates() -> None:
    throttle = LogThrottle(interval_s=60, keys_max=10, clock=Clock())
    for index in range(100):
        throttle.filter(record("faust", f"message {chr(65 + index % 26)}{'x' * index}"))
    assert len(throttle._last) == 10


def test_the_state_file_has_the_shape_status_reads_and_is_removed(tmp_path: Path) -> None:
    moments = iter(
        datetime(2026, 12, 3, 10, 40, 33, tzinfo=UTC) + timedelta(seconds=s) for s in range(100)
    )
    monitor = WorkerMonitor(clock=lambda: next(moments))
    state_file = WorkerStateFile(tmp_path, "default", pid=os.getpid())
    monitor.listeners.append(state_file)
    monitor.assigned({0: 81_000, 1: 5})
    monitor.batch_written(0, 81_233, accepted=200, duplicates=20, rejected=13)
    monitor.publish_if_changed()
    document = json.loads(state_file.path.read_text())
    assert set(document) == {"pid", "workspace", "state", "since", "updated_at", "partitions"}
    assert document["workspace"] == "default"
    assert document["state"] == "running"
    assert document["since"] == "2026-12-03T10:40:33Z"
    assert document["partitions"]["0"]["next_offset"] == 81_233
    assert document["partitions"]["0"]["last_batch_at"].endswith("Z")
    assert document["partitions"]["1"] == {"next_offset": 5, "last_batch_at": None}
    assert read_worker_states(tmp_path, "default") == [document]
    monitor.outage_began("database")
    assert json.loads(state_file.path.read_text())["state"] == "waiting_for_database"
    assert [p.name for p in state_file.path.parent.iterdir()] == [state_file.path.name]
    state_file.remove()
    assert read_worker_states(tmp_path, "default") == []


def test_a_state_file_of_a_dead_process_is_ignored(tmp_path: Path) -> None:
    monitor = WorkerMonitor()
    monitor.listeners.append(WorkerStateFile(tmp_path, "default", pid=2**22 + 12345))
    monitor.publish()
    assert read_worker_states(tmp_path, "default") == []


def test_metrics_follow_the_state_and_count_entries() -> None:
    metrics = WorkerMetrics()
    monitor = WorkerMonitor()
    monitor.listeners.append(metrics.update)
    monitor.assigned({2: 10})
    monitor.batch_written(2, 40, accepted=25, duplicates=3, rejected=2)
    monitor.publish_if_changed()
    monitor.outage_began("broker")
    text = generate_latest(metrics.registry).decode()
    assert "ledger_worker_up 1.0" in text
    assert "ledger_worker_ready 0.0" in text
    assert 'ledger_worker_state{state="waiting_for_broker"} 1.0' in text
    assert 'ledger_worker_next_offset{partition="2"} 40.0' in text
    assert 'ledger_worker_entries_total{status="accepted"} 25.0' in text
    assert 'ledger_worker_last_batch_timestamp_seconds{partition="2"}' in text
    monitor.outage_ended("broker")
    assert "ledger_worker_ready 1.0" in generate_latest(metrics.registry).decode()


def test_the_stop_deadline_exits_with_its_code_after_cleanup() -> None:
    exits: list[int] = []
    cleaned: list[bool] = []
    deadline = StopDeadline(0.05, cleanup=lambda: cleaned.append(True), exit_process=exits.append)
    deadline.arm(0)
    deadline._timer.join(2)  # type: ignore[union-attr]
    assert exits == [0] and cleaned == [True]
    disarmed = StopDeadline(0.05, exit_process=exits.append)
    disarmed.arm(1)
    disarmed.disarm()
    disarmed._timer.join(2)  # type: ignore[union-attr]
    assert exits == [0]
