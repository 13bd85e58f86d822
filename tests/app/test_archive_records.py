"""Archived raw messages keep their submitter header; archives written before still read.

An archive is read years later, possibly by a newer version: the raw record schema only
gains optional fields, and `read_archived_messages` resolves old files to the newest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastavro

from ledger.app.archive import RAW_RECORD_SCHEMA, read_archived_messages, write_manifest
from ledger.domain.processing import RawMessage
from ledger.domain.submitters import OPERATOR, vendor_submitter

TOPIC = "ledger.test.usage-events"

# The record schema as archives were first written (before headers were kept).
FIRST_RAW_RECORD_SCHEMA: dict[str, Any] = {
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
    ],
}


def _archive(root: Path, schema: dict[str, Any], records: list[dict[str, Any]]) -> None:
    directory = root / "2026-09"
    directory.mkdir(parents=True)
    with (directory / "raw-p1.avro").open("wb") as file:
        fastavro.writer(file, fastavro.parse_schema(schema), records)
    write_manifest(directory, "2026-09", [])


def _record(offset: int, **extra: Any) -> dict[str, Any]:
    return {
        "topic": TOPIC,
        "partition": 1,
        "offset": offset,
        "timestamp_ms": 1_790_000_000_000 + offset,
        "key": b"k",
        "value": b"v%d" % offset,
        **extra,
    }


def _read(root: Path) -> list[RawMessage]:
    return [m for _, batch in read_archived_messages(root, TOPIC) for m in batch]


def test_an_archive_from_before_headers_reads_without_submitters(tmp_path: Path) -> None:
    _archive(tmp_path, FIRST_RAW_RECORD_SCHEMA, [_record(0), _record(1)])
    assert _read(tmp_path) == [
        RawMessage(1, 0, 1_790_000_000_000, b"v0"),
        RawMessage(1, 1, 1_790_000_000_001, b"v1"),
    ]


def test_the_submitter_header_is_archived_and_read_back(tmp_path: Path) -> None:
    forlag = vendor_submitter("987654325")
    records = [
        _record(0, headers=[{"key": "ledger-submitter", "value": b"operator"}]),
        _record(
            1,
            headers=[
                {"key": "trace", "value": None},
                {"key": "ledger-submitter", "value": forlag.header_value()},
            ],
        ),
        _record(2, headers=[]),
        _record(3, headers=None),
        _record(4, headers=[{"key": "ledger-submitter", "value": b"vendor:bogus"}]),
    ]
    _archive(tmp_path, RAW_RECORD_SCHEMA, records)
    assert [m.submitter for m in _read(tmp_path)] == [OPERATOR, forlag, None, None, None]
