"""Tests of the stream adapters: streams/ (the writer, the batch handler, the app's files).

Shared helpers live here (not in a conftest) so each test module imports what it uses.
Raw messages are made the way producers make them: Avro by `schemas.codec.encode`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ledger.domain.catalogue_canonical import canonical_catalogue_json, catalogue_sha256
from ledger.domain.catalogue_parse import load_catalogue_text
from ledger.domain.processing import RawMessage
from schemas.codec import encode

CATALOGUE_PATH = Path(__file__).resolve().parents[1] / "integration" / "catalogue.yaml"
SOURCE_TOPIC = "ledger.test.usage-events"
LEARNER_KEY = bytes(range(32))
RECEIVED_MS = int(datetime(2026, 10, 5, 9, 0, tzinfo=UTC).timestamp() * 1000)
FORLAG = "987654325"
BEKKESTUA = "974626993"
UNKNOWN_SCHOOL = "974999999"


def catalogue_marker(partition: int, offset: int) -> RawMessage:
    """Version 1 of the test catalogue, as `ledger catalogue load` sends it."""
    catalogue = load_catalogue_text(CATALOGUE_PATH.read_text(encoding="utf-8"))
    value = encode(
        "no.ledger.CatalogueMarker",
        {
            "version": 1,
            "sha256": catalogue_sha256(catalogue),
            "document": canonical_catalogue_json(catalogue),
        },
    )
    return RawMessage(partition, offset, RECEIVED_MS, value)


def usage_event(
    partition: int, offset: int, event_id: str | None = None, *, school: str = BEKKESTUA
) -> RawMessage:
    """A pupil opening a chapter at Bekkestua (licensed), or at `school`."""
    record = {
        "event_id": event_id or f"e-{partition}-{offset:06d}",
        "vendor": FORLAG,
        "product": "matte-1-7",
        "school": school,
        "learner": f"feide-{offset % 3}",
        "role": "pupil",
        "action": "open",
        "item": "kap-3",
        "quantity": 1,
        "unit": "access",
        "occurred_at": "2026-10-05T08:15:00Z",
    }
    return RawMessage(partition, offset, RECEIVED_MS, encode("no.ledger.UsageEvent", record))


def raw_log(partition: int, count: int) -> list[RawMessage]:
    """The catalogue marker at offset 0, then usage events at offsets 1 .. count - 1."""
    return [
        catalogue_marker(partition, 0),
        *(usage_event(partition, offset) for offset in range(1, count)),
    ]
