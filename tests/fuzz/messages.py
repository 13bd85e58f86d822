"""Hypothesis strategies for raw-log messages: bad input of every kind the issue lists,
interleaved with valid events, each with the outcome a vendor must see for it.

The catalogue is tests/integration/catalogue.yaml. A recipe is drawn without an event id;
`build` gives it one, so that every message of a run has an id of its own and the valid
events can only be accepted (never an accidental duplicate of another case).
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import fastavro
from hypothesis import strategies as st

from ledger.domain.events import REASON_CODES, learner_characters_max
from ledger.domain.submitters import SUBMITTER_HEADER
from schemas.codec import SINGLE_OBJECT_MAGIC, decode, default_registry, encode

VENDOR = "987654325"
OTHER_VENDOR = "912000001"
KNOWN_VENDORS = frozenset({VENDOR, OTHER_VENDOR})
KNOWN_PRODUCTS = frozenset({"matte-1-7", "norsk-1-7", "eng-5-10"})
KNOWN_SCHOOLS = frozenset({"974626993", "974000008", "974000202"})
ANY_CODE = frozenset(REASON_CODES)
OSLO = ZoneInfo("Europe/Oslo")

megabyte = 1024 * 1024
# Large strings stay well below the topic's 8 MiB max.message.bytes (the limit itself has a
# test of its own) and few, so one batch stays small enough for `make test`.
large_string_bytes_max = 3 * megabyte


@dataclass(frozen=True)
class Expected:
    """The entry a message must become: its status, and for a rejection the codes allowed."""

    status: str  # accepted | duplicate | rejected
    codes: frozenset[str] = frozenset()
    licence: str | None = None
    period: str | None = None
    quantity: int | None = None
    vendor: str | None = None  # for a rejection sent with a vendor's header: listed for it


@dataclass(frozen=True)
class Message:
    """One fuzzed message, ready to produce, with its expected outcome."""

    label: str
    value: bytes
    key: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    expected: Expected
    event_id: str
    learner: str | None = None  # the raw learner id, when the message has a readable one
    valid: bool = False  # a valid event: a clean run must decide it the same

    def __repr__(self) -> str:  # megabyte values would drown a failure report
        value = self.value if len(self.value) <= 200 else self.value[:200] + b"..."
        return f"Message({self.label!r}, {value!r}, key={self.key!r}, headers={self.headers!r})"


@dataclass(frozen=True)
class Recipe:
    """A drawn case without its event id: `build(event_id)` makes the message."""

    label: str
    make: Callable[[str], Message]

    def build(self, event_id: str) -> Message:
        return self.make(event_id)

    def __repr__(self) -> str:
        return f"Recipe({self.label})"


@dataclass(frozen=True)
class Template:
    """A valid event of the test catalogue and the licence and period it falls in."""

    vendor: str
    product: str
    school: str
    occurred_at: str
    licence: str | None
    period: str


TEMPLATES = (
    Template(VENDOR, "matte-1-7", "974000008", "2026-09-15T08:00:00Z", "L-ALL", "2026-09"),
    Template(VENDOR, "matte-1-7", "974000008", "2026-10-05T08:15:00Z", "L-LATER", "2026-10"),
    # 30 September 22:30 UTC is 1 October in Oslo
    Template(VENDOR, "matte-1-7", "974000008", "2026-09-30T22:30:00Z", "L-LATER", "2026-10"),
    Template(VENDOR, "matte-1-7", "974626993", "2026-10-10T09:00:00Z", "L-SCHOOL", "2026-10"),
    Template(
        OTHER_VENDOR, "eng-5-10", "974000202", "2026-10-12T10:00:00+02:00", "L-JOINT", "2026-10"
    ),
    Template(VENDOR, "norsk-1-7", "974000008", "2026-10-05T08:15:00Z", None, "2026-10"),
    Template(VENDOR, "matte-1-7", "974000008", "2026-07-15T09:00:00Z", None, "2026-07"),
)


def record_of(template: Template, event_id: str, /, **fields: object) -> dict[str, object]:
    record: dict[str, object] = {
        "event_id": event_id,
        "vendor": template.vendor,
        "product": template.product,
        "school": template.school,
        "learner": "lrn-default-learner",
        "role": "pupil",
        "action": "open",
        "item": "kap-1",
        "quantity": 1,
        "unit": "access",
        "occurred_at": template.occurred_at,
    }
    record.update(fields)
    return record


def event_key(record: dict[str, object]) -> bytes:
    return f"{record['vendor']}/{record['event_id']}".encode()


def rejected(*codes: str, vendor: str | None = None) -> Expected:
    return Expected("rejected", frozenset(codes), vendor=vendor)


# ---------------------------------------------------------------------------------------
# Building blocks


# Text an event field may hold: no control characters, no lone surrogates.
field_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)
learner_ids = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")), min_size=8, max_size=60
).map(lambda text: f"lrn-{text}")
templates = st.sampled_from(TEMPLATES)
operator_header = (SUBMITTER_HEADER, b"operator")


def vendor_header(vendor: str) -> tuple[str, bytes]:
    return SUBMITTER_HEADER, f"vendor:{vendor}".encode()


# Headers that leave the submitter unknown or the event's own: the event is decided as sent.
neutral_headers = st.sampled_from(
    [
        (),
        (operator_header,),
        ((SUBMITTER_HEADER, b"vendor:123"),),  # not an organisation number: no submitter
        ((SUBMITTER_HEADER, b"VENDOR:987654325"),),  # another spelling: no submitter
        ((SUBMITTER_HEADER, b"x" * 200),),  # too long: not even decoded
        (operator_header, operator_header),  # given twice: ambiguous, no submitter
        ((SUBMITTER_HEADER, b"\xff\xfe"),),
        (("x-unrelated", b"\x00\x01"), ("traceparent", b"00-abc")),
    ]
) | st.lists(
    st.tuples(
        st.sampled_from(["x-junk", "ledger-submitter-", "Ledger-Submitter"]), st.binary(max_size=40)
    ),
    max_size=3,
).map(tuple)


@st.composite
def valid_headers(draw: st.DrawFn, vendor: str) -> tuple[tuple[str, bytes], ...]:
    """Headers under which an event of `vendor` is decided as sent (its own token, or none)."""
    if draw(st.booleans()):
        return (vendor_header(vendor),)
    headers: tuple[tuple[str, bytes], ...] = draw(neutral_headers)
    return headers


keys = st.sampled_from(["event", "none", "random"])


def key_for(kind: str, record: dict[str, object], random_key: bytes) -> bytes | None:
    if kind == "none":
        return None
    if kind == "random":
        return random_key
    return event_key(record)


def message_of(
    label: str,
    record: dict[str, object],
    expected: Expected,
    *,
    key: bytes | None,
    headers: tuple[tuple[str, bytes], ...] = (),
    value: bytes | None = None,
    valid: bool = False,
) -> Message:
    learner = record.get("learner")
    return Message(
        label=label,
        value=value if value is not None else encode("UsageEvent", record),
        key=key,
        headers=headers,
        expected=expected,
        event_id=str(record["event_id"]),
        learner=learner if isinstance(learner, str) else None,
        valid=valid,
    )


# ---------------------------------------------------------------------------------------
# Valid events


@st.composite
def valid_events(draw: st.DrawFn) -> Recipe:
    template = draw(templates)
    fields = {
        "learner": draw(learner_ids),
        "role": draw(st.sampled_from(["pupil", "teacher"])),
        "action": draw(field_text),
        "item": draw(field_text),
        "quantity": draw(st.integers(1, 1000) | st.integers(1, 2**63 - 1)),
        "unit": draw(st.sampled_from(["access", "minute"]) | field_text),
    }
    key_kind = draw(keys)
    random_key = draw(st.binary(max_size=30))
    headers = draw(valid_headers(template.vendor))

    def make(event_id: str) -> Message:
        record = record_of(template, event_id, **fields)
        expected = Expected(
            "accepted",
            licence=template.licence,
            period=template.period,
            quantity=int(fields["quantity"]),  # type: ignore[call-overload]
        )
        return message_of(
            "valid",
            record,
            expected,
            key=key_for(key_kind, record, random_key),
            headers=headers,
            valid=True,
        )

    return Recipe("valid", make)


# ---------------------------------------------------------------------------------------
# Bytes that are not a known Avro record


@st.composite
def random_bytes(draw: st.DrawFn) -> Recipe:
    value = draw(
        st.binary(max_size=2048)
        | st.binary(max_size=64).map(lambda tail: SINGLE_OBJECT_MAGIC + tail)
        | st.binary(max_size=200).map(lambda tail: _usage_header() + tail)
    )
    key = draw(st.none() | st.binary(max_size=30))
    headers = draw(neutral_headers)
    if value[: len(_usage_header())] == _usage_header():
        codes = ANY_CODE  # a corrupt body of a known schema: whatever it happens to decode to
    elif value[:2] == SINGLE_OBJECT_MAGIC and len(value) >= 10:
        codes = frozenset({"malformed", "schema_violation"})
    else:
        codes = frozenset({"malformed"})
    return Recipe(
        "random bytes",
        lambda event_id: Message("random bytes", value, key, headers, rejected(*codes), event_id),
    )


def _usage_header() -> bytes:
    return default_registry().latest("UsageEvent").header


@st.composite
def invalid_utf8_bytes(draw: st.DrawFn) -> bytes:
    """Bytes that are not UTF-8: a stray continuation, a cut sequence, a surrogate, 0xFF."""
    head = draw(st.text(max_size=10)).encode()
    bad = draw(
        st.sampled_from(
            [b"\xff", b"\x80", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"]
        )
    )
    tail = draw(st.text(max_size=10)).encode()
    return head + bad + tail


@st.composite
def invalid_utf8_raw(draw: st.DrawFn) -> Recipe:
    value = draw(invalid_utf8_bytes())
    return Recipe(
        "invalid UTF-8 bytes",
        lambda event_id: Message(
            "invalid UTF-8 bytes", value, None, (), rejected("malformed"), event_id
        ),
    )


# ---------------------------------------------------------------------------------------
# Damaged Avro


@st.composite
def truncated_avro(draw: st.DrawFn) -> Recipe:
    template = draw(templates)
    learner = draw(learner_ids)
    fraction = draw(st.floats(0, 1, exclude_max=True))
    extra = draw(st.binary(min_size=1, max_size=20))
    trailing = draw(st.booleans())

    def make(event_id: str) -> Message:
        record = record_of(template, event_id, learner=learner)
        whole = encode("UsageEvent", record)
        value = whole + extra if trailing else whole[: int(len(whole) * fraction)]
        label = "Avro with trailing bytes" if trailing else "truncated Avro"
        return message_of(label, record, rejected("malformed"), key=event_key(record), value=value)

    return Recipe("damaged Avro", make)


@st.composite
def invalid_utf8_in_avro(draw: st.DrawFn) -> Recipe:
    """A valid UsageEvent whose one string field's bytes are replaced by invalid UTF-8."""
    template = draw(templates)
    field = draw(
        st.sampled_from(["event_id", "vendor", "product", "learner", "item", "occurred_at"])
    )
    bad = draw(invalid_utf8_bytes())

    def make(event_id: str) -> Message:
        # A filler of the same byte length keeps the Avro length prefix right; BEL occurs
        # nowhere else in the record, so the replacement hits the field and only it.
        filler = "\x07" * len(bad)
        record = record_of(template, event_id, **{field: filler})
        value = encode("UsageEvent", record).replace(filler.encode(), bad, 1)
        return message_of(
            f"invalid UTF-8 in {field}",
            record,
            rejected("malformed", "schema_violation"),
            key=None,
            value=value,
        )

    return Recipe("invalid UTF-8 in Avro", make)


