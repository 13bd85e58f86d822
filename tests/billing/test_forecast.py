"""Month-end forecasts (billing.forecast, ledger.domain.forecast): properties a budget holder
relies on, priced by the same code as settlements."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billing.forecast import covered_pupils, forecast_licence
from billing.pricing import charge_licence
from ledger.domain.catalogue import Licence, Metric, Pricing
from ledger.domain.forecast import (
    linear_projection,
    project_buyer_usage,
    school_days_in_validity,
)
from ledger.domain.usage import BuyerUsage
from tests.billing import (
    BAERUM,
    BEKKESTUA,
    EIKSMARKA,
    OSLO_KOMMUNE,
    OSLO_SCHOOL,
    catalogue,
    licence,
    tiers,
)

SCHOOLS = {BAERUM: (BEKKESTUA, EIKSMARKA), OSLO_KOMMUNE: (OSLO_SCHOOL,)}
METRICS: list[Metric] = ["active_learners", "units", "fixed_per_pupil"]


@st.composite
def pricings(draw: st.DrawFn) -> Pricing:
    metric: Metric = draw(st.sampled_from(METRICS))
    cap = draw(st.sampled_from([None, Decimal("100.00"), Decimal("5000.00")]))
    if metric == "fixed_per_pupil":
        return Pricing(metric=metric, unit_price=Decimal("3.00"), monthly_cap=cap)
    unit = "access" if metric == "units" else None
    if draw(st.booleans()):
        return Pricing(
            metric=metric,
            unit=unit,
            unit_price=Decimal(draw(st.sampled_from(["12.50", "0.125", "1.00"]))),
            monthly_cap=cap,
            max_per_pupil=draw(st.sampled_from([None, Decimal("0.50"), Decimal("20.00")])),
        )
    return Pricing(
        metric=metric,
        unit=unit,
        tiers=tiers((30, "5.00"), (100, "2.50"), (None, "0.99")),
        monthly_cap=cap,
    )


@st.composite
def licences(draw: st.DrawFn) -> Licence:
    return licence(
        buyers=(BAERUM, OSLO_KOMMUNE),
        pricing=draw(pricings()),
        split=draw(st.sampled_from(["usage", "population"])),
    )


@st.composite
def usages(draw: st.DrawFn, for_licence: Licence) -> dict[str, BuyerUsage]:
    """Consistent usage so far: learners per school within its pupils, units any."""
    result: dict[str, BuyerUsage] = {}
    for buyer in for_licence.buyers:
        pupils = covered_pupils(for_licence, catalogue(for_licence), buyer)
        per_school: dict[str, int] = {}
        for school in SCHOOLS[buyer]:
            ceiling = pupils[school] if for_licence.pricing.metric == "active_learners" else 2000
            per_school[school] = draw(st.integers(min_value=0, max_value=ceiling))
        if for_licence.pricing.metric == "active_learners":
            total = sum(per_school.values())
            quantity = draw(st.integers(min_value=min(total, 1), max_value=total))
        else:
            quantity = sum(per_school.values())
        if quantity:
            result[buyer] = BuyerUsage(quantity, per_school)
    return result


days = st.integers(min_value=0, max_value=23)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Licence, dict[str, BuyerUsage], int, int]:
    chosen = draw(licences())
    if chosen.pricing.metric == "fixed_per_pupil":
        from_catalogue = {
            buyer: BuyerUsage(sum(p.values()), p)
            for buyer in chosen.buyers
            if (p := covered_pupils(chosen, catalogue(chosen), buyer))
        }
        return chosen, from_catalogue, draw(days), draw(days)
    return chosen, draw(usages(chosen)), draw(days), draw(days)


@given(cases())
def test_forecast_is_never_below_the_amount_so_far(
    case: tuple[Licence, dict[str, BuyerUsage], int, int],
) -> None:
    chosen, usage, elapsed, left = case
    forecast = forecast_licence(chosen, catalogue(chosen), usage, elapsed, left)
    assert forecast.projected.amount_ore >= forecast.so_far.amount_ore
    for buyer in chosen.buyers:
        assert forecast.buyer_forecast_ore(buyer) >= forecast.buyer_so_far_ore(buyer)


@given(cases())
def test_with_no_school_days_left_the_forecast_is_the_amount_so_far(
    case: tuple[Licence, dict[str, BuyerUsage], int, int],
) -> None:
    chosen, usage, elapsed, _ = case
    forecast = forecast_licence(chosen, catalogue(chosen), usage, elapsed, 0)
    assert forecast.projected == forecast.so_far
    assert forecast.so_far == charge_licence(chosen, catalogue(chosen), usage)
    for buyer in chosen.buyers:
        assert forecast.buyer_forecast_ore(buyer) == forecast.buyer_so_far_ore(buyer)


@given(cases())
def test_forecast_never_exceeds_the_monthly_cap(
    case: tuple[Licence, dict[str, BuyerUsage], int, int],
) -> None:
    chosen, usage, elapsed, left = case
    cap = chosen.pricing.monthly_cap
    forecast = forecast_licence(chosen, catalogue(chosen), usage, elapsed, left)
    if cap is not None:
        assert forecast.projected.amount_ore <= cap * 100
        for buyer in chosen.buyers:
            assert forecast.buyer_forecast_ore(buyer) <= cap * 100


@given(cases())
def test_projected_learners_never_exceed_the_pupils_covered(
    case: tuple[Licence, dict[str, BuyerUsage], int, int],
) -> None:
    chosen, usage, elapsed, left = case
    if chosen.pricing.metric != "active_learners":
        return
    for buyer, buyer_usage in usage.items():
        pupils = covered_pupils(chosen, catalogue(chosen), buyer)
        projected = project_buyer_usage("active_learners", buyer_usage, elapsed, left, pupils)
        assert buyer_usage.quantity <= projected.quantity <= sum(pupils.values())
        for school, quantity in projected.per_school.items():
            assert quantity <= pupils[school]


@given(st.integers(min_value=0, max_value=10**9), days, days)
def test_linear_projection_scales_by_school_days(so_far: int, elapsed: int, left: int) -> None:
    projected = linear_projection(so_far, elapsed, left)
    assert projected >= so_far
    if elapsed:
        # Rounded up, so within one unit of the exact proportion.
        assert 0 <= projected * elapsed - so_far * (elapsed + left) < elapsed
    else:
        assert projected == so_far


def test_units_double_with_half_the_days_gone() -> None:
    projected = project_buyer_usage("units", BuyerUsage(30, {BEKKESTUA: 30}), 10, 10, {})
    assert projected == BuyerUsage(60, {BEKKESTUA: 60})


def test_a_licence_ending_mid_month_has_no_days_after_its_end() -> None:
    october = tuple(date(2026, 10, day) for day in (5, 6, 7, 8, 9, 12, 13, 14, 15, 16))
    assert school_days_in_validity(
        october, date(2026, 10, 7), date(2026, 8, 1), date(2026, 10, 9)
    ) == (3, 2)
    assert school_days_in_validity(
        october, date(2026, 10, 20), date(2026, 8, 1), date(2026, 10, 9)
    ) == (5, 0)
