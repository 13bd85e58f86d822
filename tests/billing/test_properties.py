"""Properties (CONTRACT 5.4, 5.6, 5.8, 5.9) over generated events and licences.

- Usage and charges do not depend on event order or on how events were batched.
- The double-click rule agrees with an independent formulation of it: an event adds
  nothing exactly when some earlier event of its group is at most 30 s before it.
- Shares always add up to the licence amount.
- Original issue + every adjustment = a fresh computation with every event.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.metrics import measure_usage
from billing.pricing import charge_licence
from billing.settlement import Settlement, settle_period
from ledger.domain.catalogue import Licence, Metric, Pricing
from ledger.domain.usage import BillableEvent, BuyerUsage, IssuedLine, PeriodUsage
from tests.billing import (
    BAERUM,
    BEKKESTUA,
    EIKSMARKA,
    OSLO_KOMMUNE,
    OSLO_SCHOOL,
    catalogue,
    event,
    licence,
    tiers,
)

BASE = "2026-10-05T08:00:00Z"
EVENT_METRICS: list[Metric] = ["active_learners", "units"]


@st.composite
def pricings(draw: st.DrawFn) -> Pricing:
    metric: Metric = draw(st.sampled_from(EVENT_METRICS))
    unit = draw(st.sampled_from(["access", "page"])) if metric == "units" else None
    if draw(st.booleans()):
        price = draw(st.sampled_from(["12.50", "0.125", "1.00", "0.33"]))
        max_per_pupil = draw(st.sampled_from([None, "0.50", "2.00"]))
        return Pricing(
            metric=metric,
            unit=unit,
            unit_price=Decimal(price),
            monthly_cap=draw(st.sampled_from([None, Decimal("7.77"), Decimal("40.00")])),
            max_per_pupil=None if max_per_pupil is None else Decimal(max_per_pupil),
        )
    return Pricing(
        metric=metric,
        unit=unit,
        tiers=tiers((3, "5.00"), (10, "2.50"), (None, "0.99")),
        monthly_cap=draw(st.sampled_from([None, Decimal("13.13")])),
    )


@st.composite
def licences(draw: st.DrawFn) -> Licence:
    return licence(
        buyers=(BAERUM, OSLO_KOMMUNE),
        pricing=draw(pricings()),
        billable_roles=draw(st.sampled_from([("pupil",), ("pupil", "teacher")])),
        split=draw(st.sampled_from(["usage", "population"])),
    )


@st.composite
def event_lists(draw: st.DrawFn) -> list[BillableEvent]:
    """Events of one licence in October 2026, dense enough in time to make double-clicks."""
    count = draw(st.integers(min_value=0, max_value=30))
    events = []
    for index in range(count):
        offset = timedelta(
            seconds=draw(st.integers(min_value=0, max_value=150)),
            microseconds=draw(st.sampled_from([0, 1, 500000])),
        )
        template = event(
            f"e-{index:03d}",
            learner=draw(st.sampled_from("abc")),
            school=draw(st.sampled_from([BEKKESTUA, EIKSMARKA, OSLO_SCHOOL])),
            role=draw(st.sampled_from(["pupil", "pupil", "teacher"])),
            item=draw(st.sampled_from(["k1", "k2"])),
            unit=draw(st.sampled_from(["access", "page"])),
            quantity=draw(st.integers(min_value=1, max_value=3)),
            at=BASE,
        )
        events.append(replace(template, occurred_at=template.occurred_at + offset))
    return events


def rearranged(events: list[BillableEvent], rng: random.Random) -> list[BillableEvent]:
    """The same events cut into batches, the batches and their contents shuffled, merged."""
    shuffled = list(events)
    rng.shuffle(shuffled)
    cuts = sorted(rng.sample(range(len(shuffled) + 1), k=min(3, len(shuffled) + 1)))
    batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]
    rng.shuffle(batches)
    return [item for batch in batches for item in batch]


@given(licences(), event_lists(), st.randoms(use_true_random=False))
def test_usage_and_charge_do_not_depend_on_order_or_batching(
    licence_: Licence, events: list[BillableEvent], rng: random.Random
) -> None:
    cat = catalogue(licence_)
    usage = measure_usage(licence_, events)
    again = measure_usage(licence_, rearranged(events, rng))
    assert again == usage
    assert charge_licence(licence_, cat, again) == charge_licence(licence_, cat, usage)


def oracle_quantities(licence_: Licence, events: list[BillableEvent]) -> dict[str, int]:
    """CONTRACT 5.4 restated without ordering state, to check `measure_usage` against."""
    billable = [e for e in events if e.role in licence_.billable_roles]
    if licence_.pricing.metric == "active_learners":
        learners: dict[str, set[bytes]] = defaultdict(set)
        for e in billable:
            learners[e.municipality].add(e.learner_hash)
        return {buyer: len(seen) for buyer, seen in learners.items()}
    matching = [e for e in billable if e.unit == licence_.pricing.unit]
    totals: dict[str, int] = defaultdict(int)
    for e in matching:
        group = (e.municipality, e.learner_hash, e.product, e.item, e.action)
        double_click = licence_.pricing.unit == "access" and any(
            (f.municipality, f.learner_hash, f.product, f.item, f.action) == group
            and (f.occurred_at, f.event_id) < (e.occurred_at, e.event_id)
            and e.occurred_at - f.occurred_at <= timedelta(seconds=30)
            for f in matching
        )
        totals[e.municipality] += 0 if double_click else e.quantity
    return {buyer: total for buyer, total in totals.items()}


@given(licences(), event_lists())
def test_measured_quantities_match_an_independent_formulation(
    licence_: Licence, events: list[BillableEvent]
) -> None:
    measured = {buyer: usage.quantity for buyer, usage in measure_usage(licence_, events).items()}
    assert measured == oracle_quantities(licence_, events)


@given(licences(), event_lists())
def test_shares_add_up_to_the_licence_amount(
    licence_: Licence, events: list[BillableEvent]
) -> None:
    charge = charge_licence(licence_, catalogue(licence_), measure_usage(licence_, events))
    assert sum(buyer.share_ore for buyer in charge.buyers.values()) == charge.amount_ore
    assert charge.amount_ore >= 0
    if licence_.pricing.monthly_cap is not None:
        assert charge.amount_ore <= licence_.pricing.monthly_cap * 100


def _issued(settlements: list[Settlement]) -> list[IssuedLine]:
    return [line for settlement in settlements for line in settlement.issued_lines()]


@settings(max_examples=200)
@given(licences(), event_lists(), st.data())
def test_original_plus_adjustments_equals_a_fresh_computation(
    licence_: Licence, events: list[BillableEvent], data: st.DataObject
) -> None:
    # Each October event becomes known at October's close (wave 0), or late, before
    # November's close (wave 1) or before December's (wave 2).
    waves = [data.draw(st.integers(min_value=0, max_value=2)) for _ in events]
    cat = catalogue(licence_)
    issued: list[IssuedLine] = []
    for wave, period in enumerate(["2026-10", "2026-11", "2026-12"]):
        known = [e for e, arrived in zip(events, waves, strict=True) if arrived <= wave]
        october = {licence_.id: measure_usage(licence_, known)}
        late = any(arrived == wave for arrived in waves) and wave > 0
        settlements = settle_period(
            period,
            cat,
            PeriodUsage(period, october if wave == 0 else {}),
            {"2026-10": PeriodUsage("2026-10", october)} if late else {},
            issued,
        )
        issued += _issued(settlements)
    fresh = charge_licence(licence_, cat, measure_usage(licence_, events))
    issued_for_october: dict[str, int] = defaultdict(int)
    for line in issued:
        assert line.usage_period == "2026-10"
        issued_for_october[line.municipality] += line.amount_ore
    for buyer, buyer_charge in fresh.buyers.items():
        assert issued_for_october.get(buyer, 0) == buyer_charge.share_ore
    assert set(issued_for_october) <= set(fresh.buyers)


@given(licences(), event_lists())
def test_every_settlement_adds_up(licence_: Licence, events: list[BillableEvent]) -> None:
    usage = PeriodUsage("2026-10", {licence_.id: measure_usage(licence_, events)})
    for settlement in settle_period("2026-10", catalogue(licence_), usage, {}, []):
        document = settlement.to_document()
        amounts = [line["amount"] for line in document["lines"]]  # type: ignore[attr-defined]
        total_ore = sum(round(Decimal(amount) * 100) for amount in amounts)
        assert round(Decimal(str(document["subtotal"])) * 100) == total_ore
        assert Decimal(str(document["total"])) == Decimal(str(document["subtotal"])) + Decimal(
            str(document["vat"])
        )
        vat_ore = round(total_ore * licence_.vat_rate)  # one rate: half-even of the sum
        assert round(Decimal(str(document["vat"])) * 100) == vat_ore


def test_buyer_usage_type_is_what_measure_returns() -> None:
    usage = measure_usage(licence(), [event("e1")])
    assert isinstance(usage[BAERUM], BuyerUsage)
