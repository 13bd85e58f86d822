"""Monthly archives for the five-year retention of accounting records.

An archive covers one settled period: per chain, the raw messages and ledger entries
after the previous closing's close marker up to and including this period's. The
closings therefore tile the log exactly, and a replay can read the archives in period
order. Files are Avro object container files with a SHA-256 manifest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.app.workspace import Workspace
from ledger.domain.invariants import InvariantViolation, invariant
from ledger.domain.processing import RawMessage
from ledger.domain.submitters import submitter_from_headers
from ledger.store.closings import closed_periods
from ledger.store.engine import create_ledger_engine
from ledger.store.entries import entries_between, entry_column_types, source_offsets
from streams.access import KafkaAccess

archive_read_batch_max = 5_000
consume_wait_ms = 1_000

RAW_RECORD_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "ArchivedRawMessage",
    "namespace": "no.ledger.archive",
    "fields": [
        {"name": "topic", "type": "string"},
        {"name": "partition", "type": "int"},
        {"name": "offset", "type": "long"},
        {"name": "timestamp_ms", "type": "long"},
        {"name": "key", "type": ["null", "bytes"], "default": None},
        {"name": "value", "type": "bytes"},
        # The message's Kafka headers as delivered ([] for none), so a replay from archives
        # sees the same submitter (ledger.domain.submitters) as the worker did. Null in
        # archives written before headers were kept: those messages had no submitter.
        {
            "name": "headers",
            "type": [
                "null",
                {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "ArchivedHeader",
                        "fields": [
                            {"name": "key", "type": "string"},
                            {"name": "value", "type": ["null", "bytes"]},
                        ],
                    },
                },
            ],
            "default": None,
        },
    ],
}


def _entry_schema() -> dict[str, Any]:
    fields: list[dict[str, Any]] = []
    for name, python_type in entry_column_types():
        if python_type is int:
            avro: Any = "long"
        elif python_type is bytes:
            avro = "bytes"
        elif name in ("received_at", "occurred_at"):
            avro = {"type": "long", "logicalType": "timestamp-micros"}
        else:
            avro = "string"
        fields.append({"name": name, "type": ["null", avro], "default": None})
    return {
        "type": "record",
        "name": "LedgerEntry",
        "namespace": "no.ledger.archive",
        "fields": fields,
    }


class ArchiveError(Exception):
    """The archive cannot be written or read as asked (one line, exit 2)."""


@dataclass(frozen=True)
class ArchiveRange:
    chain: int
    first_offset: int  # inclusive
    last_offset: int  # inclusive
    first_seq: int
    last_seq: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


async def archive_ranges(
    conn: AsyncConnection, heads: dict[int, int], previous_heads: dict[int, int] | None
) -> list[ArchiveRange]:
    ranges = []
    for chain, close_seq in sorted(heads.items()):
        first_seq = (previous_heads or {}).get(chain, 0) + 1
        offsets = await source_offsets(conn, chain, [first_seq, close_seq])
        invariant(len(offsets) == len({first_seq, close_seq}), f"chain {chain}: range not found")
        ranges.append(
            ArchiveRange(chain, offsets[first_seq], offsets[close_seq], first_seq, close_seq)
        )
    return ranges


async def write_raw_archive(
    kafka: KafkaAccess, topic: str, ranges: Sequence[ArchiveRange], directory: Path
) -> list[Path]:
    # Assigned once: re-assigning under a running group coordinator trips its
    # "subscription active" assertion. (The group id itself avoids aiokafka 0.14's
    # group-less coordinator, whose stop() raises CancelledError; nothing is committed.)
    consumer = AIOKafkaConsumer(
        **kafka.client_options(), enable_auto_commit=False, group_id=f"{topic}-archive"
    )
    await consumer.start()
    paths = []
    try:
        tps = {r.chain: TopicPartition(topic, r.chain) for r in ranges}
        consumer.assign(list(tps.values()))
        for archive_range in ranges:
            consumer.seek(tps[archive_range.chain], archive_range.first_offset)
        for archive_range in ranges:
            records = await _read_range(consumer, tps[archive_range.chain], archive_range)
            path = directory / f"raw-p{archive_range.chain}.avro"
            with path.open("wb") as file:
                fastavro.writer(file, fastavro.parse_schema(RAW_RECORD_SCHEMA), records)
            paths.append(path)
    finally:
        await consumer.stop()
    return paths


async def _read_range(
    consumer: AIOKafkaConsumer, tp: TopicPartition, archive_range: ArchiveRange
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    expected = archive_range.first_offset
    while expected <= archive_range.last_offset:
        batch = await consumer.getmany(tp, timeout_ms=consume_wait_ms, max_records=5000)
        for message in batch.get(tp, []):
            if message.offset > archive_range.last_offset:
                break
            invariant(message.offset == expected, f"raw log gap at {tp} {expected}")
            records.append(
                {
                    "topic": tp.topic,
                    "partition": message.partition,
                    "offset": message.offset,
                    "timestamp_ms": message.timestamp,
                    "key": message.key,
                    "value": message.value,
                    "headers": [{"key": key, "value": value} for key, value in message.headers],
                }
            )
            expected += 1
    return records


def _archived_message(record: dict[str, Any]) -> RawMessage:
    """A raw message as the worker saw it, from its archived record (old or new schema)."""
    headers = record["headers"]
    return RawMessage(
        int(record["partition"]),
        int(record["offset"]),
        int(record["timestamp_ms"]),
        bytes(record["value"]),
        submitter=submitter_from_headers(
            None if headers is None else [(h["key"], h["value"]) for h in headers]
        ),
    )


async def write_entry_archive(
    conn: AsyncConnection, ranges: Sequence[ArchiveRange], directory: Path
) -> list[Path]:
    schema = fastavro.parse_schema(_entry_schema())
    paths = []
    for archive_range in ranges:
        path = directory / f"entries-p{archive_range.chain}.avro"
        rows = await entries_between(
            conn, archive_range.chain, archive_range.first_seq, archive_range.last_seq
        )
        with path.open("wb") as file:
            fastavro.writer(file, schema, rows)
        paths.append(path)
    return paths


def write_manifest(directory: Path, period: str, ranges: Sequence[ArchiveRange]) -> Path:
    files = sorted(p for p in directory.iterdir() if p.suffix == ".avro")
    manifest = {
        "period": period,
        "ranges": [archive_range.__dict__ for archive_range in ranges],
        "files": {p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size} for p in files},
    }
    path = directory / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return path


def check_manifest(directory: Path) -> list[str]:
    """Files whose checksum no longer matches the manifest."""
    manifest = json.loads((directory / "manifest.json").read_text())
    problems = []
    for name, expected in sorted(manifest["files"].items()):
        path = directory / name
        if not path.exists():
            problems.append(f"{directory.name}/{name}: missing")
        elif _sha256(path) != expected["sha256"]:
            problems.append(f"{directory.name}/{name}: checksum differs from the manifest")
    return problems


def read_archived_messages(root: Path, topic: str) -> Iterator[tuple[int, list[RawMessage]]]:
    """Raw messages of every period archived under `root`, in period then offset order."""
    if not root.is_dir():
        raise ArchiveError(f"{root}: no such archive directory")
    # Read through the newest schema: Avro resolution fills fields older archives lack.
    reader_schema = fastavro.parse_schema(RAW_RECORD_SCHEMA)
    for period_dir in sorted(p for p in root.iterdir() if (p / "manifest.json").exists()):
        for path in sorted(period_dir.glob("raw-p*.avro")):
            with path.open("rb") as file:
                batch: list[RawMessage] = []
                partition = -1
                for record in fastavro.reader(file, reader_schema=reader_schema):
                    if not isinstance(record, dict):
                        raise InvariantViolation(f"{path}: an Avro record read as {record!r}")
                    if record["topic"] != topic:
                        raise ArchiveError(f"{path}: archived from topic {record['topic']}")
                    message = _archived_message(record)
                    partition = message.partition
                    batch.append(message)
                    if len(batch) >= archive_read_batch_max:
                        yield partition, batch
                        batch = []
                if batch:
                    yield partition, batch


async def archive_period(ws: Workspace, period: str, out: Path) -> Path:
    """Write `out/<period>/` for a settled period; refuses an open period or existing folder."""
    engine = create_ledger_engine(ws.database_url)
    try:
        async with engine.connect() as conn:
            closed = await closed_periods(conn)
            index = next((i for i, c in enumerate(closed) if c.period == period), None)
            if index is None:
                raise ArchiveError(f"period {period} is not settled; archive settled periods only")
            previous = closed[index - 1].heads if index > 0 else None
            ranges = await archive_ranges(conn, closed[index].heads, previous)
            directory = out / period
            if directory.exists():
                raise ArchiveError(f"{directory} exists already; archives are written once")
            directory.mkdir(parents=True)
            await write_entry_archive(conn, ranges, directory)
        await write_raw_archive(ws.kafka_worker, ws.topics.raw, ranges, directory)
        write_manifest(directory, period, ranges)
        return directory
    finally:
        await engine.dispose()
