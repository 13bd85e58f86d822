"""CONTRACT 5.5 and 5.6: unit price, tiers, caps, max_per_pupil, sharing joint licences."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.pricing import BuyerCharge, LicenceCharge, charge_licence
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
    licence,
    pricing,
    tiers,
)

JOINT = (BAERUM, OSLO_KOMMUNE)


def charge(licence_: Licence, usage: dict[str, BuyerUsage]) -> LicenceCharge:
    return charge_licence(licence_, catalogue(licence_), usage)


def single(quantity: int, **pricing_overrides: object) -> LicenceCharge:
    licence_ = licence(pricing=pricing(**pricing_overrides))
    return charge(licence_, {BAERUM: BuyerUsage(quantity)})


# --- unit price and rounding ---------------------------------------------------------


def test_unit_price_contract_example() -> None:
    # 812 learners × 12.50 = 10 150.00 NOK.
    assert single(812) == LicenceCharge(
        licence_id="L-2026-001",
        amount_ore=1015000,
        cap_applied=False,
        buyers={BAERUM: BuyerCharge(quantity=812, share_ore=1015000)},
    )


@pytest.mark.parametrize(("quantity", "ore"), [(1, 12), (3, 38), (5, 62), (7, 88), (0, 0)])
def test_amount_is_rounded_half_even_to_ore(quantity: int, ore: int) -> None:
    # 0.125 × 1 = 12.5 øre -> 12; × 3 = 37.5 -> 38; × 5 = 62.5 -> 62; × 7 = 87.5 -> 88.
    assert single(quantity, unit_price=Decimal("0.125")).amount_ore == ore


# --- tiers -------------------------------------------------------------------------------

TWO_TIERS = tiers((1000, "10.00"), (None, "8.00"))


@pytest.mark.parametrize(
    ("quantity", "ore"),
    [(0, 0), (1, 1000), (1000, 1000000), (1001, 1000800), (1500, 1400000)],
)
def test_graduated_tiers_price_each_unit_by_its_tier(quantity: int, ore: int) -> None:
    # 1500 = 1000 × 10.00 + 500 × 8.00 = 14 000.00 NOK.
    assert single(quantity, unit_price=None, tiers=TWO_TIERS).amount_ore == ore


def test_three_tiers() -> None:
    three = tiers((100, "3.00"), (500, "2.00"), (None, "1.00"))
    # 600 = 100 × 3 + 400 × 2 + 100 × 1 = 1200.00; 250 = 300 + 150 × 2 = 600.00.
    assert single(600, unit_price=None, tiers=three).amount_ore == 120000
    assert single(250, unit_price=None, tiers=three).amount_ore == 60000
    assert single(100, unit_price=None, tiers=three).amount_ore == 30000


def test_tiers_must_end_unbounded_and_increase() -> None:
    with pytest.raises(InvariantViolation, match="unbounded"):
        single(5, unit_price=None, tiers=tiers((1000, "10.00")))
    with pytest.raises(InvariantViolation, match="increase"):
        single(5, unit_price=None, tiers=tiers((100, "1.00"), (50, "1.00"), (None, "1.00")))
    with pytest.raises(InvariantViolation, match="exactly one"):
        single(5, tiers=TWO_TIERS)  # unit_price 12.50 still set


# --- monthly cap ------------------------------------------------------------------------


def test_monthly_cap_reduces_the_amount() -> None:
    # 5000 × 12.50 = 62 500.00, capped at 50 000.00.
    capped = single(5000, monthly_cap=Decimal("50000.00"))
    assert (capped.amount_ore, capped.cap_applied) == (5000000, True)


def test_monthly_cap_not_reached_or_exactly_reached_is_not_applied() -> None:
    assert single(4000, monthly_cap=Decimal("50000.00")).cap_applied is False  # exactly 50 000
    assert single(3999, monthly_cap=Decimal("50000.00")).amount_ore == 4998750


def test_monthly_cap_applies_to_tiered_amounts() -> None:
    capped = single(1500, unit_price=None, tiers=TWO_TIERS, monthly_cap=Decimal("12000.00"))
    assert (capped.amount_ore, capped.cap_applied) == (1200000, True)


def test_cap_comes_before_rounding() -> None:
    # 1 × 0.25 = 0.25, capped at 0.125, then rounded half-even: 12 øre (not min(25, 12.5)).
    capped = single(1, unit_price=Decimal("0.25"), monthly_cap=Decimal("0.125"))
    assert (capped.amount_ore, capped.cap_applied) == (12, True)


# --- max per pupil -------------------------------------------------------------------------

PER_PUPIL = pricing(unit_price=Decimal("12.50"), max_per_pupil=Decimal("8.00"))


def test_max_per_pupil_caps_each_school() -> None:
    # Bekkestua: 300 × 12.50 = 3750.00 > 420 × 8.00 = 3360.00 -> 3360.00.
    # Eiksmarka: 100 × 12.50 = 1250.00 <= 300 × 8.00 = 2400.00 -> 1250.00.
    licence_ = licence(pricing=PER_PUPIL)
    usage = {BAERUM: BuyerUsage(400, {BEKKESTUA: 300, EIKSMARKA: 100})}
    assert charge(licence_, usage) == LicenceCharge(
        "L-2026-001", 461000, True, {BAERUM: BuyerCharge(400, 461000)}
    )


def test_max_per_pupil_not_reached_is_not_a_cap() -> None:
    licence_ = licence(pricing=PER_PUPIL)
    usage = {BAERUM: BuyerUsage(300, {BEKKESTUA: 200, EIKSMARKA: 100})}
    result = charge(licence_, usage)
    assert (result.amount_ore, result.cap_applied) == (375000, False)


def test_max_per_pupil_then_monthly_cap() -> None:
    licence_ = licence(pricing=pricing(max_per_pupil=Decimal("8.00"), monthly_cap=Decimal("4000")))
    usage = {BAERUM: BuyerUsage(400, {BEKKESTUA: 300, EIKSMARKA: 100})}
    result = charge(licence_, usage)
    assert (result.amount_ore, result.cap_applied) == (400000, True)


def test_max_per_pupil_for_active_learners_counts_a_learner_at_each_school() -> None:
    # A learner seen at both schools counts at both: (2 + 1) × 12.50 = 37.50.
    licence_ = licence(pricing=PER_PUPIL)
    result = charge(licence_, {BAERUM: BuyerUsage(2, {BEKKESTUA: 2, EIKSMARKA: 1})})
    assert result.amount_ore == 3750
    assert result.buyers[BAERUM].quantity == 2


def test_max_per_pupil_needs_per_school_usage() -> None:
    licence_ = licence(pricing=PER_PUPIL)
    with pytest.raises(InvariantViolation, match="per-school"):
        charge(licence_, {BAERUM: BuyerUsage(400)})
    units = licence(pricing=pricing(metric="units", unit="page", max_per_pupil=Decimal("8.00")))
    with pytest.raises(InvariantViolation, match="per-school"):
        charge(units, {BAERUM: BuyerUsage(5, {BEKKESTUA: 4})})


def test_max_per_pupil_only_with_unit_price() -> None:
    licence_ = licence(pricing=pricing(unit_price=None, tiers=TWO_TIERS, max_per_pupil=Decimal(8)))
    with pytest.raises(InvariantViolation, match="max_per_pupil"):
        charge(licence_, {BAERUM: BuyerUsage(1, {BEKKESTUA: 1})})


# --- joint licences ----------------------------------------------------------------------


def test_usage_split_by_own_quantity() -> None:
    # 400 × 12.50 = 5000.00: Bærum 300/400, Oslo 100/400.
    licence_ = licence(buyers=JOINT)
    result = charge(licence_, {BAERUM: BuyerUsage(300), OSLO_KOMMUNE: BuyerUsage(100)})
    assert result.buyers == {
        BAERUM: BuyerCharge(300, 375000),
        OSLO_KOMMUNE: BuyerCharge(100, 125000),
    }
    assert result.quantity == 400


def test_licence_quantity_is_summed_before_tiers() -> None:
    # 600 + 600 = 1200 units: 1000 × 10.00 + 200 × 8.00 = 11 600.00, half each.
    licence_ = licence(buyers=JOINT, pricing=pricing(unit_price=None, tiers=TWO_TIERS))
    result = charge(licence_, {BAERUM: BuyerUsage(600), OSLO_KOMMUNE: BuyerUsage(600)})
    assert result.amount_ore == 1160000
    assert result.buyers[BAERUM].share_ore == result.buyers[OSLO_KOMMUNE].share_ore == 580000


def test_usage_split_leftover_ore_goes_to_smaller_id() -> None:
    # 3 × 1.00 = 3.00 capped at 1.00 = 100 øre among three equal users: 33 each and
    # one øre left over, a three-way tie that goes to the smallest id, "0301".
    capped = licence(
        buyers=(BAERUM, OSLO_KOMMUNE, DRAMMEN),
        pricing=pricing(unit_price=Decimal("1"), monthly_cap=Decimal("1.00")),
    )
    usage = {BAERUM: BuyerUsage(1), OSLO_KOMMUNE: BuyerUsage(1), DRAMMEN: BuyerUsage(1)}
    assert {k: v.share_ore for k, v in charge(capped, usage).buyers.items()} == {
        OSLO_KOMMUNE: 34,
        BAERUM: 33,
        DRAMMEN: 33,
    }


def test_every_buyer_appears_even_without_usage() -> None:
    licence_ = licence(buyers=JOINT)
    result = charge(licence_, {BAERUM: BuyerUsage(10)})
    assert result.buyers == {BAERUM: BuyerCharge(10, 12500), OSLO_KOMMUNE: BuyerCharge(0, 0)}


def test_population_split_charges_buyers_without_usage() -> None:
    # 830 learners × 10.00 = 8300.00 shared 130 000 : 700 000 -> 1300.00 and 7000.00.
    licence_ = licence(buyers=JOINT, split="population", pricing=pricing(unit_price=Decimal(10)))
    result = charge(licence_, {BAERUM: BuyerUsage(830)})
    assert result.buyers == {BAERUM: BuyerCharge(830, 130000), OSLO_KOMMUNE: BuyerCharge(0, 700000)}


def test_population_split_rounding() -> None:
    # 1.00 NOK by 130 000 : 700 000 : 100 000 (sum 930 000):
    # exact 13.978, 75.268, 10.753 -> floors 13, 75, 10 (98), 2 øre left:
    # remainders .978 (3201) > .753 (3301) > .268 (0301) -> 14, 75, 11.
    licence_ = licence(
        buyers=(BAERUM, OSLO_KOMMUNE, DRAMMEN),
        split="population",
        pricing=pricing(unit_price=Decimal("1.00")),
    )
    result = charge(licence_, {BAERUM: BuyerUsage(1)})
    assert {k: v.share_ore for k, v in result.buyers.items()} == {
        BAERUM: 14,
        OSLO_KOMMUNE: 75,
        DRAMMEN: 11,
    }


def test_max_per_pupil_usage_split_by_own_capped_amounts() -> None:
    # Bærum: Bekkestua 300 × 12.50 = 3750 capped at 3360. Oslo: 100 × 12.50 = 1250 (cap 4000).
    # Licence 4610.00, capped monthly at 4000.00 = 400 000 øre, shared 3360 : 1250:
    # exact 291 540.13 and 108 459.87 -> 291 540 and 108 460 (larger remainder to Oslo).
    # (By quantity, 300 : 100, it would have been 300 000 : 100 000.)
    licence_ = licence(
        buyers=JOINT,
        pricing=pricing(max_per_pupil=Decimal("8.00"), monthly_cap=Decimal("4000.00")),
    )
    usage = {
        BAERUM: BuyerUsage(300, {BEKKESTUA: 300}),
        OSLO_KOMMUNE: BuyerUsage(100, {OSLO_SCHOOL: 100}),
    }
    result = charge(licence_, usage)
    assert result.amount_ore == 400000
    assert result.cap_applied is True
    assert result.buyers == {
        BAERUM: BuyerCharge(300, 291540),
        OSLO_KOMMUNE: BuyerCharge(100, 108460),
    }


def test_negative_quantity_is_a_bug() -> None:
    with pytest.raises(InvariantViolation, match="negative"):
        single(-1)
