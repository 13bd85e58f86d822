"""Keeping the worker honest through faults: outages, throttled logs, state, stop deadline.

A worker must never be alive and idle: it either processes, waits for a service it
says it is waiting for (once, with the time it started), or exits non-zero with one
line saying why, so that a supervisor (systemd, Kubernetes) restarts it. The pieces
here are small and driven by injected clocks and probes so unit tests need no
services; `streams.runner` wires them together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import asyncpg
from sqlalchemy import exc as sqlalchemy_exc

from ledger.domain.invariants import invariant

log = logging.getLogger(__name__)

STATE_RUNNING: Final = "running"
STATE_WAITING_FOR_BROKER: Final = "waiting_for_broker"
STATE_WAITING_FOR_DATABASE: Final = "waiting_for_database"
STATES: Final = (STATE_RUNNING, STATE_WAITING_FOR_BROKER, STATE_WAITING_FOR_DATABASE)

OUTAGE_DATABASE: Final = "database"
OUTAGE_BROKER: Final = "broker"

backoff_initial_s = 0.5
backoff_max_s = 5.0
outage_limit_s_default = 300.0
# SIGTERM must end the worker within 10 s (the usual supervisor grace period): a hung
# faust stop is cut short here. Nothing can be half-written: each batch is one transaction.
stop_deadline_s = 6.0  # armed on the signal; the signal can reach Python ~2 s late
state_publish_interval_s = 1.0
broker_probe_interval_s = 1.0
broker_probe_timeout_s = 1.0
log_throttle_interval_s = 60.0
log_throttle_keys_max = 1_000  # distinct (logger, template) pairs remembered
throttled_logger_prefixes = ("aiokafka", "faust", "mode", "kafka", "sqlalchemy", "asyncpg")
chain_depth_max = 16  # exception causes followed when classifying an error

invariant(backoff_initial_s <= backoff_max_s, "backoff starts below its ceiling")
invariant(stop_deadline_s < 10.0, "a stop must finish within the 10 s operators are promised")


class WorkerFailed(Exception):
    """The worker cannot go on (agent crashed, faust stopped, outage too long): exit non-zero."""


class OutageTooLong(WorkerFailed):
    """A service stayed unreachable longer than the configured limit."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc_text(moment: datetime) -> str:
    """ISO 8601 UTC with a Z, to the second: what the state file and `ledger status` show."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Backoff:
    """Bounded exponential backoff: initial, doubling, never above the ceiling."""

    def __init__(self, initial_s: float = backoff_initial_s, max_s: float = backoff_max_s) -> None:
        invariant(0 < initial_s <= max_s, "backoff bounds must be positive and ordered")
        self.initial_s = initial_s
        self.max_s = max_s
        self._next_s = initial_s

    def next_delay_s(self) -> float:
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self.max_s)
        return delay

    def reset(self) -> None:
        self._next_s = self.initial_s


_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, timed out (TimeoutError is an OSError)
    sqlalchemy_exc.TimeoutError,  # no pooled connection came free
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


def database_unreachable(error: BaseException) -> bool:
    """Whether `error` (or anything it was raised from) means PostgreSQL is out of reach.

    SQLAlchemy wraps driver errors (`.orig`, `__cause__`), so the whole chain is read.
    Query errors (constraint, syntax, invariant) are not outages: they still crash.
    """
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending and len(seen) < chain_depth_max:
        current = pending.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        if isinstance(current, _UNREACHABLE):
            return True
        if isinstance(current, sqlalchemy_exc.DBAPIError) and current.connection_invalidated:
            return True
        orig = getattr(current, "orig", None)
        pending.append(orig if isinstance(orig, BaseException) else None)
        pending.extend([current.__cause__, current.__context__])
    return False


@dataclass(frozen=True)
class PartitionSnapshot:
    next_offset: int
    last_batch_at: datetime | None


@dataclass(frozen=True)
class WorkerSnapshot:
    """What operators see of the worker: its state since when, and each partition's position."""

    state: str
    since: datetime
    updated_at: datetime
    partitions: Mapping[int, PartitionSnapshot]
    entries_by_status: Mapping[str, int]


StateListener = Callable[[WorkerSnapshot], None]


