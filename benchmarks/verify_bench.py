"""Throughput of `verify_ledger` on a synthetic ledger (default 1,000,000 entries).

Creates a scratch database on the server, appends synthetic entries through
`append_entries` (the real write path: Python encoding, advisory lock, COPY) in
batches, then times `verify_ledger`, and drops the database again (unless --keep).

    .venv/bin/python -m benchmarks.verify_bench \\
        --server-url postgresql+asyncpg://postgres@127.0.0.1:55432/postgres

--server-url defaults to LEDGER_DATABASE_URL. To time verify again on a kept ledger:
--database-url postgresql+asyncpg://…/verify_bench_… --verify-only.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.app.catalogue_load import read_catalogue_file
from ledger.domain.catalogue_canonical import canonical_catalogue_json, catalogue_sha256
from ledger.domain.chain import EntryDraft
from ledger.store.append import append_batch_entries_max, append_entries
from ledger.store.engine import asyncpg_dsn, create_ledger_engine
from ledger.store.migrate import migrate
from ledger.store.schema import catalogue_versions
from ledger.store.verify import verify_ledger

bench_entries_default = 1_000_000
bench_chains_default = 4
bench_batch_entries = append_batch_entries_max
bench_seed = 20261005
EXAMPLE_CATALOGUE = Path(__file__).resolve().parents[1] / "examples" / "catalogue.yaml"

SOURCE_TOPIC = "ledger.bench.usage-events"
PRODUCTS = ("matte-1-7", "norsk-1-4", "engelsk-5-7", "naturfag-8-10")
SCHOOLS = tuple(f"97462{number:04d}" for number in range(200))
ACTIONS = ("open", "complete", "answer")


def synthetic_drafts(
    chain: int, count: int, seed: int, catalogue_sha256: str
) -> Iterator[EntryDraft]:
    """A plausible partition: a catalogue marker, then events (some duplicate or rejected)."""
    rng = random.Random(seed * 1000 + chain)
    start = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)
    for offset in range(count):
        received_at = start + timedelta(milliseconds=offset * 37 + rng.randrange(30))
        if offset == 0:
            yield EntryDraft(
                kind="catalogue",
                source_topic=SOURCE_TOPIC,
                source_offset=offset,
                received_at=received_at,
                catalogue_version=1,
                reference=catalogue_sha256,
            )
            continue
        learner = rng.randrange(50_000)
        occurred_at = received_at - timedelta(seconds=rng.randrange(600))
        draw = rng.random()
        status = "accepted" if draw < 0.92 else "duplicate" if draw < 0.97 else "rejected"
        yield EntryDraft(
            kind="event",
            status=status,
            source_topic=SOURCE_TOPIC,
            source_offset=offset,
            received_at=received_at,
            vendor="987654325",
            event_id=f"e-{chain}-{offset:09d}",
            product=rng.choice(PRODUCTS),
            school=rng.choice(SCHOOLS),
            municipality="3201",
            learner_hash=hashlib.sha256(f"learner-{learner}".encode()).digest(),
            role="pupil" if rng.random() < 0.9 else "teacher",
            action=rng.choice(ACTIONS),
            item=f"kap-{rng.randrange(1, 12)}",
            unit="access",
            quantity=1,
            occurred_at=occurred_at,
            period="2026-10",
            licence_id="L-2026-001" if rng.random() < 0.95 else None,
            catalogue_version=1,
            content_digest=hashlib.sha256(f"{chain}/{offset}".encode()).digest(),
            reason_code="quantity_below_one" if status == "rejected" else None,
            reason_detail="quantity must be at least 1" if status == "rejected" else None,
        )


async def store_example_catalogue(engine: AsyncEngine) -> str:
    """Catalogue version 1 (the example catalogue), which every chain's marker names."""
    catalogue = read_catalogue_file(EXAMPLE_CATALOGUE)
    sha256 = catalogue_sha256(catalogue)
    async with engine.begin() as conn:
        await conn.execute(
            catalogue_versions.insert().values(
                version=1,
                sha256=sha256,
                document=canonical_catalogue_json(catalogue).decode(),
                loaded_at=func.now(),
            )
        )
    return sha256


async def fill_ledger(database_url: str, entries: int, chains: int) -> float:
    """Append `entries` synthetic entries over `chains` chains; seconds taken."""
    engine = create_ledger_engine(database_url)
    started = time.perf_counter()
    try:
        catalogue_sha256 = await store_example_catalogue(engine)
        per_chain = [
            entries // chains + (1 if chain < entries % chains else 0) for chain in range(chains)
        ]
        generators = [
            synthetic_drafts(chain, per_chain[chain], bench_seed, catalogue_sha256)
            for chain in range(chains)
        ]
        remaining = list(per_chain)
        while any(remaining):
            for chain in range(chains):
                size = min(bench_batch_entries, remaining[chain])
                if size == 0:
                    continue
                batch = [next(generators[chain]) for _ in range(size)]
                async with engine.begin() as conn:
                    await append_entries(conn, chain, batch)
                remaining[chain] -= size
            done = entries - sum(remaining)
            print(f"\r  appended {done:,} / {entries:,}", end="", flush=True)
        print()
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def create_database(server_url: str) -> str:
    name = f"verify_bench_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await connection.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    finally:
        await connection.close()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(server_url: str, database_url: str) -> None:
    name = make_url(database_url).database
    connection = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def time_verify(database_url: str, repeats: int) -> bool:
    """Time `repeats` runs; False when a run found damage (the figure then means nothing)."""
    intact = True
    for attempt in range(1, repeats + 1):
        started = time.perf_counter()
        report = await verify_ledger(database_url)
        elapsed = time.perf_counter() - started
        rate = report.entries_checked / elapsed if elapsed else 0.0
        print(
            f"  verify #{attempt}: {report.entries_checked:,} entries in {report.chains} chains"
            f" in {elapsed:.2f} s = {rate:,.0f} entries/s; ok={report.ok}"
        )
        if not report.ok:
            print(f"  first damage: {report.first_damage}")
            intact = False
    return intact


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server-url", default=os.environ.get("LEDGER_DATABASE_URL"))
    parser.add_argument("--database-url", help="an existing bench database (with --verify-only)")
    parser.add_argument("--entries", type=int, default=bench_entries_default)
    parser.add_argument("--chains", type=int, default=bench_chains_default)
    parser.add_argument("--repeats", type=int, default=3, help="verify runs to time")
    parser.add_argument("--verify-only", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    arguments = parser.parse_args()

    if arguments.verify_only:
        if not arguments.database_url:
            parser.error("--verify-only needs --database-url")
        if not await time_verify(arguments.database_url, arguments.repeats):
            raise SystemExit(1)
        return
    if not arguments.server_url:
        parser.error("give --server-url or set LEDGER_DATABASE_URL")
    database_url = await create_database(arguments.server_url)
    print(f"database: {database_url}")
    try:
        await migrate(database_url)
        seconds = await fill_ledger(database_url, arguments.entries, arguments.chains)
        print(
            f"  append: {arguments.entries:,} entries in {seconds:.1f} s"
            f" = {arguments.entries / seconds:,.0f} entries/s"
        )
        intact = await time_verify(database_url, arguments.repeats)
    finally:
        if not arguments.keep:
            await drop_database(arguments.server_url, database_url)
    if not intact:
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
