"""Ingestion through the real broker and database: every event gets exactly one outcome."""

from __future__ import annotations

import subprocess

import pytest

from ledger.app.workspace import Workspace
from tests.integration.conftest import event, load_catalogue, process, query, send_events
from tests.superuser import superuser_url

pytestmark = pytest.mark.integration


async def test_every_event_is_accepted_ignored_or_rejected_with_a_reason(workspace: Workspace):
    await load_catalogue(workspace)
    events = [
        event("ok-1"),
        event("bad-vendor", vendor="999999999"),
        event("bad-product", product="eng-5-10"),
        event("bad-school", school="974000105"),
        event("bad-quantity", quantity=0),
        event("future", occurred_at="2099-01-01T00:00:00Z"),
        event("naive-time", occurred_at="2026-10-05T08:15:00"),
        event("bad-role", role="parent"),
        event("ok-1"),  # identical duplicate
        event("ok-1", item="kap-2"),  # same id, different content
        event("ok-2", occurred_at="2026-10-05T10:15:00+02:00"),
        event("ok-2", occurred_at="2026-10-05T08:15:00Z"),  # same instant: a duplicate
    ]
    sent = await send_events(workspace, events)
    assert sent == len(events)
    await process(workspace)
    rows = await query(
        workspace,
        "SELECT event_id, status, reason_code FROM ledger.entries WHERE kind = 'event'"
        " ORDER BY chain, seq",
    )
    assert len(rows) == len(events), "one entry per message, none lost"
    by_id: dict[str, list[tuple[str, str | None]]] = {}
    for row in rows:
        by_id.setdefault(row.event_id, []).append((row.status, row.reason_code))
    assert by_id["ok-1"] == [
        ("accepted", None),
        ("duplicate", None),
        ("rejected", "conflicting_duplicate"),
    ]
    assert by_id["ok-2"] == [("accepted", None), ("duplicate", None)]
    assert by_id["bad-vendor"] == [("rejected", "unknown_vendor")]
    assert by_id["bad-product"] == [("rejected", "unknown_product")]
    assert by_id["bad-school"] == [("rejected", "unknown_school")]
    assert by_id["bad-quantity"] == [("rejected", "invalid_quantity")]
    assert by_id["future"] == [("rejected", "occurred_in_future")]
    assert by_id["naive-time"] == [("rejected", "schema_violation")]
    assert by_id["bad-role"] == [("rejected", "schema_violation")]


async def test_malformed_lines_from_a_file_are_rejected_not_dropped(workspace: Workspace, tmp_path):
    from streams.ingest import read_submissions, send_submissions

    await load_catalogue(workspace)
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"event_id": "x1", "vendor": "987654325"\n'  # broken JSON
        "[1, 2, 3]\n"  # not an object
        '{"event_id": "x2", "vendor": "987654325", "quantity": "one"}\n'  # missing + wrong type
        "\n"
    )
    sent = await send_submissions(
        workspace.kafka_ingest, workspace.topics.raw, read_submissions(path)
    )
    assert sent == 3
    await process(workspace)
    rows = await query(
        workspace,
        "SELECT event_id, reason_code FROM ledger.entries WHERE kind = 'event' ORDER BY seq",
    )
    codes = sorted((row.event_id or "", row.reason_code) for row in rows)
    assert codes == [("", "malformed"), ("", "malformed"), ("x2", "schema_violation")]


async def test_duplicates_and_conflicts_across_separate_ingests(workspace: Workspace):
    await load_catalogue(workspace)
    await send_events(workspace, [event("d-1"), event("d-2")])
    await process(workspace)
    await send_events(workspace, [event("d-1"), event("d-2", learner="someone-else")])
    await process(workspace)
    rows = await query(
        workspace,
        "SELECT event_id, status, reason_code FROM ledger.entries WHERE kind = 'event'"
        " ORDER BY received_at, event_id",
    )
    assert [(r.event_id, r.status, r.reason_code) for r in rows] == [
        ("d-1", "accepted", None),
        ("d-2", "accepted", None),
        ("d-1", "duplicate", None),
        ("d-2", "rejected", "conflicting_duplicate"),
    ]


async def test_attribution_precedence_and_oslo_month_edges(workspace: Workspace):
    await load_catalogue(workspace)
    events = [
        # September at Eikeli: only L-ALL covers it
        event("a-sep", occurred_at="2026-09-15T08:00:00Z"),
        # 30 Sep 22:30 UTC is 1 October 00:30 in Oslo: L-LATER (later valid_from) wins
        event("a-edge", occurred_at="2026-09-30T22:30:00Z"),
        # 30 Sep 21:59 UTC is still 30 September in Oslo: L-ALL
        event("a-before", occurred_at="2026-09-30T21:59:00Z"),
        # Bekkestua in October: the school list (L-SCHOOL) beats both `all` licences
        event("a-school", school="974626993", occurred_at="2026-10-10T09:00:00Z"),
        # July 2026, before every licence: unlicensed, still accepted
        event("a-unlicensed", occurred_at="2026-07-15T09:00:00Z"),
        # the October DST night: 02:30 local happens twice; both are October
        event("a-dst-1", occurred_at="2026-10-25T00:30:00Z"),
        event("a-dst-2", occurred_at="2026-10-25T01:30:00Z"),
        # 31 Oct 23:30 UTC is 1 November in Oslo
        event("a-nov", occurred_at="2026-10-31T23:30:00Z"),
    ]
    await send_events(workspace, events)
    await process(workspace)
    rows = await query(
        workspace,
        "SELECT event_id, status, licence_id, period, municipality FROM ledger.entries"
        " WHERE kind = 'event'",
    )
    found = {r.event_id: (r.status, r.licence_id, r.period) for r in rows}
    assert found == {
        "a-sep": ("accepted", "L-ALL", "2026-09"),
        "a-edge": ("accepted", "L-LATER", "2026-10"),
        "a-before": ("accepted", "L-ALL", "2026-09"),
        "a-school": ("accepted", "L-SCHOOL", "2026-10"),
        "a-unlicensed": ("accepted", None, "2026-07"),
        "a-dst-1": ("accepted", "L-LATER", "2026-10"),
        "a-dst-2": ("accepted", "L-LATER", "2026-10"),
        "a-nov": ("accepted", "L-LATER", "2026-11"),
    }
    assert {r.municipality for r in rows} == {"3201"}


