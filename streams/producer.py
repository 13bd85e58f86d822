"""The idempotent producer every writer to the raw log uses (ingest, markers)."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

# Bounds: what one request may carry and how long a batch may wait to fill.
request_bytes_max = 8 * 1024 * 1024
linger_ms = 20
in_flight_sends_max = 20_000


def raw_log_producer(bootstrap: str) -> AIOKafkaProducer:
    """acks=all + idempotence: a retried send never duplicates or reorders a message."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=512 * 1024,
        max_request_size=request_bytes_max,
    )
