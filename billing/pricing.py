"""Pricing one licence for one period (CONTRACT 5.5) and sharing it (CONTRACT 5.6).

Order of operations, as the contract states it: price the quantity (unit price or
graduated tiers; with `max_per_pupil`, price and cap each school first), cap the
licence total at `monthly_cap`, round half-even to whole øre once, then share the
øre among buyers. All arithmetic before that single rounding is exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

from billing.sharing import largest_remainder
from ledger.domain.catalogue import Catalogue, Licence, Pricing, Tier
from ledger.domain.invariants import InvariantViolation, invariant
from ledger.domain.money import exact_arithmetic, ore_from_decimal_half_even
from ledger.domain.usage import BuyerUsage


@dataclass(frozen=True)
class BuyerCharge:
    """One buyer's own quantity and its share of the licence amount, in øre."""

    quantity: int
    share_ore: int


@dataclass(frozen=True)
class LicenceCharge:
    """What a licence costs for one period, and how it is shared among its buyers."""

    licence_id: str
    amount_ore: int
    cap_applied: bool  # a monthly or per-pupil ceiling reduced the amount
    buyers: dict[str, BuyerCharge]  # every buyer of the licence and every buyer with usage

    @property
    def quantity(self) -> int:
        """The licence's quantity: the sum over its buyers (CONTRACT 5.5)."""
        return sum(charge.quantity for charge in self.buyers.values())


@dataclass(frozen=True)
class _Priced:
    """A licence's amount before the monthly cap, and each buyer's part of it."""

    amount: Decimal  # NOK, exact
    per_buyer: Mapping[str, Decimal]  # NOK, exact; only meaningful with max_per_pupil
    capped: bool


def charge_licence(
    licence: Licence, catalogue: Catalogue, usage: Mapping[str, BuyerUsage]
) -> LicenceCharge:
    """Price `usage` (municipality id -> usage of one period) under `licence`."""
    pricing = licence.pricing
    _check_pricing(licence.id, pricing)
    for buyer, buyer_usage in usage.items():
        invariant(buyer_usage.quantity >= 0, f"{licence.id}/{buyer}: negative quantity")
    quantity = sum(buyer_usage.quantity for buyer_usage in usage.values())
    if pricing.max_per_pupil is None:
        priced = _Priced(amount=_amount(quantity, pricing), per_buyer={}, capped=False)
    else:
        priced = _price_per_school(licence, catalogue, usage)
    amount, monthly_capped = _apply_monthly_cap(priced.amount, pricing.monthly_cap)
    amount_ore = ore_from_decimal_half_even(amount)  # the one rounding: half-even to øre
    buyers = sorted(set(licence.buyers) | set(usage))
    weights = _weights(licence, catalogue, usage, priced, buyers)
    shares = largest_remainder(amount_ore, weights)
    invariant(sum(shares.values()) == amount_ore, f"{licence.id}: shares do not add up")
    return LicenceCharge(
        licence_id=licence.id,
        amount_ore=amount_ore,
        cap_applied=priced.capped or monthly_capped,
        buyers={
            buyer: BuyerCharge(
                quantity=usage[buyer].quantity if buyer in usage else 0,
                share_ore=shares[buyer],
            )
            for buyer in buyers
        },
    )


def _check_pricing(licence_id: str, pricing: Pricing) -> None:
    """The catalogue loader enforces these; re-checked because a wrong price is unrecoverable."""
    invariant(
        (pricing.unit_price is None) != (pricing.tiers is None),
        f"licence {licence_id} must have exactly one of unit_price and tiers",
    )
    invariant(
        pricing.max_per_pupil is None or pricing.unit_price is not None,
        f"licence {licence_id}: max_per_pupil is only allowed with unit_price",
    )
    if pricing.tiers is not None:
        _check_tiers(licence_id, pricing.tiers)


def _check_tiers(licence_id: str, tiers: tuple[Tier, ...]) -> None:
    invariant(len(tiers) > 0, f"licence {licence_id} has an empty list of tiers")
    invariant(tiers[-1].up_to is None, f"licence {licence_id}: the last tier must be unbounded")
    bounds = [tier.up_to for tier in tiers[:-1]]
    invariant(
        all(bound is not None and bound >= 1 for bound in bounds),
        f"licence {licence_id}: only the last tier may be unbounded, and bounds are at least 1",
    )
    invariant(
        all(a is not None and b is not None and a < b for a, b in pairwise(bounds)),
        f"licence {licence_id}: tier bounds must increase",
    )


