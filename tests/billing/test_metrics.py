"""CONTRACT 5.3 and 5.4: billable roles, active learners, units, double-clicks, fixed per pupil."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.metrics import fixed_usage, measure_usage
from ledger.domain.catalogue import Licence
from ledger.domain.invariants import InvariantViolation
from ledger.domain.usage import BuyerUsage
from tests.billing import (
    BAERUM,
    BEKKESTUA,
    DRAMMEN,
    EIKSMARKA,
    OSLO_KOMMUNE,
    OSLO_SCHOOL,
    catalogue,
    event,
    licence,
    pricing,
)

ACCESS = licence(pricing=pricing(metric="units", unit="access", unit_price=Decimal("1.00")))
PAGES = licence(pricing=pricing(metric="units", unit="page", unit_price=Decimal("1.00")))
FIXED = licence(pricing=pricing(metric="fixed_per_pupil", unit_price=Decimal("5.00")))


def quantity(licence_: Licence, *events: object) -> int:
    usage = measure_usage(licence_, events)  # type: ignore[arg-type]
    return usage[BAERUM].quantity if BAERUM in usage else 0


# --- active learners ---------------------------------------------------------------


def test_active_learners_counts_distinct_learners() -> None:
    events = [event("e1", learner="a"), event("e2", learner="a"), event("e3", learner="b")]
    assert measure_usage(licence(), events) == {
        BAERUM: BuyerUsage(quantity=2, per_school={BEKKESTUA: 2})
    }


def test_teacher_events_are_not_billable_by_default() -> None:
    events = [event("e1", learner="a"), event("e2", learner="t", role="teacher")]
    assert quantity(licence(), *events) == 1
    assert measure_usage(licence(), [event("e2", learner="t", role="teacher")]) == {}


def test_teacher_events_count_when_teachers_are_billable() -> None:
    both = licence(billable_roles=("pupil", "teacher"))
    events = [event("e1", learner="a"), event("e2", learner="t", role="teacher")]
    assert quantity(both, *events) == 2
    only_teachers = licence(billable_roles=("teacher",))
    assert quantity(only_teachers, *events) == 1


def test_active_learners_per_school_counts_a_learner_at_each_school() -> None:
    events = [
        event("e1", learner="a", school=BEKKESTUA),
        event("e2", learner="a", school=EIKSMARKA),
        event("e3", learner="b", school=BEKKESTUA),
    ]
    assert measure_usage(licence(), events)[BAERUM] == BuyerUsage(
        quantity=2, per_school={BEKKESTUA: 2, EIKSMARKA: 1}
    )


def test_usage_is_keyed_by_municipality() -> None:
    joint = licence(buyers=(BAERUM, OSLO_KOMMUNE))
    events = [
        event("e1", learner="a", school=BEKKESTUA),
        event("e2", learner="b", school=OSLO_SCHOOL),
        event("e3", learner="c", school=OSLO_SCHOOL),
    ]
    assert measure_usage(joint, events) == {
        BAERUM: BuyerUsage(quantity=1, per_school={BEKKESTUA: 1}),
        OSLO_KOMMUNE: BuyerUsage(quantity=2, per_school={OSLO_SCHOOL: 2}),
    }


# --- units ----------------------------------------------------------------------


def test_units_sum_quantity_of_the_licence_unit_only() -> None:
    events = [
        event("e1", unit="page", quantity=3),
        event("e2", unit="page", quantity=4),
        event("e3", unit="access", quantity=100),
    ]
    assert quantity(PAGES, *events) == 7


def test_other_units_have_no_double_click_rule() -> None:
    events = [event("e1", unit="page", quantity=2), event("e2", unit="page", quantity=5)]
    assert quantity(PAGES, *events) == 7  # same learner, item, action and second


def test_units_respect_billable_roles() -> None:
    events = [event("e1", unit="page", quantity=3, role="teacher")]
    assert quantity(PAGES, *events) == 0


@pytest.mark.parametrize(
    ("second_at", "expected"),
    [
        ("2026-10-05T08:15:30Z", 1),  # exactly 30 s later: a double-click
        ("2026-10-05T08:15:30.000001Z", 2),  # just over 30 s
        ("2026-10-05T08:15:31Z", 2),
        ("2026-10-05T08:15:00Z", 1),  # same instant
    ],
)
def test_double_click_boundary(second_at: str, expected: int) -> None:
    events = [event("e1", at="2026-10-05T08:15:00Z"), event("e2", at=second_at)]
    assert quantity(ACCESS, *events) == expected


def test_a_chain_of_clicks_counts_once_because_each_follows_the_previous() -> None:
    # 0 s, 20 s, 40 s, 60 s: each at most 30 s after the previous one. Reading the rule
    # as "30 s after the first counted one" would count the 40 s click as well.
    events = [
        event("e1", at="2026-10-05T08:15:00Z"),
        event("e2", at="2026-10-05T08:15:20Z"),
        event("e3", at="2026-10-05T08:15:40Z"),
        event("e4", at="2026-10-05T08:16:00Z"),
    ]
    assert quantity(ACCESS, *events) == 1


def test_a_gap_over_30_seconds_inside_a_chain_counts_again() -> None:
    events = [
        event("e1", at="2026-10-05T08:15:00Z"),
        event("e2", at="2026-10-05T08:15:20Z"),
        event("e3", at="2026-10-05T08:15:51Z"),  # 31 s after e2
        event("e4", at="2026-10-05T08:16:10Z"),  # 19 s after e3
    ]
    assert quantity(ACCESS, *events) == 2


def test_double_click_order_is_by_time_not_by_arrival() -> None:
    events = [
        event("e3", at="2026-10-05T08:16:00Z"),
        event("e1", at="2026-10-05T08:15:00Z"),
        event("e2", at="2026-10-05T08:15:45Z"),  # 45 s after e1, 15 s before e3
    ]
    assert quantity(ACCESS, *events) == 2  # e1 and e2 count, e3 does not


@pytest.mark.parametrize(
    "changes",
    [
        {"learner": "b"},
        {"item": "kap-4"},
        {"action": "download"},
        {"product": "matte-8-10"},
    ],
)
def test_double_clicks_are_per_learner_product_item_and_action(changes: dict[str, str]) -> None:
    events = [event("e1"), event("e2", at="2026-10-05T08:15:05Z", **changes)]  # type: ignore[arg-type]
    assert quantity(ACCESS, *events) == 2


def test_a_double_click_adds_nothing_even_with_a_larger_quantity() -> None:
    events = [event("e1", quantity=2), event("e2", at="2026-10-05T08:15:10Z", quantity=5)]
    assert quantity(ACCESS, *events) == 2


def test_same_instant_ties_are_ordered_by_event_id() -> None:
    # Both at the same instant: e-1 is first by event_id and counts with its quantity 1.
    events = [event("e-2", quantity=5), event("e-1", quantity=1)]
    assert quantity(ACCESS, *events) == 1


def test_non_billable_events_do_not_take_part_in_double_clicks() -> None:
    events = [
        event("e1", at="2026-10-05T08:15:00Z"),
        event("e2", at="2026-10-05T08:15:10Z", role="teacher"),
        event("e3", at="2026-10-05T08:15:35Z"),  # 35 s after e1, 25 s after the teacher's
    ]
    assert quantity(ACCESS, *events) == 2


def test_other_units_do_not_take_part_in_access_double_clicks() -> None:
    events = [
        event("e1", at="2026-10-05T08:15:00Z"),
        event("e2", at="2026-10-05T08:15:10Z", unit="page"),
        event("e3", at="2026-10-05T08:15:35Z"),
    ]
    assert quantity(ACCESS, *events) == 2


def test_double_clicks_are_per_buyer() -> None:
    joint = licence(
        buyers=(BAERUM, OSLO_KOMMUNE),
        pricing=pricing(metric="units", unit="access", unit_price=Decimal("1.00")),
    )
    events = [
        event("e1", school=BEKKESTUA),
        event("e2", at="2026-10-05T08:15:10Z", school=OSLO_SCHOOL),
    ]
    usage = measure_usage(joint, events)
    assert usage[BAERUM].quantity == 1
    assert usage[OSLO_KOMMUNE].quantity == 1


def test_double_clicks_span_schools_of_one_buyer_and_count_at_the_counted_school() -> None:
    events = [
        event("e1", school=BEKKESTUA, quantity=2),
        event("e2", at="2026-10-05T08:15:10Z", school=EIKSMARKA, quantity=3),
        event("e3", at="2026-10-05T09:00:00Z", school=EIKSMARKA, quantity=4),
    ]
    assert measure_usage(ACCESS, events)[BAERUM] == BuyerUsage(
        quantity=6, per_school={BEKKESTUA: 2, EIKSMARKA: 4}
    )


def test_double_clicks_across_the_dst_night_use_real_elapsed_time() -> None:
    # 00:59:50 UTC is 02:59:50 CEST; 01:00:10 UTC is 02:00:10 CET: 20 s apart in real
    # time although the Oslo wall clock went back almost an hour.
    events = [event("e1", at="2026-10-25T00:59:50Z"), event("e2", at="2026-10-25T01:00:10Z")]
    assert quantity(ACCESS, *events) == 1


# --- contract violations by the caller --------------------------------------------------


def test_events_of_another_licence_are_a_bug() -> None:
    with pytest.raises(InvariantViolation, match="L-OTHER"):
        measure_usage(licence(), [event("e1", licence_id="L-OTHER")])


def test_events_of_two_periods_are_a_bug() -> None:
    events = [event("e1", at="2026-10-31T22:59:59Z"), event("e2", at="2026-10-31T23:00:00Z")]
    with pytest.raises(InvariantViolation, match="several periods"):
        measure_usage(licence(), events)


def test_fixed_per_pupil_is_not_measured_from_events() -> None:
    assert measure_usage(FIXED, [event("e1")]) == {}


def test_no_events_no_usage() -> None:
    assert measure_usage(licence(), []) == {}


# --- fixed per pupil ---------------------------------------------------------------------


def test_fixed_per_pupil_counts_pupils_of_all_schools() -> None:
    assert fixed_usage(FIXED, catalogue(FIXED), "2026-10") == {
        BAERUM: BuyerUsage(quantity=720, per_school={BEKKESTUA: 420, EIKSMARKA: 300})
    }


def test_fixed_per_pupil_counts_only_listed_schools() -> None:
    listed = licence(
        schools=(EIKSMARKA, OSLO_SCHOOL),
        buyers=(BAERUM, OSLO_KOMMUNE, DRAMMEN),
        pricing=FIXED.pricing,
    )
    # Drammen is a buyer but none of its schools is listed: no pupils, no usage.
    assert fixed_usage(listed, catalogue(listed), "2026-10") == {
        BAERUM: BuyerUsage(quantity=300, per_school={EIKSMARKA: 300}),
        OSLO_KOMMUNE: BuyerUsage(quantity=500, per_school={OSLO_SCHOOL: 500}),
    }


@pytest.mark.parametrize(
    ("period", "valid_from", "valid_to", "charged"),
    [
        ("2026-07", date(2026, 8, 1), date(2027, 7, 31), False),
        ("2026-08", date(2026, 8, 1), date(2027, 7, 31), True),
        ("2027-07", date(2026, 8, 1), date(2027, 7, 31), True),
        ("2027-08", date(2026, 8, 1), date(2027, 7, 31), False),
        ("2026-08", date(2026, 8, 31), date(2027, 7, 31), True),  # one day of August
        ("2026-09", date(2026, 8, 1), date(2026, 9, 1), True),  # one day of September
        ("2026-10", date(2026, 8, 1), date(2026, 9, 1), False),
    ],
)
def test_fixed_per_pupil_months_overlapping_validity(
    period: str, valid_from: date, valid_to: date, charged: bool
) -> None:
    fixed = licence(pricing=FIXED.pricing, valid_from=valid_from, valid_to=valid_to)
    usage = fixed_usage(fixed, catalogue(fixed), period)
    assert usage == ({BAERUM: BuyerUsage(720, {BEKKESTUA: 420, EIKSMARKA: 300})} if charged else {})


def test_fixed_usage_is_empty_for_other_metrics() -> None:
    assert fixed_usage(licence(), catalogue(licence()), "2026-10") == {}
