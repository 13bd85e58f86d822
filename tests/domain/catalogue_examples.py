"""Catalogue documents shared by the catalogue tests (and the event tests): the
CONTRACT's example and a document that uses every feature once."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.domain.catalogue_parse import parse_catalogue
from ledger.domain.catalogue_problems import CatalogueRejected

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
