"""Every rule of a catalogue file, one at a time, and every problem of a file listed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from ledger.domain.catalogue_parse import parse_catalogue
from ledger.domain.catalogue_problems import CatalogueRejected
from tests.domain.catalogue_examples import (
    ASKER_SCHOOL,
    BAERUM_SCHOOL_B,
    OTHER_VENDOR,
    VENDOR,
    base_document,
    rejected,
)

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
