"""The API screens a well-typed event as the record it holds, without decoding its own
message: that is only sound if the stream decodes exactly that record from the bytes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.events import EVENT_FIELDS
from schemas.codec import USAGE_EVENT, decode
from streams.ingest import event_submission, submission_for_record, usage_event_record

texts = st.text(max_size=40)
values = st.one_of(texts, st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False))


@st.composite
def records(draw: st.DrawFn) -> dict[str, object]:
    record: dict[str, object] = {
        name: draw(st.integers(min_value=-(2**70), max_value=2**70))
        if name == "quantity"
        else draw(texts)
        for name in EVENT_FIELDS
    }
    for name in draw(st.sets(st.sampled_from(EVENT_FIELDS), max_size=2)):
        record[name] = draw(values)
    if draw(st.booleans()):
        record["extra"] = draw(values)
    return record


@given(records())
def test_the_record_screened_is_the_record_the_stream_decodes(record: dict[str, object]) -> None:
    event = usage_event_record(record)
    submission = event_submission(event) if event is not None else None
    full = submission_for_record(record, b"{}")
    if submission is None:
        # Not a well-typed event (or not encodable): the API decodes the raw submission.
        name, _ = decode(full.value)
        assert event is None or name != USAGE_EVENT
        return
    assert submission == full
    assert decode(submission.value) == (USAGE_EVENT, event)
