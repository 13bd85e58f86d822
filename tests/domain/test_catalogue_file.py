from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.catalogue import Catalogue
from ledger.domain.catalogue_file import (
    CatalogueRejected,
    canonical_catalogue_json,
    catalogue_bytes_max,
    catalogue_from_canonical_json,
    catalogue_sha256,
    load_catalogue_text,
    parse_catalogue,
)

BAERUM_SCHOOL_A = "974626993"
BAERUM_SCHOOL_B = "974627000"
ASKER_SCHOOL = "974627019"
VENDOR = "987654325"
OTHER_VENDOR = "987654333"

CONTRACT_EXAMPLE = """\
municipalities:
  - id: "3201"                 # kommunenummer
    org_no: "935478715"
    name: "Bærum kommune"
    population: 130000
    buyer_reference: "3201-OPPVEKST"    # 'Deres ref' for invoices (optional)
    schools:
      - {id: "974626993", name: "Bekkestua skole", pupils: 420}   # organisation number
vendors:
  - org_no: "987654325"
    name: "Example Forlag AS"
    products:
      - {id: "matte-1-7", name: "Matematikk 1-7"}
licences:
  - id: "L-2026-001"
    vendor: "987654325"
    products: ["matte-1-7"]
    buyers: ["3201"]            # several ids = a joint (consortium) licence
    schools: all                # or a list of school ids
    valid_from: "2026-08-01"    # inclusive, dates in Europe/Oslo
    valid_to: "2027-07-31"      # inclusive
    vat_rate: "0.25"            # decimal string
    billable_roles: [pupil]     # default [pupil]
    split: usage                # usage (default) or population, for joint licences
    order_reference: "2026/0117"   # the procurement contract or order number (optional)
    pricing:
      metric: active_learners   # or: units, fixed_per_pupil
      unit_price: "12.50"       # NOK; or tiers instead:
      # tiers: [{up_to: 1000, unit_price: "10.00"}, {up_to: null, unit_price: "8.00"}]
      monthly_cap: "50000.00"   # optional ceiling per month, on the licence total
      # max_per_pupil: "8.00"   # optional ceiling per school and month: × the school's pupils
"""


def base_document() -> dict[str, Any]:
    """Two municipalities, two vendors, three licences: every feature used once."""
    return {
        "municipalities": [
            {
                "id": "3201",
                "org_no": "935478715",
                "name": "Bærum kommune",
                "population": 130000,
                "buyer_reference": "3201-OPPVEKST",
                "schools": [
                    {"id": BAERUM_SCHOOL_A, "name": "Bekkestua skole", "pupils": 420},
                    {"id": BAERUM_SCHOOL_B, "name": "Eikeli skole", "pupils": 310},
                ],
            },
            {
                "id": "3203",
                "org_no": "935478723",
                "name": "Asker kommune",
                "population": 98000,
                "schools": [{"id": ASKER_SCHOOL, "name": "Borgen skole", "pupils": 500}],
            },
        ],
        "vendors": [
            {
                "org_no": VENDOR,
                "name": "Example Forlag AS",
                "products": [
                    {"id": "matte-1-7", "name": "Matematikk 1-7"},
                    {"id": "norsk-1-7", "name": "Norsk 1-7"},
                ],
            },
            {
                "org_no": OTHER_VENDOR,
                "name": "Lesekassen AS",
                "products": [{"id": "lese", "name": "Lesekassen"}],
            },
        ],
        "licences": [
            {
                "id": "L-2026-001",
                "vendor": VENDOR,
                "products": ["matte-1-7"],
                "buyers": ["3201"],
                "schools": "all",
                "valid_from": "2026-08-01",
                "valid_to": "2027-07-31",
                "vat_rate": "0.25",
                "pricing": {
                    "metric": "active_learners",
                    "unit_price": "12.50",
                    "monthly_cap": "50000.00",
                },
            },
            {
                "id": "L-2026-002",
                "vendor": VENDOR,
                "products": ["norsk-1-7", "matte-1-7"],
                "buyers": ["3201", "3203"],
                "schools": [BAERUM_SCHOOL_A, ASKER_SCHOOL],
                "valid_from": "2026-08-01",
                "valid_to": "2027-07-31",
                "vat_rate": "0",
                "billable_roles": ["teacher", "pupil"],
                "split": "population",
                "order_reference": "2026/0117",
                "pricing": {
                    "metric": "units",
                    "unit": "access",
                    "tiers": [
                        {"up_to": 1000, "unit_price": "0.50"},
                        {"up_to": None, "unit_price": "0.25"},
                    ],
                },
            },
            {
                "id": "L-2026-003",
                "vendor": OTHER_VENDOR,
                "products": ["lese"],
                "buyers": ["3203"],
                "schools": "all",
                "valid_from": "2026-01-01",
                "valid_to": "2026-12-31",
                "vat_rate": "0.25",
                "pricing": {
                    "metric": "fixed_per_pupil",
                    "unit_price": "8.00",
                    "max_per_pupil": "8.00",
                },
            },
        ],
    }