# A schema with UsageEvent's field names but other types, written with UsageEvent's header:
# what a producer with a wrong schema (or a byte-level bug) would send.
_wrong_type_choices = {
    "quantity": "string",
    "occurred_at": "long",
    "learner": "long",
    "role": "boolean",
}


@st.composite
def wrong_types_in_avro(draw: st.DrawFn) -> Recipe:
    template = draw(templates)
    field, avro_type = draw(st.sampled_from(sorted(_wrong_type_choices.items())))
    value_of_type = {
        "string": draw(field_text),
        "long": draw(st.integers(-(2**63), 2**63 - 1)),
        "boolean": draw(st.booleans()),
    }[avro_type]

    def make(event_id: str) -> Message:
        record = record_of(template, event_id, **{field: value_of_type})
        schema = {
            "type": "record",
            "name": "UsageEvent",
            "namespace": "no.ledger",
            "fields": [
                {
                    "name": name,
                    "type": avro_type
                    if name == field
                    else ("long" if name == "quantity" else "string"),
                }
                for name in record
            ],
        }
        body = io.BytesIO()
        fastavro.schemaless_writer(body, fastavro.parse_schema(schema), record)
        value = _usage_header() + body.getvalue()
        return message_of(
            f"Avro with {field} as {avro_type}", record, rejected(*ANY_CODE), key=None, value=value
        )

    return Recipe("wrong types in Avro", make)


