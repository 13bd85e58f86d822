from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.attribution import AttributionIndex, precedence
from ledger.domain.catalogue import Catalogue, Licence
from ledger.domain.catalogue_parse import parse_catalogue
from ledger.domain.invariants import InvariantViolation

OSLO = ZoneInfo("Europe/Oslo")
VENDOR = "987654325"
OTHER_VENDOR = "987654333"
BAERUM_A = "974626993"
BAERUM_B = "974627000"
ASKER = "974627019"
OSLO_SCHOOL = "974627027"
UNKNOWN_SCHOOL = "974627035"


def document(*licences: dict[str, Any]) -> dict[str, Any]:
    return {
        "municipalities": [
            {
                "id": "3201",
                "org_no": "935478715",
                "name": "Bærum",
                "population": 130000,
                "schools": [
                    {"id": BAERUM_A, "name": "A", "pupils": 400},
                    {"id": BAERUM_B, "name": "B", "pupils": 300},
                ],
            },
            {
                "id": "3203",
                "org_no": "935478723",
                "name": "Asker",
                "population": 98000,
                "schools": [{"id": ASKER, "name": "C", "pupils": 500}],
            },
            {
                "id": "0301",
                "org_no": "935478731",
                "name": "Oslo",
                "population": 700000,
                "schools": [{"id": OSLO_SCHOOL, "name": "D", "pupils": 600}],
            },
        ],
        "vendors": [
            {
                "org_no": VENDOR,
                "name": "V",
                "products": [{"id": "p1", "name": "P1"}, {"id": "p2", "name": "P2"}],
            },
            {"org_no": OTHER_VENDOR, "name": "W", "products": [{"id": "p1", "name": "W1"}]},
        ],
        "licences": list(licences),
    }


def licence(
    licence_id: str,
    *,
    vendor: str = VENDOR,
    products: list[str] | None = None,
    buyers: list[str] | None = None,
    schools: str | list[str] = "all",
    valid_from: str = "2026-08-01",
    valid_to: str = "2027-07-31",
) -> dict[str, Any]:
    return {
        "id": licence_id,
        "vendor": vendor,
        "products": products or ["p1"],
        "buyers": buyers or ["3201"],
        "schools": schools,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "vat_rate": "0.25",
        "pricing": {"metric": "active_learners", "unit_price": "10.00"},
    }


def index(*licences: dict[str, Any]) -> AttributionIndex:
    return AttributionIndex(parse_catalogue(document(*licences)))


def attributed(
    idx: AttributionIndex,
    occurred_at: datetime,
    *,
    school: str = BAERUM_A,
    product: str = "p1",
    vendor: str = VENDOR,
) -> str | None:
    found = idx.attribute(vendor, product, school, occurred_at)
    return None if found is None else found.id


OCTOBER = datetime(2026, 10, 5, 8, 15, tzinfo=UTC)


# ---------------------------------------------------------------------------------------
# Precedence


def test_a_licence_listing_schools_beats_one_with_all() -> None:
    idx = index(
        licence("L-all", schools="all", valid_from="2026-09-01"),
        licence("L-list", schools=[BAERUM_A], valid_from="2026-01-01"),
    )
    assert attributed(idx, OCTOBER, school=BAERUM_A) == "L-list"  # despite the earlier start
    assert attributed(idx, OCTOBER, school=BAERUM_B) == "L-all"  # not listed: all covers it


def test_then_the_later_valid_from() -> None:
    idx = index(
        licence("L-1", valid_from="2026-01-01", valid_to="2027-12-31"),
        licence("L-2", valid_from="2026-09-01", valid_to="2026-12-31"),
    )
    assert attributed(idx, datetime(2026, 8, 15, tzinfo=UTC)) == "L-1"  # only L-1 is valid
    assert attributed(idx, OCTOBER) == "L-2"
    assert attributed(idx, datetime(2027, 2, 1, tzinfo=UTC)) == "L-1"  # L-2 has ended


def test_then_the_smaller_licence_id() -> None:
    idx = index(licence("L-2026-005"), licence("L-2026-004"), licence("L-2026-006"))
    assert attributed(idx, OCTOBER) == "L-2026-004"


def test_smaller_id_compares_as_text() -> None:
    # "Smaller licence id" compares the ids as strings: "L-10" < "L-9".
    idx = index(licence("L-9"), licence("L-10"))
    assert attributed(idx, OCTOBER) == "L-10"


def test_precedence_order_of_all_three_rules() -> None:
    listing_old = licence("Z", schools=[BAERUM_A], valid_from="2026-01-01")
    all_new = licence("A", schools="all", valid_from="2026-10-01")
    listing_new = licence("Y", schools=[BAERUM_A], valid_from="2026-09-01")
    catalogue = parse_catalogue(document(listing_old, all_new, listing_new))
    ordered = sorted(catalogue.licences, key=precedence)
    assert [lic.id for lic in ordered] == ["Y", "Z", "A"]
    assert attributed(AttributionIndex(catalogue), OCTOBER) == "Y"


