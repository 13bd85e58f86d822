"""CONTRACT 5.7, 5.8 and 6: settlements, VAT, lines, unlicensed use, adjustments, the document."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

import pytest

from billing.settlement import Settlement, SettlementLine, settle_period
from ledger.domain.catalogue import Catalogue, Licence
from ledger.domain.invariants import InvariantViolation
from ledger.domain.usage import BuyerUsage, IssuedLine, PeriodUsage, UnlicensedCount
from tests.billing import (
    BAERUM,
    DRAMMEN,
    OSLO_KOMMUNE,
    OTHER_VENDOR,
    VENDOR,
    catalogue,
    licence,
    pricing,
)

L1 = licence()  # L-2026-001: Bærum, active learners at 12.50, 25 % VAT


def period_usage(
    period: str,
    by_licence: Mapping[str, Mapping[str, int]] | None = None,
    unlicensed: Mapping[tuple[str, str], tuple[int, int]] | None = None,
) -> PeriodUsage:
    return PeriodUsage(
        period=period,
        by_licence={
            licence_id: {buyer: BuyerUsage(quantity) for buyer, quantity in buyers.items()}
            for licence_id, buyers in (by_licence or {}).items()
        },
        unlicensed={
            key: UnlicensedCount(events, learners)
            for key, (events, learners) in (unlicensed or {}).items()
        },
    )


def settle(
    period: str,
    catalogue_: Catalogue,
    by_licence: Mapping[str, Mapping[str, int]] | None = None,
    *,
    unlicensed: Mapping[tuple[str, str], tuple[int, int]] | None = None,
    recomputed: Mapping[str, Mapping[str, Mapping[str, int]]] | None = None,
    issued: Sequence[IssuedLine] = (),
    extra: Mapping[str, object] | None = None,
) -> list[Settlement]:
    return settle_period(
        period,
        catalogue_,
        period_usage(period, by_licence, unlicensed),
        {p: period_usage(p, usage) for p, usage in (recomputed or {}).items()},
        issued,
        extra,
    )


def documents(settlements: list[Settlement]) -> list[dict[str, object]]:
    return [settlement.to_document() for settlement in settlements]


def without_digest(document: Mapping[str, object]) -> dict[str, object]:
    return {key: value for key, value in document.items() if key != "digest"}


def issued_of(*settlement_lists: list[Settlement]) -> list[IssuedLine]:
    return [
        line for settlements in settlement_lists for s in settlements for line in s.issued_lines()
    ]


def lines_of(settlement: Settlement) -> list[tuple[str, str, int, str, bool]]:
    """(licence, usage_period, quantity, amount, adjustment) per line, from the document."""
    return [
        (
            line["licence"],
            line["usage_period"],
            line["quantity"],
            line["amount"],
            line["adjustment"],
        )
        for line in settlement.to_document()["lines"]  # type: ignore[attr-defined]
    ]


# --- the document ---------------------------------------------------------------------


def test_contract_example_document() -> None:
    [settlement] = settle(
        "2026-10",
        catalogue(L1),
        {"L-2026-001": {BAERUM: 812}},
        unlicensed={(BAERUM, VENDOR): (3, 2)},
    )
    document = settlement.to_document()
    expected = {
        "period": "2026-10",
        "municipality": "3201",
        "vendor": "987654325",
        "currency": "NOK",
        "lines": [
            {
                "licence": "L-2026-001",
                "metric": "active_learners",
                "usage_period": "2026-10",
                "quantity": 812,
                "amount": "10150.00",
                "vat_rate": "0.25",
                "cap_applied": False,
                "adjustment": False,
            }
        ],
        "subtotal": "10150.00",
        "vat": "2537.50",
        "total": "12687.50",
        "unlicensed": {"events": 3, "learners": 2},
    }
    assert without_digest(document) == expected
    canonical = json.dumps(expected, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert document["digest"] == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def test_extra_keys_are_in_the_document_and_its_digest() -> None:
    usage = {"L-2026-001": {BAERUM: 812}}
    first = settle(
        "2026-10", catalogue(L1), usage, extra={"close_id": "c-1", "catalogue_version": 3}
    )
    second = settle(
        "2026-10", catalogue(L1), usage, extra={"close_id": "c-2", "catalogue_version": 3}
    )
    document = first[0].to_document()
    assert (document["close_id"], document["catalogue_version"]) == ("c-1", 3)
    assert document["digest"] != second[0].to_document()["digest"]
    plain = without_digest(document)
    canonical = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert document["digest"] == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def test_extra_keys_cannot_replace_contract_keys() -> None:
    with pytest.raises(ValueError, match="total"):
        settle("2026-10", catalogue(L1), {"L-2026-001": {BAERUM: 1}}, extra={"total": "0.00"})


def test_settlement_refuses_inconsistent_amounts() -> None:
    line = SettlementLine("L", "units", "2026-10", 1, 1000, Decimal("0.25"), False, False)
    no_one = UnlicensedCount(0, 0)
    Settlement("2026-10", BAERUM, VENDOR, (line,), 1000, 250, 1250, no_one)  # consistent
    with pytest.raises(InvariantViolation, match="subtotal"):
        Settlement("2026-10", BAERUM, VENDOR, (line,), 999, 250, 1249, no_one)
    with pytest.raises(InvariantViolation, match="VAT"):
        Settlement("2026-10", BAERUM, VENDOR, (line,), 1000, 251, 1251, no_one)
    with pytest.raises(InvariantViolation, match="total"):
        Settlement("2026-10", BAERUM, VENDOR, (line,), 1000, 250, 1251, no_one)


# --- VAT ---------------------------------------------------------------------------------


def cheap(licence_id: str, price: str, vat_rate: str) -> Licence:
    return licence(
        id=licence_id, vat_rate=Decimal(vat_rate), pricing=pricing(unit_price=Decimal(price))
    )


def test_vat_zero_rate() -> None:
    zero = licence(vat_rate=Decimal("0"))
    [settlement] = settle("2026-10", catalogue(zero), {"L-2026-001": {BAERUM: 812}})
    document = settlement.to_document()
    assert (document["subtotal"], document["vat"], document["total"]) == (
        "10150.00",
        "0.00",
        "10150.00",
    )
    assert document["lines"][0]["vat_rate"] == "0.00"  # type: ignore[index]


def test_vat_is_rounded_half_even_per_rate_not_per_line() -> None:
    # 0.25 lines: 0.10 + 0.20 = 0.30 × 0.25 = 7.5 øre -> 8 (per line: 2.5 -> 2, plus 5 = 7).
    # The rate written "0.250" is the same rate. 0.30 at 0 adds no VAT.
    licences = (
        cheap("L-A", "0.10", "0.25"),
        cheap("L-B", "0.20", "0.250"),
        cheap("L-C", "0.30", "0"),
    )
    usage = {"L-A": {BAERUM: 1}, "L-B": {BAERUM: 1}, "L-C": {BAERUM: 1}}
    [settlement] = settle("2026-10", catalogue(*licences), usage)
    document = settlement.to_document()
    assert (document["subtotal"], document["vat"], document["total"]) == ("0.60", "0.08", "0.68")
    rates = [line["vat_rate"] for line in document["lines"]]  # type: ignore[attr-defined]
    assert rates == ["0.25", "0.25", "0.00"]


def test_vat_half_even_rounds_down_to_even() -> None:
    # 0.10 × 0.25 = 2.5 øre -> 2.
    [settlement] = settle("2026-10", catalogue(cheap("L-A", "0.10", "0.25")), {"L-A": {BAERUM: 1}})
    assert (settlement.subtotal_ore, settlement.vat_ore, settlement.total_ore) == (10, 2, 12)


# --- which settlements and lines exist --------------------------------------------------------


def test_one_settlement_per_municipality_and_vendor_in_order() -> None:
    joint = licence(id="L-J", buyers=(BAERUM, OSLO_KOMMUNE))
    other = licence(id="L-O", vendor=OTHER_VENDOR, products=("norsk",))
    usage = {"L-J": {BAERUM: 2, OSLO_KOMMUNE: 1}, "L-O": {BAERUM: 4}}
    settlements = settle("2026-10", catalogue(joint, other), usage)
    assert [(s.municipality, s.vendor) for s in settlements] == [
        (OSLO_KOMMUNE, VENDOR),
        (BAERUM, OTHER_VENDOR),
        (BAERUM, VENDOR),
    ]
    assert [lines_of(s) for s in settlements] == [
        [("L-J", "2026-10", 1, "12.50", False)],
        [("L-O", "2026-10", 4, "50.00", False)],
        [("L-J", "2026-10", 2, "25.00", False)],
    ]


def test_unlicensed_use_alone_makes_a_settlement() -> None:
    settlements = settle(
        "2026-10",
        catalogue(L1),
        unlicensed={(DRAMMEN, VENDOR): (5, 4), (OSLO_KOMMUNE, VENDOR): (0, 0)},
    )
    assert [without_digest(d) for d in documents(settlements)] == [
        {
            "period": "2026-10",
            "municipality": DRAMMEN,
            "vendor": VENDOR,
            "currency": "NOK",
            "lines": [],
            "subtotal": "0.00",
            "vat": "0.00",
            "total": "0.00",
            "unlicensed": {"events": 5, "learners": 4},
        }
    ]


def test_nothing_to_settle() -> None:
    assert settle("2026-10", catalogue(L1)) == []
    assert settle("2026-10", catalogue(L1), {"L-2026-001": {BAERUM: 0}}) == []


def test_buyer_without_quantity_or_share_has_no_line() -> None:
    joint = licence(buyers=(BAERUM, OSLO_KOMMUNE))
    settlements = settle("2026-10", catalogue(joint), {"L-2026-001": {BAERUM: 10, OSLO_KOMMUNE: 0}})
    assert [s.municipality for s in settlements] == [BAERUM]


def test_population_split_gives_a_line_to_a_buyer_without_usage() -> None:
    # 830 × 10.00 = 8300.00 shared 130 000 : 700 000.
    joint = licence(
        buyers=(BAERUM, OSLO_KOMMUNE), split="population", pricing=pricing(unit_price=Decimal(10))
    )
    settlements = settle("2026-10", catalogue(joint), {"L-2026-001": {BAERUM: 830}})
    assert [(s.municipality, lines_of(s)) for s in settlements] == [
        (OSLO_KOMMUNE, [("L-2026-001", "2026-10", 0, "7000.00", False)]),
        (BAERUM, [("L-2026-001", "2026-10", 830, "1300.00", False)]),
    ]


def test_cap_applied_is_on_the_line() -> None:
    capped = licence(pricing=pricing(monthly_cap=Decimal("100.00")))
    [settlement] = settle("2026-10", catalogue(capped), {"L-2026-001": {BAERUM: 9}})
    line = settlement.to_document()["lines"][0]  # type: ignore[index]
    assert (line["amount"], line["cap_applied"]) == ("100.00", True)


FIXED = licence(id="L-FIX", pricing=pricing(metric="fixed_per_pupil", unit_price=Decimal("5.00")))


def test_fixed_per_pupil_is_charged_from_the_catalogue_used_or_not() -> None:
    # Bærum has 420 + 300 pupils: 720 × 5.00 = 3600.00. What usage says is ignored.
    [settlement] = settle("2026-10", catalogue(FIXED), {"L-FIX": {BAERUM: 3}})
    assert lines_of(settlement) == [("L-FIX", "2026-10", 720, "3600.00", False)]
    assert settlement.lines[0].metric == "fixed_per_pupil"


def test_fixed_per_pupil_only_in_months_overlapping_validity() -> None:
    short = licence(
        id="L-FIX", pricing=FIXED.pricing, valid_from=date(2026, 8, 31), valid_to=date(2026, 9, 1)
    )
    assert [
        len(settle(p, catalogue(short))) for p in ("2026-07", "2026-08", "2026-09", "2026-10")
    ] == [
        0,
        1,
        1,
        0,
    ]


# --- callers' bugs ----------------------------------------------------------------------------


def test_refuses_usage_of_another_period() -> None:
    with pytest.raises(InvariantViolation, match="2026-09"):
        settle_period("2026-10", catalogue(L1), period_usage("2026-09"), {}, [])


def test_refuses_a_period_already_issued() -> None:
    issued = [IssuedLine("2026-10", BAERUM, VENDOR, "L-2026-001", "2026-10", 1, 1250)]
    with pytest.raises(InvariantViolation, match="already issued"):
        settle("2026-10", catalogue(L1), {"L-2026-001": {BAERUM: 1}}, issued=issued)


def test_refuses_usage_of_a_licence_not_in_the_catalogue() -> None:
    with pytest.raises(InvariantViolation, match="L-GONE"):
        settle("2026-10", catalogue(L1), {"L-GONE": {BAERUM: 1}})


def test_refuses_recomputation_of_the_current_or_a_later_period() -> None:
    with pytest.raises(InvariantViolation, match="not before"):
        settle("2026-10", catalogue(L1), recomputed={"2026-10": {"L-2026-001": {BAERUM: 1}}})


def test_refuses_a_malformed_period() -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        settle_period("2026-1", catalogue(L1), period_usage("2026-1"), {}, [])


# --- adjustments (CONTRACT 5.8) ---------------------------------------------------------------


def test_late_events_become_adjustment_lines_in_the_next_settlement() -> None:
    cat = catalogue(L1)
    october = settle("2026-10", cat, {"L-2026-001": {BAERUM: 812}})
    # Three more learners of October arrive late; November itself has 100.
    november = settle(
        "2026-11",
        cat,
        {"L-2026-001": {BAERUM: 100}},
        recomputed={"2026-10": {"L-2026-001": {BAERUM: 815}}},
        issued=issued_of(october),
    )
    [settlement] = november
    assert lines_of(settlement) == [
        ("L-2026-001", "2026-11", 100, "1250.00", False),
        ("L-2026-001", "2026-10", 3, "37.50", True),
    ]
    # 1287.50 × 0.25 = 321.875 -> 321.88 (32 187.5 øre, half-even to 32 188).
    document = settlement.to_document()
    assert (document["subtotal"], document["vat"], document["total"]) == (
        "1287.50",
        "321.88",
        "1609.38",
    )
    # One more arrives before December closes: compared with everything issued (812 + 3).
    december = settle(
        "2026-12",
        cat,
        recomputed={"2026-10": {"L-2026-001": {BAERUM: 816}}},
        issued=issued_of(october, november),
    )
    [settlement] = december
    assert lines_of(settlement) == [("L-2026-001", "2026-10", 1, "12.50", True)]
    # 12.50 × 0.25 = 3.125 -> 3.12 (312.5 øre, half-even to 312).
    document = settlement.to_document()
    assert (document["subtotal"], document["vat"], document["total"]) == ("12.50", "3.12", "15.62")
    issued_for_october = sum(
        line.amount_ore
        for line in issued_of(october, november, december)
        if line.usage_period == "2026-10"
    )
    assert issued_for_october == 816 * 1250


def test_adjustment_can_be_negative_for_one_buyer_of_a_capped_joint_licence() -> None:
    # 1.00 per learner, capped at 50.00. October at closing: Bærum 60 -> 50.00, all Bærum's.
    # Late: Oslo 40 -> still 50.00, now shared 60 : 40 = 30.00 and 20.00.
    capped = licence(
        buyers=(BAERUM, OSLO_KOMMUNE),
        pricing=pricing(unit_price=Decimal("1.00"), monthly_cap=Decimal("50.00")),
    )
    cat = catalogue(capped)
    october = settle("2026-10", cat, {"L-2026-001": {BAERUM: 60}})
    november = settle(
        "2026-11",
        cat,
        recomputed={"2026-10": {"L-2026-001": {BAERUM: 60, OSLO_KOMMUNE: 40}}},
        issued=issued_of(october),
    )
    assert [(s.municipality, lines_of(s)) for s in november] == [
        (OSLO_KOMMUNE, [("L-2026-001", "2026-10", 40, "20.00", True)]),
        (BAERUM, [("L-2026-001", "2026-10", 0, "-20.00", True)]),
    ]
    bærum = november[1].to_document()
    assert (bærum["subtotal"], bærum["vat"], bærum["total"]) == ("-20.00", "-5.00", "-25.00")
    assert november[1].lines[0].cap_applied is True


def test_zero_amount_difference_adds_no_line_and_quantity_catches_up_later() -> None:
    capped = licence(
        buyers=(BAERUM, OSLO_KOMMUNE),
        pricing=pricing(unit_price=Decimal("1.00"), monthly_cap=Decimal("50.00")),
    )
    cat = catalogue(capped)
    october = settle("2026-10", cat, {"L-2026-001": {BAERUM: 60}})
    # Ten more Bærum learners: still capped at 50.00, no amount difference, no line.
    november = settle(
        "2026-11",
        cat,
        recomputed={"2026-10": {"L-2026-001": {BAERUM: 70}}},
        issued=issued_of(october),
    )
    assert november == []
    # Then Oslo 30: 50.00 shared 70 : 30 = 35.00 and 15.00. Bærum's quantity change is
    # against what was issued (60), so it carries the ten from before.
    december = settle(
        "2026-12",
        cat,
        recomputed={"2026-10": {"L-2026-001": {BAERUM: 70, OSLO_KOMMUNE: 30}}},
        issued=issued_of(october, november),
    )
    assert [(s.municipality, lines_of(s)) for s in december] == [
        (OSLO_KOMMUNE, [("L-2026-001", "2026-10", 30, "15.00", True)]),
        (BAERUM, [("L-2026-001", "2026-10", 10, "-15.00", True)]),
    ]


def test_line_order_current_by_licence_then_adjustments_by_period_and_licence() -> None:
    licences = tuple(licence(id=licence_id) for licence_id in ("L-A", "L-B", "L-C"))
    cat = catalogue(*licences)
    august = settle("2026-08", cat, {"L-C": {BAERUM: 10}, "L-A": {BAERUM: 10}})
    september = settle("2026-09", cat, {"L-A": {BAERUM: 10}}, issued=issued_of(august))
    october = settle(
        "2026-10",
        cat,
        {"L-B": {BAERUM: 1}, "L-A": {BAERUM: 1}},
        recomputed={
            "2026-09": {"L-A": {BAERUM: 11}},
            "2026-08": {"L-C": {BAERUM: 11}, "L-A": {BAERUM: 11}},
        },
        issued=issued_of(august, september),
    )
    [settlement] = october
    assert lines_of(settlement) == [
        ("L-A", "2026-10", 1, "12.50", False),
        ("L-B", "2026-10", 1, "12.50", False),
        ("L-A", "2026-08", 1, "12.50", True),
        ("L-C", "2026-08", 1, "12.50", True),
        ("L-A", "2026-09", 1, "12.50", True),
    ]


def test_adjustments_go_to_the_vendor_of_the_licence_with_this_periods_unlicensed_count() -> None:
    other = licence(id="L-O", vendor=OTHER_VENDOR, products=("norsk",))
    cat = catalogue(L1, other)
    october = settle("2026-10", cat, {"L-O": {BAERUM: 2}})
    [settlement] = settle(
        "2026-11",
        cat,
        unlicensed={(BAERUM, OTHER_VENDOR): (1, 1)},
        recomputed={"2026-10": {"L-O": {BAERUM: 3}}},
        issued=issued_of(october),
    )
    assert (settlement.period, settlement.municipality, settlement.vendor) == (
        "2026-11",
        BAERUM,
        OTHER_VENDOR,
    )
    assert lines_of(settlement) == [("L-O", "2026-10", 1, "12.50", True)]
    assert settlement.unlicensed == UnlicensedCount(1, 1)


def test_late_events_never_adjust_fixed_per_pupil() -> None:
    cat = catalogue(FIXED)
    october = settle("2026-10", cat)
    settlements = settle(
        "2026-11", cat, recomputed={"2026-10": {"L-FIX": {BAERUM: 5}}}, issued=issued_of(october)
    )
    assert [lines_of(s) for s in settlements] == [[("L-FIX", "2026-11", 720, "3600.00", False)]]


def test_unaffected_licences_are_not_adjusted() -> None:
    # L-B's October was issued, but only L-A is recomputed: L-B gets no line even though
    # recomputing it from nothing would look like a full reversal.
    licences = (licence(id="L-A"), licence(id="L-B"))
    cat = catalogue(*licences)
    october = settle("2026-10", cat, {"L-A": {BAERUM: 1}, "L-B": {BAERUM: 1}})
    [settlement] = settle(
        "2026-11", cat, recomputed={"2026-10": {"L-A": {BAERUM: 2}}}, issued=issued_of(october)
    )
    assert lines_of(settlement) == [("L-A", "2026-10", 1, "12.50", True)]


def test_issued_lines_round_trip() -> None:
    [settlement] = settle("2026-10", catalogue(L1), {"L-2026-001": {BAERUM: 812}})
    assert settlement.issued_lines() == (
        IssuedLine("2026-10", BAERUM, VENDOR, "L-2026-001", "2026-10", 812, 1015000),
    )
