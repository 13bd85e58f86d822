"""CONTRACT 4: a month with a `fixed_per_pupil` charge is a period with usage.

`first_fixed_charge_period` is checked against walking the months one by one and
asking `fixed_usage` (what the settlement charges) about each.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billing.fixed_charges import first_fixed_charge_period
from billing.metrics import fixed_usage
from ledger.domain.catalogue import Catalogue, Licence
from ledger.domain.periods import next_period, period_of_date
from tests.billing import BEKKESTUA, catalogue, licence, pricing

FIXED = pricing(metric="fixed_per_pupil", unit_price=Decimal("1.25"))
ACTIVE = pricing(metric="active_learners", unit_price=Decimal("12.50"))


def fixed(licence_id: str, valid_from: date, valid_to: date, **overrides: object) -> Licence:
    return licence(
        id=licence_id, pricing=FIXED, valid_from=valid_from, valid_to=valid_to, **overrides
    )


def test_the_licence_month_before_the_settled_one_is_named() -> None:
    charged = catalogue(fixed("L-F", date(2026, 8, 1), date(2027, 7, 31)))
    assert first_fixed_charge_period(charged, after=None, before="2026-09") == "2026-08"
    assert first_fixed_charge_period(charged, after=None, before="2026-08") is None
    assert first_fixed_charge_period(charged, after="2026-08", before="2026-10") == "2026-09"
    assert first_fixed_charge_period(charged, after="2026-09", before="2026-10") is None


def test_a_month_sharing_one_day_with_the_validity_is_charged() -> None:
    charged = catalogue(fixed("L-F", date(2026, 8, 31), date(2026, 9, 1)))
    assert first_fixed_charge_period(charged, after=None, before="2027-01") == "2026-08"
    assert first_fixed_charge_period(charged, after="2026-08", before="2027-01") == "2026-09"
    assert first_fixed_charge_period(charged, after="2026-09", before="2027-01") is None


def test_other_metrics_and_licences_without_pupils_charge_nothing() -> None:
    assert (
        first_fixed_charge_period(catalogue(licence(pricing=ACTIVE)), after=None, before="2027-01")
        is None
    )
    no_pupils = fixed("L-F", date(2026, 8, 1), date(2027, 7, 31), schools=("999999999",))
    assert first_fixed_charge_period(catalogue(no_pupils), after=None, before="2027-01") is None
    one_school = fixed("L-F", date(2026, 8, 1), date(2027, 7, 31), schools=(BEKKESTUA,))
    assert first_fixed_charge_period(catalogue(one_school), after=None, before="2027-01") == (
        "2026-08"
    )


def test_the_earliest_of_several_licences_wins() -> None:
    charged = catalogue(
        fixed("L-B", date(2026, 11, 1), date(2027, 7, 31)),
        fixed("L-A", date(2026, 9, 15), date(2026, 10, 31)),
    )
    assert first_fixed_charge_period(charged, after=None, before="2027-01") == "2026-09"
    assert first_fixed_charge_period(charged, after="2026-10", before="2027-01") == "2026-11"


def test_the_work_does_not_grow_with_the_validity_span() -> None:
    centuries = catalogue(fixed("L-F", date(1900, 1, 1), date(9998, 12, 31)))
    assert first_fixed_charge_period(centuries, after=None, before="9998-12") == "1900-01"
    assert first_fixed_charge_period(centuries, after="9998-10", before="9998-12") == "9998-11"
    assert first_fixed_charge_period(centuries, after=None, before="1900-01") is None
    assert first_fixed_charge_period(centuries, after="9998-12", before="9998-12") is None


def brute_force(charged: Catalogue, after: str | None, before: str) -> str | None:
    """Walk every month from 2024-01 up to `before` and ask the settlement's own rule."""
    month = "2024-01"
    while month < before:
        if (after is None or month > after) and any(
            fixed_usage(lic, charged, month) for lic in charged.licences
        ):
            return month
        month = next_period(month)
    return None


days = st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31))
months = days.map(period_of_date)


@st.composite
def licences(draw: st.DrawFn, index: int) -> Licence:
    valid_from = draw(days)
    valid_to = valid_from + timedelta(days=draw(st.integers(0, 800)))
    return licence(
        id=f"L-{index}",
        pricing=draw(st.sampled_from([FIXED, ACTIVE])),
        valid_from=valid_from,
        valid_to=valid_to,
        schools=draw(st.sampled_from([None, (BEKKESTUA,), ("999999999",)])),
    )


@given(
    st.integers(0, 4).flatmap(lambda n: st.tuples(*(licences(i) for i in range(n)))),
    st.none() | months,
    months,
)
def test_equals_walking_the_months(
    drawn: tuple[Licence, ...], after: str | None, before: str
) -> None:
    charged = catalogue(*drawn)
    assert first_fixed_charge_period(charged, after=after, before=before) == brute_force(
        charged, after, before
    )
