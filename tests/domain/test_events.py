from __future__ import annotations

import calendar
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.catalogue import Catalogue
from ledger.domain.catalogue_parse import parse_catalogue
from ledger.domain.events import (
    EVENT_FIELDS,
    REASON_CODES,
    REASON_EXPLANATIONS,
    Rejection,
    UsageEvent,
    check_event,
    content_digest,
    event_from_json,
    event_from_record,
    event_json_bytes_max,
    future_tolerance,
    identifier_characters_max,
    instant_microseconds,
    learner_characters_max,
    learner_hash,
)
from ledger.domain.invariants import InvariantViolation
from tests.domain.catalogue_examples import ASKER_SCHOOL, OTHER_VENDOR, VENDOR, base_document

LEARNER = "feide-pairwise-9f86d081884c7d65"
KEY = bytes(range(32))
RECEIVED = datetime(2026, 10, 5, 8, 20, tzinfo=UTC)


def record(**changes: object) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": "e-000001",
        "vendor": VENDOR,
        "product": "matte-1-7",
        "school": "974626993",
        "learner": LEARNER,
        "role": "pupil",
        "action": "open",
        "item": "kap-3",
        "quantity": 1,
        "unit": "access",
        "occurred_at": "2026-10-05T08:15:00Z",
    }
    base.update(changes)
    return base


def parsed(**changes: object) -> UsageEvent:
    event = event_from_record(record(**changes))
    assert isinstance(event, UsageEvent), event
    return event


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return parse_catalogue(base_document())


def rejection_of(result: object) -> Rejection:
    assert isinstance(result, Rejection), result
    return result


# ---------------------------------------------------------------------------------------
# Building events


def test_a_good_record_becomes_an_event() -> None:
    event = parsed()
    assert event.event_id == "e-000001"
    assert event.quantity == 1
    assert event.role == "pupil"
    assert event.occurred_at == datetime(2026, 10, 5, 8, 15, tzinfo=UTC)
    assert event.occurred_at.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "2026-10-05T10:15:00+02:00",
        "2026-10-05T08:15:00Z",
        "2026-10-05t08:15:00z",
        "2026-10-05T08:15:00.000000Z",
        "2026-10-05T08:15:00-00:00",
        "2026-10-04T22:45:00-09:30",
    ],
)
def test_offsets_are_normalised_to_utc(text: str) -> None:
    assert parsed(occurred_at=text).occurred_at == datetime(2026, 10, 5, 8, 15, tzinfo=UTC)


def test_fractions_beyond_microseconds_are_truncated() -> None:
    nanoseconds = parsed(occurred_at="2026-10-05T08:15:00.123456789Z").occurred_at
    assert nanoseconds == datetime(2026, 10, 5, 8, 15, 0, 123456, tzinfo=UTC)
    assert parsed(occurred_at="2026-10-05T08:15:00.5+01:00").occurred_at.microsecond == 500000


def test_fields_outside_the_schema_are_ignored() -> None:
    assert parsed(session="s-1") == parsed()


def test_to_record_round_trips() -> None:
    event = parsed(occurred_at="2026-10-05T10:15:00.25+02:00")
    again = event_from_record(event.to_record())
    assert again == event
    assert event.to_record()["occurred_at"] == "2026-10-05T08:15:00.250000Z"


def test_usage_event_refuses_a_non_utc_time() -> None:
    with pytest.raises(InvariantViolation):
        dataclasses.replace(parsed(), occurred_at=datetime(2026, 1, 1))
    with pytest.raises(InvariantViolation):
        dataclasses.replace(parsed(), occurred_at=datetime(2026, 1, 1).astimezone())


# ---------------------------------------------------------------------------------------
# malformed and schema_violation


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{not json", "the event is not valid JSON"),
        (b"[1, 2]", "the event must be a JSON object"),
        (b'"text"', "the event must be a JSON object"),
        (b"\xff\xfe", "the event is not UTF-8 text"),
        (b'{"quantity": NaN}', "the event is not valid JSON: NaN is not a JSON number"),
        (b'{"event_id": "a", "event_id": "b"}', 'the JSON object has the key "event_id" twice'),
        (b"[" * 60_000, "the event is not valid JSON"),
        (b" " * (event_json_bytes_max + 1), f"at most {event_json_bytes_max} allowed"),
    ],
)
def test_malformed(body: bytes, detail: str) -> None:
    rejection = rejection_of(event_from_json(body))
    assert rejection.reason_code == "malformed"
    assert detail in rejection.detail