# ---------------------------------------------------------------------------------------
# Another schema's record


@st.composite
def other_schemas(draw: st.DrawFn) -> Recipe:
    kind = draw(st.sampled_from(["rejected event", "unknown fingerprint", "raw submission"]))
    template = draw(templates)
    text = draw(field_text)
    body = draw(st.binary(max_size=300) | invalid_utf8_bytes())
    fingerprint = draw(st.binary(min_size=8, max_size=8))

    def make(event_id: str) -> Message:
        record = record_of(template, event_id)
        if kind == "rejected event":
            value = encode(
                "RejectedEvent",
                {
                    "source_partition": 0,
                    "source_offset": 0,
                    "vendor": template.vendor,
                    "event_id": event_id,
                    "reason_code": "malformed",
                    "detail": text,
                    "original": body,
                },
            )
            expected = rejected("schema_violation")
        elif kind == "unknown fingerprint":
            known = default_registry().by_fingerprint(fingerprint) is not None
            value = SINGLE_OBJECT_MAGIC + fingerprint + encode("UsageEvent", record)[10:]
            expected = rejected(*ANY_CODE) if known else rejected("schema_violation")
        else:
            value = encode(
                "RawSubmission",
                {"vendor": template.vendor, "event_id": event_id, "body": body, "problem": text},
            )
            expected = rejected("malformed", "schema_violation")
        return message_of(kind, record, expected, key=None, value=value)

    return Recipe("another schema", make)