def rejected(document: object) -> list[str]:
    with pytest.raises(CatalogueRejected) as caught:
        parse_catalogue(document)
    return caught.value.problems


# ---------------------------------------------------------------------------------------
# Good catalogues


def test_contract_example_loads() -> None:
    catalogue = load_catalogue_text(CONTRACT_EXAMPLE)
    (licence,) = catalogue.licences
    assert licence.id == "L-2026-001"
    assert licence.schools is None
    assert licence.valid_from == date(2026, 8, 1)
    assert licence.valid_to == date(2027, 7, 31)
    assert licence.vat_rate == Decimal("0.25")
    assert licence.pricing.unit_price == Decimal("12.50")
    assert licence.pricing.monthly_cap == Decimal("50000")
    assert licence.billable_roles == ("pupil",)
    assert licence.split == "usage"
    assert licence.order_reference == "2026/0117"
    assert catalogue.municipality_of_school("974626993") == "3201"
    assert catalogue.municipalities[0].buyer_reference == "3201-OPPVEKST"
    assert catalogue.municipalities[0].name == "Bærum kommune"


def test_full_document_loads_with_defaults_and_sorted_values() -> None:
    catalogue = parse_catalogue(base_document())
    joint = catalogue.licence("L-2026-002")
    assert joint is not None
    assert joint.products == ("matte-1-7", "norsk-1-7")
    assert joint.buyers == ("3201", "3203")
    assert joint.schools == (BAERUM_SCHOOL_A, ASKER_SCHOOL)
    assert joint.billable_roles == ("pupil", "teacher")
    assert joint.split == "population"
    assert joint.pricing.unit == "access"
    assert joint.pricing.tiers is not None
    assert [(tier.up_to, tier.unit_price) for tier in joint.pricing.tiers] == [
        (1000, Decimal("0.5")),
        (None, Decimal("0.25")),
    ]
    fixed = catalogue.licence("L-2026-003")
    assert fixed is not None
    assert fixed.pricing.max_per_pupil == Decimal(8)
    assert fixed.billable_roles == ("pupil",)
    assert catalogue.has_product(VENDOR, "norsk-1-7")
    assert not catalogue.has_product(OTHER_VENDOR, "norsk-1-7")


def test_json_text_loads_like_yaml() -> None:
    document = base_document()
    assert load_catalogue_text(json.dumps(document)) == parse_catalogue(document)


def test_yaml_numbers_and_dates_are_taken_exactly() -> None:
    text = CONTRACT_EXAMPLE.replace('"12.50"', "0.1").replace('"2026-08-01"', "2026-08-01")
    catalogue = load_catalogue_text(text)
    licence = catalogue.licences[0]
    # 0.1 as a YAML float is converted via its text, never float arithmetic.
    assert licence.pricing.unit_price == Decimal("0.1")
    assert licence.valid_from == date(2026, 8, 1)


# ---------------------------------------------------------------------------------------
# Rules, one at a time: each mutation yields exactly one problem with a clear message.

Mutation = Callable[[dict[str, Any]], None]


