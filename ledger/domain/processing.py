"""From raw log messages to ledger entry drafts: the deterministic fold of one partition.

Pure: no Kafka, no database. The stream adapter supplies the messages of one
partition in offset order, what the ledger already holds for their event ids, and
the catalogues; this module decides every outcome. Because all copies of one event
id share a partition (the message key), the partition order alone decides which copy
came first, so a replay of the same log reaches the same decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from ledger.domain.attribution import AttributionIndex
from ledger.domain.catalogue import Catalogue
from ledger.domain.catalogue_canonical import catalogue_from_canonical_json, catalogue_sha256
from ledger.domain.chain import EntryDraft
from ledger.domain.events import (
    MALFORMED,
    SCHEMA_VIOLATION,
    ReasonCode,
    Rejection,
    UsageEvent,
    check_event,
    check_submitter,
    content_digest,
    detail_characters_max,
    event_from_json,
    event_from_record,
    event_json_bytes_max,
    identifier_characters_max,
    is_storable_text,
    learner_characters_max,
    learner_hash,
)
from ledger.domain.invariants import InvariantViolation, invariant
from ledger.domain.periods import period_of
from ledger.domain.submitters import Submitter
from schemas.codec import (
    CATALOGUE_MARKER,
    CLOSE_MARKER,
    RAW_SUBMISSION,
    UNKNOWN_SCHEMA,
    UNREADABLE,
    USAGE_EVENT,
    DecodeFailure,
    UndecodableMessage,
    decode,
)

KIND_EVENT = "event"
KIND_CATALOGUE = "catalogue"
KIND_CLOSE = "close"
STATUS_ACCEPTED = "accepted"
STATUS_DUPLICATE = "duplicate"
STATUS_REJECTED = "rejected"

# A RawSubmission's problem is clipped to one detail line; longer text is not read at all.
raw_problem_characters_max = event_json_bytes_max

# The codec's failure kinds as the reason codes vendors read.
DECODE_FAILURE_REASONS: Mapping[DecodeFailure, ReasonCode] = {
    UNREADABLE: MALFORMED,
    UNKNOWN_SCHEMA: SCHEMA_VIOLATION,
}


def received_at_of(timestamp_ms: int) -> datetime:
    """The received time of a message with this Kafka timestamp (what the API screens with)."""
    return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)


@dataclass(frozen=True)
class RawMessage:
    """One message of the raw log, as the broker delivered it."""

    partition: int
    offset: int
    timestamp_ms: int
    value: bytes
    # From the `ledger-submitter` header (ledger.domain.submitters); None: not marked.
    submitter: Submitter | None = None

    @property
    def received_at(self) -> datetime:
        return received_at_of(self.timestamp_ms)


@dataclass(frozen=True)
class Decoded:
    """A raw message after Avro decoding: its schema name and record, or why it failed."""

    message: RawMessage
    schema_name: str | None
    record: Mapping[str, object]
    error: UndecodableMessage | None = None

    @property
    def event_key(self) -> tuple[str, str] | None:
        """The key to look up in the ledger; None for text no ledger row can hold (such an
        event is rejected anyway, and the lookup itself would fail in PostgreSQL)."""
        vendor, event_id = self.record.get("vendor"), self.record.get("event_id")
        if (
            self.schema_name == USAGE_EVENT
            and isinstance(vendor, str)
            and isinstance(event_id, str)
            and is_storable_text(vendor)
            and is_storable_text(event_id)
        ):
            return vendor, event_id
        return None


def decode_message(message: RawMessage) -> Decoded:
    try:
        name, record = decode(message.value)
    except UndecodableMessage as error:
        return Decoded(message, None, {}, error)
    return Decoded(message, name, record)


# ---------------------------------------------------------------------------------------
# Screening: the per-event check, without ledger state


@dataclass(frozen=True)
class _Screened:
    """A screening's verdict, with the event when the record was one (its entry keeps it)."""

    event: UsageEvent | None
    rejection: Rejection | None


