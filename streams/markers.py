"""Control markers in the raw log: catalogue versions and period closes.

A marker is written to every partition, so each partition's own order says which
catalogue applied to an event and whether the event came before or after a period
was closed. A replay of the log therefore reproduces both.
"""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from ledger.domain.submitters import OPERATOR
from schemas.codec import encode
from streams.access import KafkaAccess
from streams.producer import raw_log_producer


async def _to_every_partition(access: KafkaAccess, topic: str, value: bytes) -> int:
    producer: AIOKafkaProducer = raw_log_producer(access)
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topic))
        # Marked as the operator's, like `ledger ingest`: provenance kept in the log.
        headers = [OPERATOR.header()]
        futures = [
            await producer.send(topic, value, partition=p, headers=headers) for p in partitions
        ]
        for future in futures:
            await future
    finally:
        await producer.stop()
    return len(partitions)


async def publish_catalogue_marker(
    access: KafkaAccess, topic: str, *, version: int, sha256: str, document: bytes
) -> int:
    value = encode(
        "no.ledger.CatalogueMarker", {"version": version, "sha256": sha256, "document": document}
    )
    return await _to_every_partition(access, topic, value)


async def publish_close_marker(
    access: KafkaAccess, topic: str, *, close_id: str, period: str
) -> int:
    value = encode("no.ledger.CloseMarker", {"close_id": close_id, "period": period})
    return await _to_every_partition(access, topic, value)
