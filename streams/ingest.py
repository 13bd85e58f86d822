"""`ledger ingest FILE`: send a vendor's usage events to the raw log, as a producer would.

Lines that cannot become a UsageEvent (bad JSON, a missing field, a wrong type) are
still sent, wrapped as a RawSubmission, so the stream rejects them with a reason
code the vendor can read: nothing a vendor sends is silently dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import fastavro
from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from ledger.domain.events import EVENT_FIELDS, event_json_bytes_max
from ledger.domain.invariants import invariant
from ledger.domain.submitters import SUBMITTER_HEADER, Submitter
from schemas.codec import UnencodableRecord, encode, message_bytes_max
from streams.access import KafkaAccess
from streams.producer import in_flight_sends_max, raw_log_producer

# The UsageEvent schema's fields (the domain's list) and their Avro types.
USAGE_EVENT_FIELDS: dict[str, type] = {
    name: int if name == "quantity" else str for name in EVENT_FIELDS
}
# An unreadable line is kept for the vendor up to the size an event may have (bounded).
line_bytes_max = event_json_bytes_max
# One API request's events (CONTRACT 7: at most 10,000) are sent as one batch.
send_batch_submissions_max = 10_000
invariant(
    send_batch_submissions_max <= in_flight_sends_max,
    "a batch must fit the producer's in-flight bound",
)
AVRO_MAGIC = b"Obj\x01"
# Reading a JSON Lines file: a longer line cannot be an event, and is not read further.
line_read_bytes_max = message_bytes_max
# A message's key and value, leaving room under the broker's limit for the record's framing.
submission_bytes_max = message_bytes_max - 64 * 1024
# What fastavro raises on a damaged block: short reads, bad varints, a wrong sync marker,
# invalid UTF-8, a corrupt compressed block.
_avro_block_errors = (
    EOFError,
    ValueError,
    IndexError,
    KeyError,
    TypeError,
    OverflowError,
    MemoryError,
    zlib.error,
)
_unencodable_problem = (
    "schema_violation: a field does not fit the usage event schema "
    "(a quantity beyond 64 bits, or text that is not valid Unicode)"
)


class IngestFileError(Exception):
    """The file itself cannot be read (missing, not JSON Lines nor Avro): one line, exit 2."""


@dataclass(frozen=True)
class Submission:
    key: bytes
    value: bytes
    # Kafka headers sent with the message, e.g. the submitter (ledger.domain.submitters).
    headers: tuple[tuple[str, bytes], ...] = ()

    def with_submitter(self, submitter: Submitter) -> Submission:
        """This submission marked as sent by `submitter` (replacing any earlier mark)."""
        kept = tuple((name, value) for name, value in self.headers if name != SUBMITTER_HEADER)
        return replace(self, headers=(*kept, submitter.header()))


def _unicode_text(value: object) -> str | None:
    """A string that UTF-8 can encode (JSON's \\ud800 escapes give lone surrogates), else None."""
    if not isinstance(value, str):
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def _raw_submission(body: bytes, problem: str, record: Mapping[str, object] | None) -> Submission:
    vendor = _unicode_text(record.get("vendor")) if record else None
    event_id = _unicode_text(record.get("event_id")) if record else None
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


def usage_event_record(record: object) -> dict[str, object] | None:
    """The UsageEvent record of `record` when it has every field with its Avro type, else None.

    This record is exactly what the stream decodes from the message (Avro strings and longs
    round-trip unchanged), so a sender may screen it without decoding its own bytes.
    """
    if not isinstance(record, dict):
        return None
    for name, expected in USAGE_EVENT_FIELDS.items():
        value = record.get(name)
        if value is None:
            return None
        wrong_int = expected is int and (isinstance(value, bool) or not isinstance(value, int))
        if wrong_int or not isinstance(value, expected):
            return None
    return {name: record[name] for name in USAGE_EVENT_FIELDS}


def event_submission(event: Mapping[str, object]) -> Submission | None:
    """The message of a `usage_event_record`; None when Avro cannot hold it, or the broker
    would not take it (megabytes of text: the producer would refuse it and stop the send)."""
    try:
        key = f"{event['vendor']}/{event['event_id']}".encode()
        value = encode("no.ledger.UsageEvent", event)
    except (UnencodableRecord, UnicodeEncodeError):
        return None
    if len(key) + len(value) > submission_bytes_max:
        return None
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
    submission = event_submission({name: record[name] for name in USAGE_EVENT_FIELDS})
    if submission is None:
        # A quantity beyond 64 bits or text that is not Unicode: still kept, for the vendor
        # to read why (the body says which field; the problem never echoes a value).
        return _raw_submission(body, _unencodable_problem, record)
    return submission


def _bounded_lines(file: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """The file's lines, each at most `line_read_bytes_max` (True: cut, the rest skipped), so
    that a file of one endless line costs bounded memory."""
    while line := file.readline(line_read_bytes_max + 1):
        if len(line) <= line_read_bytes_max or line.endswith(b"\n"):
            yield line, False
            continue
        while (rest := file.readline(line_read_bytes_max)) and not rest.endswith(b"\n"):
            pass
        yield line[:line_read_bytes_max], True


def submissions_from_json_lines(path: Path) -> Iterator[Submission]:
    with path.open("rb") as lines:
        for line, cut in _bounded_lines(lines):
            body = line.strip()
            if not body:
                continue
            if cut:
                problem = f"malformed: the line is longer than {line_read_bytes_max} bytes"
                yield _raw_submission(body, problem, None)
                continue
            try:
                record = json.loads(body)
            except (ValueError, RecursionError):
                # ValueError: JSONDecodeError, invalid UTF-8, an integer of 5,000 digits;
                # RecursionError: arrays nested thousands deep.
                yield _raw_submission(body, "malformed: not valid JSON", None)
                continue
            yield submission_for_record(record, body)


def submissions_from_avro(path: Path) -> Iterator[Submission]:
    with path.open("rb") as file:
        try:
            reader = fastavro.reader(file)
        except Exception as error:
            # A damaged header fails in many ways inside fastavro (ValueError, KeyError,
            # SchemaParseException, EOFError, ...): before any record, the file is unreadable.
            reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
            raise IngestFileError(f"{path}: not a readable Avro file ({reason})") from error
        read = 0
        try:
            for record in reader:
                body = json.dumps(record, default=str, sort_keys=True).encode()
                yield submission_for_record(record, body)
                read += 1
        except _avro_block_errors as error:
            # The records before the damage are sent (the producer flushes them on stop);
            # the operator learns where the file broke and can resend the rest.
            raise IngestFileError(
                f"{path}: the Avro file is damaged after record {read}"
                f" ({type(error).__name__}); the {read} records before it were sent"
            ) from error


def read_submissions(path: Path) -> Iterator[Submission]:
    if not path.is_file():
        raise IngestFileError(f"{path}: no such file")
    with path.open("rb") as probe:
        magic = probe.read(4)
    if magic == AVRO_MAGIC:
        return submissions_from_avro(path)
    return submissions_from_json_lines(path)


async def send_submissions(
    access: KafkaAccess,
    topic: str,
    submissions: Iterator[Submission],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Send all submissions; returns how many the broker acknowledged."""
    producer = raw_log_producer(access)
    await producer.start()
    sent = 0
    try:
        pending: list[asyncio.Future[object]] = []
        for submission in submissions:
            pending.append(
                await producer.send(
                    topic, submission.value, key=submission.key, headers=list(submission.headers)
                )
            )
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


create_time = 0  # Kafka's timestamp type of a message that keeps the producer's timestamp


async def send_batch(
    producer: AIOKafkaProducer,
    topic: str,
    submissions: Sequence[Submission],
    timestamp_ms: int,
) -> list[tuple[int, int]]:
    """Send one batch; (partition, offset) of each submission, in order, once all are acked.

    Every message carries the same explicit `timestamp_ms`, the time the worker will see as
    its received time: the caller screens with exactly that (`received_at_of`). A topic
    whose broker overrides timestamps (LogAppendTime) would break that promise, so the
    acknowledged timestamp type is checked. (Not the acknowledged timestamp itself:
    aiokafka 0.14 reports the first message's CreateTime for every message of a producer
    batch, which may hold messages of another request.) `producer` is `raw_log_producer`'s.
    """
    invariant(
        len(submissions) <= send_batch_submissions_max,
        f"a batch has at most {send_batch_submissions_max} submissions",
    )
    invariant(timestamp_ms >= 0, "a Kafka timestamp is not negative")
    pending = [
        await producer.send(
            topic,
            submission.value,
            key=submission.key,
            headers=list(submission.headers),
            timestamp_ms=timestamp_ms,
        )
        for submission in submissions
    ]
    acknowledged: list[RecordMetadata] = list(await asyncio.gather(*pending))
    for metadata in acknowledged:
        invariant(
            metadata.topic == topic and metadata.timestamp_type == create_time,
            f"{topic}: the broker overrides message timestamps (LogAppendTime); the raw"
            " topic must keep the producer's CreateTime",
        )
    return [(metadata.partition, metadata.offset) for metadata in acknowledged]