def _licence(index: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda document: document["licences"][index]


def _set(path: tuple[Any, ...], value: object) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        target: Any = document
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return mutate


def _delete(path: tuple[Any, ...]) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        target: Any = document
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return mutate


def _append(path: tuple[Any, ...], value: object) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        target: Any = document
        for part in path:
            target = target[part]
        target.append(copy.deepcopy(value))

    return mutate


def _rename_municipality(new_id: object) -> Mutation:
    """Give Bærum another id everywhere, so only the id's own format is wrong."""

    def mutate(document: dict[str, Any]) -> None:
        document["municipalities"][0]["id"] = new_id
        for licence in document["licences"]:
            licence["buyers"] = [
                new_id if buyer == "3201" else buyer for buyer in licence["buyers"]
            ]

    return mutate


M0 = ("municipalities", 0)
L0 = ("licences", 0)
L1 = ("licences", 1)
L2 = ("licences", 2)

# A rule whose mutation also removes something the licences refer to has more problems:
# those are listed too (they are real), and the count says how many.
RULES: list[tuple[str, Mutation, str]] = [
    (
        "municipality id 4 digits",
        _rename_municipality("321"),
        'municipalities[0] (321).id: "321" is not a municipality number (4 digits)',
    ),
    (
        "municipality id unquoted",
        _set((*M0, "id"), 3201),
        'municipalities[0] (3201).id: must be text (write it in quotes: "3201")',
    ),
    (
        "municipality org no check",
        _set((*M0, "org_no"), "935478716"),
        'municipalities[0] (3201).org_no: "935478716" is not a valid organisation number',
    ),
    (
        "school org no check",
        _set((*M0, "schools", 1, "id"), "974626994"),
        'municipalities[0] (3201).schools[1] (974626994).id: "974626994" is not a valid '
        "organisation number",
    ),
    (
        "population negative",
        _set((*M0, "population"), -1),
        "municipalities[0] (3201).population: must be at least 0",
    ),
    (
        "pupils not integer",
        _set((*M0, "schools", 1, "pupils"), 12.5),
        "municipalities[0] (3201).schools[1] (974627000).pupils: must be a whole number, not the "
        "number 12.5",
    ),
    ("pupils as text", _set((*M0, "schools", 1, "pupils"), "12"), "pupils: must be a whole number"),
    ("name empty", _set((*M0, "name"), "  "), "municipalities[0] (3201).name: must not be empty"),
    ("name missing", _delete((*M0, "name")), "municipalities[0] (3201).name: is required"),
    (
        "unknown field",
        _set((*L0, "valid_too"), "2027-01-01"),
        "licences[0] (L-2026-001).valid_too: is not a known field",
    ),
    ("unknown section", _set(("licenses",), []), "licenses: is not a known section"),
    ("missing section", _delete(("vendors",)), "vendors: is required"),
    (
        "duplicate licence id",
        _set((*L1, "id"), "L-2026-001"),
        "licences[1] (L-2026-001): licence id L-2026-001 is already used at licences[0] "
        "(L-2026-001)",
    ),
    (
        "unknown vendor",
        _set((*L0, "vendor"), "123"),
        "licences[0] (L-2026-001): vendor 123 is not a known vendor",
    ),
    (
        "product of another vendor",
        _set((*L0, "products"), ["lese"]),
        f"licences[0] (L-2026-001): product lese is not a product of vendor {VENDOR}",
    ),
    (
        "no products",
        _set((*L0, "products"), []),
        "licences[0] (L-2026-001): products must list at least one product",
    ),
    (
        "unknown buyer",
        _set((*L0, "buyers"), ["3201", "0301"]),
        "licences[0] (L-2026-001): buyer 0301 is not a known municipality",
    ),
    (
        "buyer twice",
        _set((*L0, "buyers"), ["3201", "3201"]),
        "licences[0] (L-2026-001): buyers lists 3201 more than once",
    ),
    (
        "no buyers",
        _set((*L0, "buyers"), []),
        "licences[0] (L-2026-001): buyers must list at least one municipality id",
    ),
    (
        "school not a buyer's",
        _set((*L0, "schools"), [ASKER_SCHOOL]),
        f"licences[0] (L-2026-001): school {ASKER_SCHOOL} belongs to municipality 3203, which is "
        "not one of the licence's buyers",
    ),
    (
        "unknown school",
        _set((*L0, "schools"), ["974627027"]),
        "licences[0] (L-2026-001): school 974627027 is not a known school",
    ),
    (
        "empty school list",
        _set((*L0, "schools"), []),
        "licences[0] (L-2026-001): schools must be all or a non-empty list",
    ),
    (
        "schools neither all nor list",
        _set((*L0, "schools"), "some"),
        "licences[0] (L-2026-001).schools: must be all or a list of school organisation numbers, "
        "not some",
    ),
    (
        "validity reversed",
        _set((*L0, "valid_to"), "2026-07-31"),
        "licences[0] (L-2026-001): valid_from 2026-08-01 is after valid_to 2026-07-31",
    ),
    (
        "date not a date",
        _set((*L0, "valid_from"), "2026-02-30"),
        'licences[0] (L-2026-001).valid_from: "2026-02-30" is not a real date',
    ),
    (
        "date in another format",
        _set((*L0, "valid_from"), "01.08.2026"),
        "licences[0] (L-2026-001).valid_from: must be a date written YYYY-MM-DD",
    ),
    (
        "vat above 1",
        _set((*L0, "vat_rate"), "25"),
        "licences[0] (L-2026-001).vat_rate: 25 must be between 0 and 1",
    ),
    ("vat negative", _set((*L0, "vat_rate"), "-0.25"), "vat_rate: -0.25 must be between 0 and 1"),
    (
        "vat not a decimal",
        _set((*L0, "vat_rate"), "25%"),
        'vat_rate: "25%" is not a decimal number',
    ),
    (
        "price unparseable",
        _set((*L0, "pricing", "unit_price"), "12,50"),
        'licences[0] (L-2026-001).pricing.unit_price: "12,50" is not a decimal number such as '
        '"12.50"',
    ),
    (
        "price negative",
        _set((*L0, "pricing", "unit_price"), "-1.00"),
        "pricing.unit_price: -1 must not be negative",
    ),
    (
        "price three decimals",
        _set((*L0, "pricing", "unit_price"), "12.505"),
        "pricing.unit_price: 12.505 NOK has more than 2 decimals",
    ),
    (
        "price exponent",
        _set((*L0, "pricing", "unit_price"), "1e3"),
        'pricing.unit_price: "1e3" is not a decimal number',
    ),
    (
        "price boolean",
        _set((*L0, "pricing", "unit_price"), True),
        'pricing.unit_price: must be a decimal number such as "12.50", not a yes/no value',
    ),
    (
        "cap three decimals",
        _set((*L0, "pricing", "monthly_cap"), 0.001),
        "pricing.monthly_cap: 0.001 NOK has more than 2 decimals",
    ),
    (
        "metric unknown",
        _set((*L0, "pricing", "metric"), "logins"),
        "licences[0] (L-2026-001).pricing.metric: must be 'active_learners', 'units' or "
        "'fixed_per_pupil', not logins",
    ),
    (
        "units without unit",
        _delete((*L1, "pricing", "unit")),
        "licences[1] (L-2026-002): pricing.unit is required for metric units",
    ),
    (
        "unit with another metric",
        _set((*L0, "pricing", "unit"), "access"),
        "licences[0] (L-2026-001): pricing.unit is only for metric units, not active_learners",
    ),
    (
        "both unit_price and tiers",
        _set((*L1, "pricing", "unit_price"), "1.00"),
        "licences[1] (L-2026-002): pricing must have exactly one of unit_price and tiers",
    ),
    (
        "neither unit_price nor tiers",
        _delete((*L0, "pricing", "unit_price")),
        "licences[0] (L-2026-001): pricing must have exactly one of unit_price and tiers",
    ),
    (
        "tiers not ascending",
        _set(
            (*L1, "pricing", "tiers"),
            [
                {"up_to": 100, "unit_price": "1"},
                {"up_to": 100, "unit_price": "1"},
                {"up_to": None, "unit_price": "1"},
            ],
        ),
        "licences[1] (L-2026-002): pricing.tiers[1]: up_to 100 must be greater than the previous "
        "tier's 100",
    ),
    (
        "last tier bounded",
        _set((*L1, "pricing", "tiers"), [{"up_to": 100, "unit_price": "1"}]),
        "licences[1] (L-2026-002): pricing.tiers: the last tier must have up_to: null",
    ),
    (
        "unbounded tier not last",
        _set(
            (*L1, "pricing", "tiers"),
            [{"up_to": None, "unit_price": "1"}, {"up_to": None, "unit_price": "1"}],
        ),
        "licences[1] (L-2026-002): pricing.tiers[0]: only the last tier may have up_to: null",
    ),
    (
        "tier up_to zero",
        _set((*L1, "pricing", "tiers", 0, "up_to"), 0),
        "licences[1] (L-2026-002).pricing.tiers[0].up_to: must be at least 1",
    ),
    (
        "empty tiers",
        _set((*L1, "pricing", "tiers"), []),
        "licences[1] (L-2026-002): pricing.tiers must have at least one tier",
    ),
    (
        "max_per_pupil with tiers",
        _set((*L1, "pricing", "max_per_pupil"), "5.00"),
        "licences[1] (L-2026-002): pricing.max_per_pupil is only allowed with unit_price",
    ),
    (
        "split unknown",
        _set((*L0, "split"), "equal"),
        "licences[0] (L-2026-001).split: must be 'usage' or 'population', not equal",
    ),
    (
        "role unknown",
        _set((*L0, "billable_roles"), ["pupil", "parent"]),
        "licences[0] (L-2026-001).billable_roles: parent is not a role: use pupil or teacher",
    ),
    (
        "no roles",
        _set((*L0, "billable_roles"), []),
        "licences[0] (L-2026-001): billable_roles must list at least one role",
    ),
    (
        "role twice",
        _set((*L0, "billable_roles"), ["pupil", "pupil"]),
        "licences[0] (L-2026-001): billable_roles lists pupil more than once",
    ),
    (
        "licence id with line break",
        _set((*L0, "id"), "L-1\nL-2"),
        "must not contain control characters",
    ),
    (
        "section not a list",
        _set(("licences",), {"id": "L"}),
        "licences: must be a list, not a mapping",
    ),
]


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [(mutation, expected) for _, mutation, expected in RULES],
    ids=[name for name, _, _ in RULES],
)
def test_each_rule_is_refused_with_one_clear_problem(mutation: Mutation, expected: str) -> None:
    document = base_document()
    mutation(document)
    problems = rejected(document)
    assert len(problems) == 1, problems
    assert expected in problems[0]


