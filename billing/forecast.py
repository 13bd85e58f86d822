"""A licence's month-end forecast, priced exactly as its settlement will be.

`ledger.domain.forecast` projects each buyer's quantity; this prices the projection
with `billing.pricing.charge_licence`, the code settlements use, so tiers, the
per-pupil ceiling, the monthly cap and the sharing of joint licences apply to a
forecast as they will to the settlement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from billing.pricing import LicenceCharge, charge_licence
from ledger.domain.catalogue import Catalogue, Licence
from ledger.domain.forecast import project_buyer_usage
from ledger.domain.invariants import InvariantViolation
from ledger.domain.usage import BuyerUsage


@dataclass(frozen=True)
class LicenceForecast:
    """A licence's charge so far and at month end (both after caps, in øre)."""

    licence_id: str
    so_far: LicenceCharge
    projected: LicenceCharge

    def buyer_so_far_ore(self, buyer: str) -> int:
        charge = self.so_far.buyers.get(buyer)
        return charge.share_ore if charge is not None else 0

    def buyer_forecast_ore(self, buyer: str) -> int:
        """The buyer's projected share, never below its share so far.

        On a joint licence split by use, another buyer growing faster could make a
        buyer's projected share smaller than today's; a budget warning must not rely
        on that, so the forecast is the larger of the two.
        """
        charge = self.projected.buyers.get(buyer)
        projected = charge.share_ore if charge is not None else 0
        return max(projected, self.buyer_so_far_ore(buyer))

    def buyer_quantity(self, buyer: str) -> int:
        charge = self.projected.buyers.get(buyer)
        return charge.quantity if charge is not None else 0


def covered_pupils(licence: Licence, catalogue: Catalogue, buyer: str) -> dict[str, int]:
    """Pupils of the buyer's schools the licence covers, by school."""
    municipality = catalogue.municipality(buyer)
    if municipality is None:
        raise InvariantViolation(f"licence {licence.id} names unknown buyer {buyer}")
    in_scope = None if licence.schools is None else set(licence.schools)
    return {
        school.id: school.pupils
        for school in municipality.schools
        if in_scope is None or school.id in in_scope
    }


def forecast_licence(
    licence: Licence,
    catalogue: Catalogue,
    usage: Mapping[str, BuyerUsage],
    elapsed: int,
    left: int,
) -> LicenceForecast:
    """Price `usage` so far (every buyer's) and its projection over `left` more school days."""
    projected = {
        buyer: project_buyer_usage(
            licence.pricing.metric,
            buyer_usage,
            elapsed,
            left,
            covered_pupils(licence, catalogue, buyer),
        )
        for buyer, buyer_usage in usage.items()
    }
    return LicenceForecast(
        licence_id=licence.id,
        so_far=charge_licence(licence, catalogue, usage),
        projected=charge_licence(licence, catalogue, projected),
    )
