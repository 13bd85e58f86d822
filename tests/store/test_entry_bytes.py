"""ledger.entry_bytes (SQL, used by verify) encodes like ledger/domain/chain.py (the writer).

Two independent implementations of one encoding: if they ever differ, verify would call
an intact ledger damaged (or, worse, agree with a wrong one), so they are compared on
hand-picked edge cases and on many random rows.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.domain.chain import GENESIS_HASH, EntryDraft, canonical_bytes
from ledger.store.append import ENTRY_COLUMNS
from ledger.store.migrate import migrate
from tests.store import superuser

pytestmark = pytest.mark.integration

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
# PostgreSQL text holds any Unicode except NUL; surrogates are not encodable as UTF-8.
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
MOMENTS = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-9, minutes=-30))]
    ),
)


@st.composite
def drafts(draw: st.DrawFn) -> EntryDraft:
    kind = draw(st.sampled_from(["event", "catalogue", "close"]))
    # Not 'accepted': its (vendor, event_id) must be unique, which random rows are not.
    status = draw(st.sampled_from(["duplicate", "rejected"])) if kind == "event" else None
    optional_text = st.none() | TEXT
    return EntryDraft(
        kind=kind,
        status=status,
        source_topic=draw(TEXT),
        source_offset=draw(st.integers(min_value=0, max_value=2**63 - 1)),
        received_at=draw(MOMENTS),
        vendor=draw(optional_text),
        event_id=draw(optional_text),
        product=draw(optional_text),
        school=draw(optional_text),
        municipality=draw(optional_text),
        learner_hash=draw(st.none() | st.binary(max_size=40)),
        role=draw(optional_text),
        action=draw(optional_text),
        item=draw(optional_text),
        unit=draw(optional_text),
        quantity=draw(st.none() | INT64),
        occurred_at=draw(st.none() | MOMENTS),
        period=draw(optional_text),
        licence_id=draw(optional_text),
        catalogue_version=draw(st.none() | INT32),
        content_digest=draw(st.none() | st.binary(max_size=40)),
        reason_code=draw(optional_text),
        reason_detail=draw(optional_text),
        reference=draw(optional_text),
    )


EDGE_CASES = [
    EntryDraft(kind="close", source_topic="", source_offset=0,
               received_at=datetime(1970, 1, 1, tzinfo=UTC)),
    EntryDraft(kind="event", status="rejected", source_topic="t", source_offset=2**63 - 1,
               received_at=datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
               vendor="", event_id="", learner_hash=b"", quantity=-(2**63),
               occurred_at=datetime(1, 1, 2, tzinfo=UTC), content_digest=b"\x00",
               catalogue_version=-(2**31), reason_detail="quantity −1 < 1 ✗ 🎒 Bærum\\x00'"),
    EntryDraft(kind="catalogue", source_topic="ledger.default.usage-events", source_offset=7,
               received_at=datetime(9999, 12, 30, 23, 59, 59, 999_999,
                                    tzinfo=timezone(timedelta(hours=-9))),
               reference="e\u0301 \u00e9 \ufeff \U0001f468\u200d\U0001f469",
               quantity=0, catalogue_version=2**31 - 1),
]  # fmt: skip


class Table:
    """Rows written straight into ledger.entries (no chaining: only the encoding matters)."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.chains = itertools.count()

    async def sql_and_python_bytes(self, drafts: Sequence[EntryDraft]) -> list[tuple[bytes, bytes]]:
        chain = next(self.chains)
        records = [
            (chain, seq, *(getattr(draft, name) for name in ENTRY_COLUMNS[2:-2]),
             GENESIS_HASH if seq == 1 else b"\x01" * 32, b"\x02" * 32)
            for seq, draft in enumerate(drafts, start=1)
        ]  # fmt: skip
        await self.connection.copy_records_to_table(
            "entries", schema_name="ledger", columns=ENTRY_COLUMNS, records=records
        )
        rows = await self.connection.fetch(
            "SELECT e.seq, ledger.entry_bytes(e) AS encoded FROM ledger.entries AS e"
            " WHERE e.chain = $1 ORDER BY e.seq",
            chain,
        )
        return [
            (row["encoded"], canonical_bytes(chain, row["seq"], draft))
            for row, draft in zip(rows, drafts, strict=True)
        ]


@pytest.fixture
async def table(fresh_database_url: str) -> AsyncIterator[Table]:
    await migrate(fresh_database_url)
    async with superuser(fresh_database_url) as connection:
        yield Table(connection)


async def test_edge_cases_encode_alike(table: Table) -> None:
    for sql_bytes, python_bytes in await table.sql_and_python_bytes(EDGE_CASES):
        assert sql_bytes == python_bytes


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batch=st.lists(
        drafts(),
        min_size=1,
        max_size=8,
        unique_by=lambda draft: (draft.source_topic, draft.source_offset),
    )
)
async def test_random_rows_encode_alike(table: Table, batch: list[EntryDraft]) -> None:
    for sql_bytes, python_bytes in await table.sql_and_python_bytes(batch):
        assert sql_bytes == python_bytes