async def test_learner_ids_never_reach_the_database(workspace: Workspace):
    await load_catalogue(workspace)
    secret_learners = [f"feide:secret-learner-{n}@example.no" for n in range(5)]
    events = [event(f"p-{n}", learner=learner) for n, learner in enumerate(secret_learners)] + [
        event("p-bad", learner=secret_learners[0], quantity=0),  # rejected keeps no raw id
        event("p-bad-2", learner=secret_learners[1], role="parent"),
    ]
    await send_events(workspace, events)
    await process(workspace)
    url = superuser_url(workspace.database_url).replace("postgresql+asyncpg://", "postgresql://")
    dump = subprocess.run(
        [_pg_dump(), "--data-only", "--dbname", url], capture_output=True, check=True
    ).stdout
    assert b"secret-learner" not in dump
    assert b"p-bad-2" in dump, "the dump does hold the events (so the check above can fail)"


def _pg_dump() -> str:
    from pathlib import Path

    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))
    assert candidates, "pg_dump not installed"
    return str(candidates[-1])


async def test_vendors_read_their_rejections_with_reasons(workspace: Workspace):
    from ledger.app.rejections import rejected_events
    from ledger.store.engine import create_ledger_engine

    await load_catalogue(workspace)
    await send_events(
        workspace,
        [
            event("r-ok"),
            event("r-zero", quantity=0, learner="feide:very-secret"),
            event("r-other", vendor="912000001", product="eng-5-10", school="974999999"),
        ],
    )
    await process(workspace)
    engine = create_ledger_engine(workspace.database_url)
    try:
        async with engine.connect() as conn:
            ours = await rejected_events(conn, "987654325", None, 100)
            everyone = await rejected_events(conn, None, None, 100)
    finally:
        await engine.dispose()
    assert [(r.event_id, r.reason_code) for r in ours] == [("r-zero", "invalid_quantity")]
    assert ours[0].explanation, "a sentence the vendor can act on"
    assert "very-secret" not in repr(ours)
    assert {r.event_id for r in everyone} == {"r-zero", "r-other"}


async def test_rejections_are_published_to_the_rejected_topic(workspace: Workspace):
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from schemas.codec import decode

    await load_catalogue(workspace)
    await send_events(workspace, [event("t-ok"), event("t-bad", school="974999999")])
    await process(workspace)
    consumer = AIOKafkaConsumer(
        **workspace.kafka_admin.client_options(),  # the vendors' reader; admin in this test
        enable_auto_commit=False,
        group_id=f"{workspace.name}-test",
    )
    await consumer.start()
    try:
        tps = [TopicPartition(workspace.topics.rejected, p) for p in range(4)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        found = []
        for _ in range(20):
            batch = await consumer.getmany(timeout_ms=500)
            found += [decode(m.value)[1] for messages in batch.values() for m in messages]
            if found:
                break
    finally:
        await consumer.stop()
    assert [(r["event_id"], r["reason_code"]) for r in found] == [("t-bad", "unknown_school")]
    assert found[0]["original"], "the vendor gets its original message back"


async def test_verify_finds_a_changed_catalogue_version(workspace: Workspace):
    from sqlalchemy import text

    from ledger.store.engine import create_owner_engine
    from ledger.store.verify import verify_ledger

    await load_catalogue(workspace)
    await send_events(workspace, [event("c-1")])
    await process(workspace)
    assert (await verify_ledger(workspace.database_url)).ok
    owner = create_owner_engine(superuser_url(workspace.database_url))
    try:
        async with owner.begin() as conn:  # a superuser going behind the triggers' back
            await conn.execute(text("ALTER TABLE ledger.catalogue_versions DISABLE TRIGGER ALL"))
            await conn.execute(
                text(
                    "UPDATE ledger.catalogue_versions"
                    " SET document = replace(document, '\"10\"', '\"1\"')"
                )
            )
            await conn.execute(text("ALTER TABLE ledger.catalogue_versions ENABLE TRIGGER ALL"))
    finally:
        await owner.dispose()
    report = await verify_ledger(workspace.database_url)
    assert not report.ok
    assert report.first_damage is not None and "catalogue version 1" in report.first_damage
