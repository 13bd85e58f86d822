"""`measure_period` (usage in SQL over `ledger.entries`) equals the pure reference.

For several seeds: random accepted events for the licences of the test catalogue plus a
few more (a `units` licence whose unit is not "access", access units billable for both
roles, a school-listed active_learners licence for both roles, a fixed_per_pupil licence
that must not be measured from events), with bursts of clicks whose gaps sit on both
sides of the 30-second double-click boundary (exactly 30 s included, equal timestamps
with different event ids ordered by code point), events of neighbouring periods and
unlicensed events. They are appended with `append_entries` to three chains, mixed with
entries that must not count (catalogue and close markers, duplicates, rejections).

Then for every period and several closing points (all, each chain cut in the middle,
a chain left out): licence by licence and buyer by buyer, quantity and per_school from
SQL equal `billing.metrics.measure_usage` over the same events as `BillableEvent`s, and
the unlicensed counts equal events and distinct learners per (municipality, vendor).
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from billing.metrics import measure_usage
from ledger.domain.attribution import AttributionIndex
from ledger.domain.catalogue import Catalogue
from ledger.domain.catalogue_canonical import catalogue_sha256
from ledger.domain.catalogue_parse import parse_catalogue
from ledger.domain.chain import EntryDraft
from ledger.domain.usage import BillableEvent, BuyerUsage, UnlicensedCount
from ledger.store.append import append_entries
from ledger.store.engine import create_ledger_engine
from ledger.store.migrate import migrate
from ledger.store.usage import Heads, measure_period

pytestmark = pytest.mark.integration

CATALOGUE_PATH = Path(__file__).parent / "catalogue.yaml"
OSLO = ZoneInfo("Europe/Oslo")
TOPIC = "ledger.test.usage-events"
CHAINS = (0, 1, 2)
SEEDS = tuple(range(1, 9))
bursts_per_seed = 500  # about 2000 accepted events per seed

FORLAG = "987654325"  # matte-1-7, norsk-1-7
APPEN = "912000001"  # eng-5-10
BEKKESTUA = "974626993"  # Bærum
EIKELI = "974000008"  # Bærum
HOFSTAD = "974000202"  # Asker

# Licences added to the test catalogue, so that every SQL path has something to do.
EXTRA_LICENCES = """
# units of a unit other than access: no double-click rule, both roles billable
- id: "L-PAGES"
  vendor: "987654325"
  products: ["norsk-1-7"]
  buyers: ["3201", "3203"]
  schools: all
  valid_from: "2026-08-01"
  valid_to: "2027-07-31"
  vat_rate: "0.25"
  billable_roles: [pupil, teacher]
  pricing: {metric: units, unit: page, unit_price: "0.10"}
# access units for both roles, Hofstad only, part of September and October
- id: "L-NORSK-ACCESS"
  vendor: "987654325"
  products: ["norsk-1-7"]
  buyers: ["3203"]
  schools: ["974000202"]
  valid_from: "2026-09-15"
  valid_to: "2026-10-20"
  vat_rate: "0.25"
  billable_roles: [teacher, pupil]
  pricing: {metric: units, unit: access, unit_price: "0.20"}
# active learners of both roles at Hofstad from October (beats L-JOINT there)
- id: "L-ENG-HOFSTAD"
  vendor: "912000001"
  products: ["eng-5-10"]
  buyers: ["3203"]
  schools: ["974000202"]
  valid_from: "2026-10-01"
  valid_to: "2027-07-31"
  vat_rate: "0.25"
  billable_roles: [pupil, teacher]
  pricing: {metric: active_learners, unit_price: "3.00"}
# fixed per pupil: covers events (so they are not unlicensed) but is not measured from them
- id: "L-FIXED"
  vendor: "987654325"
  products: ["norsk-1-7"]
  buyers: ["3201"]
  schools: ["974000008"]
  valid_from: "2026-10-15"
  valid_to: "2027-07-31"
  vat_rate: "0.25"
  pricing: {metric: fixed_per_pupil, unit_price: "1.00"}