@dataclass
class WorkerMonitor:
    """The worker's state; listeners (state file, metrics) hear of every change of state
    at once and of progress at most once per `state_publish_interval_s`."""

    clock: Callable[[], datetime] = utc_now
    listeners: list[StateListener] = field(default_factory=list)
    _outages: set[str] = field(default_factory=set)
    _state: str = STATE_RUNNING
    _since: datetime | None = None
    _partitions: dict[int, PartitionSnapshot] = field(default_factory=dict)
    _entries: dict[str, int] = field(
        default_factory=lambda: {"accepted": 0, "duplicate": 0, "rejected": 0}
    )
    _dirty: bool = True

    @property
    def state(self) -> str:
        return self._state

    def assigned(self, positions: Mapping[int, int]) -> None:
        """The partitions this worker now owns, at the ledger's positions."""
        previous = self._partitions
        self._partitions = {
            partition: PartitionSnapshot(
                offset, previous[partition].last_batch_at if partition in previous else None
            )
            for partition, offset in positions.items()
        }
        self.publish()

    def batch_written(
        self, partition: int, next_offset: int, *, accepted: int, duplicates: int, rejected: int
    ) -> None:
        self._partitions[partition] = PartitionSnapshot(next_offset, self.clock())
        self._entries["accepted"] += accepted
        self._entries["duplicate"] += duplicates
        self._entries["rejected"] += rejected
        self._dirty = True

    def outage_began(self, kind: str) -> None:
        self._outages.add(kind)
        self._update_state()

    def outage_ended(self, kind: str) -> None:
        self._outages.discard(kind)
        self._update_state()

    def _update_state(self) -> None:
        # The database outage wins: it is the one that stops writing even if the broker is up.
        if OUTAGE_DATABASE in self._outages:
            state = STATE_WAITING_FOR_DATABASE
        elif OUTAGE_BROKER in self._outages:
            state = STATE_WAITING_FOR_BROKER
        else:
            state = STATE_RUNNING
        if state != self._state or self._since is None:
            self._state = state
            self._since = self.clock()
            self.publish()

    def snapshot(self) -> WorkerSnapshot:
        if self._since is None:
            self._since = self.clock()
        return WorkerSnapshot(
            state=self._state,
            since=self._since,
            updated_at=self.clock(),
            partitions=dict(self._partitions),
            entries_by_status=dict(self._entries),
        )

    def publish(self) -> None:
        snapshot = self.snapshot()
        self._dirty = False
        for listener in self.listeners:
            listener(snapshot)

    def publish_if_changed(self) -> None:
        if self._dirty:
            self.publish()

    async def publish_periodically(self, interval_s: float = state_publish_interval_s) -> None:
        """Progress reaches the listeners at most once per interval (runs until cancelled)."""
        while True:
            await asyncio.sleep(interval_s)
            self.publish_if_changed()


class Outage:
    """One service's outage: logged once when it begins and once when it ends."""

    def __init__(
        self,
        service: str,
        kind: str,
        monitor: WorkerMonitor,
        *,
        limit_s: float,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = utc_now,
    ) -> None:
        invariant(limit_s > 0, "an outage limit must be positive")
        self.service = service
        self.kind = kind
        self._monitor = monitor
        self.limit_s = limit_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._began: float | None = None

    @property
    def ongoing(self) -> bool:
        return self._began is not None

    def begin(self, error: BaseException | None, retry_every_s: float) -> None:
        if self._began is not None:
            return
        self._began = self._clock()
        since = self._wall_clock().astimezone().strftime("%H:%M:%S")
        # The driver's own error, not SQLAlchemy's wrapper: that one appends the statement
        # and its parameters, which have no place in a log line.
        driver_error = getattr(error, "orig", None) or error
        cause = (
            f"({type(driver_error).__name__}: {driver_error})"
            if driver_error is not None
            else "(no answer)"
        )
        log.warning(
            "%s unreachable since %s, retrying every %.0f s %s",
            self.service,
            since,
            retry_every_s,
            _one_line(cause),
        )
        self._monitor.outage_began(self.kind)

    def check_limit(self) -> None:
        """Raise `OutageTooLong` once the outage has lasted longer than the limit."""
        if self._began is not None and self._clock() - self._began > self.limit_s:
            raise OutageTooLong(
                f"{self.service} unreachable for more than {self.limit_s:.0f} s (the outage limit)"
            )

    def end(self, detail: str = "") -> None:
        if self._began is None:
            return
        lasted_s = self._clock() - self._began
        self._began = None
        log.warning("%s back after %.0f s%s", self.service, lasted_s, detail)
        self._monitor.outage_ended(self.kind)


def _one_line(text: str, length_max: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= length_max else line[: length_max - 1] + "…"


Sleep = Callable[[float], Awaitable[None]]


class DatabaseGuard:
    """Waits out PostgreSQL outages around the handler's writes (bounded backoff, limit)."""

    def __init__(
        self,
        monitor: WorkerMonitor,
        *,
        limit_s: float = outage_limit_s_default,
        backoff: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.outage = Outage("PostgreSQL", OUTAGE_DATABASE, monitor, limit_s=limit_s, clock=clock)
        self._backoff = backoff or Backoff()
        self._sleep = sleep

    async def wait_until_back(
        self, error: BaseException, probe: Callable[[], Awaitable[int]], partition: int
    ) -> int:
        """After `error` (unreachable), wait until `probe` (the ledger's next offset of
        `partition`) answers; return that offset. Raises `OutageTooLong`."""
        self.outage.begin(error, self._backoff.max_s)
        self._backoff.reset()
        while True:
            self.outage.check_limit()
            await self._sleep(self._backoff.next_delay_s())
            try:
                offset = await probe()
            except Exception as probe_error:
                if not database_unreachable(probe_error):
                    raise
                continue
            self.outage.end(f"; resuming partition {partition} at offset {offset:,}")
            return offset


BrokerProbe = Callable[[], Awaitable[bool]]


async def tcp_probe(bootstrap: str, timeout_s: float = broker_probe_timeout_s) -> bool:
    """Whether any of the bootstrap addresses accepts a TCP connection."""
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host.strip("[]"), int(port)), timeout_s
            )
        except (OSError, ValueError):
            continue
        writer.close()
        return True
    return False