# ---------------------------------------------------------------------------------------
# Wrong types (as `ledger ingest` and the API wrap them: a RawSubmission with the JSON body)

_other_json = st.one_of(
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.none(),  # missing
)
not_a_string = _other_json | st.integers()
not_a_whole_number = _other_json | field_text


@st.composite
def wrong_types_in_json(draw: st.DrawFn) -> Recipe:
    template = draw(templates)
    field = draw(st.sampled_from(sorted(record_of(template, "x"))))
    wrong = draw(not_a_whole_number if field == "quantity" else not_a_string)

    def make(event_id: str) -> Message:
        record = record_of(template, event_id, **{field: wrong})
        body = json.dumps(record).encode()
        value = encode(
            "RawSubmission",
            {
                "vendor": template.vendor,
                "event_id": event_id,
                "body": body,
                "problem": f"schema_violation: field {field} has the wrong type",
            },
        )
        return message_of(
            f"JSON with {field} of the wrong type",
            record,
            rejected("schema_violation"),
            key=event_key(record),
            value=value,
        )

    return Recipe("wrong types", make)


# ---------------------------------------------------------------------------------------
# Long strings


@st.composite
def long_strings(draw: st.DrawFn) -> Recipe:
    template = draw(templates)
    field = draw(
        st.sampled_from(
            ["event_id", "vendor", "product", "school", "learner", "item", "unit", "occurred_at"]
        )
    )
    fill = draw(st.sampled_from(["x", "é", "\u2603", "😀", "random"]))
    noise = random.Random(draw(st.integers(0, 2**32)))
    large = st.integers(megabyte, large_string_bytes_max).map(lambda n: n // len(fill[0].encode()))
    size = draw(st.integers(129, 4096) | large)

    def make(event_id: str) -> Message:
        # Random hex does not compress: a database index would have to hold all of it.
        text = noise.randbytes(size // 2 + 1).hex()[:size] if fill == "random" else fill * size
        record = record_of(template, event_id, **{field: text})
        # A learner id may have 512 characters; every other field 128.
        fits = field == "learner" and size <= learner_characters_max
        expected = (
            Expected("accepted", licence=template.licence, period=template.period, quantity=1)
            if fits
            else rejected("schema_violation")
        )
        return message_of(f"{size:,} characters in {field}", record, expected, key=None, valid=fits)

    return Recipe("long strings", make)


# ---------------------------------------------------------------------------------------
# Times


def oslo_period(moment: datetime) -> str:
    local = moment.astimezone(OSLO)
    return f"{local.year:04d}-{local.month:02d}"


@st.composite
def odd_times(draw: st.DrawFn) -> Recipe:
    template = TEMPLATES[1]
    now = datetime.now(UTC)
    choice = draw(
        st.sampled_from(["far past", "far future", "past", "future", "bad format", "offset"])
    )
    quantity = draw(st.integers(1, 5))
    if choice == "far past":
        text = draw(
            st.sampled_from(
                ["0001-01-01T00:00:00Z", "1000-06-01T12:00:00Z", "1899-11-30T12:00:00+01:00"]
            )
        )
        expected = rejected("schema_violation")
    elif choice == "far future":
        text = draw(
            st.sampled_from(
                [
                    "9999-12-31T23:59:59Z",
                    "9999-12-31T23:59:59.999999999-23:59",
                    "9998-12-31T23:30:00Z",
                ]
            )
        )
        expected = rejected("schema_violation")
    elif choice == "past":
        # Before every licence of the test catalogue: accepted, unlicensed, in its Oslo month.
        moment = draw(
            st.datetimes(datetime(1900, 1, 2), datetime(2026, 7, 31), timezones=st.just(UTC))
        )
        text = moment.strftime("%Y-%m-%dT%H:%M:%S") + "Z"
        expected = Expected("accepted", licence=None, period=oslo_period(moment), quantity=quantity)
    elif choice == "future":
        moment = draw(
            st.datetimes(
                (now + timedelta(days=1)).replace(tzinfo=None),
                datetime(9998, 11, 30),
                timezones=st.just(UTC),
            )
        )
        text = moment.strftime("%Y-%m-%dT%H:%M:%S") + "Z"
        expected = rejected("occurred_in_future")
    elif choice == "bad format":
        text = draw(
            st.sampled_from(
                [
                    "2026-10-05T08:15:00",  # no offset
                    "2026-10-05 08:15:00Z",
                    "2026-02-30T08:15:00Z",
                    "2026-10-05T24:00:00Z",
                    "2026-10-05T08:15:60Z",
                    "yesterday",
                    "1791234567",
                    "２０２６-10-05T08:15:00Z",  # full-width digits
                ]
            )
            | st.text(max_size=30).filter(lambda text: bool(text) and "T" not in text.upper())
        )
        expected = rejected("schema_violation")
    else:
        text = draw(
            st.sampled_from(
                [
                    "2026-10-05T08:15:00+24:00",
                    "2026-10-05T08:15:00+12:60",
                    "2026-10-05T08:15:00-99:00",
                ]
            )
        )
        expected = rejected("schema_violation")

    def make(event_id: str) -> Message:
        record = record_of(template, event_id, occurred_at=text, quantity=quantity)
        return message_of(f"occurred_at {text!r}", record, expected, key=event_key(record))

    return Recipe(f"time: {choice}", make)


# ---------------------------------------------------------------------------------------
# Quantities


@st.composite
def odd_quantities(draw: st.DrawFn) -> Recipe:
    template = draw(templates)
    quantity = draw(st.just(0) | st.integers(-(2**63), -1) | st.integers(2**62, 2**63 - 1))
    expected = (
        Expected("accepted", licence=template.licence, period=template.period, quantity=quantity)
        if quantity >= 1
        else rejected("invalid_quantity")
    )

    def make(event_id: str) -> Message:
        record = record_of(template, event_id, quantity=quantity)
        return message_of(
            f"quantity {quantity}", record, expected, key=event_key(record), valid=quantity >= 1
        )

    return Recipe("quantities", make)


# ---------------------------------------------------------------------------------------
# Unknown ids and another vendor's ids


@st.composite
def unknown_ids(draw: st.DrawFn) -> Recipe:
    template = draw(templates)
    choice = draw(
        st.sampled_from(
            ["vendor", "product", "other vendor's product", "school", "empty", "control"]
        )
    )
    text = draw(field_text | st.from_regex(r"[0-9]{9}", fullmatch=True))
    if choice == "vendor":
        fields: dict[str, object] = {"vendor": text if text not in KNOWN_VENDORS else "000000000"}
        expected = rejected("unknown_vendor")
    elif choice == "product":
        fields = {"product": text if text not in KNOWN_PRODUCTS else "no-such"}
        expected = rejected("unknown_product")
    elif choice == "other vendor's product":
        fields = {"product": "eng-5-10" if template.vendor == VENDOR else "matte-1-7"}
        expected = rejected("unknown_product")
    elif choice == "school":
        fields = {"school": text if text not in KNOWN_SCHOOLS else "974000105"}
        expected = rejected("unknown_school")
    elif choice == "empty":
        fields = {draw(st.sampled_from(["vendor", "product", "school", "event_id"])): ""}
        expected = rejected("schema_violation")
    else:
        fields = {"school": f"9740\x00{text}"}
        expected = rejected("schema_violation")

    def make(event_id: str) -> Message:
        record = record_of(template, event_id, **{"learner": f"lrn-{event_id}-x", **fields})
        return message_of(f"unknown {choice}", record, expected, key=None)

    return Recipe(f"unknown {choice}", make)


@st.composite
def another_vendors_ids(draw: st.DrawFn) -> Recipe:
    """An event naming one vendor, sent with another vendor's token (header)."""
    template = draw(templates)
    sender = OTHER_VENDOR if template.vendor == VENDOR else VENDOR
    learner = draw(learner_ids)

    def make(event_id: str) -> Message:
        record = record_of(template, event_id, learner=learner)
        return message_of(
            "another vendor's event",
            record,
            rejected("vendor_mismatch", vendor=sender),
            key=event_key(record),
            headers=(vendor_header(sender),),
        )

    return Recipe("another vendor's ids", make)


# ---------------------------------------------------------------------------------------
# A batch


bad_recipes = st.one_of(
    random_bytes(),
    invalid_utf8_raw(),
    truncated_avro(),
    invalid_utf8_in_avro(),
    wrong_types_in_avro(),
    other_schemas(),
    wrong_types_in_json(),
    long_strings(),
    odd_times(),
    odd_quantities(),
    unknown_ids(),
    another_vendors_ids(),
)
# Half valid, half bad, interleaved in the order drawn.
recipes = st.one_of(valid_events(), bad_recipes)


def build_batch(drawn: list[Recipe], prefix: str, copies: list[int]) -> list[Message]:
    """The batch's messages with event ids `prefix-<n>`; `copies` picks valid events to send
    again (an identical copy: a duplicate) or changed (a conflicting duplicate)."""
    messages = [recipe.build(f"{prefix}-{index}") for index, recipe in enumerate(drawn)]
    valid = [
        m for m in messages if m.valid and m.key is not None and m.key.endswith(m.event_id.encode())
    ]
    for number, pick in enumerate(copies):
        if not valid:
            break
        original = valid[pick % len(valid)]
        if number % 2 == 0:
            copy = replace(
                original, label="identical copy", expected=Expected("duplicate"), valid=False
            )
        else:
            copy = _conflicting_copy(original)
        messages.append(copy)
    return messages


def _conflicting_copy(original: Message) -> Message:
    _, record = decode(original.value)
    record["item"] = f"{record['item']}-changed"
    return replace(
        original,
        label="conflicting copy",
        value=encode("UsageEvent", record),
        expected=rejected("conflicting_duplicate"),
        valid=False,
    )