# ---------------------------------------------------------------------------------------
# Validity on Oslo dates


@pytest.mark.parametrize(
    ("occurred_at", "expected"),
    [
        # Summer time (UTC+2): 2026-08-01 begins at 2026-07-31T22:00Z.
        (datetime(2026, 7, 31, 21, 59, 59, 999999, tzinfo=UTC), None),
        (datetime(2026, 7, 31, 22, 0, tzinfo=UTC), "L"),
        (datetime(2026, 7, 31, 22, 30, tzinfo=UTC), "L"),  # 00:30 on 1 August in Oslo
        # 2027-07-31 ends at 2027-07-31T22:00Z.
        (datetime(2027, 7, 31, 21, 59, 59, 999999, tzinfo=UTC), "L"),
        (datetime(2027, 7, 31, 22, 0, tzinfo=UTC), None),
    ],
)
def test_validity_edges_in_summer(occurred_at: datetime, expected: str | None) -> None:
    idx = index(licence("L", valid_from="2026-08-01", valid_to="2027-07-31"))
    assert attributed(idx, occurred_at) == expected


@pytest.mark.parametrize(
    ("occurred_at", "expected"),
    [
        # Winter time (UTC+1): 2026-12-31 ends at 23:00Z, 2026-12-01 begins at 2026-11-30T23:00Z.
        (datetime(2026, 11, 30, 22, 59, 59, tzinfo=UTC), None),
        (datetime(2026, 11, 30, 23, 0, tzinfo=UTC), "L"),
        (datetime(2026, 12, 31, 22, 59, 59, tzinfo=UTC), "L"),
        (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), None),
    ],
)
def test_validity_edges_in_winter(occurred_at: datetime, expected: str | None) -> None:
    idx = index(licence("L", valid_from="2026-12-01", valid_to="2026-12-31"))
    assert attributed(idx, occurred_at) == expected


def test_a_one_day_licence_across_the_dst_change() -> None:
    # 2026-03-29 in Oslo is 23 hours long: 2026-03-28T23:00Z to 2026-03-29T22:00Z.
    idx = index(licence("L", valid_from="2026-03-29", valid_to="2026-03-29"))
    assert attributed(idx, datetime(2026, 3, 28, 22, 59, tzinfo=UTC)) is None
    assert attributed(idx, datetime(2026, 3, 28, 23, 0, tzinfo=UTC)) == "L"
    assert attributed(idx, datetime(2026, 3, 29, 21, 59, tzinfo=UTC)) == "L"
    assert attributed(idx, datetime(2026, 3, 29, 22, 0, tzinfo=UTC)) is None


def test_the_offset_of_occurred_at_does_not_matter() -> None:
    idx = index(licence("L", valid_from="2026-08-01"))
    edge = datetime(2026, 7, 31, 22, 30, tzinfo=UTC)
    for zone in (timezone(timedelta(hours=-9)), timezone(timedelta(hours=5, minutes=30)), OSLO):
        assert attributed(idx, edge.astimezone(zone)) == "L"
        assert attributed(idx, (edge - timedelta(hours=1)).astimezone(zone)) is None


def test_a_licence_to_the_last_representable_date() -> None:
    idx = index(licence("L", valid_from="2026-01-01", valid_to="9999-12-31"))
    assert attributed(idx, datetime(9999, 12, 31, 23, 59, tzinfo=UTC)) == "L"


def test_naive_times_are_refused() -> None:
    idx = index(licence("L"))
    with pytest.raises(InvariantViolation):
        idx.attribute(VENDOR, "p1", BAERUM_A, datetime(2026, 10, 5, 8, 15))


# ---------------------------------------------------------------------------------------
# Vendor, product, buyers, scope


def test_vendor_product_and_buyer_must_match() -> None:
    idx = index(licence("L", products=["p1"], buyers=["3201"]))
    assert attributed(idx, OCTOBER) == "L"
    assert attributed(idx, OCTOBER, product="p2") is None
    assert attributed(idx, OCTOBER, vendor=OTHER_VENDOR) is None
    assert attributed(idx, OCTOBER, school=ASKER) is None  # Asker is not a buyer
    assert attributed(idx, OCTOBER, school=UNKNOWN_SCHOOL) is None


def test_a_joint_licence_covers_every_buyer() -> None:
    idx = index(licence("L-joint", buyers=["3201", "3203"], products=["p1", "p2"]))
    assert attributed(idx, OCTOBER, school=BAERUM_B) == "L-joint"
    assert attributed(idx, OCTOBER, school=ASKER, product="p2") == "L-joint"
    assert attributed(idx, OCTOBER, school=OSLO_SCHOOL) is None