def test_good_json_becomes_an_event() -> None:
    assert event_from_json(json.dumps(record()).encode()) == parsed()


def test_a_non_mapping_record_is_malformed() -> None:
    rejection = rejection_of(event_from_record(["not", "a", "record"]))  # type: ignore[arg-type]
    assert rejection.reason_code == "malformed"


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"event_id": None}, "missing required field(s): event_id"),
        ({"quantity": None, "unit": None}, "missing required field(s): quantity, unit"),
        ({"vendor": 987654325}, "vendor must be a string, not a whole number"),
        ({"quantity": "1"}, "quantity must be a whole number, not a string"),
        ({"quantity": 1.0}, "quantity must be a whole number, not a decimal number"),
        ({"quantity": True}, "quantity must be a whole number, not a boolean"),
        ({"quantity": 2**63}, "quantity is out of range for a 64-bit whole number"),
        ({"item": ""}, "item must not be empty"),
        ({"action": "x" * (identifier_characters_max + 1)}, "action has 129 characters"),
        ({"product": "matte\n1-7"}, "product must not contain control characters"),
        ({"role": "admin"}, 'role must be pupil or teacher, not "admin"'),
        ({"role": ["pupil"]}, "role must be a string, not a list"),
        ({"occurred_at": "2026-10-05T08:15:00"}, "has no offset: add Z or +hh:mm"),
        ({"occurred_at": "2026-10-05 08:15:00Z"}, "is not an RFC 3339 time with an offset"),
        ({"occurred_at": "yesterday"}, "is not an RFC 3339 time with an offset"),
        ({"occurred_at": "2026-10-05"}, "has no offset"),
        ({"occurred_at": "2026-02-30T08:15:00Z"}, "is not a real date and time"),
        ({"occurred_at": "2026-10-05T24:00:00Z"}, "is not a real date and time"),
        ({"occurred_at": "2026-10-05T08:15:60Z"}, "is not a real date and time"),
        ({"occurred_at": "2026-10-05T08:15:00+24:00"}, "has an offset out of range"),
        ({"occurred_at": "2026-10-05T08:15:00+02:60"}, "has an offset out of range"),
        ({"occurred_at": "0001-01-01T00:00:00+01:00"}, "is not a real date and time"),
        ({"occurred_at": "2026-10-05T08:15:00.1234567890Z"}, "is not an RFC 3339 time"),
        ({"occurred_at": 1_760_000_000}, "occurred_at must be a string, not a whole number"),
    ],
)
def test_schema_violation(changes: dict[str, object], detail: str) -> None:
    rejection = rejection_of(event_from_record(record(**changes)))
    assert rejection.reason_code == "schema_violation"
    assert detail in rejection.detail


def test_every_schema_problem_is_listed_on_one_line() -> None:
    rejection = rejection_of(
        event_from_record(record(event_id=None, role="admin", occurred_at="soon", quantity=1.5))
    )
    assert rejection.reason_code == "schema_violation"
    for expected in ["event_id", "role", "occurred_at", "quantity"]:
        assert expected in rejection.detail
    assert "\n" not in rejection.detail


def test_quantity_below_one_is_not_a_schema_violation() -> None:
    # The contract names quantity < 1 separately (invalid_quantity, checked in order).
    assert parsed(quantity=0).quantity == 0
    assert parsed(quantity=-5).quantity == -5


# ---------------------------------------------------------------------------------------
# Catalogue and time rules, in contract order


def test_an_acceptable_event_has_no_rejection(catalogue: Catalogue) -> None:
    assert check_event(parsed(), catalogue, RECEIVED) is None


