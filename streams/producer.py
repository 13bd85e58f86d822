"""The idempotent producer every writer to the raw log uses (ingest, markers)."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from schemas.codec import message_bytes_max
from streams.access import KafkaAccess

# Bounds: one request carries at most one largest message; how long a batch may wait to fill.
request_bytes_max = message_bytes_max
linger_ms = 20
in_flight_sends_max = 20_000


def raw_log_producer(access: KafkaAccess, *, request_timeout_ms: int = 40_000) -> AIOKafkaProducer:
    """acks=all + idempotence: a retried send never duplicates or reorders a message.

    `access` is the ingest principal: the only one the broker lets write the raw log.
    """
    return AIOKafkaProducer(
        **access.client_options(),
        request_timeout_ms=request_timeout_ms,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=512 * 1024,
        max_request_size=request_bytes_max,
    )
