"""Usage events: the shape vendors send, validation with reason codes, learner hash, digest.

Pure functions only. The stream calls `event_from_record` on every decoded message, then
`check_submitter` against the party that sent it, then `check_event` against the
catalogue in effect, in CONTRACT section 3 order: malformed → schema_violation →
vendor_mismatch → unknown_vendor → unknown_product → unknown_school → invalid_quantity →
occurred_in_future (`ledger.domain.processing.screen_record` is that sequence).
`conflicting_duplicate` needs the ledger and is decided by the stream; it is listed here
so that every code has one home.

Privacy: the raw `learner` string is needed only to compute its keyed hash. It is never
echoed in a rejection detail (CONTRACT 3: it never reaches the database).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Final, Literal, get_args

from ledger.domain.catalogue import Role
from ledger.domain.invariants import InvariantViolation, invariant
from ledger.domain.periods import period_of, period_year_max, period_year_min
from ledger.domain.submitters import Submitter

if TYPE_CHECKING:
    from ledger.domain.catalogue import Catalogue

# Limits. A vendor can send anything; everything we keep has an upper bound.
identifier_characters_max: Final = 128  # event_id, vendor, product, school, action, item, unit
learner_characters_max: Final = 512  # Feide pairwise ids are far shorter; leaves room for others
occurred_at_characters_max: Final = 64  # "2026-10-05T08:15:00.123456789+02:00" is 35
event_json_bytes_max: Final = 65_536  # one JSON event; real ones are a few hundred bytes
quantity_max: Final = 2**63 - 1  # Avro long and PostgreSQL bigint
quantity_min: Final = -(2**63)
detail_characters_max: Final = 300  # a rejection detail is one readable line, as stored
detail_value_characters_max: Final = 80  # an echoed field value is cut to this
learner_hash_key_bytes_min: Final = 16
future_tolerance: Final = timedelta(minutes=5)  # clocks drift; more than this ahead is refused

ROLES: Final[tuple[Role, ...]] = ("pupil", "teacher")
STRING_FIELDS: Final = (
    "event_id",
    "vendor",
    "product",
    "school",
    "learner",
    "role",
    "action",
    "item",
    "unit",
    "occurred_at",
)
EVENT_FIELDS: Final = (*STRING_FIELDS[:8], "quantity", *STRING_FIELDS[8:])


ReasonCode = Literal[
    "malformed",
    "schema_violation",
    "vendor_mismatch",
    "unknown_vendor",
    "unknown_product",
    "unknown_school",
    "invalid_quantity",
    "occurred_in_future",
    "conflicting_duplicate",
]
MALFORMED: Final = "malformed"
SCHEMA_VIOLATION: Final = "schema_violation"
VENDOR_MISMATCH: Final = "vendor_mismatch"
UNKNOWN_VENDOR: Final = "unknown_vendor"
UNKNOWN_PRODUCT: Final = "unknown_product"
UNKNOWN_SCHOOL: Final = "unknown_school"
INVALID_QUANTITY: Final = "invalid_quantity"
OCCURRED_IN_FUTURE: Final = "occurred_in_future"
CONFLICTING_DUPLICATE: Final = "conflicting_duplicate"
REASON_CODES: Final[tuple[ReasonCode, ...]] = get_args(ReasonCode)

REASON_EXPLANATIONS: Final[Mapping[ReasonCode, str]] = {
    MALFORMED: "The message could not be read at all: send one JSON object (or one Avro "
    "single-object encoded record) per event.",
    SCHEMA_VIOLATION: "A field is missing, has the wrong type or an invalid value: check the "
    "event against the usage event schema (all fields required, quantity a whole number, "
    "role pupil or teacher, occurred_at an RFC 3339 time with an offset).",
    VENDOR_MISMATCH: "The event names another vendor than the one whose token submitted it: "
    "send each vendor's events with that vendor's own token.",
    UNKNOWN_VENDOR: "The vendor organisation number is not in the catalogue: use the number "
    "the municipalities registered for you.",
    UNKNOWN_PRODUCT: "The product is not one of this vendor's products in the catalogue: use "
    "the product id agreed in your licence.",
    UNKNOWN_SCHOOL: "The school organisation number is not a school in the catalogue: use the "
    "school's NSR organisation number.",
    INVALID_QUANTITY: "The quantity must be a whole number of at least 1.",
    OCCURRED_IN_FUTURE: "occurred_at is more than 5 minutes after the time the event was "
    "received: check your clock and send events after they happen.",
    CONFLICTING_DUPLICATE: "An event with this vendor and event_id was already accepted with "
    "different content: use a new event_id for a new event.",
}


@dataclass(frozen=True, slots=True)
class UsageEvent:
    event_id: str
    vendor: str
    product: str
    school: str
    learner: str
    role: Role
    action: str
    item: str
    quantity: int
    unit: str
    occurred_at: datetime  # aware, normalised to UTC

    def __post_init__(self) -> None:
        invariant(
            self.occurred_at.tzinfo is UTC,
            "UsageEvent.occurred_at must be an aware datetime normalised to UTC",
        )

    def to_record(self) -> dict[str, object]:
        """The usage event record (Avro / JSON), with occurred_at written in UTC."""
        return {
            "event_id": self.event_id,
            "vendor": self.vendor,
            "product": self.product,
            "school": self.school,
            "learner": self.learner,
            "role": self.role,
            "action": self.action,
            "item": self.item,
            "quantity": self.quantity,
            "unit": self.unit,
            "occurred_at": format_instant(self.occurred_at),
        }


@dataclass(frozen=True, slots=True)
class Rejection:
    reason_code: ReasonCode
    detail: str  # one line, never the raw learner id

    def __post_init__(self) -> None:
        invariant(self.reason_code in REASON_CODES, f"unknown reason code {self.reason_code!r}")
        invariant(
            "\n" not in self.detail and "\r" not in self.detail,
            "a rejection detail must be one line",
        )
        invariant(len(self.detail) <= detail_characters_max, "rejection detail too long")


# ---------------------------------------------------------------------------------------
# Building an event from a record


def event_from_json(body: bytes) -> UsageEvent | Rejection:
    """One JSON event (a JSON Lines line or a RawSubmission body) to an event or a rejection.

    Not JSON, not UTF-8, not an object, duplicate keys or too large → `malformed`;
    a JSON object with bad fields → `schema_violation` (via `event_from_record`).
    """
    if len(body) > event_json_bytes_max:
        return Rejection(
            MALFORMED, f"the event is {len(body)} bytes; at most {event_json_bytes_max} allowed"
        )
    try:
        document = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_object_refusing_duplicate_keys,
            parse_constant=_refuse_constant,
        )
    except UnicodeDecodeError:
        return Rejection(MALFORMED, "the event is not UTF-8 text")
    except _DuplicateKey as error:
        return Rejection(MALFORMED, f"the JSON object has the key {_quote(str(error))} twice")
    except ValueError as error:  # json.JSONDecodeError and refused NaN/Infinity
        reason = _detail(_one_line(str(error)), learner="")
        return Rejection(
            MALFORMED, f"the event is not valid JSON: {reason}"[:detail_characters_max]
        )
    except RecursionError:
        return Rejection(MALFORMED, "the event is not valid JSON: nested too deeply")
    if not isinstance(document, dict):
        return Rejection(MALFORMED, "the event must be a JSON object")
    return event_from_record(document)


def event_from_record(record: Mapping[str, object]) -> UsageEvent | Rejection:
    """A decoded Avro record or JSON object to a `UsageEvent`, or a rejection.

    Checks types, presence, lengths and formats only (no catalogue): every problem of the
    record is listed in the one-line detail. Fields not in the schema are ignored, as an
    Avro reader ignores fields a newer writer added.
    """
    if not isinstance(record, Mapping):
        return Rejection(MALFORMED, "the event must be a JSON object or an Avro record")
    learner = record.get("learner")
    learner_text = learner if isinstance(learner, str) else ""
    problems: list[str] = []
    missing = [name for name in EVENT_FIELDS if record.get(name) is None]
    if missing:
        problems.append("missing required field(s): " + ", ".join(missing))
    for name in STRING_FIELDS:
        value = record.get(name)
        if value is not None:
            problem = _string_problem(name, value)
            if problem is not None:
                problems.append(problem)
    quantity = record.get("quantity")
    if quantity is not None:
        problem = _quantity_problem(quantity)
        if problem is not None:
            problems.append(problem)
    role = record.get("role")
    if isinstance(role, str) and role and role not in ROLES:
        problems.append(f"role must be pupil or teacher, not {_quote(role, learner_text)}")
    occurred_at: datetime | None = None
    occurred_text = record.get("occurred_at")
    if isinstance(occurred_text, str) and len(occurred_text) <= occurred_at_characters_max:
        parsed = parse_rfc3339(occurred_text)
        if isinstance(parsed, str):
            problems.append(f"occurred_at {_quote(occurred_text, learner_text)} {parsed}")
        elif not _has_period(parsed):
            problems.append(
                f"occurred_at {_quote(occurred_text, learner_text)} is outside the years"
                f" {period_year_min} to {period_year_max} (Oslo time)"
            )
        else:
            occurred_at = parsed
    if problems or occurred_at is None:
        invariant(bool(problems), "a record without problems has an occurred_at")
        return Rejection(SCHEMA_VIOLATION, _detail("; ".join(problems), learner_text))
    return UsageEvent(
        event_id=_as_str(record["event_id"]),
        vendor=_as_str(record["vendor"]),
        product=_as_str(record["product"]),
        school=_as_str(record["school"]),
        learner=learner_text,
        role="pupil" if record["role"] == "pupil" else "teacher",
        action=_as_str(record["action"]),
        item=_as_str(record["item"]),
        quantity=_as_int(record["quantity"]),
        unit=_as_str(record["unit"]),
        occurred_at=occurred_at,
    )


def check_submitter(event: UsageEvent, submitter: Submitter | None) -> Rejection | None:
    """`vendor_mismatch` when a vendor's token sent an event that names another vendor.

    The operator (`ledger ingest`) and unmarked messages (old logs, other producers) may
    name any vendor, as before submitters were recorded.
    """
    if submitter is None or submitter.vendor is None or event.vendor == submitter.vendor:
        return None
    learner = event.learner
    return Rejection(
        VENDOR_MISMATCH,
        _detail(
            f"the event names vendor {_quote(event.vendor, learner)}, but it was submitted "
            f"with a token of vendor {_quote(submitter.vendor, learner)}",
            learner,
        ),
    )


def check_event(
    event: UsageEvent, catalogue: Catalogue | None, received_at: datetime
) -> Rejection | None:
    """The catalogue and time rules, in CONTRACT order; None when the event is acceptable.

    Without a catalogue no vendor is known: events that arrive before the first catalogue
    are refused rather than accepted unattributable (safety first: nothing unknown is kept
    as accepted).
    """
    invariant(received_at.tzinfo is not None, "received_at must be timezone-aware")
    learner = event.learner
    if catalogue is None:
        return Rejection(
            UNKNOWN_VENDOR,
            _detail(
                f"vendor {_quote(event.vendor, learner)} is not known: no catalogue is loaded",
                learner,
            ),
        )
    if catalogue.vendor(event.vendor) is None:
        return Rejection(
            UNKNOWN_VENDOR,
            _detail(f"vendor {_quote(event.vendor, learner)} is not in the catalogue", learner),
        )
    if not catalogue.has_product(event.vendor, event.product):
        return Rejection(
            UNKNOWN_PRODUCT,
            _detail(
                f"product {_quote(event.product, learner)} is not a product of vendor "
                f"{_quote(event.vendor, learner)}",
                learner,
            ),
        )
    if catalogue.municipality_of_school(event.school) is None:
        return Rejection(
            UNKNOWN_SCHOOL,
            _detail(f"school {_quote(event.school, learner)} is not in the catalogue", learner),
        )
    if event.quantity < 1:
        return Rejection(
            INVALID_QUANTITY,
            _detail(f"quantity is {event.quantity}; it must be at least 1", learner),
        )
    ahead = event.occurred_at - received_at
    if ahead > future_tolerance:
        return Rejection(
            OCCURRED_IN_FUTURE,
            _detail(
                f"occurred_at {format_instant(event.occurred_at)} is {_describe(ahead)} after "
                f"the event was received at {format_instant(received_at)}; at most "
                f"{_describe(future_tolerance)} allowed",
                learner,
            ),
        )
    return None


# ---------------------------------------------------------------------------------------
# Learner hash and content digest

_content_tag: Final = b"no.ledger.UsageEvent.content.v1\x00"
_epoch: Final = datetime(1970, 1, 1, tzinfo=UTC)
_length: Final = struct.Struct(">I")
_signed_64: Final = struct.Struct(">q")


def learner_hash(key: bytes, learner: str) -> bytes:
    """HMAC-SHA256(workspace key, UTF-8 learner id): 32 bytes, the only form ever stored."""
    invariant(
        len(key) >= learner_hash_key_bytes_min,
        f"the learner hash key must be at least {learner_hash_key_bytes_min} bytes",
    )
    return hmac.new(key, learner.encode("utf-8"), hashlib.sha256).digest()


def content_digest(event: UsageEvent, learner_hash: bytes) -> bytes:
    """SHA-256 of the event's content, for duplicate comparison (CONTRACT 3).

    Fields are length-prefixed in a fixed order, so no two different events share an
    encoding; the learner enters as its hash (the raw id is not stored), occurred_at as
    the instant in UTC microseconds (so the offset it was written with does not matter).
    """
    parts: list[bytes] = [_content_tag]
    for text in (
        event.event_id,
        event.vendor,
        event.product,
        event.school,
        event.role,
        event.action,
        event.item,
        event.unit,
    ):
        encoded = text.encode("utf-8")
        parts.append(_length.pack(len(encoded)))
        parts.append(encoded)
    parts.append(_length.pack(len(learner_hash)))
    parts.append(learner_hash)
    parts.append(_signed_64.pack(event.quantity))
    parts.append(_signed_64.pack(instant_microseconds(event.occurred_at)))
    return hashlib.sha256(b"".join(parts)).digest()


def instant_microseconds(moment: datetime) -> int:
    """Microseconds since 1970-01-01T00:00:00Z of an aware datetime (exact integer arithmetic)."""
    invariant(moment.tzinfo is not None, "an instant needs a timezone-aware datetime")
    return (moment - _epoch) // timedelta(microseconds=1)


# ---------------------------------------------------------------------------------------
# RFC 3339 times

_rfc3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
_offsets: dict[int, timezone] = {}
_offset_minutes_max: Final = 23 * 60 + 59


def parse_rfc3339(text: str) -> datetime | str:
    """An RFC 3339 date-time with an offset, as an aware UTC datetime; else why not (a phrase).

    Fractions beyond microseconds (Java sends nanoseconds) are truncated: instants are
    compared at microsecond resolution everywhere in the ledger.
    """
    match = _rfc3339.fullmatch(text)
    if match is None:
        return _rfc3339_hint(text)
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7) or ""
    microsecond = int((fraction + "000000")[:6])
    offset_minutes = 0
    if match.group(8) is None:
        offset_minutes = int(match.group(10)) * 60 + int(match.group(11))
        if int(match.group(11)) > 59 or offset_minutes > _offset_minutes_max:
            return "has an offset out of range"
        if match.group(9) == "-":
            offset_minutes = -offset_minutes
    zone = _offsets.get(offset_minutes)
    if zone is None:
        zone = UTC if offset_minutes == 0 else timezone(timedelta(minutes=offset_minutes))
        _offsets[offset_minutes] = zone
    try:
        local = datetime(year, month, day, hour, minute, second, microsecond, tzinfo=zone)
        return local if zone is UTC else local.astimezone(UTC)
    except (ValueError, OverflowError):
        return "is not a real date and time (check day, hour, minute and second)"


def _rfc3339_hint(text: str) -> str:
    try:
        naive = datetime.fromisoformat(text).tzinfo is None
    except ValueError:
        naive = False
    if naive:
        return "has no offset: add Z or +hh:mm (for example 2026-10-05T08:15:00Z)"
    return "is not an RFC 3339 time with an offset (for example 2026-10-05T08:15:00Z)"


def format_instant(moment: datetime) -> str:
    """RFC 3339 in UTC with Z, microseconds only when present."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


