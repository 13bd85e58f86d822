from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.events import EVENT_FIELDS
from ledger.domain.processing import DECODE_FAILURE_REASONS
from schemas.codec import (
    CATALOGUE_MARKER,
    CLOSE_MARKER,
    RAW_SUBMISSION,
    REJECTED_EVENT,
    SCHEMA_DIRECTORY,
    SINGLE_OBJECT_MAGIC,
    USAGE_EVENT,
    SchemaDefinitionError,
    SchemaRegistry,
    UndecodableMessage,
    UnencodableRecord,
    decode,
    default_registry,
    encode,
    schema_fingerprint,
)

EVENT: dict[str, Any] = {
    "event_id": "e-000001",
    "vendor": "987654325",
    "product": "matte-1-7",
    "school": "974626993",
    "learner": "feide-pairwise-id",
    "role": "pupil",
    "action": "open",
    "item": "kap-3",
    "quantity": 1,
    "unit": "access",
    "occurred_at": "2026-10-05T08:15:00Z",
}

RECORDS: dict[str, dict[str, Any]] = {
    USAGE_EVENT: EVENT,
    RAW_SUBMISSION: {"vendor": None, "event_id": "e-1", "body": b"{oops", "problem": "bad JSON"},
    CATALOGUE_MARKER: {"version": 3, "sha256": "ab" * 32, "document": b'{"licences":[]}'},
    CLOSE_MARKER: {"close_id": "c-2026-10", "period": "2026-10"},
    REJECTED_EVENT: {
        "source_partition": 2,
        "source_offset": 2**40,
        "vendor": "987654325",
        "event_id": None,
        "reason_code": "malformed",
        "detail": "the event is not valid JSON",
        "original": b"\x00\xff",
    },
}


# ---------------------------------------------------------------------------------------
# The shipped schemas


def test_every_message_kind_is_shipped() -> None:
    assert default_registry().names == tuple(sorted(RECORDS))


def test_usage_event_schema_has_the_contract_fields() -> None:
    schema = json.loads((SCHEMA_DIRECTORY / "usage_event.v1.avsc").read_text())
    assert schema["namespace"] == "no.ledger"
    fields = {field["name"]: field["type"] for field in schema["fields"]}
    assert set(fields) == set(EVENT_FIELDS)
    assert fields["quantity"] == "long"
    assert all(kind == "string" for name, kind in fields.items() if name != "quantity")


@pytest.mark.parametrize(
    ("schema", "signed_fingerprint"),
    [
        # Test vectors of the Avro specification (share/test/data/schema-tests.txt).
        ("null", 7195948357588979594),
        ({"type": "fixed", "name": "foo", "size": 15}, 1756455273707447556),
        (
            {"type": "record", "name": "foo", "fields": [{"name": "f1", "type": "boolean"}]},
            7843277075252814651,
        ),
    ],
)
def test_fingerprint_matches_the_avro_specification(
    schema: str | dict[str, Any], signed_fingerprint: int
) -> None:
    # The Java reference gives the fingerprint as a signed long; the wire carries it
    # little-endian.
    wire = schema_fingerprint(schema)
    assert len(wire) == 8
    assert int.from_bytes(wire, "little", signed=True) == signed_fingerprint


# ---------------------------------------------------------------------------------------
# Round trips and the wire format


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_round_trip_every_kind(name: str) -> None:
    data = encode(name, RECORDS[name])
    assert decode(data) == (name, RECORDS[name])


def test_single_object_header() -> None:
    data = encode(USAGE_EVENT, EVENT)
    latest = default_registry().latest(USAGE_EVENT)
    assert data[:2] == SINGLE_OBJECT_MAGIC == b"\xc3\x01"
    assert (
        data[2:10] == latest.fingerprint == schema_fingerprint(json.loads(latest.path.read_text()))
    )
    # The body is plain Avro binary: the first field is a string, zig-zag length then bytes.
    assert data[10] == len("e-000001") * 2
    assert data[11:19] == b"e-000001"


def test_short_names_mean_the_no_ledger_namespace() -> None:
    assert encode("UsageEvent", EVENT) == encode(USAGE_EVENT, EVENT)