"""


def extended_catalogue() -> Catalogue:
    document = yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))
    document["licences"] += yaml.safe_load(EXTRA_LICENCES)
    return parse_catalogue(document)


PRODUCTS = [(FORLAG, "matte-1-7"), (FORLAG, "norsk-1-7"), (APPEN, "eng-5-10")]
SCHOOLS = [BEKKESTUA, EIKELI, HOFSTAD]
LEARNERS = [hashlib.sha256(f"learner-{n}".encode()).digest() for n in range(5)]
ACTIONS = ["open", "read"]
ITEMS = ["kap-1", "kap-2"]
# First characters of event ids: case, digits, punctuation and non-ASCII, so that equal
# timestamps are ordered by code point (Python's order), not by a locale's collation.
ID_PREFIXES = ["a", "A", "b", "B", "z", "Z", "é", "Å", "ø", "_", "-", "0", "9", "~"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# Where bursts start: month edges in Oslo (CEST = UTC+2 until 25 October, CET after),
# licence validity edges, the DST change, and ordinary days.
ANCHORS = [
    utc("2026-07-31T21:59:20+00:00"),  # 31 July → 1 August (L-ALL, L-JOINT, L-PAGES)
    utc("2026-08-31T21:59:30+00:00"),  # 31 August → 1 September (L-SCHOOL)
    utc("2026-09-14T21:59:45+00:00"),  # 14 → 15 September (L-NORSK-ACCESS)
    utc("2026-09-30T21:59:40+00:00"),  # 30 September → 1 October (L-LATER, L-ENG-HOFSTAD)
    utc("2026-10-05T08:15:00+00:00"),
    utc("2026-10-05T08:15:00+00:00"),
    utc("2026-10-14T21:59:50+00:00"),  # 14 → 15 October (L-FIXED)
    utc("2026-10-20T21:59:30+00:00"),  # 20 → 21 October (L-NORSK-ACCESS ends)
    utc("2026-10-25T00:59:40+00:00"),  # clocks go back at 01:00 UTC
    utc("2026-10-31T22:59:30+00:00"),  # 31 October → 1 November
    utc("2026-11-11T12:00:00.123456+00:00"),
]
S = timedelta(seconds=1)
US = timedelta(microseconds=1)
# Gaps between clicks of one burst: around the 30-second boundary more than anywhere else.
GAPS = [
    timedelta(0),
    timedelta(0),
    US,
    S,
    15 * S,
    30 * S - US,
    30 * S,
    30 * S,
    30 * S,
    30 * S + US,
    31 * S,
    60 * S,
    60 * S + US,
    600 * S,
]


@dataclass(frozen=True)
class Generated:
    """One accepted event: its entry draft and what the reference rules see of it."""

    draft: EntryDraft

    @property
    def period(self) -> str:
        assert self.draft.period is not None
        return self.draft.period

    def billable(self) -> BillableEvent:
        d = self.draft
        assert d.licence_id and d.municipality and d.school and d.learner_hash and d.role
        assert d.product and d.action and d.item and d.quantity and d.unit and d.occurred_at
        assert d.event_id
        return BillableEvent(
            event_id=d.event_id,
            licence_id=d.licence_id,
            municipality=d.municipality,
            school=d.school,
            learner_hash=d.learner_hash,
            role=d.role,
            product=d.product,
            action=d.action,
            item=d.item,
            quantity=d.quantity,
            unit=d.unit,
            occurred_at=d.occurred_at,
        )


def oslo_month(moment: datetime) -> str:
    return moment.astimezone(OSLO).strftime("%Y-%m")


def generate_events(rng: random.Random, catalogue: Catalogue) -> list[Generated]:
    index = AttributionIndex(catalogue)
    events: list[Generated] = []
    for burst in range(bursts_per_seed):
        vendor, product = rng.choice(PRODUCTS)
        learner = rng.choice(LEARNERS)
        item, action = rng.choice(ITEMS), rng.choice(ACTIONS)
        home = rng.choice(SCHOOLS)
        moment = rng.choice(ANCHORS) + rng.choice([timedelta(0), 7 * S, 13 * US])
        for click in range(rng.randint(1, 7)):
            school = home if rng.random() < 0.8 else rng.choice(SCHOOLS)
            licence = index.attribute(vendor, product, school, moment)
            draft = EntryDraft(
                kind="event",
                status="accepted",
                source_topic=TOPIC,
                source_offset=0,  # assigned when the chains are laid out
                received_at=moment + 2 * S,
                vendor=vendor,
                event_id=f"{rng.choice(ID_PREFIXES)}{burst}.{click}",
                product=product,
                school=school,
                municipality=catalogue.municipality_of_school(school),
                learner_hash=learner,
                role="pupil" if rng.random() < 0.7 else "teacher",
                action=action,
                item=item,
                unit="access" if rng.random() < 0.7 else "page",
                quantity=rng.randint(1, 3),
                occurred_at=moment,
                period=oslo_month(moment),
                licence_id=licence.id if licence else None,
                catalogue_version=1,
                content_digest=hashlib.sha256(f"{vendor}/{burst}.{click}".encode()).digest(),
            )
            events.append(Generated(draft))
            moment += rng.choice(GAPS)
    return events


def noise(rng: random.Random, event: Generated) -> list[EntryDraft]:
    """Entries about an accepted event that must never count: a duplicate, a rejection."""
    draft = event.draft
    kinds = rng.choices(["none", "duplicate", "conflict"], weights=[8, 1, 1])[0]
    if kinds == "duplicate":
        return [replace(draft, status="duplicate", municipality=None, licence_id=None)]
    if kinds == "conflict":
        return [
            replace(
                draft,
                status="rejected",
                municipality=None,
                licence_id=None,
                quantity=(draft.quantity or 1) + 1,
                reason_code="conflicting_duplicate",
                reason_detail="accepted before with different content",
            )
        ]
    return []


def marker(kind: str, **fields: Any) -> EntryDraft:
    return EntryDraft(
        kind=kind,
        source_topic=TOPIC,
        source_offset=0,
        received_at=utc("2026-07-01T00:00:00+00:00"),
        catalogue_version=1,
        **fields,
    )


def lay_out(
    rng: random.Random, catalogue: Catalogue, events: Sequence[Generated]
) -> tuple[dict[int, list[EntryDraft]], list[tuple[int, int, Generated]]]:
    """Spread the events over the chains in a random arrival order, with noise in between.

    Returns the drafts per chain (offsets 0, 1, 2 …) and (chain, seq, event) per event.
    """
    chains: dict[int, list[EntryDraft]] = {
        chain: [marker("catalogue", reference=catalogue_sha256(catalogue))] for chain in CHAINS
    }
    placed: list[tuple[int, int, Generated]] = []
    for event in rng.sample(list(events), len(events)):
        chain = rng.choice(CHAINS)
        chains[chain].append(event.draft)
        placed.append((chain, len(chains[chain]), event))  # seq is 1-based
        chains[chain].extend(noise(rng, event))
        if rng.random() < 0.01:
            chains[chain].append(
                marker("close", reference=f"close-{rng.random()}", period="2026-09")
            )
    for chain, drafts in chains.items():
        chains[chain] = [
            replace(draft, source_offset=offset) for offset, draft in enumerate(drafts)
        ]
    return chains, placed


def reference_usage(
    catalogue: Catalogue, known: Sequence[Generated], period: str
) -> tuple[dict[str, dict[str, BuyerUsage]], dict[tuple[str, str], UnlicensedCount]]:
    in_period = [event for event in known if event.period == period]
    by_licence: dict[str, dict[str, BuyerUsage]] = {}
    for licence in catalogue.licences:
        covered = [e.billable() for e in in_period if e.draft.licence_id == licence.id]
        measured = measure_usage(licence, covered)
        if measured:
            by_licence[licence.id] = measured
    unlicensed_events: dict[tuple[str, str], int] = defaultdict(int)
    unlicensed_learners: dict[tuple[str, str], set[bytes]] = defaultdict(set)
    for event in in_period:
        d = event.draft
        if d.licence_id is None:
            assert d.municipality is not None and d.vendor is not None
            assert d.learner_hash is not None
            unlicensed_events[(d.municipality, d.vendor)] += 1
            unlicensed_learners[(d.municipality, d.vendor)].add(d.learner_hash)
    unlicensed = {
        key: UnlicensedCount(count, len(unlicensed_learners[key]))
        for key, count in unlicensed_events.items()
    }
    return by_licence, unlicensed


def closing_points(rng: random.Random, lengths: Mapping[int, int]) -> list[Heads]:
    """Everything; each chain cut somewhere in its middle (twice); one chain left out."""
    everything = {chain: length + 1 for chain, length in lengths.items()}
    cuts = [
        {chain: rng.randint(length // 4, 3 * length // 4) for chain, length in lengths.items()}
        for _ in range(2)
    ]
    without_first = {chain: end for chain, end in everything.items() if chain != CHAINS[0]}
    return [everything, *cuts, without_first]


def known_at(placed: Sequence[tuple[int, int, Generated]], heads: Heads) -> list[Generated]:
    return [event for chain, seq, event in placed if chain in heads and seq < heads[chain]]


def check_coverage(catalogue: Catalogue, events: Sequence[Generated]) -> None:
    """The generator must reach what the test is about, or the comparison proves little."""
    drafts = [event.draft for event in events]
    licences = {d.licence_id for d in drafts}
    assert licences >= {lic.id for lic in catalogue.licences} | {None}
    assert {d.role for d in drafts} == {"pupil", "teacher"}
    assert len({d.period for d in drafts}) >= 4
    groups: dict[tuple[Any, ...], list[EntryDraft]] = defaultdict(list)
    for d in drafts:
        groups[(d.licence_id, d.municipality, d.learner_hash, d.product, d.item, d.action)].append(
            d
        )
    gaps: set[timedelta] = set()
    for group in groups.values():
        ordered = sorted(group, key=lambda d: (d.occurred_at, d.event_id))
        for before, after in pairwise(ordered):
            assert before.occurred_at is not None and after.occurred_at is not None
            gaps.add(after.occurred_at - before.occurred_at)
    assert {timedelta(0), 30 * S, 30 * S + US, 30 * S - US} <= gaps


@pytest.mark.parametrize("seed", SEEDS)
async def test_sql_usage_equals_the_reference(fresh_database_url: str, seed: int) -> None:
    rng = random.Random(seed)
    catalogue = extended_catalogue()
    events = generate_events(rng, catalogue)
    check_coverage(catalogue, events)
    chains, placed = lay_out(rng, catalogue, events)
    await migrate(fresh_database_url)
    engine = create_ledger_engine(fresh_database_url)
    try:
        async with engine.begin() as conn:
            for chain, drafts in chains.items():
                appended = await append_entries(conn, chain, drafts)
                assert [entry.seq for entry in appended] == list(range(1, len(drafts) + 1))
        lengths = {chain: len(drafts) for chain, drafts in chains.items()}
        periods = sorted({event.period for event in events} | {"2026-06", "2027-01"})
        compared = 0
        async with engine.connect() as conn:
            for heads in closing_points(rng, lengths):
                known = known_at(placed, heads)
                for period in periods:
                    usage = await measure_period(conn, catalogue, period, heads)
                    by_licence, unlicensed = reference_usage(catalogue, known, period)
                    where = f"seed {seed}, period {period}, heads {heads}"
                    assert usage.period == period
                    assert set(usage.by_licence) == set(by_licence), where
                    for licence_id, buyers in by_licence.items():
                        assert dict(usage.by_licence[licence_id]) == buyers, (
                            f"{where}, licence {licence_id}"
                        )
                        compared += len(buyers)
                    assert dict(usage.unlicensed) == unlicensed, where
            # The filter by licence and without the unlicensed section.
            heads = {chain: length + 1 for chain, length in lengths.items()}
            only = await measure_period(
                conn, catalogue, "2026-10", heads, licence_ids={"L-JOINT"}, with_unlicensed=False
            )
            full, _ = reference_usage(catalogue, known_at(placed, heads), "2026-10")
            assert dict(only.by_licence) == {"L-JOINT": full["L-JOINT"]}
            assert dict(only.unlicensed) == {}
        assert compared > 50, "the comparisons must be about real usage"
    finally:
        await engine.dispose()