def screen_record(
    schema_name: str,
    record: Mapping[str, object],
    catalogue: Catalogue | None,
    received_at: datetime,
    submitter: Submitter | None,
) -> UsageEvent | Rejection:
    """THE per-event check: the event a decoded submission holds, or why it is refused.

    Everything that does not need the ledger, in CONTRACT order: malformed,
    schema_violation, vendor_mismatch, unknown_vendor, unknown_product, unknown_school,
    invalid_quantity, occurred_in_future. The stream worker decides every submission
    with it (then duplicates and attribution, which need the ledger), and the HTTP API
    answers with it at once: given the same record, catalogue, received time and
    submitter, the two cannot disagree. Markers are not submissions (the worker handles
    them before screening); any schema but the two event schemas is a schema_violation.
    """
    screened = _screen(schema_name, record, catalogue, received_at, submitter)
    if screened.rejection is not None:
        return screened.rejection
    if screened.event is None:
        raise InvariantViolation("a screening without a rejection has an event")
    return screened.event


def _screen(
    schema_name: str,
    record: Mapping[str, object],
    catalogue: Catalogue | None,
    received_at: datetime,
    submitter: Submitter | None,
) -> _Screened:
    if schema_name == RAW_SUBMISSION:
        return _Screened(None, _raw_submission_rejection(record))
    if schema_name != USAGE_EVENT:
        return _Screened(
            None, Rejection(SCHEMA_VIOLATION, f"unexpected message type {schema_name}")
        )
    parsed = event_from_record(record)
    if isinstance(parsed, Rejection):
        return _Screened(None, parsed)
    rejection = check_submitter(parsed, submitter) or check_event(parsed, catalogue, received_at)
    return _Screened(parsed, rejection)


def _raw_submission_rejection(record: Mapping[str, object]) -> Rejection:
    """A line the producer could not encode: the domain decides why, from the body alone."""
    body = record.get("body")
    parsed = event_from_json(body) if isinstance(body, bytes) else None
    if isinstance(parsed, Rejection):
        return parsed
    problem = _text(record, "problem", raw_problem_characters_max)
    problem = problem or "the event could not be encoded"
    return Rejection(SCHEMA_VIOLATION, problem)


def _decode_rejection(error: UndecodableMessage) -> Rejection:
    return Rejection(DECODE_FAILURE_REASONS[error.kind], error.detail)


@dataclass(frozen=True)
class CatalogueVersion:
    version: int
    sha256: str
    document: bytes  # canonical JSON
    catalogue: Catalogue


