"""The partnership generator: what the demo and the pages rely on, without any service."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.demo.partnership import (
    Demo,
    DemoSettings,
    autumn_holiday,
    events_per_file_max,
    generate,
    read_manifest,
    write_demo,
)
from ledger.demo.partnership_catalogue import MUNICIPALITIES, mid_month_end
from ledger.domain.catalogue_parse import load_catalogue_text, parse_catalogue
from ledger.domain.events import REASON_CODES
from ledger.domain.periods import OSLO

small = DemoSettings(seed=7, events=4_000)


@cache
def small_demo() -> Demo:
    return generate(small)


def all_events(demo: Demo) -> list[tuple[str, object]]:
    """(the part it is sent with, the event) in sending order."""
    return [(part, e) for (part, _), events in sorted(demo.batches.items()) for e in events]


def is_bad(event: object) -> bool:
    """Bad events are junk, carry a fresh id ending -x<n>, or reuse an id with item kap-99."""
    if not isinstance(event, dict):
        return True
    return "-x" in str(event["event_id"]) or event["item"] == "kap-99"


def good_events(demo: Demo) -> list[dict[str, object]]:
    """The usage events: no bad ones, each id once."""
    seen: dict[tuple[object, object], dict[str, object]] = {}
    for _, event in all_events(demo):
        if isinstance(event, dict) and not is_bad(event):
            seen.setdefault((event["vendor"], event["event_id"]), event)
    return list(seen.values())


def oslo(event: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(event["occurred_at"])).astimezone(OSLO)


def test_the_same_seed_gives_the_same_demo_and_another_seed_another() -> None:
    again = generate(DemoSettings(seed=7, events=4_000))
    assert again.batches == small_demo().batches
    assert again.catalogue == small_demo().catalogue
    other = generate(DemoSettings(seed=8, events=4_000))
    assert other.batches != small_demo().batches


def test_the_catalogue_loads_with_every_kind_of_licence() -> None:
    catalogue = parse_catalogue(small_demo().catalogue)  # the domain's own validation
    ids = {m.id for m in catalogue.municipalities}
    assert ids == {"3201", "0301", "3203", "3909", "3303", "3301", "4005"}
    pupils = {m.id: sum(s.pupils for s in m.schools) for m in catalogue.municipalities}
    assert pupils == {m.id: m.pupils for m in MUNICIPALITIES}
    assert 85_000 <= pupils["0301"] <= 95_000
    assert 4 <= len(catalogue.vendors) <= 6
    pricing = [(lic, lic.pricing) for lic in catalogue.licences]
    assert {p.metric for _, p in pricing} == {"active_learners", "units", "fixed_per_pupil"}
    assert {p.unit for _, p in pricing if p.metric == "units"} >= {
        "login",
        "activity",
        "minute",
        "access",
    }
    assert any(p.tiers for _, p in pricing)
    assert any(p.monthly_cap is not None for _, p in pricing)
    assert any(p.max_per_pupil is not None for _, p in pricing)
    joint = [lic for lic in catalogue.licences if len(lic.buyers) > 1]
    assert {lic.split for lic in joint} == {"usage", "population"}
    assert any(lic.valid_to == date.fromisoformat(mid_month_end) for lic in catalogue.licences)
    assert any(lic.schools != "all" for lic in catalogue.licences)


def test_the_written_catalogue_file_is_the_same_catalogue(tmp_path: Path) -> None:
    write_demo(small_demo(), small, tmp_path)
    from_file = load_catalogue_text((tmp_path / "catalogue.yaml").read_text(encoding="utf-8"))
    assert from_file == parse_catalogue(small_demo().catalogue)


def test_a_product_is_used_that_no_licence_covers() -> None:
    catalogue = parse_catalogue(small_demo().catalogue)
    licensed = {p for lic in catalogue.licences for p in lic.products}
    used = {e["product"] for e in good_events(small_demo())}
    assert used - licensed, "the demo needs unlicensed use"


def test_use_follows_the_school_day_and_the_holiday_week_is_quiet() -> None:
    events = good_events(small_demo())
    times = [oslo(e) for e in events]
    weekday = [t for t in times if t.weekday() < 5]
    assert all(8 <= t.hour < 15 for t in weekday if not _holiday(t.date()))
    weekend = len(times) - len(weekday)
    assert 0 < weekend < 0.02 * len(times)
    per_day = Counter(t.date() for t in weekday)
    school_day_mean = sum(n for d, n in per_day.items() if not _holiday(d)) / 41
    holiday_days = [per_day.get(d, 0) for d in per_day if _holiday(d)]
    assert max(holiday_days, default=0) < 0.05 * school_day_mean
    assert {t.strftime("%Y-%m") for t in times} == {"2026-09", "2026-10"}


def _holiday(day: date) -> bool:
    return autumn_holiday[0] <= day <= autumn_holiday[1]


def test_learner_ids_are_pseudonymous() -> None:
    learners = {str(e["learner"]) for e in good_events(small_demo())}
    assert all(learner.endswith("@feide.no") and len(learner) == 33 for learner in learners)


def test_duplicates_late_and_bad_events_are_as_configured() -> None:
    demo = small_demo()
    events = all_events(demo)
    assert len(events) == small.events == demo.counts.total
    copies = Counter(json.dumps(e, sort_keys=True) for _, e in events if isinstance(e, dict))
    assert sum(n - 1 for n in copies.values()) == demo.counts.duplicates
    assert demo.counts.duplicates == round(small.events * small.duplicate_share)
    late = {
        (e["vendor"], e["event_id"])
        for part, e in events
        if isinstance(e, dict) and part == "2026-10-late" and oslo(e).month == 9 and not is_bad(e)
    }
    assert len(late) == demo.counts.late > 0
    assert demo.counts.bad == {code: small.bad_per_reason for code in REASON_CODES}
    assert demo.counts.double_clicks > 0


def test_every_file_is_a_request_body_within_the_api_limit(tmp_path: Path) -> None:
    write_demo(small_demo(), small, tmp_path)
    manifest = read_manifest(tmp_path)
    files = manifest["files"]
    assert isinstance(files, list)
    total = 0
    for item in files:
        body = json.loads(gzip.decompress((tmp_path / item["path"]).read_bytes()))
        assert isinstance(body, list) and len(body) == item["events"] <= events_per_file_max
        total += len(body)
    assert total == small.events
    assert {item["part"] for item in files} == {"2026-09", "2026-10", "2026-10-late"}


@settings(max_examples=5)
@given(seed=st.integers(0, 10_000), events=st.integers(300, 1_500))
def test_any_seed_and_size_adds_up(seed: int, events: int) -> None:
    demo = generate(DemoSettings(seed=seed, events=events))
    assert demo.counts.total == events == sum(len(b) for b in demo.batches.values())
    by_id: dict[tuple[object, object], set[str]] = {}
    for _, event in all_events(demo):
        if isinstance(event, dict) and not is_bad(event):
            key = (event["vendor"], event["event_id"])
            by_id.setdefault(key, set()).add(json.dumps(event, sort_keys=True))
    # a resent event is the identical event: only bad events reuse an id differently
    assert all(len(contents) == 1 for contents in by_id.values())
    catalogue = parse_catalogue(demo.catalogue)
    assert all(
        Decimal(lic.vat_rate) in (Decimal("0"), Decimal("0.25")) for lic in catalogue.licences
    )
