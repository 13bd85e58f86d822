"""The canonical form: a round trip, a stable shape, a hash that only content changes."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.catalogue_canonical import (
    canonical_catalogue_json,
    catalogue_from_canonical_json,
    catalogue_sha256,
)
from ledger.domain.catalogue_parse import load_catalogue_text, parse_catalogue
from ledger.domain.catalogue_problems import CatalogueRejected
from tests.domain.catalogue_examples import (
    CONTRACT_EXAMPLE,
    base_document,
)

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
