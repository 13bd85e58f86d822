"""A worker (re)started while the broker is away waits for it (found by the fault harness:
such a worker died in faust's start with a traceback)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from streams.supervision import (
    OUTAGE_BROKER,
    Outage,
    OutageTooLong,
    WorkerMonitor,
    wait_for_broker,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def answers_after(failures: int) -> tuple[list[int], Callable[[], Awaitable[bool]]]:
    calls: list[int] = []

    async def probe() -> bool:
        calls.append(1)
        return len(calls) > failures

    return calls, probe


async def test_a_worker_starting_without_a_broker_waits_in_its_state_until_it_answers() -> None:
    clock = Clock()
    monitor = WorkerMonitor()
    states: list[str] = []
    monitor.listeners.append(lambda snapshot: states.append(snapshot.state))
    outage = Outage("Kafka broker", OUTAGE_BROKER, monitor, limit_s=60, clock=clock)
    calls, probe = answers_after(5)

    assert await wait_for_broker(probe, outage, asyncio.Event(), sleep=clock.sleep)
    assert len(calls) == 6
    assert "waiting_for_broker" in states
    assert outage.ongoing, "the broker watch ends the outage once faust runs"


async def test_a_stop_asked_while_waiting_for_the_broker_ends_the_wait() -> None:
    clock = Clock()
    outage = Outage("Kafka broker", OUTAGE_BROKER, WorkerMonitor(), limit_s=60, clock=clock)
    stop = asyncio.Event()

    async def never() -> bool:
        stop.set()
        return False

    assert not await wait_for_broker(never, outage, stop, sleep=clock.sleep)


async def test_a_broker_away_longer_than_the_limit_ends_the_start() -> None:
    clock = Clock()
    outage = Outage("Kafka broker", OUTAGE_BROKER, WorkerMonitor(), limit_s=30, clock=clock)
    _, probe = answers_after(10_000)
    with pytest.raises(OutageTooLong, match="more than 30 s"):
        await wait_for_broker(probe, outage, asyncio.Event(), sleep=clock.sleep)
    assert 30 < clock.now <= 32