text = st.text(max_size=50)
events = st.fixed_dictionaries(
    {
        **{name: text for name in EVENT_FIELDS if name != "quantity"},
        "quantity": st.integers(-(2**63), 2**63 - 1),
    }
)
rejected_events = st.fixed_dictionaries(
    {
        "source_partition": st.integers(0, 2**31 - 1),
        "source_offset": st.integers(0, 2**63 - 1),
        "vendor": st.none() | text,
        "event_id": st.none() | text,
        "reason_code": text,
        "detail": text,
        "original": st.binary(max_size=200),
    }
)


@given(events)
def test_property_usage_event_round_trip(record: dict[str, Any]) -> None:
    assert decode(encode(USAGE_EVENT, record)) == (USAGE_EVENT, record)


@given(rejected_events)
def test_property_rejected_event_round_trip(record: dict[str, Any]) -> None:
    assert decode(encode(REJECTED_EVENT, record)) == (REJECTED_EVENT, record)


# ---------------------------------------------------------------------------------------
# Refusals


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"extra": "x"}, "more fields than the schema"),
        ({"unit": None}, "must be string"),
        ({"quantity": "1"}, "does not fit"),
        ({"quantity": 2**64}, "does not fit"),
    ],
)
def test_encode_refuses_records_that_do_not_fit(changes: dict[str, Any], message: str) -> None:
    record = {**EVENT, **changes}
    with pytest.raises(UnencodableRecord, match=message):
        encode(USAGE_EVENT, record)


def test_encode_refuses_a_missing_field_without_default() -> None:
    record = {key: value for key, value in EVENT.items() if key != "learner"}
    with pytest.raises(UnencodableRecord, match="learner"):
        encode(USAGE_EVENT, record)


def test_optional_fields_may_be_left_out() -> None:
    record = {"body": b"x", "problem": "p"}
    assert decode(encode(RAW_SUBMISSION, record)) == (
        RAW_SUBMISSION,
        {"vendor": None, "event_id": None, "body": b"x", "problem": "p"},
    )


def test_encode_refuses_unknown_schema_names() -> None:
    with pytest.raises(UnencodableRecord, match="no schema named"):
        encode("no.ledger.Nothing", {})


def undecodable(data: bytes, registry: SchemaRegistry | None = None) -> UndecodableMessage:
    with pytest.raises(UndecodableMessage) as caught:
        (registry or default_registry()).decode(data)
    assert "\n" not in caught.value.detail
    return caught.value


GOOD = encode(USAGE_EVENT, EVENT)


@pytest.mark.parametrize(
    ("data", "code", "detail"),
    [
        (b"", "malformed", "not an Avro single-object encoded message"),
        (b'{"event_id": "e-1"}', "malformed", "it must start with C3 01"),
        (GOOD[:9], "malformed", "not an Avro single-object"),
        (b"\xc3\x02" + GOOD[2:], "malformed", "not an Avro single-object"),
        (b"\xc3\x01" + bytes(8) + GOOD[10:], "schema_violation", "unknown schema (fingerprint"),
        (GOOD[:-1], "malformed", "truncated or corrupt"),
        (GOOD[:10], "malformed", "truncated or corrupt"),
        (GOOD + b"\x00", "malformed", "1 bytes follow the no.ledger.UsageEvent record"),
        (GOOD[:10] + b"\x05" + GOOD[11:], "malformed", "truncated or corrupt"),  # odd length
    ],
)
def test_decode_refuses_with_a_reason_code(data: bytes, code: str, detail: str) -> None:
    error = undecodable(data)
    assert DECODE_FAILURE_REASONS[error.kind] == code
    assert detail in error.detail


def test_invalid_utf8_in_a_string_is_malformed() -> None:
    data = encode(CLOSE_MARKER, {"close_id": "ab", "period": "2026-10"})
    broken = data[:11] + b"\xff" + data[12:]
    assert DECODE_FAILURE_REASONS[undecodable(broken).kind] == "malformed"


@settings(max_examples=500)
@given(st.binary(max_size=120), st.sampled_from(sorted(RECORDS)))
def test_property_garbage_bodies_never_escape_as_other_errors(body: bytes, name: str) -> None:
    header = encode(name, RECORDS[name])[:10]
    try:
        decoded_name, _ = decode(header + body)
    except UndecodableMessage as error:
        assert DECODE_FAILURE_REASONS[error.kind] == "malformed"
    else:
        assert decoded_name == name