# ---------------------------------------------------------------------------------------
# Helpers


class _DuplicateKey(ValueError):
    pass


def _object_refusing_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


_characters_max: Final = {
    "learner": learner_characters_max,
    "occurred_at": occurred_at_characters_max,
}
# Control characters, and lone surrogates (valid in JSON escapes, not in UTF-8 or PostgreSQL).
_unusable_character: Final = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def _string_problem(name: str, value: object) -> str | None:
    if not isinstance(value, str):
        return f"{name} must be a string, not {_json_type(value)}"
    limit = _characters_max.get(name, identifier_characters_max)
    if not value:
        return f"{name} must not be empty"
    if len(value) > limit:
        return f"{name} has {len(value)} characters; at most {limit} allowed"
    unusable = _unusable_character.search(value)
    if unusable is not None:
        if unusable.group() >= "\ud800":
            return f"{name} must be valid Unicode text (no lone surrogates)"
        return f"{name} must not contain control characters"
    return None


def _has_period(moment: datetime) -> bool:
    """Whether the instant falls in a period the ledger can bill (an Oslo month of the years
    `ledger.domain.periods` handles). Every accepted or rejected event's entry records its
    period, so an instant without one (year 1, year 9999) would stop the stream at that
    message, again after every restart."""
    try:
        period_of(moment)
    except (ValueError, OverflowError):
        return False
    return True