@pytest.mark.parametrize(
    ("changes", "code", "detail"),
    [
        ({"vendor": "123456789"}, "unknown_vendor", 'vendor "123456789" is not in the catalogue'),
        (
            {"product": "lese"},
            "unknown_product",
            f'product "lese" is not a product of vendor "{VENDOR}"',
        ),
        ({"product": "nope"}, "unknown_product", 'product "nope" is not a product'),
        ({"school": "974627027"}, "unknown_school", 'school "974627027" is not in the catalogue'),
        ({"quantity": 0}, "invalid_quantity", "quantity is 0; it must be at least 1"),
        ({"quantity": -3}, "invalid_quantity", "quantity is -3"),
        (
            {"occurred_at": "2026-10-05T08:25:00.000001Z"},
            "occurred_in_future",
            "occurred_at 2026-10-05T08:25:00.000001Z is 300.000 seconds after the event was "
            "received at 2026-10-05T08:20:00Z; at most 300 seconds allowed",
        ),
    ],
)
def test_catalogue_and_time_rules(
    catalogue: Catalogue, changes: dict[str, object], code: str, detail: str
) -> None:
    rejection = rejection_of(check_event(parsed(**changes), catalogue, RECEIVED))
    assert rejection.reason_code == code
    assert detail in rejection.detail


def test_exactly_the_tolerance_ahead_is_accepted(catalogue: Catalogue) -> None:
    at_limit = parsed(occurred_at="2026-10-05T10:25:00+02:00")
    assert at_limit.occurred_at - RECEIVED == future_tolerance
    assert check_event(at_limit, catalogue, RECEIVED) is None
    later_offset = datetime(2026, 10, 5, 10, 20, tzinfo=UTC).astimezone()
    assert check_event(at_limit, catalogue, later_offset) is None


def test_past_events_are_accepted(catalogue: Catalogue) -> None:
    assert check_event(parsed(occurred_at="2020-01-01T00:00:00Z"), catalogue, RECEIVED) is None


def test_the_first_broken_rule_in_contract_order_decides(catalogue: Catalogue) -> None:
    future = "2027-01-01T00:00:00Z"
    everything = parsed(vendor="123456789", product="x", school="x", quantity=0, occurred_at=future)
    assert rejection_of(check_event(everything, catalogue, RECEIVED)).reason_code == (
        "unknown_vendor"
    )
    no_product = parsed(product="lese", school="x", quantity=0, occurred_at=future)
    assert rejection_of(check_event(no_product, catalogue, RECEIVED)).reason_code == (
        "unknown_product"
    )
    no_school = parsed(school="x", quantity=0, occurred_at=future)
    assert rejection_of(check_event(no_school, catalogue, RECEIVED)).reason_code == (
        "unknown_school"
    )
    no_quantity = parsed(quantity=0, occurred_at=future)
    assert rejection_of(check_event(no_quantity, catalogue, RECEIVED)).reason_code == (
        "invalid_quantity"
    )


def test_other_vendor_products_and_schools(catalogue: Catalogue) -> None:
    event = parsed(vendor=OTHER_VENDOR, product="lese", school=ASKER_SCHOOL)
    assert check_event(event, catalogue, RECEIVED) is None


def test_without_a_catalogue_no_vendor_is_known() -> None:
    rejection = rejection_of(check_event(parsed(), None, RECEIVED))
    assert rejection.reason_code == "unknown_vendor"
    assert "no catalogue is loaded" in rejection.detail


def test_received_at_must_be_aware(catalogue: Catalogue) -> None:
    with pytest.raises(InvariantViolation):
        check_event(parsed(), catalogue, datetime(2026, 10, 5, 8, 20))


# ---------------------------------------------------------------------------------------
# Reason codes


def test_every_reason_code_has_a_one_sentence_explanation() -> None:
    assert set(REASON_EXPLANATIONS) == set(REASON_CODES)
    assert set(REASON_CODES) == {
        "malformed",
        "schema_violation",
        "vendor_mismatch",
        "unknown_vendor",
        "unknown_product",
        "unknown_school",
        "invalid_quantity",
        "occurred_in_future",
        "conflicting_duplicate",
    }
    for explanation in REASON_EXPLANATIONS.values():
        assert explanation.endswith(".")
        assert "\n" not in explanation
        assert explanation.count(". ") == 0


def test_a_rejection_refuses_unknown_codes_and_multi_line_details() -> None:
    with pytest.raises(InvariantViolation):
        Rejection("not_a_code", "x")  # type: ignore[arg-type]
    with pytest.raises(InvariantViolation):
        Rejection("malformed", "two\nlines")
    assert Rejection("conflicting_duplicate", "seen before").reason_code == "conflicting_duplicate"


# ---------------------------------------------------------------------------------------
# The learner id never appears in a detail

learners = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
    min_size=8,
    max_size=64,
)


