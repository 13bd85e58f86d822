"""Ledger entries, their canonical binary encoding, and SHA-256 chaining (pure, no I/O).

Every raw-topic partition is one hash chain of entries, seq = 1, 2, 3 … without gaps:

    hash(seq) = SHA-256(hash(seq - 1) ‖ canonical_bytes(chain, seq, draft))
    hash(0)   = GENESIS_HASH (32 zero bytes)

so changing, removing or reordering any stored entry changes every later hash.

Canonical encoding, version 1 (`canonical_encoding_version`). Why binary and not
JSON: a JSON encoding has many spellings of one value (escapes, number forms, key
order, time zones), a binary one with a fixed layout has exactly one, and
PostgreSQL can produce it byte for byte (`ledger.entry_bytes`, see
`ledger/store/migrations`), so `ledger verify` checks this module against an
independent implementation.

    encoding = version byte 0x01, then every field of `ENCODED_FIELDS` in that order
    field    = 0x00                                      NULL
             | 0x01 ‖ length (4 bytes BE) ‖ UTF-8 bytes  text
             | 0x02 ‖ length (4 bytes BE) ‖ bytes        bytea
             | 0x03 ‖ value (8 bytes BE, signed)         integer (int, bigint)
             | 0x04 ‖ microseconds since 1970-01-01T00:00:00Z (8 bytes BE, signed)
                                                          timestamptz

NULL is distinct from the empty string and from empty bytes (0x00 against 0x01 00000000).
The field list is the column list of `ledger.entries` without prev_hash and hash.
Changing anything here is a new version: old entries keep hashing with the old one.

`Entry` is nested, not flat: `entry.draft.vendor`. The draft is exactly what a
writer decides; chain, seq, prev_hash and hash are what the ledger assigns.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.domain.invariants import invariant

canonical_encoding_version = 1
hash_bytes = 32
GENESIS_HASH = bytes(hash_bytes)

TAG_NULL = 0x00
TAG_TEXT = 0x01
TAG_BYTES = 0x02
TAG_INTEGER = 0x03
TAG_TIMESTAMP = 0x04

text_bytes_max = 2**31 - 1  # the 4-byte length prefix is read as signed in SQL
integer_min = -(2**63)
integer_max = 2**63 - 1

UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, kw_only=True, slots=True)
class EntryDraft:
    """One ledger entry before the ledger numbers and chains it.

    Field names and order are the columns of `ledger.entries` (docs/ARCHITECTURE.md)
    without chain, seq, prev_hash and hash. Timestamps are timezone-aware.
    """

    kind: str  # event | catalogue | close
    status: str | None = None  # events: accepted | duplicate | rejected
    source_topic: str
    source_offset: int
    received_at: datetime  # the Kafka message timestamp
    vendor: str | None = None
    event_id: str | None = None
    product: str | None = None
    school: str | None = None
    municipality: str | None = None
    learner_hash: bytes | None = None  # HMAC-SHA256(workspace key, learner)
    role: str | None = None
    action: str | None = None
    item: str | None = None
    unit: str | None = None
    quantity: int | None = None
    occurred_at: datetime | None = None
    period: str | None = None  # Oslo month of occurred_at; for close: the closed period
    licence_id: str | None = None  # accepted and covered; None = unlicensed
    catalogue_version: int | None = None
    content_digest: bytes | None = None
    reason_code: str | None = None
    reason_detail: str | None = None
    reference: str | None = None  # close_id for close, catalogue sha256 for catalogue


@dataclass(frozen=True, slots=True)
class Entry:
    """A chained entry: row `(chain, seq)` of `ledger.entries`."""

    chain: int
    seq: int
    draft: EntryDraft
    prev_hash: bytes
    hash: bytes


# Column order of the encoding: never reorder (that would be a new encoding version).
DRAFT_FIELDS: tuple[str, ...] = tuple(field.name for field in fields(EntryDraft))
ENCODED_FIELDS: tuple[str, ...] = ("chain", "seq", *DRAFT_FIELDS)

# Which encoder each draft field uses; a type the encoding does not know is a bug.
TEXT_FIELDS = frozenset(
    {
        "kind", "status", "source_topic", "vendor", "event_id", "product", "school",
        "municipality", "role", "action", "item", "unit", "period", "licence_id",
        "reason_code", "reason_detail", "reference",
    }
)  # fmt: skip
BYTES_FIELDS = frozenset({"learner_hash", "content_digest"})
INTEGER_FIELDS = frozenset({"source_offset", "quantity", "catalogue_version"})
TIMESTAMP_FIELDS = frozenset({"received_at", "occurred_at"})

_pack_length = struct.Struct(">BI").pack  # tag + 4-byte length
_pack_integer = struct.Struct(">Bq").pack  # tag + 8-byte signed value
_NULL = bytes([TAG_NULL])
_VERSION = bytes([canonical_encoding_version])


def _encode_text(value: str | None) -> bytes:
    if value is None:
        return _NULL
    encoded = value.encode("utf-8")
    invariant(len(encoded) <= text_bytes_max, "text field longer than the encoding allows")
    return _pack_length(TAG_TEXT, len(encoded)) + encoded


def _encode_bytes(value: bytes | None) -> bytes:
    if value is None:
        return _NULL
    invariant(len(value) <= text_bytes_max, "bytea field longer than the encoding allows")
    return _pack_length(TAG_BYTES, len(value)) + value


def _encode_integer(value: int | None) -> bytes:
    if value is None:
        return _NULL
    invariant(
        type(value) is int and integer_min <= value <= integer_max,
        f"integer field {value!r} is not a 64-bit integer",
    )
    return _pack_integer(TAG_INTEGER, value)


def timestamp_microseconds(value: datetime) -> int:
    """Microseconds since the Unix epoch (UTC) of an aware datetime; negative before 1970."""
    invariant(value.utcoffset() is not None, f"timestamp {value!r} has no time zone")
    return (value - UNIX_EPOCH) // ONE_MICROSECOND


def _encode_timestamp(value: datetime | None) -> bytes:
    if value is None:
        return _NULL
    return _pack_integer(TAG_TIMESTAMP, timestamp_microseconds(value))


FieldEncoder = Callable[[Any], bytes]


def _field_encoders() -> tuple[tuple[str, FieldEncoder], ...]:
    encoders: list[tuple[str, FieldEncoder]] = []
    for name in DRAFT_FIELDS:
        if name in TEXT_FIELDS:
            encoders.append((name, _encode_text))
        elif name in BYTES_FIELDS:
            encoders.append((name, _encode_bytes))
        elif name in INTEGER_FIELDS:
            encoders.append((name, _encode_integer))
        elif name in TIMESTAMP_FIELDS:
            encoders.append((name, _encode_timestamp))
        else:
            invariant(False, f"entry field {name!r} has no canonical encoder")
    return tuple(encoders)


_DRAFT_ENCODERS = _field_encoders()


def canonical_bytes(chain: int, seq: int, draft: EntryDraft) -> bytes:
    """The canonical binary encoding (version 1) of entry `(chain, seq)` with `draft`."""
    parts = [_VERSION, _encode_integer(chain), _encode_integer(seq)]
    for name, encoder in _DRAFT_ENCODERS:
        parts.append(encoder(getattr(draft, name)))
    return b"".join(parts)


def entry_hash(prev_hash: bytes, canonical: bytes) -> bytes:
    """SHA-256(prev_hash ‖ canonical): the hash of an entry given its predecessor's."""
    invariant(len(prev_hash) == hash_bytes, "prev_hash is not 32 bytes")
    return hashlib.sha256(prev_hash + canonical).digest()


def chain_entries(
    chain: int, head_seq: int, head_hash: bytes, drafts: Sequence[EntryDraft]
) -> list[Entry]:
    """Number and chain `drafts` after the head `(head_seq, head_hash)` of `chain`.

    An empty chain has head_seq 0 and head_hash GENESIS_HASH. The result continues
    seq from the head without a gap, each entry linked to the one before.
    """
    invariant(chain >= 0, f"chain {chain} is negative")
    invariant(head_seq >= 0, f"head seq {head_seq} is negative")
    invariant(len(head_hash) == hash_bytes, "head hash is not 32 bytes")
    invariant(
        head_seq > 0 or head_hash == GENESIS_HASH, "an empty chain's head hash must be genesis"
    )
    entries: list[Entry] = []
    prev_hash = head_hash
    for seq, draft in enumerate(drafts, start=head_seq + 1):
        entry_hash_value = entry_hash(prev_hash, canonical_bytes(chain, seq, draft))
        entries.append(Entry(chain, seq, draft, prev_hash, entry_hash_value))
        prev_hash = entry_hash_value
    return entries