CASCADES: list[tuple[str, Mutation, list[str]]] = [
    (
        "vendor org no check",
        _set(("vendors", 1, "org_no"), "987654334"),
        [
            'vendors[1] (987654334).org_no: "987654334" is not a valid organisation number',
            f"licences[2] (L-2026-003): vendor {OTHER_VENDOR} is not a known vendor",
        ],
    ),
    (
        "duplicate municipality id",
        _set(("municipalities", 1, "id"), "3201"),
        [
            "municipalities[1] (3201): municipality id 3201 is already used at municipalities[0]",
            "licences[1] (L-2026-002): buyer 3203 is not a known municipality",
            "licences[2] (L-2026-003): buyer 3203 is not a known municipality",
        ],
    ),
    (
        "duplicate school id across municipalities",
        _set(("municipalities", 1, "schools", 0, "id"), BAERUM_SCHOOL_B),
        [
            f"municipalities[1] (3203).schools[0] ({BAERUM_SCHOOL_B}): school id "
            f"{BAERUM_SCHOOL_B} is already used at municipalities[0] (3201).schools[1]",
            f"licences[1] (L-2026-002): school {ASKER_SCHOOL} is not a known school",
        ],
    ),
    (
        "duplicate vendor",
        _set(("vendors", 1, "org_no"), VENDOR),
        [
            f"vendors[1] ({VENDOR}): vendor organisation number {VENDOR} is already used at "
            f"vendors[0] ({VENDOR})",
            f"licences[2] (L-2026-003): vendor {OTHER_VENDOR} is not a known vendor",
        ],
    ),
    (
        "duplicate product within vendor",
        _set(("vendors", 0, "products", 1, "id"), "matte-1-7"),
        [
            f"vendors[0] ({VENDOR}).products[1] (matte-1-7): product id matte-1-7 is already "
            f"used at vendors[0] ({VENDOR}).products[0] (matte-1-7)",
            f"licences[1] (L-2026-002): product norsk-1-7 is not a product of vendor {VENDOR}",
        ],
    ),
    (
        "item not a mapping",
        _set(("vendors", 1), "Lesekassen"),
        [
            "vendors[1]: must be a mapping (key: value), not the text Lesekassen",
            f"licences[2] (L-2026-003): vendor {OTHER_VENDOR} is not a known vendor",
        ],
    ),
]


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [(mutation, expected) for _, mutation, expected in CASCADES],
    ids=[name for name, _, _ in CASCADES],
)
def test_rules_that_break_references_list_the_references_too(
    mutation: Mutation, expected: list[str]
) -> None:
    document = base_document()
    mutation(document)
    problems = rejected(document)
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert start in problem