def test_a_school_list_covers_only_its_schools() -> None:
    idx = index(licence("L", buyers=["3201", "3203"], schools=[BAERUM_B, ASKER]))
    assert attributed(idx, OCTOBER, school=BAERUM_B) == "L"
    assert attributed(idx, OCTOBER, school=ASKER) == "L"
    assert attributed(idx, OCTOBER, school=BAERUM_A) is None


def test_same_product_id_of_another_vendor_is_another_product() -> None:
    idx = index(licence("L-w", vendor=OTHER_VENDOR))
    assert attributed(idx, OCTOBER, vendor=OTHER_VENDOR) == "L-w"
    assert attributed(idx, OCTOBER, vendor=VENDOR) is None


def test_an_empty_catalogue_covers_nothing() -> None:
    assert attributed(index(), OCTOBER) is None


# ---------------------------------------------------------------------------------------
# Against a direct reading of CONTRACT 5.2


def reference_attribute(
    catalogue: Catalogue, vendor: str, product: str, school: str, occurred_at: datetime
) -> Licence | None:
    municipality = catalogue.municipality_of_school(school)
    oslo_date = occurred_at.astimezone(OSLO).date()
    covering = [
        lic
        for lic in catalogue.licences
        if lic.vendor == vendor
        and product in lic.products
        and municipality in lic.buyers
        and (lic.schools is None or school in lic.schools)
        and lic.valid_from <= oslo_date <= lic.valid_to
    ]
    listing = [lic for lic in covering if lic.schools is not None]
    pool = listing or covering
    if not pool:
        return None
    latest = max(lic.valid_from for lic in pool)
    return min((lic for lic in pool if lic.valid_from == latest), key=lambda lic: lic.id)


schools = st.sampled_from([BAERUM_A, BAERUM_B, ASKER, OSLO_SCHOOL, UNKNOWN_SCHOOL])
days = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))


@st.composite
def licences(draw: st.DrawFn, licence_id: str) -> dict[str, Any]:
    buyers = draw(st.lists(st.sampled_from(["3201", "3203", "0301"]), min_size=1, unique=True))
    buyer_schools = {"3201": [BAERUM_A, BAERUM_B], "3203": [ASKER], "0301": [OSLO_SCHOOL]}
    in_scope = [school for buyer in buyers for school in buyer_schools[buyer]]
    listed = draw(st.lists(st.sampled_from(in_scope), min_size=1, unique=True))
    start = draw(days)
    end = draw(st.dates(min_value=start, max_value=date(2027, 12, 31)))
    vendor = draw(st.sampled_from([VENDOR, OTHER_VENDOR]))
    products = [["p1"]] if vendor == OTHER_VENDOR else [["p1"], ["p2"], ["p1", "p2"]]
    scope: str | list[str] = "all" if draw(st.booleans()) else listed
    return licence(
        licence_id,
        vendor=vendor,
        products=draw(st.sampled_from(products)),
        buyers=buyers,
        schools=scope,
        valid_from=start.isoformat(),
        valid_to=end.isoformat(),
    )


@st.composite
def catalogues(draw: st.DrawFn) -> Catalogue:
    ids = draw(st.lists(st.sampled_from(["L-1", "L-2", "L-3", "L-10", "M"]), unique=True))
    return parse_catalogue(document(*(draw(licences(licence_id)) for licence_id in ids)))


@settings(max_examples=300, deadline=None)
@given(
    catalogue=catalogues(),
    events=st.lists(
        st.tuples(
            st.sampled_from([VENDOR, OTHER_VENDOR]),
            st.sampled_from(["p1", "p2"]),
            schools,
            st.datetimes(
                min_value=datetime(2025, 12, 31),
                max_value=datetime(2028, 1, 2),
                timezones=st.just(UTC),
            ),
        ),
        min_size=1,
        max_size=20,
    ),
)
def test_property_index_agrees_with_the_contract(
    catalogue: Catalogue, events: list[tuple[str, str, str, datetime]]
) -> None:
    idx = AttributionIndex(catalogue)
    for vendor, product, school, occurred_at in events:
        expected = reference_attribute(catalogue, vendor, product, school, occurred_at)
        assert idx.attribute(vendor, product, school, occurred_at) == expected


def test_attribution_is_fast() -> None:
    """The index answers in microseconds (aim: < 5 µs; asserted with room for slow CI)."""
    many = [licence(f"L-{n:03d}", valid_from=f"20{20 + n % 8}-01-01", valid_to="2030-12-31")
            for n in range(50)]  # fmt: skip
    many.append(licence("L-list", schools=[BAERUM_B], valid_from="2026-01-01"))
    idx = index(*many)
    calls = 20_000
    started = time.perf_counter()
    for _ in range(calls):
        idx.attribute(VENDOR, "p1", BAERUM_A, OCTOBER)
    elapsed_us_per_call = (time.perf_counter() - started) / calls * 1e6
    assert elapsed_us_per_call < 25, elapsed_us_per_call
