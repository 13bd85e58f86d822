"""`ledger ingest FILE`: send a vendor's usage events to the raw log, as a producer would.

Lines that cannot become a UsageEvent (bad JSON, a missing field, a wrong type) are
still sent, wrapped as a RawSubmission, so the stream rejects them with a reason
code the vendor can read: nothing a vendor sends is silently dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import fastavro

from ledger.domain.events import EVENT_FIELDS, event_json_bytes_max
from schemas.codec import encode
from streams.producer import in_flight_sends_max, raw_log_producer

# The UsageEvent schema's fields (the domain's list) and their Avro types.
USAGE_EVENT_FIELDS: dict[str, type] = {
    name: int if name == "quantity" else str for name in EVENT_FIELDS
}
# An unreadable line is kept for the vendor up to the size an event may have (bounded).
line_bytes_max = event_json_bytes_max
AVRO_MAGIC = b"Obj\x01"


class IngestFileError(Exception):
    """The file itself cannot be read (missing, not JSON Lines nor Avro): one line, exit 2."""


@dataclass(frozen=True)
class Submission:
    key: bytes
    value: bytes


def _raw_submission(body: bytes, problem: str, record: Mapping[str, object] | None) -> Submission:
    vendor = record.get("vendor") if record else None
    event_id = record.get("event_id") if record else None
    vendor = vendor if isinstance(vendor, str) else None
    event_id = event_id if isinstance(event_id, str) else None
    key = (
        f"{vendor}/{event_id}".encode()
        if vendor is not None and event_id is not None
        else hashlib.sha256(body).hexdigest().encode()
    )
    value = encode(
        "no.ledger.RawSubmission",
        {"vendor": vendor, "event_id": event_id, "body": body[:line_bytes_max], "problem": problem},
    )
    return Submission(key, value)


def submission_for_record(record: object, body: bytes) -> Submission:
    """A UsageEvent when the record has every field with the right type, else a RawSubmission."""
    if not isinstance(record, dict):
        return _raw_submission(body, "malformed: an event must be a JSON object", None)
    for name, expected in USAGE_EVENT_FIELDS.items():
        value = record.get(name)
        if value is None:
            return _raw_submission(body, f"schema_violation: field {name} is missing", record)
        wrong_int = expected is int and (isinstance(value, bool) or not isinstance(value, int))
        if wrong_int or not isinstance(value, expected):
            kind = "an integer" if expected is int else "a string"
            return _raw_submission(body, f"schema_violation: field {name} must be {kind}", record)
    event = {name: record[name] for name in USAGE_EVENT_FIELDS}
    key = f"{event['vendor']}/{event['event_id']}".encode()
    return Submission(key, encode("no.ledger.UsageEvent", event))


def submissions_from_json_lines(path: Path) -> Iterator[Submission]:
    with path.open("rb") as lines:
        for line in lines:
            body = line.strip()
            if not body:
                continue
            try:
                record = json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError):
                yield _raw_submission(body, "malformed: not valid JSON", None)
                continue
            yield submission_for_record(record, body)


def submissions_from_avro(path: Path) -> Iterator[Submission]:
    with path.open("rb") as file:
        try:
            reader = fastavro.reader(file)
        except ValueError as error:
            raise IngestFileError(f"{path}: not a readable Avro file ({error})") from error
        for record in reader:
            body = json.dumps(record, default=str, sort_keys=True).encode()
            yield submission_for_record(record, body)


def read_submissions(path: Path) -> Iterator[Submission]:
    if not path.is_file():
        raise IngestFileError(f"{path}: no such file")
    with path.open("rb") as probe:
        magic = probe.read(4)
    if magic == AVRO_MAGIC:
        return submissions_from_avro(path)
    return submissions_from_json_lines(path)


async def send_submissions(
    bootstrap: str,
    topic: str,
    submissions: Iterator[Submission],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Send all submissions; returns how many the broker acknowledged."""
    producer = raw_log_producer(bootstrap)
    await producer.start()
    sent = 0
    try:
        pending: list[asyncio.Future[object]] = []
        for submission in submissions:
            pending.append(await producer.send(topic, submission.value, key=submission.key))
            if len(pending) >= in_flight_sends_max:
                sent += await _settle(pending, progress)
                pending = []
        sent += await _settle(pending, progress)
    finally:
        await producer.stop()
    return sent


async def _settle(
    pending: list[asyncio.Future[object]], progress: Callable[[int], None] | None
) -> int:
    await asyncio.gather(*pending)
    if progress is not None:
        progress(len(pending))
    return len(pending)
