"""Reading catalogue files: good files load, YAML and JSON alike, exactly as written."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
import yaml

from ledger.domain.catalogue import Catalogue
from ledger.domain.catalogue_parse import catalogue_bytes_max, load_catalogue_text, parse_catalogue
from ledger.domain.catalogue_problems import CatalogueRejected
from tests.domain.catalogue_examples import (
    ASKER_SCHOOL,
    BAERUM_SCHOOL_A,
    CONTRACT_EXAMPLE,
    OTHER_VENDOR,
    VENDOR,
    base_document,
)

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
