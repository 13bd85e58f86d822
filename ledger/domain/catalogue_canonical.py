"""The canonical form of a catalogue and its sha256: the identity of a catalogue version.

The canonical JSON travels in the catalogue marker and is stored with each version;
`verify` and the stream read it back with `catalogue_from_canonical_json`, which
validates it like any file, so a changed document cannot pass as a catalogue.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from ledger.domain.catalogue import ROLE_ORDER, Catalogue, Licence, Municipality
from ledger.domain.catalogue_models import decimal_text
from ledger.domain.catalogue_parse import catalogue_bytes_max, parse_catalogue
from ledger.domain.catalogue_problems import CatalogueRejected


def canonical_catalogue_json(catalogue: Catalogue) -> bytes:
    """Deterministic JSON of the catalogue: keys sorted, no whitespace, UTF-8, lists sorted
    by id, decimals as shortest fixed-point strings, dates ISO, defaults written out.

    It is itself a valid catalogue file: `catalogue_from_canonical_json` reads it back.
    """
    document = {
        "municipalities": [
            _municipality_document(m) for m in sorted(catalogue.municipalities, key=lambda m: m.id)
        ],
        "vendors": [
            {
                "org_no": v.org_no,
                "name": v.name,
                "products": [
                    {"id": p.id, "name": p.name} for p in sorted(v.products, key=lambda p: p.id)
                ],
            }
            for v in sorted(catalogue.vendors, key=lambda v: v.org_no)
        ],
        "licences": [
            _licence_document(lic) for lic in sorted(catalogue.licences, key=lambda lic: lic.id)
        ],
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def catalogue_sha256(catalogue: Catalogue) -> str:
    """Hex SHA-256 of the canonical JSON: the catalogue version's identity."""
    return hashlib.sha256(canonical_catalogue_json(catalogue)).hexdigest()


def catalogue_from_canonical_json(data: bytes) -> Catalogue:
    """The catalogue back from `canonical_catalogue_json` (validated like any file)."""
    if len(data) > catalogue_bytes_max:
        raise CatalogueRejected(
            [f"the document is {len(data)} bytes; at most {catalogue_bytes_max} allowed"]
        )
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise CatalogueRejected([f"the document is not UTF-8 JSON: {error}"]) from error
    return parse_catalogue(document)


def _municipality_document(municipality: Municipality) -> dict[str, object]:
    document: dict[str, object] = {
        "id": municipality.id,
        "org_no": municipality.org_no,
        "name": municipality.name,
        "population": municipality.population,
        "schools": [
            {"id": s.id, "name": s.name, "pupils": s.pupils}
            for s in sorted(municipality.schools, key=lambda s: s.id)
        ],
    }
    if municipality.buyer_reference is not None:
        document["buyer_reference"] = municipality.buyer_reference
    return document


def _licence_document(licence: Licence) -> dict[str, object]:
    pricing = licence.pricing
    pricing_document: dict[str, object] = {"metric": pricing.metric}
    _put_decimal(pricing_document, "unit_price", pricing.unit_price)
    _put_decimal(pricing_document, "monthly_cap", pricing.monthly_cap)
    _put_decimal(pricing_document, "max_per_pupil", pricing.max_per_pupil)
    if pricing.unit is not None:
        pricing_document["unit"] = pricing.unit
    if pricing.tiers is not None:
        pricing_document["tiers"] = [
            {"up_to": tier.up_to, "unit_price": decimal_text(tier.unit_price)}
            for tier in pricing.tiers
        ]
    document: dict[str, object] = {
        "id": licence.id,
        "vendor": licence.vendor,
        "products": sorted(licence.products),
        "buyers": sorted(licence.buyers),
        "schools": "all" if licence.schools is None else sorted(licence.schools),
        "valid_from": licence.valid_from.isoformat(),
        "valid_to": licence.valid_to.isoformat(),
        "vat_rate": decimal_text(licence.vat_rate),
        "billable_roles": [role for role in ROLE_ORDER if role in licence.billable_roles],
        "split": licence.split,
        "pricing": pricing_document,
    }
    if licence.order_reference is not None:
        document["order_reference"] = licence.order_reference
    return document


def _put_decimal(document: dict[str, object], key: str, value: Decimal | None) -> None:
    if value is not None:
        document[key] = decimal_text(value)
