"""The per-event check (`screen_record`) and the stream's decider never disagree.

`screen_record` is what the HTTP API answers with at once; the decider is what the
ledger records. The API screens the record it is about to send, decoded from the very
bytes it sends, with the Kafka timestamp it sets; the worker decides the message the
broker delivers. For every record, valid or broken, naming any vendor, sent by any
submitter, both must give the same reason code and detail.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.domain.catalogue import Catalogue
from ledger.domain.catalogue_canonical import canonical_catalogue_json, catalogue_sha256
from ledger.domain.catalogue_parse import load_catalogue_text
from ledger.domain.chain import EntryDraft
from ledger.domain.events import REASON_CODES, Rejection, UsageEvent
from ledger.domain.processing import (
    STATUS_ACCEPTED,
    STATUS_DUPLICATE,
    STATUS_REJECTED,
    CatalogueVersion,
    PartitionDecider,
    PartitionState,
    RawMessage,
    decide_batch,
    decode_message,
    received_at_of,
    screen_record,
)
from ledger.domain.submitters import (
    OPERATOR,
    Submitter,
    submitter_from_headers,
    vendor_submitter,
)
from schemas.codec import CATALOGUE_MARKER, RAW_SUBMISSION, USAGE_EVENT, decode, encode
from streams.ingest import Submission, submission_for_record

CATALOGUE_PATH = Path(__file__).resolve().parents[1] / "integration" / "catalogue.yaml"
CATALOGUE: Catalogue = load_catalogue_text(CATALOGUE_PATH.read_text(encoding="utf-8"))
TOPIC = "ledger.test.usage-events"
PARTITION = 2
LEARNER_KEY = bytes(range(32))

FORLAG = "987654325"  # matte-1-7, norsk-1-7
APPEN = "912000001"  # eng-5-10
UNKNOWN_VENDOR = "987654333"  # a valid organisation number, not in the catalogue
BEKKESTUA = "974626993"
UNKNOWN_SCHOOL = "974999999"
LEARNER = "feide-pairwise-abc"

RECEIVED_MS = 1_791_190_800_000  # 2026-10-05T09:00:00Z
RECEIVED = received_at_of(RECEIVED_MS)


def event_record(**changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "event_id": "e-1",
        "vendor": FORLAG,
        "product": "matte-1-7",
        "school": BEKKESTUA,
        "learner": LEARNER,
        "role": "pupil",
        "action": "open",
        "item": "kap-3",
        "quantity": 1,
        "unit": "access",
        "occurred_at": "2026-10-05T08:15:00Z",
    }
    record.update(changes)
    return {name: value for name, value in record.items() if value is not None}


def screen(
    record: Mapping[str, object],
    submitter: Submitter | None = None,
    *,
    catalogue: Catalogue | None = CATALOGUE,
    schema_name: str = USAGE_EVENT,
) -> UsageEvent | Rejection:
    return screen_record(schema_name, record, catalogue, RECEIVED, submitter)


def code(result: UsageEvent | Rejection) -> str | None:
    return result.reason_code if isinstance(result, Rejection) else None


def test_received_at_is_the_kafka_timestamp() -> None:
    assert received_at_of(RECEIVED_MS) == datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
    assert RawMessage(0, 0, RECEIVED_MS + 123, b"").received_at == RECEIVED + timedelta(
        milliseconds=123
    )


# ---------------------------------------------------------------------------------------
# Every reason, and where vendor_mismatch stands in the order


def test_an_acceptable_event_is_returned_as_the_event() -> None:
    result = screen(event_record(), vendor_submitter(FORLAG))
    assert isinstance(result, UsageEvent)
    assert (result.vendor, result.event_id, result.learner) == (FORLAG, "e-1", LEARNER)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"learner": None}, "schema_violation"),
        ({"role": "parent"}, "schema_violation"),
        ({"vendor": APPEN}, "vendor_mismatch"),
        ({"vendor": UNKNOWN_VENDOR}, "vendor_mismatch"),
        ({"product": "eng-5-10"}, "unknown_product"),
        ({"school": UNKNOWN_SCHOOL}, "unknown_school"),
        ({"quantity": 0}, "invalid_quantity"),
        ({"occurred_at": "2026-10-05T09:05:00.001Z"}, "occurred_in_future"),
    ],
)
def test_every_reason_of_a_usage_event(changes: dict[str, object], expected: str) -> None:
    assert code(screen(event_record(**changes), vendor_submitter(FORLAG))) == expected


def test_an_unknown_vendor_is_unknown_when_its_own_token_sent_it() -> None:
    record = event_record(vendor=UNKNOWN_VENDOR)
    assert code(screen(record, vendor_submitter(UNKNOWN_VENDOR))) == "unknown_vendor"


def test_schema_violation_comes_before_vendor_mismatch() -> None:
    record = event_record(vendor=APPEN, role="parent")
    assert code(screen(record, vendor_submitter(FORLAG))) == "schema_violation"


def test_vendor_mismatch_comes_before_every_catalogue_and_time_rule() -> None:
    everything_else_wrong = event_record(
        vendor=UNKNOWN_VENDOR,
        product="nope",
        school=UNKNOWN_SCHOOL,
        quantity=0,
        occurred_at="2099-01-01T00:00:00Z",
    )
    assert code(screen(everything_else_wrong, vendor_submitter(FORLAG))) == "vendor_mismatch"
    other_vendor_all_wrong = {**everything_else_wrong, "vendor": APPEN}
    assert code(screen(other_vendor_all_wrong, vendor_submitter(FORLAG))) == "vendor_mismatch"
    # It needs no catalogue: who sent it is known without one.
    assert code(screen(event_record(vendor=APPEN), vendor_submitter(FORLAG), catalogue=None)) == (
        "vendor_mismatch"
    )
    assert code(screen(event_record(), vendor_submitter(FORLAG), catalogue=None)) == (
        "unknown_vendor"
    )


@pytest.mark.parametrize("submitter", [None, OPERATOR])
def test_the_operator_and_unmarked_messages_may_name_any_vendor(
    submitter: Submitter | None,
) -> None:
    assert isinstance(screen(event_record(vendor=APPEN, product="eng-5-10"), submitter), UsageEvent)
    assert code(screen(event_record(vendor=UNKNOWN_VENDOR), submitter)) == "unknown_vendor"


def test_the_mismatch_detail_names_both_vendors_and_never_the_learner() -> None:
    rejection = screen(event_record(vendor=APPEN, item=LEARNER), vendor_submitter(FORLAG))
    assert isinstance(rejection, Rejection)
    assert APPEN in rejection.detail and FORLAG in rejection.detail
    assert LEARNER not in rejection.detail


def test_a_raw_submission_is_malformed_or_a_schema_violation_whoever_sent_it() -> None:
    for submitter in (None, OPERATOR, vendor_submitter(FORLAG)):
        broken_json = {"vendor": APPEN, "event_id": "x", "body": b"{not json", "problem": "p"}
        result = screen(broken_json, submitter, schema_name=RAW_SUBMISSION)
        assert code(result) == "malformed"
        wrong_type = {
            "vendor": APPEN,
            "event_id": "x",
            "body": json.dumps(event_record(vendor=APPEN, quantity="one")).encode(),
            "problem": "schema_violation: field quantity must be an integer",
        }
        result = screen(wrong_type, submitter, schema_name=RAW_SUBMISSION)
        assert code(result) == "schema_violation"


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"quantity": 2**63}, "quantity is out of range for a 64-bit whole number"),
        ({"item": "kap-\ud800"}, "item must be valid Unicode text (no lone surrogates)"),
        ({"event_id": "e-\udfff"}, "event_id must be valid Unicode text (no lone surrogates)"),
    ],
)
def test_records_avro_cannot_carry_are_kept_as_schema_violations(
    changes: dict[str, object], detail: str
) -> None:
    """What JSON allows and Avro cannot encode is sent as a RawSubmission, then refused."""
    made = submission(event_record(**changes), vendor_submitter(FORLAG))
    name, decoded = decode(made.value)
    assert name == RAW_SUBMISSION
    result = screen_record(name, decoded, CATALOGUE, RECEIVED, vendor_submitter(FORLAG))
    assert isinstance(result, Rejection) and result.reason_code == "schema_violation"
    assert detail in result.detail
    (draft,) = decide([as_message(made, 1)])
    assert (draft.reason_code, draft.reason_detail, draft.vendor) == (
        "schema_violation",
        result.detail,
        FORLAG,
    )


def test_a_message_of_another_schema_is_a_schema_violation() -> None:
    result = screen({"version": 1}, vendor_submitter(FORLAG), schema_name=CATALOGUE_MARKER)
    assert isinstance(result, Rejection)
    assert (result.reason_code, result.detail) == (
        "schema_violation",
        "unexpected message type no.ledger.CatalogueMarker",
    )


# ---------------------------------------------------------------------------------------
# The decider applies the same check, and records a vendor's rejections as that vendor's


def marker(offset: int) -> RawMessage:
    value = encode(
        "no.ledger.CatalogueMarker",
        {
            "version": 1,
            "sha256": catalogue_sha256(CATALOGUE),
            "document": canonical_catalogue_json(CATALOGUE),
        },
    )
    return RawMessage(PARTITION, offset, RECEIVED_MS, value, OPERATOR)


def as_message(submission: Submission, offset: int, timestamp_ms: int = RECEIVED_MS) -> RawMessage:
    """What the worker gets for a submission: the header read back from the message."""
    submitter = submitter_from_headers(submission.headers)
    return RawMessage(PARTITION, offset, timestamp_ms, submission.value, submitter)


def submission(record: object, submitter: Submitter | None) -> Submission:
    made = submission_for_record(record, json.dumps(record).encode())
    return made if submitter is None else made.with_submitter(submitter)


def decide(messages: Sequence[RawMessage]) -> list[EntryDraft]:
    known: dict[int, CatalogueVersion] = {}
    decider = PartitionDecider(
        source_topic=TOPIC,
        learner_key=LEARNER_KEY,
        state=PartitionState(catalogue=None),
        existing_accepted={},
        known_catalogue=known.get,
    )
    outcomes = decide_batch(decider, [decode_message(m) for m in [marker(0), *messages]])
    return [outcome.draft for outcome in outcomes[1:]]


def test_a_vendor_mismatch_is_recorded_for_the_vendor_that_sent_it() -> None:
    sent = submission(event_record(vendor=APPEN, product="eng-5-10"), vendor_submitter(FORLAG))
    (draft,) = decide([as_message(sent, 1)])
    assert (draft.status, draft.reason_code, draft.vendor) == (
        STATUS_REJECTED,
        "vendor_mismatch",
        FORLAG,
    )
    assert draft.reason_detail is not None and APPEN in draft.reason_detail
    assert (draft.event_id, draft.product, draft.school) == ("e-1", "eng-5-10", BEKKESTUA)
    assert draft.licence_id is None and draft.municipality is None


def test_every_rejection_of_a_vendors_message_is_that_vendors() -> None:
    forlag = vendor_submitter(FORLAG)
    broken = submission(event_record(vendor=APPEN, role="parent"), forlag)
    raw = submission(event_record(vendor=APPEN, quantity="one"), forlag)
    unreadable = Submission(b"k", b"not avro at all").with_submitter(forlag)
    drafts = decide([as_message(s, i) for i, s in enumerate([broken, raw, unreadable], 1)])
    assert [(d.reason_code, d.vendor) for d in drafts] == [
        ("schema_violation", FORLAG),
        ("schema_violation", FORLAG),
        ("malformed", FORLAG),
    ]
    # Unmarked, the same messages keep what they name (as before submitters existed).
    unmarked = [replace(as_message(s, i), submitter=None) for i, s in enumerate([broken, raw], 1)]
    assert [(d.reason_code, d.vendor) for d in decide(unmarked)] == [
        ("schema_violation", APPEN),
        ("schema_violation", APPEN),
    ]


def test_a_vendors_own_events_are_decided_as_unmarked_ones() -> None:
    records = [
        event_record(),
        event_record(event_id="e-2", school=UNKNOWN_SCHOOL),
        event_record(),  # a duplicate
        event_record(item="kap-9"),  # a conflicting duplicate
    ]
    own = [as_message(submission(r, vendor_submitter(FORLAG)), i) for i, r in enumerate(records, 1)]
    unmarked = [as_message(submission(r, None), i) for i, r in enumerate(records, 1)]
    assert decide(own) == decide(unmarked)
    assert [(d.status, d.reason_code) for d in decide(own)] == [
        (STATUS_ACCEPTED, None),
        (STATUS_REJECTED, "unknown_school"),
        (STATUS_DUPLICATE, None),
        (STATUS_REJECTED, "conflicting_duplicate"),
    ]


# ---------------------------------------------------------------------------------------
# The guarantee: for any record and submitter, the decider and screen_record agree

VENDORS = [FORLAG, APPEN, UNKNOWN_VENDOR]
SUBMITTERS: list[Submitter | None] = [None, OPERATOR, *map(vendor_submitter, VENDORS)]
FIELD_VALUES: dict[str, st.SearchStrategy[object]] = {
    "event_id": st.sampled_from(["e-1", "e-2", "", "x" * 129]),
    "vendor": st.sampled_from([*VENDORS, "", 987654325]),
    "product": st.sampled_from(["matte-1-7", "norsk-1-7", "eng-5-10", "nope"]),
    "school": st.sampled_from([BEKKESTUA, "974000202", UNKNOWN_SCHOOL]),
    "learner": st.sampled_from([LEARNER, "feide-b", "", "bad\nline"]),
    "role": st.sampled_from(["pupil", "teacher", "parent"]),
    "action": st.sampled_from(["open", "read"]),
    "item": st.sampled_from(["kap-1", LEARNER]),
    "quantity": st.sampled_from([1, 2, 0, -1, 2**63, "one", True, 1.5]),
    "unit": st.sampled_from(["access", "page"]),
    "occurred_at": st.sampled_from(
        [
            "2026-10-05T08:15:00Z",
            "2026-10-05T11:05:00+02:00",  # exactly 5 minutes ahead
            "2026-10-05T09:05:00.001Z",  # just beyond
            "2026-10-05T08:15:00",  # no offset
            "2026-02-30T08:15:00Z",
        ]
    ),
}
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


# One rule broken on purpose, so every outcome is common; random noise comes on top.
FOCUSED: list[dict[str, object]] = [
    {},
    {},
    {"vendor": APPEN, "product": "eng-5-10"},
    {"vendor": UNKNOWN_VENDOR},
    {"product": "eng-5-10"},
    {"school": UNKNOWN_SCHOOL},
    {"quantity": 0},
    {"occurred_at": "2026-10-05T09:07:00Z"},
]


@st.composite
def records(draw: st.DrawFn) -> object:
    """Mostly events near valid; some missing fields, extra fields, or not objects at all."""
    kind = draw(st.sampled_from(["event"] * 8 + ["anything"]))
    if kind == "anything":
        return draw(JSON_VALUES)
    record = event_record(**draw(st.sampled_from(FOCUSED)))
    for name, values in FIELD_VALUES.items():
        if draw(st.integers(0, 9)) == 0:
            record[name] = draw(values)
    for name in draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), max_size=2)):
        record.pop(name, None)
    if draw(st.booleans()):
        record["extra"] = draw(JSON_VALUES)
    return record


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sent=st.lists(
        st.tuples(records(), st.sampled_from(SUBMITTERS), st.integers(-600_000, 600_000)),
        min_size=1,
        max_size=8,
    )
)
def test_property_the_decider_and_screen_record_never_disagree(
    sent: list[tuple[object, Submitter | None, int]],
) -> None:
    submissions = [submission(record, submitter) for record, submitter, _ in sent]
    timestamps = [RECEIVED_MS + shift for _, _, shift in sent]
    messages = [
        as_message(s, offset, ms)
        for offset, (s, ms) in enumerate(zip(submissions, timestamps, strict=True), 1)
    ]
    drafts = decide(messages)
    for (_, submitter, _), made, timestamp_ms, draft in zip(
        sent, submissions, timestamps, drafts, strict=True
    ):
        # Exactly what the API does: decode the bytes it sends, screen at the timestamp it sets.
        name, decoded = decode(made.value)
        screened = screen_record(name, decoded, CATALOGUE, received_at_of(timestamp_ms), submitter)
        if isinstance(screened, Rejection):
            assert (draft.status, draft.reason_code, draft.reason_detail) == (
                STATUS_REJECTED,
                screened.reason_code,
                screened.detail,
            )
        else:
            # Only the ledger can tell a duplicate: nothing else may differ.
            assert draft.status in (STATUS_ACCEPTED, STATUS_DUPLICATE) or (
                draft.reason_code == "conflicting_duplicate"
            )
            assert (draft.vendor, draft.event_id) == (screened.vendor, screened.event_id)
        assert draft.reason_code is None or draft.reason_code in REASON_CODES
        if submitter is not None and submitter.vendor is not None:
            assert draft.vendor == submitter.vendor, "a vendor's messages are that vendor's"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sent=st.lists(records(), min_size=1, max_size=8))
def test_property_operator_marked_messages_are_decided_as_unmarked(sent: list[object]) -> None:
    unmarked = [as_message(submission(r, None), i) for i, r in enumerate(sent, 1)]
    marked = [as_message(submission(r, OPERATOR), i) for i, r in enumerate(sent, 1)]
    assert all(m.submitter == OPERATOR for m in marked)
    assert decide(marked) == decide(unmarked)


def test_the_generators_reach_every_screening_outcome() -> None:
    """The property above is only as good as what it draws: every code and acceptance."""
    seen: set[str | None] = set()

    @settings(max_examples=400, deadline=None, database=None, derandomize=True)
    @given(record=records(), submitter=st.sampled_from(SUBMITTERS), shift=st.integers(-1, 1))
    def collect(record: object, submitter: Submitter | None, shift: int) -> None:
        name, decoded = decode(submission(record, submitter).value)
        at = RECEIVED + timedelta(minutes=shift)
        seen.add(code(screen_record(name, decoded, CATALOGUE, at, submitter)))

    collect()
    assert seen >= {
        None,
        "malformed",
        "schema_violation",
        "vendor_mismatch",
        "unknown_vendor",
        "unknown_product",
        "unknown_school",
        "invalid_quantity",
        "occurred_in_future",
    }
