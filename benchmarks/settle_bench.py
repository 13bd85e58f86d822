"""Time to settle a month of N events (goal: 1M < 10 s, 10M < 60 s on 2 cores).

Builds a ledger in a scratch database through the real write path (`append_entries`):
a catalogue marker per chain, N accepted events of October 2026 for the example
catalogue (attributed with the real `AttributionIndex`, learners hashed), then a close
marker per chain. Then times `issue_for_closing`: the SQL usage aggregation, the
pricing rules and recording the settlements, in one transaction, as `ledger settle`.

    .venv/bin/python -m benchmarks.settle_bench --events 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func

from infra.services import Endpoints, ensure_services
from ledger.app.settle import issue_for_closing
from ledger.demo.simulate import generate_events
from ledger.domain.attribution import AttributionIndex
from ledger.domain.catalogue import Catalogue
from ledger.domain.catalogue_canonical import canonical_catalogue_json, catalogue_sha256
from ledger.domain.catalogue_parse import load_catalogue_text
from ledger.domain.chain import EntryDraft
from ledger.domain.events import learner_hash
from ledger.domain.periods import period_of
from ledger.store.append import append_batch_entries_max, append_entries
from ledger.store.closings import closing_point
from ledger.store.databases import create_scratch_database, drop_database
from ledger.store.engine import create_ledger_engine
from ledger.store.migrate import migrate
from ledger.store.schema import catalogue_versions

CATALOGUE = Path(__file__).resolve().parents[1] / "examples" / "catalogue.yaml"
TOPIC = "ledger.bench.usage-events"
PERIOD = "2026-10"
CHAINS = 4
LEARNER_KEY = b"k" * 32


def _catalogue() -> Catalogue:
    return load_catalogue_text(CATALOGUE.read_text(encoding="utf-8"))


def chain_drafts(chain: int, events: int, seed: int) -> Iterator[EntryDraft]:
    catalogue = _catalogue()
    index = AttributionIndex(catalogue)
    sha = catalogue_sha256(catalogue)
    received = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    yield EntryDraft(
        kind="catalogue",
        source_topic=TOPIC,
        source_offset=0,
        received_at=received,
        catalogue_version=1,
        reference=sha,
    )
    offset = 1
    for event in generate_events(
        catalogue, period=PERIOD, count=events, seed=seed, id_prefix=f"c{chain}"
    ):
        occurred = datetime.fromisoformat(str(event["occurred_at"]))
        school, vendor, product = str(event["school"]), str(event["vendor"]), str(event["product"])
        licence = index.attribute(vendor, product, school, occurred)
        learner = learner_hash(LEARNER_KEY, str(event["learner"]))
        yield EntryDraft(
            kind="event",
            status="accepted",
            source_topic=TOPIC,
            source_offset=offset,
            received_at=received,
            vendor=vendor,
            event_id=str(event["event_id"]),
            product=product,
            school=school,
            municipality=catalogue.municipality_of_school(school),
            learner_hash=learner,
            role=str(event["role"]),
            action=str(event["action"]),
            item=str(event["item"]),
            quantity=int(str(event["quantity"])),
            unit=str(event["unit"]),
            occurred_at=occurred,
            period=period_of(occurred),
            licence_id=licence.id if licence else None,
            catalogue_version=1,
            content_digest=hashlib.sha256(str(event["event_id"]).encode()).digest(),
        )
        offset += 1
    yield EntryDraft(
        kind="close",
        source_topic=TOPIC,
        source_offset=offset,
        received_at=received,
        catalogue_version=1,
        reference=f"close-{PERIOD}",
        period=PERIOD,
    )


async def fill_chain(database_url: str, chain: int, events: int) -> None:
    engine = create_ledger_engine(database_url)
    try:
        batch: list[EntryDraft] = []
        for draft in chain_drafts(chain, events, seed=chain + 1):
            batch.append(draft)
            if len(batch) == append_batch_entries_max:
                async with engine.begin() as conn:
                    await append_entries(conn, chain, batch)
                batch = []
        if batch:
            async with engine.begin() as conn:
                await append_entries(conn, chain, batch)
    finally:
        await engine.dispose()


async def prepare(database_url: str) -> None:
    await migrate(database_url)
    catalogue = _catalogue()
    engine = create_ledger_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                catalogue_versions.insert().values(
                    version=1,
                    sha256=catalogue_sha256(catalogue),
                    document=canonical_catalogue_json(catalogue).decode(),
                    loaded_at=func.now(),
                )
            )
    finally:
        await engine.dispose()


async def time_settle(database_url: str) -> tuple[float, int]:
    engine = create_ledger_engine(database_url)
    try:
        await _analyze(database_url)
        started = time.perf_counter()
        async with engine.begin() as conn:
            point = await closing_point(conn, f"close-{PERIOD}", CHAINS)
            assert point is not None
            issued = await issue_for_closing(conn, point)
        return time.perf_counter() - started, len(issued)
    finally:
        await engine.dispose()


async def _analyze(database_url: str) -> None:
    """What autovacuum does shortly after a bulk load; a real month is loaded over weeks."""
    from sqlalchemy import text

    from ledger.store.engine import create_owner_engine

    owner = create_owner_engine(database_url)
    try:
        async with owner.connect() as conn:
            await conn.execute(text("ANALYZE ledger.entries"))
            await conn.commit()
    finally:
        await owner.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--fill-chain", nargs=3, help=argparse.SUPPRESS)  # worker mode
    args = parser.parse_args()
    if args.fill_chain:
        url, chain, events = args.fill_chain
        asyncio.run(fill_chain(url, int(chain), int(events)))
        return
    endpoints: Endpoints = ensure_services()
    database_url = asyncio.run(create_scratch_database(endpoints.database_url))
    try:
        asyncio.run(prepare(database_url))
        started = time.perf_counter()
        per_chain = args.events // CHAINS
        # one process per chain: both cores encode and hash while PostgreSQL copies
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.settle_bench",
                    "--fill-chain",
                    database_url,
                    str(chain),
                    str(per_chain),
                ],
                env=dict(os.environ),
            )
            for chain in range(CHAINS)
        ]
        if any(worker.wait() != 0 for worker in workers):
            raise SystemExit("filling the ledger failed")
        fill_s = time.perf_counter() - started
        print(f"ledger filled with {per_chain * CHAINS} events in {fill_s:.1f} s")
        seconds, settlements = asyncio.run(time_settle(database_url))
        print(
            f"settle {PERIOD}: {per_chain * CHAINS} events -> {settlements} settlements"
            f" in {seconds:.2f} s"
        )
    finally:
        if args.keep:
            print(f"kept {database_url}")
        else:
            asyncio.run(drop_database(endpoints.database_url, database_url))


if __name__ == "__main__":
    main()
