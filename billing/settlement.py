"""Settlements (CONTRACT 5.7, 5.8, 6): what each municipality owes each vendor for a period.

`settle_period` is a pure function of the period's usage, the catalogue, the usage
of earlier closed periods recomputed with late events, and every line issued so
far. Issued settlements are never changed: late events become adjustment lines in
the settlement of the period being closed now.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from billing.metrics import fixed_usage
from billing.pricing import LicenceCharge, charge_licence
from ledger.domain.canonical import digest_key, document_digest
from ledger.domain.catalogue import Catalogue, Licence, Metric
from ledger.domain.invariants import InvariantViolation, invariant
from ledger.domain.money import exact_arithmetic, format_ore, format_rate, round_half_even
from ledger.domain.periods import parse_period
from ledger.domain.usage import BuyerUsage, IssuedLine, PeriodUsage, UnlicensedCount

currency = "NOK"

# Keys the contract defines; `extra` may add others but never replace these.
_DOCUMENT_KEYS = frozenset(
    {"period", "municipality", "vendor", "currency", "lines", "subtotal", "vat", "total",
     "unlicensed", digest_key}
)  # fmt: skip

_no_extra: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True)
class SettlementLine:
    """One licence's charge (or adjustment) to one municipality."""

    licence: str
    metric: Metric
    usage_period: (
        str  # the period the usage belongs to; earlier than the settlement's for adjustments
    )
    quantity: int  # the buyer's own quantity, or its change for an adjustment
    amount_ore: int  # the buyer's share, or its change for an adjustment
    vat_rate: Decimal
    cap_applied: bool
    adjustment: bool

    def to_document(self) -> dict[str, object]:
        return {
            "licence": self.licence,
            "metric": self.metric,
            "usage_period": self.usage_period,
            "quantity": self.quantity,
            "amount": format_ore(self.amount_ore),
            "vat_rate": format_rate(self.vat_rate),
            "cap_applied": self.cap_applied,
            "adjustment": self.adjustment,
        }


@dataclass(frozen=True)
class Settlement:
    """One period's settlement between one municipality and one vendor."""

    period: str
    municipality: str
    vendor: str
    lines: tuple[SettlementLine, ...]
    subtotal_ore: int
    vat_ore: int
    total_ore: int
    unlicensed: UnlicensedCount
    extra: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        # Checked on construction, so a settlement read back from the store is held to
        # the same arithmetic as one just computed.
        invariant(
            self.subtotal_ore == sum(line.amount_ore for line in self.lines),
            f"settlement {self._name}: subtotal is not the sum of its lines",
        )
        invariant(
            self.vat_ore == vat_of(self.lines),
            f"settlement {self._name}: VAT does not follow from its lines",
        )
        invariant(
            self.total_ore == self.subtotal_ore + self.vat_ore,
            f"settlement {self._name}: total is not subtotal + vat",
        )
        clash = _DOCUMENT_KEYS & set(self.extra)
        if clash:
            raise ValueError(
                f"Extra settlement keys must not replace contract keys: {sorted(clash)}."
            )

    @property
    def _name(self) -> str:
        return f"{self.period}/{self.municipality}/{self.vendor}"

    def to_document(self) -> dict[str, object]:
        """The CONTRACT 6 JSON object, with `extra` keys, ending with its digest."""
        document: dict[str, object] = {
            "period": self.period,
            "municipality": self.municipality,
            "vendor": self.vendor,
            "currency": currency,
            "lines": [line.to_document() for line in self.lines],
            "subtotal": format_ore(self.subtotal_ore),
            "vat": format_ore(self.vat_ore),
            "total": format_ore(self.total_ore),
            "unlicensed": {"events": self.unlicensed.events, "learners": self.unlicensed.learners},
            **self.extra,
        }
        document[digest_key] = document_digest(document)
        return document

    def issued_lines(self) -> tuple[IssuedLine, ...]:
        """This settlement's lines as `IssuedLine`s, the input of later adjustments."""
        return tuple(
            IssuedLine(
                settlement_period=self.period,
                municipality=self.municipality,
                vendor=self.vendor,
                licence=line.licence,
                usage_period=line.usage_period,
                quantity=line.quantity,
                amount_ore=line.amount_ore,
            )
            for line in self.lines
        )