@given(st.binary(max_size=40))
def test_property_any_bytes_decode_or_are_refused(data: bytes) -> None:
    try:
        decode(data)
    except UndecodableMessage as error:
        assert DECODE_FAILURE_REASONS[error.kind] in {"malformed", "schema_violation"}


# ---------------------------------------------------------------------------------------
# Schema evolution: an optional field added in v2

USAGE_EVENT_V2: dict[str, Any] = json.loads((SCHEMA_DIRECTORY / "usage_event.v1.avsc").read_text())
USAGE_EVENT_V2["fields"].append(
    {
        "name": "session",
        "type": ["null", "string"],
        "default": None,
        "doc": "Added in v2: the vendor's session id.",
    }
)


@pytest.fixture
def registry_with_v2(tmp_path: Path) -> SchemaRegistry:
    (tmp_path / "usage_event.v2.avsc").write_text(json.dumps(USAGE_EVENT_V2))
    return SchemaRegistry([SCHEMA_DIRECTORY, tmp_path])


def test_v2_is_the_latest_and_writes_by_default(registry_with_v2: SchemaRegistry) -> None:
    assert registry_with_v2.latest(USAGE_EVENT).version == 2
    data = registry_with_v2.encode(USAGE_EVENT, {**EVENT, "session": "s-9"})
    assert data[2:10] == registry_with_v2.version(USAGE_EVENT, 2).fingerprint
    assert data[2:10] != registry_with_v2.version(USAGE_EVENT, 1).fingerprint


def test_a_v1_reader_reads_a_v2_message(registry_with_v2: SchemaRegistry) -> None:
    data = registry_with_v2.encode(USAGE_EVENT, {**EVENT, "session": "s-9"})
    name, record = registry_with_v2.decode(data, reader_version=1)
    assert (name, record) == (USAGE_EVENT, EVENT)  # the new field is skipped


def test_a_v2_reader_reads_a_v1_message(registry_with_v2: SchemaRegistry) -> None:
    old = registry_with_v2.encode(USAGE_EVENT, EVENT, version=1)
    assert old == encode(USAGE_EVENT, EVENT)  # what the shipped code writes today
    name, record = registry_with_v2.decode(old)
    assert (name, record) == (USAGE_EVENT, {**EVENT, "session": None})  # the default


def test_a_registry_without_v2_cannot_read_v2(registry_with_v2: SchemaRegistry) -> None:
    # Readers must be given a new schema before writers use it: the fingerprint names it.
    data = registry_with_v2.encode(USAGE_EVENT, {**EVENT, "session": "s-9"})
    assert DECODE_FAILURE_REASONS[undecodable(data).kind] == "schema_violation"


def test_an_unknown_reader_version_is_refused(registry_with_v2: SchemaRegistry) -> None:
    with pytest.raises(UndecodableMessage, match="has no version 7"):
        registry_with_v2.decode(GOOD, reader_version=7)


def test_a_version_defined_twice_is_refused(tmp_path: Path) -> None:
    (tmp_path / "usage_event.v1.avsc").write_text(json.dumps(USAGE_EVENT_V2))
    with pytest.raises(SchemaDefinitionError, match="defined twice"):
        SchemaRegistry([SCHEMA_DIRECTORY, tmp_path])


def test_a_file_name_must_match_its_record(tmp_path: Path) -> None:
    (tmp_path / "close_marker.v2.avsc").write_text(json.dumps(USAGE_EVENT_V2))
    with pytest.raises(SchemaDefinitionError, match="does not match record"):
        SchemaRegistry([tmp_path])


def test_codec_is_fast() -> None:
    """Tens of microseconds per event at most (asserted with room for slow CI)."""
    calls = 5_000
    started = time.perf_counter()
    for _ in range(calls):
        decode(encode(USAGE_EVENT, EVENT))
    elapsed_us_per_round_trip = (time.perf_counter() - started) / calls * 1e6
    assert elapsed_us_per_round_trip < 200, elapsed_us_per_round_trip
