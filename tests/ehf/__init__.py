"""EHF export tests: shared helpers (catalogue, settlement builder, validator, XPath).

Settlements are built here with their own subtotal / VAT / total arithmetic (half-even VAT
per rate, CONTRACT 5.7), so these tests do not depend on the billing package. Example
documents are rendered from them (`example_documents`): nothing is read from outside the
checkout; the official rules are fetched from Maven Central into the cache (`infra.peppol`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache

from lxml import etree

from billing.export.ehf import render_ehf
from billing.export.ehf_validation import EhfValidator
from infra.peppol import ensure_peppol_artefacts
from ledger.domain.catalogue import (
    Catalogue,
    Licence,
    Municipality,
    Pricing,
    Product,
    School,
    Vendor,
)

NS = {
    "inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}

PERIOD = "2026-10"
ISSUE_DATE = "2026-11-02"
BAERUM = "3201"  # has a buyer_reference
OSLO = "0301"  # has none
VENDOR = "987654325"
OTHER_VENDOR = "123456785"


@cache
def validator() -> EhfValidator:
    """The product's validator on the fetched rules, compiled once for the whole run."""
    artefacts = ensure_peppol_artefacts()
    return EhfValidator(artefacts.schemas, artefacts.stylesheets)


def organisation_number(first_eight: str) -> str:
    """A valid 9-digit organisation number: the mod-11 check digit appended."""
    weights = (3, 2, 7, 6, 5, 4, 3, 2)
    remainder = sum(int(d) * w for d, w in zip(first_eight, weights, strict=True)) % 11
    check = (11 - remainder) % 11
    assert check != 10, f"{first_eight} has no valid check digit"
    return first_eight + str(check)


def _licence(
    licence_id: str,
    vendor: str,
    products: tuple[str, ...],
    buyers: tuple[str, ...],
    vat_rate: str,
    metric: str,
    order_reference: str | None,
) -> Licence:
    pricing = Pricing(
        metric=metric,  # type: ignore[arg-type]
        unit="access" if metric == "units" else None,
        unit_price=Decimal("12.50"),
    )
    return Licence(
        id=licence_id,
        vendor=vendor,
        products=products,
        buyers=buyers,
        schools=None,
        valid_from=date(2026, 8, 1),
        valid_to=date(2027, 7, 31),
        vat_rate=Decimal(vat_rate),
        pricing=pricing,
        order_reference=order_reference,
    )


def catalogue() -> Catalogue:
    return Catalogue(
        municipalities=(
            Municipality(
                id=BAERUM,
                org_no="935478715",
                name="Bærum kommune",
                population=130_000,
                schools=(School("974626993", "Bekkestua skole", 420),),
                buyer_reference="3201-OPPVEKST",
            ),
            Municipality(
                id=OSLO,
                org_no="958935420",
                name="Oslo kommune – Utdanningsetaten",
                population=700_000,
                schools=(),
            ),
        ),
        vendors=(
            Vendor(
                org_no=VENDOR,
                name="Ærlige Øvelser & Åpne Bøker AS",
                products=(
                    Product("matte-1-7", "Matematikk 1-7"),
                    Product("norsk-5-7", "Norsk <5–7> «Språkløypa» & lydbok"),
                    Product("naturfag", "Naturfag – økosystemer på Østlandet"),
                ),
            ),
            Vendor(
                org_no=OTHER_VENDOR,
                name="Læremiddelfabrikken ASA",
                products=(Product("kode", "Programmering for småtrinnet"),),
            ),
        ),
        licences=(
            # order reference, standard rate, joint licence
            _licence(
                "L-2026-001",
                VENDOR,
                ("matte-1-7",),
                (BAERUM, OSLO),
                "0.25",
                "active_learners",
                "2026/0117",
            ),
            # no order reference, zero rated (e-book)
            _licence("L-2026-002", VENDOR, ("norsk-5-7",), (BAERUM, OSLO), "0", "units", None),
            # several products, an order reference with characters XML must escape
            _licence(
                "L-2026-003",
                VENDOR,
                ("naturfag", "matte-1-7"),
                (BAERUM,),
                "0.25",
                "fixed_per_pupil",
                "Avrop 7 & «rammeavtale» <2026>",
            ),
            _licence("L-2026-004", OTHER_VENDOR, ("kode",), (BAERUM, OSLO), "0.25", "units", None),
        ),
    )