@settings(max_examples=200, deadline=None)
@given(
    learner=learners,
    field=st.sampled_from(["event_id", "vendor", "product", "school", "action", "role"]),
    wrap=st.sampled_from(["{0}", "x{0}", "{0}\n", "{0}{0}{0}"]),
    catalogue_check=st.booleans(),
)
def test_property_learner_never_in_detail(
    learner: str, field: str, wrap: str, catalogue_check: bool
) -> None:
    """Even when a vendor puts the learner id into another field, it is not echoed back."""
    catalogue = parse_catalogue(base_document())
    changes: dict[str, object] = {"learner": learner, field: wrap.format(learner)}
    if not catalogue_check:
        changes["occurred_at"] = f"{learner}"  # also a schema problem echoing a value
    built = event_from_record(record(**changes))
    result = check_event(built, catalogue, RECEIVED) if isinstance(built, UsageEvent) else built
    if result is None:
        return  # accepted (an event_id may well equal the learner id): nothing echoed
    assert learner not in result.detail
    assert json.dumps(learner)[1:-1] not in result.detail


def test_learner_id_in_a_bad_role_is_not_echoed() -> None:
    rejection = rejection_of(event_from_record(record(role=LEARNER)))
    assert LEARNER not in rejection.detail
    assert "role must be pupil or teacher" in rejection.detail


def test_an_overlong_learner_is_reported_without_its_value() -> None:
    long_learner = "L" * (learner_characters_max + 1)
    rejection = rejection_of(event_from_record(record(learner=long_learner)))
    assert "learner has 513 characters" in rejection.detail
    assert long_learner[:20] not in rejection.detail


# ---------------------------------------------------------------------------------------
# Learner hash and content digest


def test_learner_hash_is_hmac_sha256() -> None:
    # RFC 4231 test case 1: key = 20 bytes of 0x0b, data = "Hi There".
    expected = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    assert learner_hash(b"\x0b" * 20, "Hi There").hex() == expected


def test_learner_hash_depends_on_key_and_refuses_short_keys() -> None:
    assert learner_hash(KEY, LEARNER) != learner_hash(bytes(32), LEARNER)
    assert len(learner_hash(KEY, LEARNER)) == 32
    with pytest.raises(InvariantViolation):
        learner_hash(b"short", LEARNER)


def digest(event: UsageEvent) -> bytes:
    return content_digest(event, learner_hash(KEY, event.learner))


def test_same_content_across_offsets() -> None:
    oslo = parsed(occurred_at="2026-10-05T10:15:00+02:00")
    utc = parsed(occurred_at="2026-10-05T08:15:00Z")
    assert digest(oslo) == digest(utc)
    assert len(digest(utc)) == 32


@pytest.mark.parametrize(
    "changes",
    [
        {"event_id": "e-000002"},
        {"vendor": OTHER_VENDOR},
        {"product": "norsk-1-7"},
        {"school": ASKER_SCHOOL},
        {"learner": "someone-else"},
        {"role": "teacher"},
        {"action": "close"},
        {"item": "kap-4"},
        {"quantity": 2},
        {"unit": "minute"},
        {"occurred_at": "2026-10-05T08:15:00.000001Z"},
    ],
)
def test_every_field_is_content(changes: dict[str, object]) -> None:
    assert set(changes) <= set(EVENT_FIELDS)
    assert digest(parsed(**changes)) != digest(parsed())


def test_field_boundaries_are_unambiguous() -> None:
    a = parsed(action="ab", item="c")
    b = parsed(action="a", item="bc")
    assert digest(a) != digest(b)


def test_instant_microseconds() -> None:
    assert instant_microseconds(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    moment = parsed(occurred_at="2026-10-05T10:15:00.000007+02:00").occurred_at
    seconds = calendar.timegm((2026, 10, 5, 8, 15, 0, 0, 0, 0))
    assert instant_microseconds(moment) == seconds * 1_000_000 + 7


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC]),
    ),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
def test_property_any_offset_gives_the_same_instant(moment: datetime, offset_minutes: int) -> None:
    shifted = moment + timedelta(minutes=offset_minutes)
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text = shifted.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{sign}{hours:02d}:{minutes:02d}"
    if not 1 <= shifted.year <= 9999:
        return
    event = parsed(occurred_at=text)
    assert event.occurred_at == moment
    assert digest(event) == digest(parsed(occurred_at=moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")))
