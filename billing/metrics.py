"""Metrics (CONTRACT 5.3, 5.4): how much of a licence each buyer used in one period.

`measure_usage` is the reference implementation over individual events; the store
computes the same numbers with SQL and tests hold the two to exact agreement.
Nothing here depends on the order in which events arrive (CONTRACT 5.9): every
grouping is sorted by (occurred_at, event_id) before it is read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta

from ledger.domain.catalogue import Catalogue, Licence
from ledger.domain.invariants import InvariantViolation, invariant
from ledger.domain.periods import period_of, period_overlaps
from ledger.domain.usage import BillableEvent, BuyerUsage

# COUNTER double-click rule: a repeat of the same access at most this long after the
# previous one adds nothing.
double_click_window = timedelta(seconds=30)
double_click_unit = "access"

# (learner, product, item, action): the events that can be double-clicks of each other.
_ClickKey = tuple[bytes, str, str, str]


def measure_usage(licence: Licence, events: Iterable[BillableEvent]) -> dict[str, BuyerUsage]:
    """Usage per municipality for `licence` from its covered events of one period.

    Events of another licence or of more than one period are a caller's bug and
    raise `InvariantViolation`. A `fixed_per_pupil` licence is not measured from
    events (see `fixed_usage`), so it yields an empty result. Buyers whose quantity
    is zero are absent, so two measurements of the same use compare equal.
    """
    billable = _billable_events(licence, events)
    by_buyer: dict[str, list[BillableEvent]] = defaultdict(list)
    for event in billable:
        by_buyer[event.municipality].append(event)
    metric = licence.pricing.metric
    if metric == "active_learners":
        measured = {buyer: _active_learners(group) for buyer, group in by_buyer.items()}
    elif metric == "units":
        measured = {buyer: _units(licence, group) for buyer, group in by_buyer.items()}
    else:
        measured = {}
    return {buyer: usage for buyer, usage in sorted(measured.items()) if usage.quantity > 0}


def _billable_events(licence: Licence, events: Iterable[BillableEvent]) -> list[BillableEvent]:
    """Events whose role is billable under the licence (CONTRACT 5.3); all of one period."""
    selected: list[BillableEvent] = []
    periods: set[str] = set()
    for event in events:
        invariant(
            event.licence_id == licence.id,
            f"event {event.event_id} is covered by {event.licence_id}, not by {licence.id}",
        )
        periods.add(period_of(event.occurred_at))
        if event.role in licence.billable_roles:
            selected.append(event)
    invariant(
        len(periods) <= 1, f"events of one measurement span several periods: {sorted(periods)}"
    )
    return selected


def _active_learners(events: Sequence[BillableEvent]) -> BuyerUsage:
    """Distinct learners of the buyer; per school, distinct learners seen at that school."""
    learners = {event.learner_hash for event in events}
    per_school: dict[str, set[bytes]] = defaultdict(set)
    for event in events:
        per_school[event.school].add(event.learner_hash)
    return BuyerUsage(
        quantity=len(learners),
        per_school={school: len(seen) for school, seen in sorted(per_school.items())},
    )


def _units(licence: Licence, events: Sequence[BillableEvent]) -> BuyerUsage:
    """Sum of quantity over events with the licence's unit, double-clicks removed for "access"."""
    unit = licence.pricing.unit
    invariant(unit is not None, f"licence {licence.id} has metric units but no unit")
    matching = [event for event in events if event.unit == unit]
    counted = _without_double_clicks(matching) if unit == double_click_unit else matching
    per_school: dict[str, int] = defaultdict(int)
    for event in counted:
        invariant(event.quantity >= 1, f"event {event.event_id} has quantity {event.quantity} < 1")
        per_school[event.school] += event.quantity
    return BuyerUsage(
        quantity=sum(per_school.values()), per_school=dict(sorted(per_school.items()))
    )


def _without_double_clicks(events: Sequence[BillableEvent]) -> list[BillableEvent]:
    """The events that count under the double-click rule, for the events of one buyer.

    Read literally: an event is dropped when it occurred at most 30 s after the
    previous event of its group, whether or not that previous event counted. A
    chain of clicks 20 s apart therefore counts once however long it runs.
    """
    groups: dict[_ClickKey, list[BillableEvent]] = defaultdict(list)
    for event in events:
        groups[(event.learner_hash, event.product, event.item, event.action)].append(event)
    counted: list[BillableEvent] = []
    for group in groups.values():
        ordered = sorted(group, key=lambda event: (event.occurred_at, event.event_id))
        previous = None
        for event in ordered:
            if previous is None or event.occurred_at - previous.occurred_at > double_click_window:
                counted.append(event)
            previous = event
    return counted


def fixed_usage(licence: Licence, catalogue: Catalogue, period: str) -> dict[str, BuyerUsage]:
    """`fixed_per_pupil` usage: the pupils of each buyer's schools in scope, used or not.

    Applies to every month that shares at least one day with the licence's validity
    (CONTRACT 5.4); empty otherwise, and empty for other metrics. A buyer whose
    schools in scope have no pupils is absent, like a buyer without use.
    """
    if licence.pricing.metric != "fixed_per_pupil":
        return {}
    if not period_overlaps(period, licence.valid_from, licence.valid_to):
        return {}
    in_scope = None if licence.schools is None else set(licence.schools)
    result: dict[str, BuyerUsage] = {}
    for buyer in sorted(licence.buyers):
        municipality = catalogue.municipality(buyer)
        if municipality is None:
            raise InvariantViolation(f"licence {licence.id} names unknown buyer {buyer}")
        per_school = {
            school.id: school.pupils
            for school in sorted(municipality.schools, key=lambda school: school.id)
            if in_scope is None or school.id in in_scope
        }
        quantity = sum(per_school.values())
        if quantity > 0:
            result[buyer] = BuyerUsage(quantity=quantity, per_school=per_school)
    return result