# (municipality id, vendor org_no): who a settlement is between.
_Parties = tuple[str, str]


def settle_period(
    period: str,
    catalogue: Catalogue,
    usage: PeriodUsage,
    recomputed: Mapping[str, PeriodUsage],
    issued: Sequence[IssuedLine],
    extra: Mapping[str, object] | None = None,
) -> list[Settlement]:
    """Every settlement of `period`, ordered by (municipality, vendor).

    - `usage`: the period's event-based usage known at closing. `fixed_per_pupil`
      licences are computed here from the catalogue for every licence whose validity
      overlaps the month; whatever `usage` holds for them is ignored.
    - `recomputed[p]`: for each earlier closed period p with late events, p's usage
      with every event known now; only affected licences are present.
    - `issued`: every line of every earlier settlement (originals and adjustments).
    - `extra`: keys added to every document (before the digest), e.g. a close id.
    """
    parse_period(period)
    invariant(usage.period == period, f"usage of {usage.period} given to settle {period}")
    invariant(
        all(line.settlement_period < period for line in issued),
        f"lines were already issued in or after {period}",
    )
    _check_every_licence_known(catalogue, usage)
    lines: dict[_Parties, list[SettlementLine]] = defaultdict(list)
    for licence in sorted(catalogue.licences, key=lambda licence: licence.id):
        for buyer, line in _current_lines(licence, catalogue, usage):
            lines[(buyer, licence.vendor)].append(line)
    for usage_period in sorted(recomputed):
        for buyer, vendor, line in _adjustments(
            period, usage_period, catalogue, recomputed[usage_period], issued
        ):
            lines[(buyer, vendor)].append(line)
    parties = set(lines) | {key for key, count in usage.unlicensed.items() if count.events > 0}
    return [
        _settlement(
            period,
            parties_key,
            lines.get(parties_key, []),
            usage.unlicensed.get(parties_key, UnlicensedCount(events=0, learners=0)),
            extra or _no_extra,
        )
        for parties_key in sorted(parties)
    ]


def _current_usage(
    licence: Licence, catalogue: Catalogue, usage: PeriodUsage
) -> Mapping[str, BuyerUsage]:
    if licence.pricing.metric == "fixed_per_pupil":
        return fixed_usage(licence, catalogue, usage.period)
    return usage.by_licence.get(licence.id, {})


def _check_every_licence_known(catalogue: Catalogue, usage: PeriodUsage) -> None:
    """Usage of a licence missing from the catalogue cannot be priced: stop rather than drop it."""
    known = {licence.id for licence in catalogue.licences}
    unknown = sorted(set(usage.by_licence) - known)
    invariant(
        not unknown, f"usage of {usage.period} names licences not in the catalogue: {unknown}"
    )


def _current_lines(
    licence: Licence, catalogue: Catalogue, usage: PeriodUsage
) -> list[tuple[str, SettlementLine]]:
    """A line per buyer whose quantity or share is not zero (CONTRACT 5.7)."""
    licence_usage = _current_usage(licence, catalogue, usage)
    if not licence_usage:
        return []
    charge = charge_licence(licence, catalogue, licence_usage)
    _check_shares(charge)
    return [
        (
            buyer,
            _line(
                licence, charge, usage.period, buyer_charge.quantity, buyer_charge.share_ore, False
            ),
        )
        for buyer, buyer_charge in sorted(charge.buyers.items())
        if buyer_charge.quantity != 0 or buyer_charge.share_ore != 0
    ]