@dataclass(frozen=True)
class LineSpec:
    licence: str
    quantity: int
    amount_ore: int
    vat_rate: str = "0.25"
    usage_period: str = PERIOD
    metric: str = "active_learners"
    cap_applied: bool = False


def ore_text(ore: int) -> str:
    sign = "-" if ore < 0 else ""
    return f"{sign}{abs(ore) // 100}.{abs(ore) % 100:02d}"


def make_settlement(
    lines: list[LineSpec],
    *,
    municipality: str = BAERUM,
    vendor: str = VENDOR,
    period: str = PERIOD,
    unlicensed: tuple[int, int] = (0, 0),
) -> dict[str, object]:
    """A CONTRACT 6 settlement with consistent subtotal, VAT (half-even per rate) and total."""
    taxable_by_rate: dict[Decimal, int] = {}
    for line in lines:
        rate = Decimal(line.vat_rate)
        taxable_by_rate[rate] = taxable_by_rate.get(rate, 0) + line.amount_ore
    subtotal_ore = sum(line.amount_ore for line in lines)
    vat_ore = sum(
        int((Decimal(taxable) * rate).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
        for rate, taxable in taxable_by_rate.items()
    )
    document: dict[str, object] = {
        "period": period,
        "municipality": municipality,
        "vendor": vendor,
        "currency": "NOK",
        "lines": [
            {
                "licence": line.licence,
                "metric": line.metric,
                "usage_period": line.usage_period,
                "quantity": line.quantity,
                "amount": ore_text(line.amount_ore),
                "vat_rate": line.vat_rate,
                "cap_applied": line.cap_applied,
                "adjustment": line.usage_period != period,
            }
            for line in lines
        ],
        "subtotal": ore_text(subtotal_ore),
        "vat": ore_text(vat_ore),
        "total": ore_text(subtotal_ore + vat_ore),
        "unlicensed": {"events": unlicensed[0], "learners": unlicensed[1]},
        "issue_date": ISSUE_DATE,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    document["digest"] = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    return document


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def texts(root: etree._Element, path: str) -> list[str]:
    return [
        (value.text or "") if isinstance(value, etree._Element) else str(value)
        for value in root.xpath(path, namespaces=NS)
    ]


def text(root: etree._Element, path: str) -> str:
    values = texts(root, path)
    assert len(values) == 1, f"{path}: expected one value, got {values}"
    return values[0]


def example_documents() -> dict[str, bytes]:
    """Documents of both kinds made by the exporter, standing in for the official examples.

    A Norwegian invoice with both references and a payee account (credit transfer), a base
    invoice with several rates, and a credit note correcting earlier months.
    """
    settlements = {
        "norwegian-invoice": (make_settlement([LineSpec("L-2026-001", 812, 1_015_000)]), True),
        "base-invoice": (
            make_settlement(
                [
                    LineSpec("L-2026-001", 40, 50_000),
                    LineSpec("L-2026-002", 4, 1_001, vat_rate="0", metric="units"),
                ],
                municipality=OSLO,
            ),
            False,
        ),
        "credit-note": (
            make_settlement(
                [
                    LineSpec("L-2026-001", 10, 12_500),
                    LineSpec("L-2026-001", -400, -500_000, usage_period="2026-08"),
                ]
            ),
            False,
        ),
    }
    documents: dict[str, bytes] = {}
    for name, (settlement, pays_to_account) in settlements.items():
        xml = render_ehf(
            settlement, catalogue(), payee_account="86011117947" if pays_to_account else None
        )
        assert xml is not None, name
        documents[name] = xml
    return documents