@dataclass
class PartitionState:
    """What deciding needs to know about the partition so far."""

    catalogue: CatalogueVersion | None
    # (vendor, event_id) -> content digest of the accepted event, for ids seen in this batch
    accepted: dict[tuple[str, str], bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    draft: EntryDraft
    new_catalogue: CatalogueVersion | None = None  # set for a catalogue marker not seen before


def _clip(text: str) -> str:
    storable = text.replace("\x00", " ").encode("utf-8", "replace").decode("utf-8")
    one_line = " ".join(storable.split())
    return one_line[:detail_characters_max]


def _text(
    record: Mapping[str, object], key: str, characters_max: int = identifier_characters_max
) -> str | None:
    """A field of a refused record worth keeping: only text the database can store (a NUL
    or a lone surrogate would make the whole batch's INSERT fail and stall the partition),
    and no longer than the field may be (a vendor of megabytes would not fit the index of
    rejections by vendor, and would fail the batch the same way)."""
    value = record.get(key)
    if isinstance(value, str) and len(value) <= characters_max and is_storable_text(value):
        return value
    return None


def _blank(message: RawMessage, source_topic: str, state: PartitionState) -> EntryDraft:
    return EntryDraft(
        kind=KIND_EVENT,
        status=None,
        source_topic=source_topic,
        source_offset=message.offset,
        received_at=message.received_at,
        vendor=None,
        event_id=None,
        product=None,
        school=None,
        municipality=None,
        learner_hash=None,
        role=None,
        action=None,
        item=None,
        quantity=None,
        unit=None,
        occurred_at=None,
        period=None,
        licence_id=None,
        catalogue_version=state.catalogue.version if state.catalogue else None,
        content_digest=None,
        reason_code=None,
        reason_detail=None,
        reference=None,
    )


def _rejected(base: EntryDraft, rejection: Rejection) -> EntryDraft:
    return replace(
        base,
        status=STATUS_REJECTED,
        reason_code=str(rejection.reason_code),
        reason_detail=_clip(rejection.detail),
    )


def _partial_fields(
    base: EntryDraft, record: Mapping[str, object], learner_key: bytes
) -> EntryDraft:
    """What can be kept of an event that failed its schema check (learner hashed)."""
    learner = _text(record, "learner", learner_characters_max)
    quantity = record.get("quantity")
    return replace(
        base,
        vendor=_text(record, "vendor"),
        event_id=_text(record, "event_id"),
        product=_text(record, "product"),
        school=_text(record, "school"),
        learner_hash=learner_hash(learner_key, learner) if learner else None,
        role=_text(record, "role"),
        action=_text(record, "action"),
        item=_text(record, "item"),
        quantity=quantity if isinstance(quantity, int) and not isinstance(quantity, bool) else None,
        unit=_text(record, "unit"),
    )


def _event_fields(base: EntryDraft, event: UsageEvent, hashed_learner: bytes) -> EntryDraft:
    return replace(
        base,
        vendor=event.vendor,
        event_id=event.event_id,
        product=event.product,
        school=event.school,
        learner_hash=hashed_learner,
        role=event.role,
        action=event.action,
        item=event.item,
        quantity=event.quantity,
        unit=event.unit,
        occurred_at=event.occurred_at,
        period=period_of(event.occurred_at),
        content_digest=content_digest(event, hashed_learner),
    )


class PartitionDecider:
    """Decides the outcome of each message of one partition, in offset order."""

    def __init__(
        self,
        *,
        source_topic: str,
        learner_key: bytes,
        state: PartitionState,
        existing_accepted: Mapping[tuple[str, str], bytes],
        known_catalogue: Callable[[int], CatalogueVersion | None],
    ) -> None:
        self._topic = source_topic
        self._key = learner_key
        self._state = state
        self._existing = existing_accepted
        self._known_catalogue = known_catalogue
        self._index: AttributionIndex | None = (
            AttributionIndex(state.catalogue.catalogue) if state.catalogue else None
        )

    @property
    def state(self) -> PartitionState:
        return self._state

    def decide(self, decoded: Decoded) -> Outcome:
        message = decoded.message
        base = _blank(message, self._topic, self._state)
        name, record = decoded.schema_name, decoded.record
        if decoded.error is None and name == CATALOGUE_MARKER:
            return self._decide_catalogue(base, record)
        if decoded.error is None and name == CLOSE_MARKER:
            return Outcome(
                replace(
                    base,
                    kind=KIND_CLOSE,
                    reference=str(record["close_id"]),
                    period=str(record["period"]),
                )
            )
        return Outcome(self._decide_submission(base, decoded))

    def _decide_submission(self, base: EntryDraft, decoded: Decoded) -> EntryDraft:
        """Anything but a marker: screened (`screen_record`), then duplicates, attribution."""
        submitter = decoded.message.submitter
        name = decoded.schema_name
        if decoded.error is not None:
            screened = _Screened(None, _decode_rejection(decoded.error))
        elif name is None:
            raise InvariantViolation("a decoded message has a schema name")
        else:
            catalogue = self._state.catalogue.catalogue if self._state.catalogue else None
            screened = _screen(
                name, decoded.record, catalogue, decoded.message.received_at, submitter
            )
        if screened.rejection is not None:
            draft = self._rejected_fields(base, decoded, screened.event)
            if submitter is not None and submitter.vendor is not None:
                # A vendor's rejections are its own: listed for the vendor that sent them,
                # never for a vendor the message names (vendor_mismatch and broken events).
                draft = replace(draft, vendor=submitter.vendor)
            return _rejected(draft, screened.rejection)
        if screened.event is None:
            raise InvariantViolation("a screening without a rejection has an event")
        return self._decide_event(base, screened.event)

    def _rejected_fields(
        self, base: EntryDraft, decoded: Decoded, event: UsageEvent | None
    ) -> EntryDraft:
        """What a rejected submission's entry keeps: the event, or what can be read of it."""
        if event is not None:
            return _event_fields(base, event, learner_hash(self._key, event.learner))
        if decoded.error is not None:
            return base
        if decoded.schema_name == USAGE_EVENT:
            return _partial_fields(base, decoded.record, self._key)
        if decoded.schema_name == RAW_SUBMISSION:
            record = decoded.record
            return replace(base, vendor=_text(record, "vendor"), event_id=_text(record, "event_id"))
        return base

    def _decide_catalogue(self, base: EntryDraft, record: Mapping[str, object]) -> Outcome:
        version = record["version"]
        sha256 = record["sha256"]
        document = record["document"]
        if not (
            isinstance(version, int) and isinstance(sha256, str) and isinstance(document, bytes)
        ):
            raise InvariantViolation("catalogue marker has the wrong shape")
        known = self._known_catalogue(version)
        new: CatalogueVersion | None = None
        if known is None:
            catalogue = catalogue_from_canonical_json(document)
            invariant(
                catalogue_sha256(catalogue) == sha256,
                f"catalogue marker version {version}: document does not match its sha256",
            )
            known = new = CatalogueVersion(version, sha256, document, catalogue)
        invariant(known.sha256 == sha256, f"catalogue version {version} has two contents")
        self._state.catalogue = known
        self._index = AttributionIndex(known.catalogue)
        draft = replace(base, kind=KIND_CATALOGUE, catalogue_version=version, reference=sha256)
        return Outcome(draft, new_catalogue=new)

    def _decide_event(self, base: EntryDraft, event: UsageEvent) -> EntryDraft:
        """An event that passed screening: a duplicate, a conflict, or accepted and attributed."""
        hashed = learner_hash(self._key, event.learner)
        draft = _event_fields(base, event, hashed)
        catalogue = self._state.catalogue.catalogue if self._state.catalogue else None
        key = (event.vendor, event.event_id)
        previous = self._state.accepted.get(key) or self._existing.get(key)
        if previous is not None:
            if previous == draft.content_digest:
                return replace(draft, status=STATUS_DUPLICATE)
            return _rejected(
                draft,
                Rejection(
                    "conflicting_duplicate",
                    f"event {event.event_id} was accepted before with different content",
                ),
            )
        digest = draft.content_digest
        if catalogue is None or self._index is None or digest is None:
            raise InvariantViolation("an event passed its checks without a catalogue or digest")
        licence = self._index.attribute(
            event.vendor, event.product, event.school, event.occurred_at
        )
        self._state.accepted[key] = digest
        return replace(
            draft,
            status=STATUS_ACCEPTED,
            municipality=catalogue.municipality_of_school(event.school),
            licence_id=licence.id if licence else None,
        )


def decide_batch(decider: PartitionDecider, batch: Sequence[Decoded]) -> list[Outcome]:
    """Outcomes for messages of one partition in offset order (the writer ensures no holes)."""
    outcomes = []
    previous_offset: int | None = None
    for decoded in batch:
        offset = decoded.message.offset
        invariant(
            previous_offset is None or offset > previous_offset,
            f"partition {decoded.message.partition}: offsets out of order at {offset}",
        )
        previous_offset = offset
        outcomes.append(decider.decide(decoded))
    return outcomes
