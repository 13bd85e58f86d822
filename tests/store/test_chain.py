"""The canonical encoding and the chaining of entries (pure)."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest

from ledger.domain.chain import (
    ENCODED_FIELDS,
    GENESIS_HASH,
    EntryDraft,
    canonical_bytes,
    chain_entries,
    entry_hash,
    timestamp_microseconds,
)
from ledger.domain.invariants import InvariantViolation
from ledger.store.schema import entries
from tests.store import event_draft


def minimal_draft(**overrides: Any) -> EntryDraft:
    base = EntryDraft(
        kind="close",
        source_topic="t",
        source_offset=0,
        received_at=datetime(1970, 1, 1, tzinfo=UTC),
    )
    return replace(base, **overrides)


def test_draft_fields_are_the_entry_columns_without_chain_seq_and_hashes() -> None:
    columns = [column.name for column in entries.columns]
    assert ["chain", "seq", *[f.name for f in fields(EntryDraft)], "prev_hash", "hash"] == columns
    assert list(ENCODED_FIELDS) == columns[:-2]


def test_layout_of_a_minimal_entry() -> None:
    encoded = canonical_bytes(3, 7, minimal_draft())
    expected = (
        b"\x01"  # version
        + b"\x03" + struct.pack(">q", 3)  # chain
        + b"\x03" + struct.pack(">q", 7)  # seq
        + b"\x01" + struct.pack(">I", 5) + b"close"  # kind
        + b"\x00"  # status NULL
        + b"\x01" + struct.pack(">I", 1) + b"t"  # source_topic
        + b"\x03" + struct.pack(">q", 0)  # source_offset
        + b"\x04" + struct.pack(">q", 0)  # received_at = the epoch
        + b"\x00" * 19  # the 19 remaining fields, all NULL
    )  # fmt: skip
    assert encoded == expected


def test_null_is_distinct_from_empty() -> None:
    null = canonical_bytes(0, 1, minimal_draft(status=None, learner_hash=None))
    empty_text = canonical_bytes(0, 1, minimal_draft(status="", learner_hash=None))
    empty_bytes = canonical_bytes(0, 1, minimal_draft(status=None, learner_hash=b""))
    assert len({null, empty_text, empty_bytes}) == 3


def test_text_is_length_prefixed_utf8() -> None:
    encoded = canonical_bytes(0, 1, minimal_draft(reference="Bærum 🎒"))
    utf8 = "Bærum 🎒".encode()
    assert encoded.endswith(b"\x01" + struct.pack(">I", len(utf8)) + utf8)


def test_text_is_not_normalised() -> None:
    # é as one code point and as e + combining accent are different text, and stay so.
    composed = canonical_bytes(0, 1, minimal_draft(reference="\u00e9"))
    decomposed = canonical_bytes(0, 1, minimal_draft(reference="e\u0301"))
    assert composed != decomposed


def test_adjacent_fields_cannot_be_confused() -> None:
    # Without length prefixes "ab" + "" and "a" + "b" would encode alike.
    first = canonical_bytes(0, 1, minimal_draft(reason_code="ab", reason_detail=""))
    second = canonical_bytes(0, 1, minimal_draft(reason_code="a", reason_detail="b"))
    assert first != second


def test_integers_are_signed_64_bit() -> None:
    encoded = canonical_bytes(0, 1, minimal_draft(quantity=-2))
    assert b"\x03" + struct.pack(">q", -2) in encoded
    with pytest.raises(InvariantViolation):
        canonical_bytes(0, 1, minimal_draft(quantity=2**63))
    with pytest.raises(InvariantViolation):
        canonical_bytes(0, 1, minimal_draft(quantity=True))


@pytest.mark.parametrize(
    ("moment", "microseconds"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), 0),
        (datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), -1),
        (datetime(1970, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))), 0),
        (datetime(2026, 10, 5, 8, 15, tzinfo=UTC), 1_791_188_100_000_000),
        (datetime(1, 1, 1, tzinfo=UTC), -62_135_596_800_000_000),
    ],
)
def test_timestamps_are_microseconds_since_the_unix_epoch(
    moment: datetime, microseconds: int
) -> None:
    assert timestamp_microseconds(moment) == microseconds
    assert b"\x04" + struct.pack(">q", microseconds) in canonical_bytes(
        0, 1, minimal_draft(received_at=moment)
    )


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(InvariantViolation):
        canonical_bytes(0, 1, minimal_draft(received_at=datetime(2026, 10, 5)))


def test_every_field_changes_the_encoding() -> None:
    draft = event_draft(5)
    base = canonical_bytes(1, 5, draft)
    changed: dict[str, Any] = {
        "kind": "close", "status": "rejected", "source_topic": "x", "source_offset": 6,
        "received_at": draft.received_at + timedelta(microseconds=1), "vendor": "x",
        "event_id": "x", "product": "x", "school": "x", "municipality": "x",
        "learner_hash": b"x", "role": "teacher", "action": "x", "item": "x", "unit": "x",
        "quantity": 2, "occurred_at": None, "period": "2026-11", "licence_id": None,
        "catalogue_version": 2, "content_digest": None, "reason_code": "x",
        "reason_detail": "x", "reference": "x",
    }  # fmt: skip
    assert set(changed) == {f.name for f in fields(EntryDraft)}
    for name, value in changed.items():
        assert canonical_bytes(1, 5, replace(draft, **{name: value})) != base, name
    assert canonical_bytes(2, 5, draft) != base
    assert canonical_bytes(1, 6, draft) != base


def test_entry_hash_is_sha256_of_prev_hash_and_canonical_bytes() -> None:
    canonical = canonical_bytes(0, 1, event_draft(0))
    assert entry_hash(GENESIS_HASH, canonical) == hashlib.sha256(GENESIS_HASH + canonical).digest()


def test_chain_entries_from_genesis_links_each_entry_to_the_one_before() -> None:
    drafts = [event_draft(offset) for offset in range(4)]
    chained = chain_entries(2, 0, GENESIS_HASH, drafts)
    assert [entry.seq for entry in chained] == [1, 2, 3, 4]
    assert chained[0].prev_hash == GENESIS_HASH
    for previous, entry in pairwise(chained):
        assert entry.prev_hash == previous.hash
    for entry in chained:
        assert entry.chain == 2
        assert entry.hash == entry_hash(entry.prev_hash, canonical_bytes(2, entry.seq, entry.draft))


def test_chain_entries_continues_from_the_head() -> None:
    first = chain_entries(0, 0, GENESIS_HASH, [event_draft(0), event_draft(1)])
    rest = chain_entries(0, first[-1].seq, first[-1].hash, [event_draft(2)])
    whole = chain_entries(0, 0, GENESIS_HASH, [event_draft(0), event_draft(1), event_draft(2)])
    assert first + rest == whole


def test_chain_entries_refuses_an_inconsistent_head() -> None:
    with pytest.raises(InvariantViolation):
        chain_entries(0, 0, b"\x01" * 32, [event_draft(0)])
    with pytest.raises(InvariantViolation):
        chain_entries(0, 3, b"short", [event_draft(0)])
