"""Reading a request body of usage events: JSON array or Avro container, maybe gzip-encoded.

Bounded before anything is parsed: at most `request_bytes_max` bytes after
decompression (a small gzip body must not expand into gigabytes) and at most
`events_per_request_max` events. A body that breaks a bound or cannot be split into
events at all is refused whole; one bad event inside a readable body is not (it is
answered on its own, and the raw log keeps it).
"""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass
from typing import Final

import fastavro

from ledger.domain.events import Rejection
from ledger.domain.xapi import (
    StatementBodyError,
    StatementBodyTooLarge,
    statement_to_event,
    statements_from_body,
)

events_per_request_max: Final = 10_000
request_bytes_max: Final = 16 * 1024 * 1024  # decompressed
_decompress_chunk_bytes: Final = 1024 * 1024

JSON_MEDIA_TYPES: Final = frozenset({"application/json"})
AVRO_MEDIA_TYPES: Final = frozenset(
    {"application/avro", "avro/binary", "application/vnd.apache.avro+binary"}
)


@dataclass(frozen=True)
class BodyRefused(Exception):
    """The whole body is refused: `code` is the API's error code, `status` its HTTP status."""

    status: int
    code: str
    detail: str

    def __str__(self) -> str:
        return self.detail


def too_large(detail: str) -> BodyRefused:
    return BodyRefused(413, "payload_too_large", detail)


def decompressed(body: bytes, content_encoding: str | None) -> bytes:
    """The body after `Content-Encoding` (identity or gzip), refused beyond the bound."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(body) > request_bytes_max:
            raise too_large(f"the body is larger than {request_bytes_max} bytes")
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise BodyRefused(
            415, "unsupported_encoding", f"Content-Encoding {encoding!r}: use gzip or none"
        )
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = bytearray()
    pending = body
    try:
        while pending:
            out += inflater.decompress(pending, _decompress_chunk_bytes)
            if len(out) > request_bytes_max:
                raise too_large(f"the body is larger than {request_bytes_max} bytes decompressed")
            pending = inflater.unconsumed_tail
        out += inflater.flush()
    except zlib.error as error:
        raise BodyRefused(400, "malformed", f"the gzip body cannot be read: {error}") from error
    if not inflater.eof:
        raise BodyRefused(400, "malformed", "the gzip body is truncated")
    if len(out) > request_bytes_max:
        raise too_large(f"the body is larger than {request_bytes_max} bytes decompressed")
    return bytes(out)


def _bounded(count: int) -> None:
    if count > events_per_request_max:
        raise too_large(f"{count} events in one request: at most {events_per_request_max}")


def json_value(body: bytes) -> object:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise BodyRefused(400, "malformed", f"the body is not valid JSON: {error}") from error


def json_items(body: bytes) -> list[object]:
    """The elements of a JSON array of events."""
    parsed = json_value(body)
    if not isinstance(parsed, list):
        raise BodyRefused(400, "malformed", "the body must be a JSON array of events")
    _bounded(len(parsed))
    return parsed


def event_body(item: object) -> bytes:
    """One event's own JSON, kept in the raw log when it cannot be encoded as an event."""
    # ASCII: a lone surrogate (valid JSON, not UTF-8) is kept as its escape, not a crash.
    return json.dumps(item, ensure_ascii=True, separators=(",", ":"), default=str).encode()


def avro_items(body: bytes) -> list[object]:
    """The records of an Avro object container file."""
    items: list[object] = []
    try:
        for record in fastavro.reader(io.BytesIO(body)):
            items.append(record)
            _bounded(len(items))
    except BodyRefused:
        raise
    except Exception as error:  # fastavro raises many kinds for a damaged file
        raise BodyRefused(
            400, "malformed", f"the body is not a readable Avro container file: {error}"
        ) from error
    return items


def event_items(body: bytes, media_type: str) -> list[object]:
    """The events of a request body of `media_type` (already decompressed)."""
    if media_type in AVRO_MEDIA_TYPES:
        return avro_items(body)
    if media_type in JSON_MEDIA_TYPES or media_type == "":
        return json_items(body)
    raise BodyRefused(
        415,
        "unsupported_media_type",
        f"Content-Type {media_type!r}: use application/json or application/avro",
    )


def xapi_items(body: bytes, vendor: str) -> list[tuple[object, Rejection | None]]:
    """Each xAPI statement as (its usage event, or the statement itself with its refusal).

    A statement that cannot be mapped is still sent (as the statement, which the stream
    rejects as a schema violation too), so the raw log keeps every submission.
    """
    try:
        statements = statements_from_body(json_value(body))
    except StatementBodyTooLarge as error:
        raise too_large(error.detail) from error
    except StatementBodyError as error:
        raise BodyRefused(400, "malformed", error.detail) from error
    items: list[tuple[object, Rejection | None]] = []
    for statement in statements:
        mapped = statement_to_event(statement, vendor)
        if isinstance(mapped, Rejection):
            items.append((statement, mapped))
        else:
            items.append((mapped, None))
    return items