def _amount(quantity: int, pricing: Pricing) -> Decimal:
    """Quantity × unit price, or graduated tiers: each unit at the price of the tier it falls in."""
    if pricing.unit_price is not None:
        with exact_arithmetic():
            return quantity * pricing.unit_price
    if pricing.tiers is None:
        raise InvariantViolation("pricing has neither unit_price nor tiers")
    return _tiered_amount(quantity, pricing.tiers)


def _tiered_amount(quantity: int, tiers: tuple[Tier, ...]) -> Decimal:
    total = Decimal(0)
    lower = 0  # units already priced by earlier tiers
    with exact_arithmetic():
        for tier in tiers:
            upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
            if upper > lower:
                total += (upper - lower) * tier.unit_price
            if tier.up_to is None or tier.up_to >= quantity:
                break
            lower = tier.up_to
    return total


def _price_per_school(
    licence: Licence, catalogue: Catalogue, usage: Mapping[str, BuyerUsage]
) -> _Priced:
    """With max_per_pupil: each school's quantity × unit price, capped at max × its pupils."""
    unit_price, max_per_pupil = licence.pricing.unit_price, licence.pricing.max_per_pupil
    if unit_price is None or max_per_pupil is None:
        raise InvariantViolation(f"licence {licence.id}: per-school pricing needs both prices")
    per_buyer: dict[str, Decimal] = {}
    capped = False
    with exact_arithmetic():
        for buyer, buyer_usage in sorted(usage.items()):
            _check_per_school(licence, buyer, buyer_usage)
            buyer_amount = Decimal(0)
            for school_id, school_quantity in sorted(buyer_usage.per_school.items()):
                school = catalogue.school(school_id)
                if school is None:
                    raise InvariantViolation(f"licence {licence.id}: unknown school {school_id}")
                uncapped = school_quantity * unit_price
                ceiling = school.pupils * max_per_pupil
                capped = capped or uncapped > ceiling
                buyer_amount += min(uncapped, ceiling)
            per_buyer[buyer] = buyer_amount
        amount = sum(per_buyer.values(), Decimal(0))
    return _Priced(amount=amount, per_buyer=per_buyer, capped=capped)


def _check_per_school(licence: Licence, buyer: str, buyer_usage: BuyerUsage) -> None:
    """Per-school quantities must fit the buyer's quantity, or the school caps mean nothing.

    Units and pupils are counted once per school, so they add up to the quantity;
    a learner active at two schools is counted at both, so for active learners the
    schools add up to at least the quantity.
    """
    school_sum = sum(buyer_usage.per_school.values())
    invariant(
        all(value >= 0 for value in buyer_usage.per_school.values()),
        f"licence {licence.id}/{buyer}: negative per-school quantity",
    )
    if licence.pricing.metric == "active_learners":
        ok = school_sum >= buyer_usage.quantity and (school_sum == 0) == (buyer_usage.quantity == 0)
    else:
        ok = school_sum == buyer_usage.quantity
    invariant(
        ok,
        f"licence {licence.id}/{buyer}: per-school quantities {dict(buyer_usage.per_school)} "
        f"do not fit quantity {buyer_usage.quantity}",
    )


def _apply_monthly_cap(amount: Decimal, monthly_cap: Decimal | None) -> tuple[Decimal, bool]:
    if monthly_cap is None or amount <= monthly_cap:
        return amount, False
    return monthly_cap, True


def _weights(
    licence: Licence,
    catalogue: Catalogue,
    usage: Mapping[str, BuyerUsage],
    priced: _Priced,
    buyers: list[str],
) -> dict[str, Decimal | int]:
    """Sharing weights: population, or own use (own capped amount with max_per_pupil)."""
    if licence.split == "population":
        return {buyer: _population(licence, catalogue, buyer) for buyer in buyers}
    if licence.pricing.max_per_pupil is not None:
        return {buyer: priced.per_buyer.get(buyer, Decimal(0)) for buyer in buyers}
    return {buyer: usage[buyer].quantity if buyer in usage else 0 for buyer in buyers}


def _population(licence: Licence, catalogue: Catalogue, buyer: str) -> int:
    municipality = catalogue.municipality(buyer)
    if municipality is None:
        raise InvariantViolation(f"licence {licence.id}: unknown buyer municipality {buyer}")
    return municipality.population
