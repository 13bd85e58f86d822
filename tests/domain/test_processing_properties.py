"""Properties of the per-partition fold (ledger.domain.processing) over generated raw logs.

Raw messages are built the way `ledger ingest` builds them (`submission_for_record`),
one partition, offsets in list order, the test catalogue applied first through a real
catalogue marker. Events come from a small alphabet so that ids, learners, schools and
month edges collide often.

The ledger's *content*: the multiset of accepted events with their attribution, and the
set of rejected (vendor, event_id, reason code) except `conflicting_duplicate`.

- (a) shuffling the input never changes the content when all copies of an id have the
  same content (spellings of occurred_at and the received time may differ);
- (b) cutting the input into batches of any sizes, each batch decided by a fresh decider
  that knows what earlier batches accepted (as the database would tell it), gives the
  very same entries as one batch;
- (c) duplicating events any number of times, anywhere, adds only `duplicate` entries
  (or repeats of a rejection already there) and never changes the content;
- (d) with conflicting copies of an id, the first acceptable copy in offset order is
  accepted, every later copy with other content is `conflicting_duplicate`, every
  later copy with the same content is `duplicate`.

Every run is also held to an independent oracle written from CONTRACT 3 and 5.2.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.domain.catalogue import Catalogue, Licence
from ledger.domain.catalogue_canonical import canonical_catalogue_json, catalogue_sha256
from ledger.domain.catalogue_parse import load_catalogue_text
from ledger.domain.chain import EntryDraft
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
)
from schemas.codec import encode
from streams.ingest import submission_for_record

CATALOGUE_PATH = Path(__file__).resolve().parents[1] / "integration" / "catalogue.yaml"
CATALOGUE: Catalogue = load_catalogue_text(CATALOGUE_PATH.read_text(encoding="utf-8"))
CATALOGUE_DOCUMENT = canonical_catalogue_json(CATALOGUE)
CATALOGUE_SHA256 = catalogue_sha256(CATALOGUE)
CATALOGUE_VERSION = 1

TOPIC = "ledger.test.usage-events"
PARTITION = 3
LEARNER_KEY = bytes(range(32))
OSLO = ZoneInfo("Europe/Oslo")
FUTURE_TOLERANCE = timedelta(minutes=5)
CONFLICTING = "conflicting_duplicate"

FORLAG = "987654325"  # matte-1-7, norsk-1-7
APPEN = "912000001"  # eng-5-10
UNKNOWN_VENDOR = "987654333"
BEKKESTUA = "974626993"  # Bærum, in L-SCHOOL's list
EIKELI = "974000008"  # Bærum
HOFSTAD = "974000202"  # Asker
UNKNOWN_SCHOOL = "974999999"

# The oracle's own view of the test catalogue (written out, not read from the code).
VENDOR_PRODUCTS = {FORLAG: {"matte-1-7", "norsk-1-7"}, APPEN: {"eng-5-10"}}
SCHOOL_MUNICIPALITY = {BEKKESTUA: "3201", EIKELI: "3201", HOFSTAD: "3203"}

# (vendor, product): mostly licensed pairs, some unlicensed, some unknown.
VENDOR_PRODUCT_PAIRS = [
    (FORLAG, "matte-1-7"),
    (FORLAG, "matte-1-7"),
    (FORLAG, "norsk-1-7"),  # known product, no licence
    (APPEN, "eng-5-10"),
    (APPEN, "eng-5-10"),
    (FORLAG, "eng-5-10"),  # unknown_product
    (UNKNOWN_VENDOR, "matte-1-7"),  # unknown_vendor
]
SCHOOLS = [BEKKESTUA, EIKELI, HOFSTAD, UNKNOWN_SCHOOL]
EVENT_IDS = ["e1", "e2", "e3", "e4"]
LEARNERS = ["feide-a", "feide-b", "feide-c"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# Instants on both sides of Oslo month edges and of licence validity (CEST = UTC+2
# until 2026-10-25, CET = UTC+1 after).
OCCURRED = [
    utc("2026-07-31T21:59:59+00:00"),  # 31 July in Oslo: before every licence
    utc("2026-07-31T22:00:00+00:00"),  # 1 August: L-ALL and L-JOINT begin
    utc("2026-08-31T21:59:59.999999+00:00"),  # 31 August
    utc("2026-08-31T22:00:00+00:00"),  # 1 September: L-SCHOOL begins
    utc("2026-09-30T21:59:59.999999+00:00"),  # 30 September
    utc("2026-09-30T22:00:00+00:00"),  # 1 October: L-LATER begins
    utc("2026-09-30T22:00:00.001+00:00"),
    utc("2026-10-31T22:59:59+00:00"),  # 31 October (CET)
    utc("2026-10-31T23:00:00+00:00"),  # 1 November
    utc("2027-07-31T21:59:59+00:00"),  # 31 July 2027: last valid day
    utc("2027-07-31T22:00:00+00:00"),  # 1 August 2027: every licence has ended
]
# Received times (Kafka timestamps). The early one makes events from 22:00:00.001 on
# that day more than 5 minutes ahead (occurred_in_future); 22:00:00 is exactly 5 minutes.
RECEIVED_LATE = utc("2028-01-01T00:00:00+00:00")
RECEIVED_EARLY = utc("2026-09-30T21:55:00+00:00")
RECEIVED = [RECEIVED_LATE, RECEIVED_LATE, RECEIVED_EARLY]

# How occurred_at is written: (offset in minutes, lower-case t/z, always a fraction).
SPELLINGS = [(0, False, False), (120, False, False), (-330, False, True), (60, True, False)]
# A few records the stream must reject as schema violations, whatever else they hold.
BROKEN = [None, None, None, None, None, None, "missing_learner", "bad_role", "no_offset"]


@dataclass(frozen=True)
class Spec:
    """The content of one event as a vendor meant it (equal specs = the same content)."""

    vendor: str
    event_id: str
    product: str
    school: str
    learner: str
    role: str
    action: str
    item: str
    quantity: int
    unit: str
    occurred: datetime
    broken: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.vendor, self.event_id


@dataclass(frozen=True)
class Message:
    """One submission of a spec: how occurred_at is spelled and when it was received."""

    spec: Spec
    spelling: int
    received: datetime


def spell(moment: datetime, spelling: int) -> str:
    offset_minutes, lower, fraction = SPELLINGS[spelling]
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction or local.microsecond:
        text += f".{local.microsecond:06d}"
    if offset_minutes == 0:
        text += "Z"
    else:
        sign = "+" if offset_minutes > 0 else "-"
        hours, minutes = divmod(abs(offset_minutes), 60)
        text += f"{sign}{hours:02d}:{minutes:02d}"
    return text.replace("T", "t").replace("Z", "z") if lower else text


def record_of(message: Message) -> dict[str, object]:
    spec = message.spec
    record: dict[str, object] = {
        "event_id": spec.event_id,
        "vendor": spec.vendor,
        "product": spec.product,
        "school": spec.school,
        "learner": spec.learner,
        "role": spec.role,
        "action": spec.action,
        "item": spec.item,
        "quantity": spec.quantity,
        "unit": spec.unit,
        "occurred_at": spell(spec.occurred, message.spelling),
    }
    if spec.broken == "missing_learner":
        del record["learner"]
    elif spec.broken == "bad_role":
        record["role"] = "admin"
    elif spec.broken == "no_offset":
        record["occurred_at"] = spec.occurred.strftime("%Y-%m-%dT%H:%M:%S")
    return record


def millis(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def catalogue_marker(offset: int) -> RawMessage:
    value = encode(
        "no.ledger.CatalogueMarker",
        {"version": CATALOGUE_VERSION, "sha256": CATALOGUE_SHA256, "document": CATALOGUE_DOCUMENT},
    )
    return RawMessage(PARTITION, offset, millis(RECEIVED_LATE), value)


def raw_log(messages: Sequence[Message]) -> list[RawMessage]:
    """The catalogue marker at offset 0, then one message per submission, in order."""
    log = [catalogue_marker(0)]
    for offset, message in enumerate(messages, start=1):
        record = record_of(message)
        submission = submission_for_record(record, json.dumps(record).encode())
        log.append(RawMessage(PARTITION, offset, millis(message.received), submission.value))
    return log


def decide(log: Sequence[RawMessage], cuts: Sequence[int] = ()) -> list[EntryDraft]:
    """Entries for `log`, cut into batches before each offset in `cuts`.

    Every batch gets a fresh decider, as the writer builds one per transaction: the
    catalogue in effect at the last entry, and the digests of already accepted events.
    """
    bounds = [0, *sorted(set(cuts) - {0, len(log)}), len(log)]
    known: dict[int, CatalogueVersion] = {}
    in_effect: CatalogueVersion | None = None
    accepted: dict[tuple[str, str], bytes] = {}
    drafts: list[EntryDraft] = []
    for start, end in pairwise(bounds):
        decider = PartitionDecider(
            source_topic=TOPIC,
            learner_key=LEARNER_KEY,
            state=PartitionState(catalogue=in_effect),
            existing_accepted=dict(accepted),
            known_catalogue=known.get,
        )
        outcomes = decide_batch(decider, [decode_message(m) for m in log[start:end]])
        assert len(outcomes) == end - start, "one entry per raw message"
        for outcome in outcomes:
            if outcome.new_catalogue is not None:
                known[outcome.new_catalogue.version] = outcome.new_catalogue
            draft = outcome.draft
            if draft.status == STATUS_ACCEPTED:
                assert draft.vendor is not None and draft.event_id is not None
                assert draft.content_digest is not None
                accepted[(draft.vendor, draft.event_id)] = draft.content_digest
            drafts.append(draft)
        in_effect = decider.state.catalogue
    return drafts


def event_drafts(drafts: Sequence[EntryDraft]) -> list[EntryDraft]:
    assert drafts[0].kind == "catalogue" and drafts[0].reference == CATALOGUE_SHA256
    assert drafts[0].catalogue_version == CATALOGUE_VERSION
    return list(drafts[1:])


def accepted_content(draft: EntryDraft) -> tuple[Hashable, ...]:
    return (
        draft.vendor,
        draft.event_id,
        draft.product,
        draft.school,
        draft.municipality,
        draft.learner_hash,
        draft.role,
        draft.action,
        draft.item,
        draft.unit,
        draft.quantity,
        draft.occurred_at,
        draft.period,
        draft.licence_id,
        draft.content_digest,
    )


Rejection = tuple[str | None, str | None, str | None]  # vendor, event_id, reason code


def content(
    drafts: Sequence[EntryDraft],
) -> tuple[Counter[tuple[Hashable, ...]], set[Rejection]]:
    accepted = Counter(accepted_content(d) for d in drafts if d.status == STATUS_ACCEPTED)
    rejected = {
        (d.vendor, d.event_id, d.reason_code)
        for d in drafts
        if d.status == STATUS_REJECTED and d.reason_code != CONFLICTING
    }
    return accepted, rejected


def outcome_of(draft: EntryDraft) -> tuple[str | None, str | None]:
    return draft.status, draft.reason_code


# ---------------------------------------------------------------------------------------
# The oracle: CONTRACT 3 and 5.2 written out independently of the code under test.


def expected_rejection(message: Message) -> str | None:
    spec = message.spec
    if spec.broken is not None:
        return "schema_violation"
    if spec.vendor not in VENDOR_PRODUCTS:
        return "unknown_vendor"
    if spec.product not in VENDOR_PRODUCTS[spec.vendor]:
        return "unknown_product"
    if spec.school not in SCHOOL_MUNICIPALITY:
        return "unknown_school"
    if spec.quantity < 1:
        return "invalid_quantity"
    if spec.occurred - message.received > FUTURE_TOLERANCE:
        return "occurred_in_future"
    return None


def covers(licence: Licence, spec: Spec, municipality: str, day: date) -> bool:
    return (
        licence.vendor == spec.vendor
        and spec.product in licence.products
        and municipality in licence.buyers
        and (licence.schools is None or spec.school in licence.schools)
        and licence.valid_from <= day <= licence.valid_to
    )


def expected_licence(spec: Spec) -> str | None:
    municipality = SCHOOL_MUNICIPALITY[spec.school]
    day = spec.occurred.astimezone(OSLO).date()
    covering = [lic for lic in CATALOGUE.licences if covers(lic, spec, municipality, day)]
    if not covering:
        return None
    best = min(covering, key=lambda lic: (lic.schools is None, -lic.valid_from.toordinal(), lic.id))
    return best.id


@dataclass(frozen=True)
class Expected:
    status: str
    reason_code: str | None = None
    licence_id: str | None = None


def oracle(messages: Sequence[Message]) -> list[Expected]:
    """The outcome of every message: validity first, then the first acceptable copy wins."""
    first: dict[tuple[str, str], Spec] = {}
    expected = []
    for message in messages:
        reason = expected_rejection(message)
        spec = message.spec
        if reason is not None:
            expected.append(Expected(STATUS_REJECTED, reason))
        elif spec.key not in first:
            first[spec.key] = spec
            expected.append(Expected(STATUS_ACCEPTED, None, expected_licence(spec)))
        elif first[spec.key] == spec:
            expected.append(Expected(STATUS_DUPLICATE))
        else:
            expected.append(Expected(STATUS_REJECTED, CONFLICTING))
    return expected


def check_against_oracle(messages: Sequence[Message], drafts: Sequence[EntryDraft]) -> None:
    assert len(drafts) == len(messages)
    for message, draft, want in zip(messages, drafts, oracle(messages), strict=True):
        got = Expected(draft.status or "", draft.reason_code, draft.licence_id)
        assert got == want, f"{message}: got {got}, expected {want}"
        assert draft.kind == "event" and draft.catalogue_version == CATALOGUE_VERSION
        assert draft.received_at == message.received
        assert draft.event_id == message.spec.event_id and draft.vendor == message.spec.vendor
        if draft.status == STATUS_REJECTED:
            assert draft.reason_detail, "a rejection says why"
        if draft.status in (STATUS_ACCEPTED, STATUS_DUPLICATE):
            spec = message.spec
            assert draft.occurred_at == spec.occurred
            assert draft.period == spec.occurred.astimezone(OSLO).strftime("%Y-%m")
            learner = hmac.new(LEARNER_KEY, spec.learner.encode(), hashlib.sha256).digest()
            assert draft.learner_hash == learner
            assert (draft.quantity, draft.unit, draft.school) == (
                spec.quantity,
                spec.unit,
                spec.school,
            )
        if draft.status == STATUS_ACCEPTED:
            assert draft.municipality == SCHOOL_MUNICIPALITY[message.spec.school]
        else:
            assert draft.licence_id is None and draft.municipality is None


# ---------------------------------------------------------------------------------------
# Strategies


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    vendor, product = draw(st.sampled_from(VENDOR_PRODUCT_PAIRS))
    return Spec(
        vendor=vendor,
        event_id=draw(st.sampled_from(EVENT_IDS)),
        product=product,
        school=draw(st.sampled_from(SCHOOLS)),
        learner=draw(st.sampled_from(LEARNERS)),
        role=draw(st.sampled_from(["pupil", "teacher"])),
        action=draw(st.sampled_from(["open", "read"])),
        item=draw(st.sampled_from(["kap-1", "kap-2"])),
        quantity=draw(st.integers(0, 3)),
        unit=draw(st.sampled_from(["access", "page"])),
        occurred=draw(st.sampled_from(OCCURRED)),
        broken=draw(st.sampled_from(BROKEN)),
    )


spellings = st.integers(0, len(SPELLINGS) - 1)
received_times = st.sampled_from(RECEIVED)
mostly_late = st.sampled_from([*RECEIVED, RECEIVED_LATE, RECEIVED_LATE])


@st.composite
def consistent_messages(draw: st.DrawFn) -> list[Message]:
    """Submissions where every copy of a (vendor, event_id) has the same content."""
    drawn = draw(st.lists(specs(), min_size=1, max_size=12))
    templates: dict[tuple[str, str], Spec] = {}
    for spec in drawn:
        templates.setdefault(spec.key, spec)
    keys = list(templates)
    messages = [Message(templates[k], draw(spellings), draw(received_times)) for k in keys]
    copies = draw(st.lists(st.tuples(st.sampled_from(keys), spellings, received_times)))
    messages += [Message(templates[k], spelling, at) for k, spelling, at in copies]
    return messages


FIELD_CHOICES: dict[str, Sequence[object]] = {
    "product": ["matte-1-7", "norsk-1-7", "eng-5-10"],
    "school": SCHOOLS,
    "learner": LEARNERS,
    "role": ["pupil", "teacher"],
    "action": ["open", "read"],
    "item": ["kap-1", "kap-2"],
    "quantity": [0, 1, 2, 3],
    "unit": ["access", "page"],
    "occurred": OCCURRED,
    "broken": BROKEN,
}


@st.composite
def variants_of(draw: st.DrawFn, key: tuple[str, str]) -> list[Spec]:
    """Distinct contents for one id: a first one, and others that change one or two fields."""
    vendor, event_id = key
    first = Spec(
        vendor=vendor,
        event_id=event_id,
        product=draw(st.sampled_from(sorted(VENDOR_PRODUCTS[vendor]))),
        school=draw(st.sampled_from([BEKKESTUA, EIKELI, HOFSTAD])),
        learner=draw(st.sampled_from(LEARNERS)),
        role=draw(st.sampled_from(["pupil", "teacher"])),
        action="open",
        item="kap-1",
        quantity=draw(st.integers(1, 3)),
        unit="access",
        occurred=draw(st.sampled_from(OCCURRED)),
    )
    variants = [first]
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 2]))):
        changes = draw(
            st.dictionaries(
                st.sampled_from(sorted(FIELD_CHOICES)),
                st.integers(0, 99),
                min_size=1,
                max_size=2,
            )
        )
        fields = {
            name: FIELD_CHOICES[name][i % len(FIELD_CHOICES[name])] for name, i in changes.items()
        }
        variants.append(replace(first, **fields))  # type: ignore[arg-type]
    return list(dict.fromkeys(variants))


@st.composite
def conflicting_messages(draw: st.DrawFn) -> list[Message]:
    """Submissions where copies of one (vendor, event_id) may differ in content."""
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from([FORLAG, FORLAG, APPEN]), st.sampled_from(EVENT_IDS)),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    variants = {key: draw(variants_of(key)) for key in keys}
    every_variant = [(key, index) for key in keys for index in range(len(variants[key]))]
    extra = draw(st.lists(st.tuples(st.sampled_from(keys), st.integers(0, 2)), max_size=15))
    order = draw(st.permutations(every_variant + extra))
    return [
        Message(variants[key][index % len(variants[key])], draw(spellings), draw(mostly_late))
        for key, index in order
    ]


any_messages = st.one_of(consistent_messages(), conflicting_messages())

property_settings = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


# ---------------------------------------------------------------------------------------
# Properties


@property_settings
@given(data=st.data(), messages=consistent_messages())
def test_a_shuffling_never_changes_the_content(data: st.DataObject, messages: list[Message]):
    shuffled = data.draw(st.permutations(messages), label="shuffled")
    original = event_drafts(decide(raw_log(messages)))
    reordered = event_drafts(decide(raw_log(shuffled)))
    check_against_oracle(messages, original)
    check_against_oracle(shuffled, reordered)
    assert content(reordered) == content(original)
    assert CONFLICTING not in {d.reason_code for d in original + reordered}
    # Same multiset of outcomes too: which copy is accepted may move, not how many are.
    assert Counter(map(outcome_of, reordered)) == Counter(map(outcome_of, original))


@property_settings
@given(data=st.data(), messages=any_messages)
def test_b_batching_never_changes_the_entries(data: st.DataObject, messages: list[Message]):
    log = raw_log(messages)
    cuts = data.draw(st.lists(st.integers(0, len(log)), max_size=len(log)), label="cuts")
    whole = decide(log)
    batched = decide(log, cuts)
    assert batched == whole
    check_against_oracle(messages, event_drafts(whole))
    # One message per batch is the extreme of batching.
    assert decide(log, range(len(log))) == whole


@property_settings
@given(data=st.data(), messages=consistent_messages())
def test_c_duplicating_events_adds_only_duplicates(data: st.DataObject, messages: list[Message]):
    base = event_drafts(decide(raw_log(messages)))
    insertions = data.draw(
        st.lists(
            st.tuples(
                st.integers(0, len(messages) - 1),
                st.integers(0, 10**6),
                st.one_of(st.none(), spellings),
            ),
            min_size=1,
            max_size=15,
        ),
        label="insertions",
    )
    grown = list(messages)
    added: Counter[tuple[str | None, str | None]] = Counter()
    for index, position, spelling in insertions:
        original = messages[index]
        copy = Message(
            original.spec, original.spelling if spelling is None else spelling, original.received
        )
        grown.insert(position % (len(grown) + 1), copy)
        status = base[index].status
        added[("duplicate", None) if status != STATUS_REJECTED else outcome_of(base[index])] += 1
    duplicated = event_drafts(decide(raw_log(grown)))
    check_against_oracle(grown, duplicated)
    assert content(duplicated) == content(base)
    assert Counter(map(outcome_of, duplicated)) == Counter(map(outcome_of, base)) + added
    assert CONFLICTING not in {d.reason_code for d in duplicated}


@property_settings
@given(messages=conflicting_messages())
def test_d_first_acceptable_copy_wins_and_others_conflict(messages: list[Message]):
    drafts = event_drafts(decide(raw_log(messages)))
    check_against_oracle(messages, drafts)
    by_key: dict[tuple[str, str], list[tuple[Message, EntryDraft]]] = {}
    for message, draft in zip(messages, drafts, strict=True):
        by_key.setdefault(message.spec.key, []).append((message, draft))
    for key, copies in by_key.items():
        acceptable = [(m, d) for m, d in copies if expected_rejection(m) is None]
        accepted = [(m, d) for m, d in copies if d.status == STATUS_ACCEPTED]
        if not acceptable:
            assert not accepted, f"{key}: no acceptable copy, yet one was accepted"
            continue
        assert len(accepted) == 1, f"{key}: exactly one copy is accepted"
        winner, winner_draft = acceptable[0]
        assert accepted[0][1] is winner_draft, f"{key}: the first acceptable copy wins"
        for message, draft in acceptable[1:]:
            if message.spec == winner.spec:
                assert draft.status == STATUS_DUPLICATE
                assert draft.content_digest == winner_draft.content_digest
            else:
                assert (draft.status, draft.reason_code) == (STATUS_REJECTED, CONFLICTING)
                assert draft.content_digest != winner_draft.content_digest


def test_the_generators_reach_every_outcome():
    """The alphabet is small on purpose: make sure it still produces every outcome."""
    seen: set[tuple[str | None, str | None]] = set()
    licences: set[str | None] = set()

    @settings(max_examples=300, deadline=None, database=None)
    @given(messages=any_messages)
    def collect(messages: list[Message]) -> None:
        for draft in event_drafts(decide(raw_log(messages))):
            seen.add(outcome_of(draft))
            if draft.status == STATUS_ACCEPTED:
                licences.add(draft.licence_id)

    collect()
    assert seen >= {
        (STATUS_ACCEPTED, None),
        (STATUS_DUPLICATE, None),
        *(
            (STATUS_REJECTED, code)
            for code in (
                "schema_violation",
                "unknown_vendor",
                "unknown_product",
                "unknown_school",
                "invalid_quantity",
                "occurred_in_future",
                CONFLICTING,
            )
        ),
    }
    assert licences >= {None, "L-ALL", "L-SCHOOL", "L-LATER", "L-JOINT"}
