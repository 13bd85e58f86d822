"""The defects the fuzz tests found, each pinned by its smallest input (no services needed)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import fastavro
import pytest

from ledger.domain.catalogue_canonical import canonical_catalogue_json, catalogue_sha256
from ledger.domain.catalogue_parse import load_catalogue_text
from ledger.domain.catalogue_problems import CatalogueRejected
from ledger.domain.events import Rejection, event_from_record
from ledger.domain.processing import (
    CatalogueVersion,
    PartitionDecider,
    PartitionState,
    RawMessage,
    decode_message,
)
from schemas.codec import encode
from streams.handler import rejected_original_bytes_max, rejected_record
from streams.ingest import IngestFileError, read_submissions
from tests.fuzz.messages import TEMPLATES, record_of
from tests.integration.conftest import CATALOGUE

received_ms = 1_796_000_000_000  # 2026-11-29


def decide(record: dict[str, object]) -> tuple[str | None, str | None, str | None]:
    catalogue = load_catalogue_text(CATALOGUE.read_text(encoding="utf-8"))
    version = CatalogueVersion(
        1, catalogue_sha256(catalogue), canonical_catalogue_json(catalogue), catalogue
    )
    decider = PartitionDecider(
        source_topic="raw",
        learner_key=b"k" * 32,
        state=PartitionState(version),
        existing_accepted={},
        known_catalogue=lambda _: None,
    )
    message = RawMessage(0, 0, received_ms, encode("UsageEvent", record))
    draft = decider.decide(decode_message(message)).draft
    return draft.status, draft.reason_code, draft.vendor


@pytest.mark.parametrize(
    "occurred_at",
    [
        "0001-01-01T00:00:00Z",
        "1899-11-30T12:00:00+01:00",
        "9998-12-31T23:30:00Z",
        "9999-12-31T23:59:59Z",
    ],
)
def test_a_time_without_a_billing_period_is_a_schema_violation_not_a_crash(occurred_at: str):
    # Was: ValueError / OverflowError from period_of, the worker stopped at the message.
    record = record_of(TEMPLATES[1], "e-1", occurred_at=occurred_at)
    assert decide(record)[:2] == ("rejected", "schema_violation")
    rejection = event_from_record(record)
    assert isinstance(rejection, Rejection) and "outside the years" in rejection.detail


def test_the_earliest_and_latest_periods_still_decide():
    assert decide(record_of(TEMPLATES[1], "e-1", occurred_at="1900-01-01T00:00:00Z"))[0] == (
        "accepted"
    )
    assert decide(record_of(TEMPLATES[1], "e-2", occurred_at="9998-11-15T00:00:00Z"))[:2] == (
        "rejected",
        "occurred_in_future",
    )


def test_a_rejected_event_keeps_no_field_longer_than_the_field_may_be():
    # Was: a vendor of megabytes stored in the rejected entry (and its vendor index).
    status, code, vendor = decide(record_of(TEMPLATES[1], "e-1", vendor="9" * 3_000_000))
    assert (status, code, vendor) == ("rejected", "schema_violation", None)


def test_a_rejection_notice_of_a_megabyte_message_fits_one_produce_request():
    # Was: faust's producer refused the notice (1 MB limit) and the worker crashed.
    message = RawMessage(0, 7, received_ms, b"\x00" * 5_000_000)
    catalogue_free = PartitionDecider(
        source_topic="raw",
        learner_key=b"k" * 32,
        state=PartitionState(None),
        existing_accepted={},
        known_catalogue=lambda _: None,
    )
    draft = catalogue_free.decide(decode_message(message)).draft
    _, value = rejected_record(message, draft)
    assert len(value) < rejected_original_bytes_max + 4096


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("municipalities: " + "[" * 100_000 + "]" * 100_000, "nested more than"),
        ("municipalities: " + "{a: " * 50_000 + "1" + "}" * 50_000, "nested more than"),
        ("municipalities:\n  - population: " + "9" * 5000, "too many digits"),
        ("municipalities: 2026-02-30", "day is out of range"),
        ('municipalities:\n  - {id: "32\\n01"}\nvendors: []\nlicences: []', ""),
        ('municipalities:\n  - {"\\n": 1}\nvendors: []\nlicences: []', ""),
    ],
)
def test_hostile_catalogue_text_is_refused_in_one_line_quickly(text: str, problem: str):
    # Was: RecursionError, ValueError, a problem split over two lines, minutes of scanning.
    started = time.monotonic()
    with pytest.raises(CatalogueRejected) as refused:
        load_catalogue_text(text)
    assert time.monotonic() - started < 5
    listing = "; ".join(refused.value.problems)
    assert "\n" not in listing and problem in listing


def test_json_lines_that_break_the_json_reader_become_malformed_submissions(tmp_path: Path):
    # Was: RecursionError and ValueError tracebacks from `ledger ingest`.
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"[" * 100_000 + b"\n" + b'{"quantity": ' + b"9" * 5000 + b"}\n")
    assert len(list(read_submissions(path))) == 2


def test_a_damaged_avro_file_is_one_line_after_the_records_before_it(tmp_path: Path):
    # Was: EOFError traceback in the middle of sending.
    buffer = io.BytesIO()
    schema = {"type": "record", "name": "E", "fields": [{"name": "a", "type": "string"}]}
    fastavro.writer(
        buffer, fastavro.parse_schema(schema), [{"a": "x" * 100}] * 50, sync_interval=500
    )
    path = tmp_path / "events.avro"
    path.write_bytes(buffer.getvalue()[:-30])
    sent = []
    with pytest.raises(IngestFileError, match="damaged after record") as error:
        sent.extend(read_submissions(path))
    assert sent and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("find", "replace"),
    [(b'"name": "a"', b'"oame": "a"'), (b'"type": "string"', b'"tipe": "string"')],
)
def test_an_avro_file_with_a_damaged_schema_header_is_one_line(
    tmp_path: Path, find: bytes, replace: bytes
) -> None:
    # Was: SchemaParseException / KeyError tracebacks from fastavro's header parsing (found
    # by test_ingest_fuzz in a fresh-clone CI run).
    buffer = io.BytesIO()
    schema = {"type": "record", "name": "E", "fields": [{"name": "a", "type": "string"}]}
    fastavro.writer(buffer, fastavro.parse_schema(schema), [{"a": "x"}])
    content = buffer.getvalue()
    header_schema = content.replace(b" ", b"")  # fastavro writes the schema without spaces
    damaged = header_schema.replace(find.replace(b" ", b""), replace.replace(b" ", b""), 1)
    assert damaged != header_schema, "the schema in the header was found and damaged"
    path = tmp_path / "events.avro"
    path.write_bytes(damaged)
    with pytest.raises(IngestFileError, match="not a readable Avro file") as error:
        list(read_submissions(path))
    assert "\n" not in str(error.value)