def test_every_problem_of_a_file_is_listed() -> None:
    document = base_document()
    document["municipalities"][0]["org_no"] = "935478716"
    document["municipalities"][1]["population"] = "many"
    document["vendors"][0]["products"][1]["id"] = "matte-1-7"
    document["licences"][0]["vendor"] = "123"
    document["licences"][1]["pricing"]["unit_price"] = "abc"
    document["licences"][2]["valid_to"] = "2025-12-31"
    problems = rejected(document)
    assert len(problems) == 6, problems
    for expected in [
        "municipalities[0] (3201).org_no",
        "municipalities[1] (3203).population: must be a whole number",
        "product id matte-1-7 is already used",
        "licences[0] (L-2026-001): vendor 123 is not a known vendor",
        "licences[1] (L-2026-002).pricing.unit_price",
        "licences[2] (L-2026-003): valid_from 2026-01-01 is after valid_to 2025-12-31",
    ]:
        assert any(expected in problem for problem in problems), expected
    assert all("\n" not in problem for problem in problems)


def test_a_broken_vendor_is_reported_once_not_in_every_licence() -> None:
    document = base_document()
    document["vendors"][0]["name"] = ""
    problems = rejected(document)
    assert problems == [f"vendors[0] ({VENDOR}).name: must not be empty"]