async def watch_broker(
    probe: BrokerProbe,
    outage: Outage,
    *,
    interval_s: float = broker_probe_interval_s,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Probe the broker every `interval_s`; log the outage once each way; enforce its limit.

    The Kafka clients reconnect by themselves; this only tells operators (and the state)
    and ends a worker whose broker stays away too long.
    """
    while True:
        if await probe():
            outage.end()
        else:
            outage.begin(None, interval_s)
            outage.check_limit()
        await sleep(interval_s)


async def wait_for_broker(
    probe: BrokerProbe,
    outage: Outage,
    stop: asyncio.Event,
    *,
    interval_s: float = broker_probe_interval_s,
    sleep: Sleep = asyncio.sleep,
) -> bool:
    """Before faust starts: wait until the broker answers (True) or a stop is asked (False).

    Faust's start bootstraps its clients once and fails when the broker is away, so a worker
    (re)started during a broker outage waits here, in state waiting_for_broker, within the
    outage's limit.
    """
    while not stop.is_set():
        if await probe():
            return True
        outage.begin(None, interval_s)
        outage.check_limit()
        await sleep(interval_s)
    return False


class LogThrottle(logging.Filter):
    """Lets each (logger, message template) of the chatty libraries through once per interval.

    Digits are blanked in the template so "node 1"/"node 2" or counters count as one.
    Records from other loggers pass untouched.
    """

    def __init__(
        self,
        prefixes: Iterable[str] = throttled_logger_prefixes,
        interval_s: float = log_throttle_interval_s,
        *,
        keys_max: int = log_throttle_keys_max,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._prefixes = tuple(prefixes)
        self._interval_s = interval_s
        self._keys_max = keys_max
        self._clock = clock
        self._last: OrderedDict[tuple[str, str], float] = OrderedDict()
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self._prefixes):
            return True
        key = (record.name, re.sub(r"\d+", "#", str(record.msg)))
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._interval_s:
            self.suppressed += 1
            return False
        self._last[key] = now
        self._last.move_to_end(key)
        while len(self._last) > self._keys_max:
            self._last.popitem(last=False)
        return True


def install_log_throttle(throttle: LogThrottle | None = None) -> LogThrottle:
    """Put the throttle on every handler of the root logger (filters on a logger do not see
    records propagated from its children)."""
    throttle = throttle or LogThrottle()
    for handler in logging.getLogger().handlers:
        handler.addFilter(throttle)
    return throttle


class StopDeadline:
    """A hard exit `deadline_s` after it is armed, unless disarmed first.

    A timer thread, so it fires even when the event loop is stuck in a faust stop.
    """

    def __init__(
        self,
        deadline_s: float = stop_deadline_s,
        *,
        cleanup: Callable[[], None] | None = None,
        exit_process: Callable[[int], None] = os._exit,
    ) -> None:
        self.deadline_s = deadline_s
        self._cleanup = cleanup
        self._exit = exit_process
        self._timer: threading.Timer | None = None
        self.exit_code = 0

    def arm(self, exit_code: int) -> None:
        if self._timer is not None:
            return
        self.exit_code = exit_code
        self._timer = threading.Timer(self.deadline_s, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def stop_on_signals(
        self,
        stop: asyncio.Event,
        signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
    ) -> None:
        """SIGTERM/SIGINT arm the deadline at once and set `stop`.

        A plain signal handler runs between bytecodes even while the event loop is
        busy in synchronous code (faust's start), where a loop handler would wait.
        """
        loop = asyncio.get_running_loop()

        def on_signal(signum: int, frame: object) -> None:
            self.arm(0)
            loop.call_soon_threadsafe(stop.set)

        for signum in signals:
            signal.signal(signum, on_signal)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _expire(self) -> None:
        sys.stderr.write(
            f"worker: stop did not finish within {self.deadline_s:.0f} s; exiting now"
            " (each batch is one transaction: nothing is half-written)\n"
        )
        sys.stderr.flush()
        if self._cleanup is not None:
            # The exit must happen whatever the cleanup does.
            with contextlib.suppress(Exception):
                self._cleanup()
        self._exit(self.exit_code)