def is_storable_text(text: str) -> bool:
    """Whether PostgreSQL can store `text`: UTF-8 has no lone surrogates, text no NUL."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _quantity_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"quantity must be a whole number, not {_json_type(value)}"
    if not quantity_min <= value <= quantity_max:
        return "quantity is out of range for a 64-bit whole number"
    return None


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, bytes):
        return "bytes"
    return type(value).__name__


def _as_str(value: object) -> str:
    if isinstance(value, str):
        return value
    raise InvariantViolation("a field validated as a string is not one")


def _as_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise InvariantViolation("a field validated as a whole number is not one")


def _quote(value: str, learner: str = "") -> str:
    """A value as a one-line JSON string, cut to a readable length, never the learner id."""
    if learner and learner in value:
        return "(a value containing the learner id)"
    if len(value) > detail_value_characters_max:
        value = value[:detail_value_characters_max] + "…"
    return json.dumps(value, ensure_ascii=True)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _detail(text: str, learner: str) -> str:
    """Bound the length; last line of defence for the learner id (see _quote)."""
    if len(text) > detail_characters_max:
        text = text[: detail_characters_max - 1] + "…"
    if learner and learner in text:
        text = "the event has invalid fields (details withheld: they would show the learner id)"
    return text


def _describe(duration: timedelta) -> str:
    seconds = duration.total_seconds()
    if seconds.is_integer():
        return f"{int(seconds)} seconds"
    return f"{seconds:.3f} seconds"