def test_a_broken_municipality_does_not_make_its_schools_unknown_in_licences() -> None:
    document = base_document()
    document["municipalities"][1]["population"] = -5
    problems = rejected(document)
    assert problems == ["municipalities[1] (3203).population: must be at least 0"]


def test_rejection_message_joins_all_problems() -> None:
    document = base_document()
    document["licences"][0]["vendor"] = "123"
    document["licences"][1]["vat_rate"] = "2"
    with pytest.raises(CatalogueRejected) as caught:
        parse_catalogue(document)
    assert str(caught.value).splitlines() == caught.value.problems


def test_document_not_a_mapping() -> None:
    assert rejected(["municipalities"]) == [
        "the catalogue must be a mapping with the keys municipalities, vendors, licences"
    ]


# ---------------------------------------------------------------------------------------
# YAML specifics


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(CatalogueRejected) as caught:
        load_catalogue_text("municipalities: [\nvendors: x: y\n")
    (problem,) = caught.value.problems
    assert problem.startswith("the file is not valid YAML or JSON: line ")


def test_yaml_aliases_are_refused() -> None:
    text = "a: &x [1, 2]\nb: *x\n"
    with pytest.raises(CatalogueRejected) as caught:
        load_catalogue_text(text)
    assert "aliases" in caught.value.problems[0]


def test_yaml_duplicate_keys_are_refused() -> None:
    text = CONTRACT_EXAMPLE.replace(
        'unit_price: "12.50"', 'unit_price: "12.50"\n      unit_price: "1.00"'
    )
    with pytest.raises(CatalogueRejected) as caught:
        load_catalogue_text(text)
    assert "'unit_price' appears twice" in caught.value.problems[0]


def test_oversized_text_is_refused() -> None:
    with pytest.raises(CatalogueRejected) as caught:
        load_catalogue_text(" " * (catalogue_bytes_max + 1))
    assert "at most" in caught.value.problems[0]


# ---------------------------------------------------------------------------------------
# Canonical form and hash


def test_canonical_form_round_trips_and_is_idempotent() -> None:
    catalogue = parse_catalogue(base_document())
    canonical = canonical_catalogue_json(catalogue)
    again = catalogue_from_canonical_json(canonical)
    assert again == catalogue
    assert canonical_catalogue_json(again) == canonical
    assert catalogue_sha256(again) == catalogue_sha256(catalogue)


def test_canonical_form_shape() -> None:
    canonical = canonical_catalogue_json(load_catalogue_text(CONTRACT_EXAMPLE))
    text = canonical.decode("utf-8")
    document = json.loads(text)
    compact = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert text == compact  # keys sorted, no insignificant whitespace
    assert "Bærum" in text  # UTF-8, not \u escapes
    assert list(document) == sorted(document)
    licence = document["licences"][0]
    assert licence["pricing"] == {
        "metric": "active_learners",
        "unit_price": "12.5",
        "monthly_cap": "50000",
    }
    assert licence["valid_from"] == "2026-08-01"
    assert licence["billable_roles"] == ["pupil"]
    assert licence["split"] == "usage"
    assert licence["schools"] == "all"


