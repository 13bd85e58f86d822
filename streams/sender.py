"""A long-lived sender to the raw log for the HTTP API: one producer, restarted after a fault.

A request must never leave a half-sent batch the client cannot reason about: when the
broker cannot take a batch within `send_timeout_s`, `BrokerUnavailable` is raised (the
API answers 503 with Retry-After) and the producer is replaced, so the next request
starts clean. Messages of a failed batch that did reach the log are harmless: a retry
sends the same events again and they become identical duplicates.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Final

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from streams.access import KafkaAccess
from streams.ingest import Submission, send_batch
from streams.producer import raw_log_producer

log = logging.getLogger(__name__)

send_timeout_s: Final = 10.0  # the broker acknowledges a healthy batch in milliseconds
start_timeout_s: Final = 5.0
probe_timeout_s: Final = 3.0


class BrokerUnavailable(Exception):
    """The broker did not take the batch: nothing about it can be promised; retry later."""


class RawLogSender:
    def __init__(self, access: KafkaAccess, topic: str) -> None:
        self._access = access
        self._topic = topic
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._down_since_logged = False

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is not None:
                return self._producer
            producer = raw_log_producer(self._access, request_timeout_ms=int(send_timeout_s * 1000))
            try:
                await asyncio.wait_for(producer.start(), start_timeout_s)
            except (KafkaError, OSError, TimeoutError) as error:
                await _stop_quietly(producer)
                detail = f"cannot reach the broker: {error or type(error).__name__}"
                raise self._unavailable(detail) from error
            if self._down_since_logged:
                log.warning("Kafka broker reachable again")
                self._down_since_logged = False
            self._producer = producer
            return producer

    def _unavailable(self, detail: str) -> BrokerUnavailable:
        if not self._down_since_logged:  # once per outage, not once per request
            log.warning("Kafka broker unavailable: %s", detail)
            self._down_since_logged = True
        return BrokerUnavailable(detail)

    async def _discard(self, producer: AIOKafkaProducer) -> None:
        async with self._lock:
            if self._producer is producer:
                self._producer = None
        await _stop_quietly(producer)

    async def send(
        self, submissions: Sequence[Submission], timestamp_ms: int
    ) -> list[tuple[int, int]]:
        """(partition, offset) of each submission, once the broker acknowledged them all."""
        producer = await self._started()
        try:
            return await asyncio.wait_for(
                send_batch(producer, self._topic, submissions, timestamp_ms), send_timeout_s
            )
        except (KafkaError, OSError, TimeoutError) as error:
            await self._discard(producer)
            raise self._unavailable(
                f"the broker did not acknowledge the batch: {error or type(error).__name__}"
            ) from error

    async def reachable(self) -> bool:
        """Whether the broker answers a metadata request now (readiness)."""
        try:
            producer = await self._started()
            await asyncio.wait_for(producer.client.fetch_all_metadata(), probe_timeout_s)
        except (BrokerUnavailable, KafkaError, OSError, TimeoutError):
            return False
        return True

    async def close(self) -> None:
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            await _stop_quietly(producer)


async def _stop_quietly(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.stop(), start_timeout_s)
    except (KafkaError, OSError, TimeoutError) as error:
        log.debug("stopping a failed producer: %s", error)