def _adjustments(
    period: str,
    usage_period: str,
    catalogue: Catalogue,
    recomputed: PeriodUsage,
    issued: Sequence[IssuedLine],
) -> list[tuple[str, str, SettlementLine]]:
    """Adjustment lines for one closed period: fresh charge minus everything issued for it.

    Comparing with the sum over all earlier settlements (not just the original)
    makes repeated late arrivals add up: original + adjustments = fresh charge.
    `fixed_per_pupil` charges do not depend on events, so late events never adjust them.
    """
    parse_period(usage_period)
    invariant(usage_period < period, f"recomputed period {usage_period} is not before {period}")
    invariant(
        recomputed.period == usage_period,
        f"recomputed usage of {recomputed.period} filed under {usage_period}",
    )
    result: list[tuple[str, str, SettlementLine]] = []
    for licence_id in sorted(recomputed.by_licence):
        licence = catalogue.licence(licence_id)
        if licence is None:
            raise InvariantViolation(
                f"recomputed usage names licence {licence_id}, not in the catalogue"
            )
        if licence.pricing.metric == "fixed_per_pupil":
            continue
        charge = charge_licence(licence, catalogue, recomputed.by_licence[licence_id])
        _check_shares(charge)
        issued_totals = _issued_totals(issued, licence_id, usage_period)
        for buyer in sorted(set(charge.buyers) | set(issued_totals)):
            fresh = charge.buyers.get(buyer)
            fresh_quantity, fresh_share = (fresh.quantity, fresh.share_ore) if fresh else (0, 0)
            issued_quantity, issued_amount = issued_totals.get(buyer, (0, 0))
            amount_change = fresh_share - issued_amount
            if amount_change != 0:
                quantity_change = fresh_quantity - issued_quantity
                line = _line(licence, charge, usage_period, quantity_change, amount_change, True)
                result.append((buyer, licence.vendor, line))
    return result


def _issued_totals(
    issued: Sequence[IssuedLine], licence_id: str, usage_period: str
) -> dict[str, tuple[int, int]]:
    """Per municipality: (sum of quantity, sum of amount øre) issued for this licence and period."""
    totals: dict[str, tuple[int, int]] = {}
    for line in issued:
        if line.licence == licence_id and line.usage_period == usage_period:
            quantity, amount = totals.get(line.municipality, (0, 0))
            totals[line.municipality] = (quantity + line.quantity, amount + line.amount_ore)
    return totals


def _line(
    licence: Licence,
    charge: LicenceCharge,
    usage_period: str,
    quantity: int,
    amount_ore: int,
    adjustment: bool,
) -> SettlementLine:
    return SettlementLine(
        licence=licence.id,
        metric=licence.pricing.metric,
        usage_period=usage_period,
        quantity=quantity,
        amount_ore=amount_ore,
        vat_rate=licence.vat_rate,
        cap_applied=charge.cap_applied,
        adjustment=adjustment,
    )


def _check_shares(charge: LicenceCharge) -> None:
    invariant(
        sum(buyer.share_ore for buyer in charge.buyers.values()) == charge.amount_ore,
        f"shares of {charge.licence_id} do not add up to its amount {charge.amount_ore}",
    )


def _settlement(
    period: str,
    parties: _Parties,
    lines: list[SettlementLine],
    unlicensed: UnlicensedCount,
    extra: Mapping[str, object],
) -> Settlement:
    # Current-period lines first (by licence), then adjustments by usage period, then licence.
    ordered = tuple(
        sorted(lines, key=lambda line: (line.adjustment, line.usage_period, line.licence))
    )
    subtotal_ore = sum(line.amount_ore for line in ordered)
    vat_ore = vat_of(ordered)
    return Settlement(
        period=period,
        municipality=parties[0],
        vendor=parties[1],
        lines=ordered,
        subtotal_ore=subtotal_ore,
        vat_ore=vat_ore,
        total_ore=subtotal_ore + vat_ore,
        unlicensed=unlicensed,
        extra=MappingProxyType(dict(extra)),
    )


def vat_of(lines: Sequence[SettlementLine]) -> int:
    """VAT in øre (CONTRACT 5.7): per rate, round half-even(sum of amounts at that rate × rate)."""
    by_rate: dict[Decimal, int] = defaultdict(int)
    for line in lines:
        by_rate[line.vat_rate] += line.amount_ore  # Decimal("0.25") == Decimal("0.250"): one rate
    vat_ore = 0
    with exact_arithmetic():
        for rate, amount_ore in by_rate.items():
            vat_ore += round_half_even(amount_ore * rate)
    return vat_ore