def test_order_and_number_formatting_do_not_change_the_hash() -> None:
    original = base_document()
    shuffled = base_document()
    shuffled["licences"][0]["pricing"]["unit_price"] = "12.5000"
    shuffled["licences"][0]["pricing"]["monthly_cap"] = 50000
    shuffled["licences"][2]["billable_roles"] = ["pupil"]  # the default, written out
    shuffled["licences"][1]["products"].reverse()
    shuffled["municipalities"][0]["schools"].reverse()
    for section in ("municipalities", "vendors", "licences"):
        shuffled[section].reverse()
    a, b = parse_catalogue(original), parse_catalogue(shuffled)
    assert a == b
    assert catalogue_sha256(a) == catalogue_sha256(b)


def test_a_changed_price_changes_the_hash() -> None:
    changed = base_document()
    changed["licences"][0]["pricing"]["unit_price"] = "12.51"
    assert catalogue_sha256(parse_catalogue(changed)) != catalogue_sha256(
        parse_catalogue(base_document())
    )


def test_hash_is_sha256_of_canonical_json() -> None:
    import hashlib

    catalogue = parse_catalogue(base_document())
    expected = hashlib.sha256(canonical_catalogue_json(catalogue)).hexdigest()
    assert catalogue_sha256(catalogue) == expected
    assert len(expected) == 64


def test_canonical_json_that_breaks_a_rule_is_refused() -> None:
    document = json.loads(canonical_catalogue_json(parse_catalogue(base_document())))
    document["licences"][0]["vendor"] = "123"
    with pytest.raises(CatalogueRejected):
        catalogue_from_canonical_json(json.dumps(document).encode())
    with pytest.raises(CatalogueRejected):
        catalogue_from_canonical_json(b"\xff not json")


money = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False)
money_written = money.flatmap(
    lambda amount: st.sampled_from([str(amount), f"{amount:.2f}", f"{amount:.4f}"])
)


@st.composite
def pricings(draw: st.DrawFn) -> dict[str, Any]:
    metric = draw(st.sampled_from(["active_learners", "units", "fixed_per_pupil"]))
    pricing: dict[str, Any] = {"metric": metric}
    if metric == "units":
        pricing["unit"] = draw(st.sampled_from(["access", "minute"]))
    if draw(st.booleans()):
        pricing["unit_price"] = draw(money_written)
        if draw(st.booleans()):
            pricing["max_per_pupil"] = draw(money_written)
    else:
        bounds = sorted(draw(st.sets(st.integers(1, 10**6), max_size=4)))
        pricing["tiers"] = [
            {"up_to": bound, "unit_price": draw(money_written)} for bound in [*bounds, None]
        ]
    if draw(st.booleans()):
        pricing["monthly_cap"] = draw(money_written)
    return pricing


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    document = base_document()
    for licence in document["licences"]:
        licence["pricing"] = draw(pricings())
        licence["vat_rate"] = str(draw(st.decimals(0, 1, places=3, allow_nan=False)))
        start = draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)))
        licence["valid_from"] = start.isoformat()
        licence["valid_to"] = draw(st.dates(min_value=start, max_value=date(2031, 1, 1)))
        licence["billable_roles"] = draw(
            st.sampled_from([["pupil"], ["teacher"], ["pupil", "teacher"], ["teacher", "pupil"]])
        )
    return document


@settings(max_examples=60, deadline=None)
@given(documents())
def test_property_canonical_round_trip(document: dict[str, Any]) -> None:
    catalogue = parse_catalogue(document)
    canonical = canonical_catalogue_json(catalogue)
    assert catalogue_from_canonical_json(canonical) == catalogue
    assert canonical_catalogue_json(catalogue_from_canonical_json(canonical)) == canonical
    # The canonical JSON is also a valid YAML catalogue file.
    assert load_catalogue_text(canonical.decode("utf-8")) == catalogue


def test_yaml_dump_of_document_loads_the_same() -> None:
    document = base_document()
    text = yaml.safe_dump(document, allow_unicode=True)
    assert load_catalogue_text(text) == parse_catalogue(document)


def test_parse_result_is_a_catalogue_with_lookups() -> None:
    catalogue = parse_catalogue(base_document())
    assert isinstance(catalogue, Catalogue)
    assert catalogue.municipality("3203") is not None
    assert catalogue.vendor(OTHER_VENDOR) is not None
    assert catalogue.school(ASKER_SCHOOL) is not None
    assert catalogue.municipality_of_school(ASKER_SCHOOL) == "3203"
