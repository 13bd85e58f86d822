"""EHF export: many settlements become documents the official rules accept, with the right facts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from billing.export.ehf import render_ehf
from tests.ehf import (
    BAERUM,
    ISSUE_DATE,
    NS,
    OSLO,
    OTHER_VENDOR,
    PERIOD,
    VENDOR,
    LineSpec,
    catalogue,
    make_settlement,
    parse,
    text,
    texts,
    validator,
)

CATALOGUE = catalogue()
MUNICIPALITY_ORG_NO = {BAERUM: "935478715", OSLO: "958935420"}


def _render(document: dict[str, object], payee_account: str | None = None) -> bytes:
    xml = render_ehf(document, CATALOGUE, payee_account=payee_account)
    assert xml is not None
    return xml


def _assert_valid(xml: bytes) -> None:
    report = validator().report(xml)
    assert report.failures == (), "\n".join(map(str, report.failures)) + "\n" + xml.decode()


def _assert_facts(xml: bytes, document: dict[str, object]) -> None:
    """The key fields by XPath, in both document kinds; amounts equal the settlement's."""
    root = parse(xml)
    total = Decimal(str(document["total"]))
    credit = total < 0
    sign = Decimal(-1) if credit else Decimal(1)
    kind = "cn:CreditNote" if credit else "inv:Invoice"
    assert root.xpath(f"boolean(/{kind})", namespaces=NS)
    assert text(root, "/*/cbc:ID/text()") == (
        f"{document['period']}-{document['municipality']}-{document['vendor']}"
    )
    assert text(root, "/*/cbc:IssueDate/text()") == ISSUE_DATE
    type_code = "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode"
    assert text(root, f"/*/{type_code}/text()") == ("381" if credit else "380")
    if not credit:
        assert text(root, "/*/cbc:DueDate/text()") == "2026-12-02"
    assert text(root, "/*/cbc:DocumentCurrencyCode/text()") == "NOK"
    supplier = "/*/cac:AccountingSupplierParty/cac:Party"
    customer = "/*/cac:AccountingCustomerParty/cac:Party"
    vendor = str(document["vendor"])
    assert text(root, f"{supplier}/cbc:EndpointID/@schemeID") == "0192"
    assert text(root, f"{supplier}/cbc:EndpointID/text()") == vendor
    assert text(root, f"{supplier}/cac:PartyLegalEntity/cbc:CompanyID/@schemeID") == "0192"
    assert text(root, f"{supplier}/cac:PartyLegalEntity/cbc:CompanyID/text()") == vendor
    assert (
        text(
            root, f"{supplier}/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID/text()"
        )
        == f"NO{vendor}MVA"
    )
    assert (
        text(
            root, f"{supplier}/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='TAX']/cbc:CompanyID/text()"
        )
        == "Foretaksregisteret"
    )
    org_no = MUNICIPALITY_ORG_NO[str(document["municipality"])]
    assert text(root, f"{customer}/cbc:EndpointID/@schemeID") == "0192"
    assert text(root, f"{customer}/cbc:EndpointID/text()") == org_no
    assert text(root, f"{customer}/cac:PartyLegalEntity/cbc:CompanyID/text()") == org_no

    totals = "/*/cac:LegalMonetaryTotal"
    subtotal = Decimal(str(document["subtotal"])) * sign
    vat = Decimal(str(document["vat"])) * sign
    assert Decimal(text(root, f"{totals}/cbc:LineExtensionAmount/text()")) == subtotal
    assert Decimal(text(root, f"{totals}/cbc:TaxExclusiveAmount/text()")) == subtotal
    assert Decimal(text(root, f"{totals}/cbc:TaxInclusiveAmount/text()")) == total * sign
    assert Decimal(text(root, f"{totals}/cbc:PayableAmount/text()")) == total * sign
    assert Decimal(text(root, "/*/cac:TaxTotal/cbc:TaxAmount/text()")) == vat
    for amount in texts(root, "//*[@currencyID][local-name() != 'PriceAmount']/text()"):
        assert amount.split(".")[1:] and len(amount.split(".")[1]) == 2, amount
        assert amount != "-0.00"

    lines = document["lines"]
    assert isinstance(lines, list)
    line_path = "/*/cac:CreditNoteLine" if credit else "/*/cac:InvoiceLine"
    assert texts(root, f"{line_path}/cbc:ID/text()") == [str(n) for n in range(1, len(lines) + 1)]
    line_amounts = [Decimal(a) for a in texts(root, f"{line_path}/cbc:LineExtensionAmount/text()")]
    assert line_amounts == [Decimal(line["amount"]) * sign for line in lines]
    measured = texts(
        root,
        f"{line_path}/cac:Item/cac:AdditionalItemProperty[cbc:Name='Målt mengde']/cbc:Value/text()",
    )
    assert measured == [str(line["quantity"]) for line in lines]
    names = texts(root, f"{line_path}/cac:Item/cbc:Name/text()")
    for name, line in zip(names, lines, strict=True):
        assert line["licence"] in name
        assert ("justering for" in name) == line["adjustment"]
    if credit:
        adjusted = sorted(line["usage_period"] for line in lines if line["adjustment"])
        references = texts(
            root, "/*/cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID/text()"
        )
        if adjusted:
            assert references[0] == f"{adjusted[0]}-{document['municipality']}-{vendor}"


SCENARIOS: dict[str, dict[str, object]] = {
    "one line, exact unit price": make_settlement([LineSpec("L-2026-001", 812, 1_015_000)]),
    "several lines, cap and tiers (inexact price)": make_settlement(
        [
            LineSpec("L-2026-001", 812, 1_015_000),
            LineSpec("L-2026-003", 421, 500_000, metric="fixed_per_pupil", cap_applied=True),
            LineSpec("L-2026-002", 4, 1_001, vat_rate="0", metric="units"),
        ],
        unlicensed=(3, 2),
    ),
    "adjustments for earlier months, positive total": make_settlement(
        [
            LineSpec("L-2026-001", 812, 1_015_000),
            LineSpec("L-2026-001", -7, -8_750, usage_period="2026-09"),
            LineSpec("L-2026-003", 2, 2_500, usage_period="2026-08", metric="fixed_per_pupil"),
            LineSpec("L-2026-002", -1, 333, vat_rate="0", usage_period="2026-09", metric="units"),
        ]
    ),
    "zero-rated only": make_settlement(
        [LineSpec("L-2026-002", 12_345, 1_234_500, vat_rate="0", metric="units")]
    ),
    "zero-rated written 0.00, mixed with standard": make_settlement(
        [
            LineSpec("L-2026-002", 100, 99_999, vat_rate="0.00", metric="units"),
            LineSpec("L-2026-001", 1, 2),  # 0.02 × 25 % = 0.005 → 0.00 half-even
        ]
    ),
    "half-even VAT on x.xx5": make_settlement([LineSpec("L-2026-001", 101, 1_010)]),
    "large quantities and amounts": make_settlement(
        [
            LineSpec("L-2026-001", 830_000, 1_037_500_000),
            LineSpec("L-2026-002", 987_654_321, 12_345_678_901, vat_rate="0", metric="units"),
            LineSpec("L-2026-003", 999_999_937, 99_999_999_999, metric="fixed_per_pupil"),
        ]
    ),
    "credit note: negative total from adjustments": make_settlement(
        [
            LineSpec("L-2026-001", 10, 12_500),
            LineSpec("L-2026-001", -400, -500_000, usage_period="2026-08"),
            LineSpec("L-2026-002", -3, -3_750, vat_rate="0", usage_period="2026-09"),
        ]
    ),
    "credit note: adjustment only, quantity sign opposite": make_settlement(
        [LineSpec("L-2026-001", 5, -12_345, usage_period="2026-09")]
    ),
    "joint licence share with zero own quantity": make_settlement(
        [LineSpec("L-2026-001", 0, 45_678)], municipality=OSLO
    ),
    "no buyer reference, order reference present": make_settlement(
        [LineSpec("L-2026-001", 40, 50_000)], municipality=OSLO
    ),
    "buyer reference present, no order reference": make_settlement(
        [LineSpec("L-2026-002", 40, 50_000, vat_rate="0", metric="units")]
    ),
    "neither reference: falls back to the municipality id": make_settlement(
        [LineSpec("L-2026-002", 40, 50_000, vat_rate="0", metric="units")], municipality=OSLO
    ),
    "other vendor": make_settlement(
        [LineSpec("L-2026-004", 77, 96_250, metric="units")], vendor=OTHER_VENDOR
    ),
    "zero amount line and zero total": make_settlement(
        [
            LineSpec("L-2026-001", 3, 0),
            LineSpec("L-2026-002", 0, 0, vat_rate="0", metric="units"),
            LineSpec("L-2026-001", 4, 5_000),
            LineSpec("L-2026-001", -4, -5_000, usage_period="2026-09"),
        ]
    ),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_is_valid_with_the_right_facts(name: str) -> None:
    document = SCENARIOS[name]
    xml = _render(document)
    _assert_valid(xml)
    _assert_facts(xml, document)
    assert validator().report(xml).warnings == ()


def test_references() -> None:
    with_both = parse(_render(SCENARIOS["one line, exact unit price"]))
    assert text(with_both, "/*/cbc:BuyerReference/text()") == "3201-OPPVEKST"
    assert text(with_both, "/*/cac:OrderReference/cbc:ID/text()") == "2026/0117"

    order_only = parse(_render(SCENARIOS["no buyer reference, order reference present"]))
    assert texts(order_only, "/*/cbc:BuyerReference") == []
    assert text(order_only, "/*/cac:OrderReference/cbc:ID/text()") == "2026/0117"

    buyer_only = parse(_render(SCENARIOS["buyer reference present, no order reference"]))
    assert text(buyer_only, "/*/cbc:BuyerReference/text()") == "3201-OPPVEKST"
    assert texts(buyer_only, "/*/cac:OrderReference") == []

    neither = parse(_render(SCENARIOS["neither reference: falls back to the municipality id"]))
    assert text(neither, "/*/cbc:BuyerReference/text()") == OSLO
    assert texts(neither, "/*/cac:OrderReference") == []


def test_periods_prices_and_tax_categories() -> None:
    root = parse(_render(SCENARIOS["adjustments for earlier months, positive total"]))
    assert text(root, "/*/cac:InvoicePeriod/cbc:StartDate/text()") == "2026-08-01"
    assert text(root, "/*/cac:InvoicePeriod/cbc:EndDate/text()") == "2026-10-31"
    assert texts(root, "/*/cac:InvoiceLine/cac:InvoicePeriod/cbc:StartDate/text()") == [
        "2026-10-01",
        "2026-09-01",
        "2026-08-01",
        "2026-09-01",
    ]
    assert texts(root, "/*/cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID/text()") == [
        f"2026-08-{BAERUM}-{VENDOR}",
        f"2026-09-{BAERUM}-{VENDOR}",
    ]
    line = "/*/cac:InvoiceLine"
    # the last line's quantity (-1) has the opposite sign of its amount: a lump sum of 1
    assert texts(root, f"{line}/cbc:InvoicedQuantity/text()") == ["812", "-7", "2", "1"]
    assert texts(root, f"{line}/cbc:InvoicedQuantity/@unitCode") == ["IE", "IE", "IE", "LS"]
    assert texts(root, f"{line}/cac:Price/cbc:PriceAmount/text()") == [
        "12.50",
        "12.50",
        "12.50",
        "3.33",
    ]
    assert texts(root, f"{line}/cac:Item/cac:ClassifiedTaxCategory/cbc:ID/text()") == [
        "S",
        "S",
        "S",
        "Z",
    ]
    assert texts(root, "/*/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID/text()") == [
        "S",
        "Z",
    ]
    assert texts(root, "/*/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent/text()") == [
        "25",
        "0",
    ]

    inexact = parse(_render(SCENARIOS["several lines, cap and tiers (inexact price)"]))
    assert texts(inexact, f"{line}/cac:Price/cbc:PriceAmount/text()") == [
        "12.50",
        "5000.00",
        "2.5025",
    ]
    assert texts(inexact, f"{line}/cac:Price/cbc:BaseQuantity/text()") == ["421"]


def test_credit_note_negates_amounts_and_refers_to_the_corrected_invoice() -> None:
    document = SCENARIOS["credit note: negative total from adjustments"]
    root = parse(_render(document))
    assert text(root, "/*/cbc:CreditNoteTypeCode/text()") == "381"
    assert texts(root, "/*/cac:CreditNoteLine/cbc:LineExtensionAmount/text()") == [
        "-125.00",
        "5000.00",
        "37.50",
    ]
    assert texts(root, "/*/cac:CreditNoteLine/cbc:CreditedQuantity/text()") == ["-10", "400", "3"]
    assert texts(root, "/*/cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID/text()")[0] == (
        f"2026-08-{BAERUM}-{VENDOR}"
    )
    assert texts(root, "/*/cac:PaymentMeans") == []
    assert Decimal(text(root, "/*/cac:LegalMonetaryTotal/cbc:PayableAmount/text()")) > 0


def test_payee_account_gives_credit_transfer() -> None:
    xml = _render(SCENARIOS["one line, exact unit price"], payee_account="86011117947")
    _assert_valid(xml)
    root = parse(xml)
    assert text(root, "/*/cac:PaymentMeans/cbc:PaymentMeansCode/text()") == "30"
    assert text(root, "/*/cac:PaymentMeans/cbc:PaymentID/text()") == f"{PERIOD}-{BAERUM}-{VENDOR}"
    assert text(root, "/*/cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID/text()") == (
        "86011117947"
    )

    without = parse(_render(SCENARIOS["one line, exact unit price"]))
    assert text(without, "/*/cac:PaymentMeans/cbc:PaymentMeansCode/text()") == "1"
    assert texts(without, "/*/cac:PaymentMeans/cac:PayeeFinancialAccount") == []


def test_norwegian_letters_and_ampersand_survive() -> None:
    xml = _render(SCENARIOS["several lines, cap and tiers (inexact price)"])
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    root = parse(xml)
    supplier_name = "/*/cac:AccountingSupplierParty/cac:Party/cac:PartyName/cbc:Name/text()"
    assert text(root, supplier_name) == "Ærlige Øvelser & Åpne Bøker AS"
    assert "Norsk <5–7> «Språkløypa» & lydbok – lisens L-2026-002" in texts(
        root, "//cac:Item/cbc:Name/text()"
    )
    assert "Ulisensiert bruk, ikke fakturert: 3 hendelser fra 2 brukere." in text(
        root, "/*/cbc:Note/text()"
    )
    assert "Ærlige Øvelser &amp; Åpne Bøker AS".encode() in xml


def test_licence_missing_from_catalogue_still_exports() -> None:
    document = make_settlement([LineSpec("L-GONE", 2, 2_500)])
    xml = _render(document)
    _assert_valid(xml)
    assert text(parse(xml), "//cac:Item/cbc:Name") == "Læringsmiddel – lisens L-GONE"


def test_same_input_same_bytes() -> None:
    document = SCENARIOS["adjustments for earlier months, positive total"]
    assert _render(document) == _render(dict(document))


def test_no_lines_no_invoice() -> None:
    document = make_settlement([], unlicensed=(5, 4))
    assert render_ehf(document, CATALOGUE) is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("vat", "2537.49", "vat"),
        ("subtotal", "10150.01", "subtotal"),
        ("total", "12687.51", "total"),
        ("municipality", "9999", "municipality"),
        ("vendor", "111111111", "vendor"),
        ("issue_date", None, "issue_date"),
        ("subtotal", "10150", "subtotal"),
    ],
)
def test_inconsistent_or_malformed_settlement_is_refused(
    field: str, value: object, message: str
) -> None:
    document = dict(SCENARIOS["one line, exact unit price"])
    document[field] = value
    with pytest.raises(ValueError, match=message):
        render_ehf(document, CATALOGUE)


def test_vat_per_rate_must_match_the_document() -> None:
    # The totals add up, but the document claims VAT on a zero-rated line.
    document = make_settlement([LineSpec("L-2026-002", 4, 400, vat_rate="0", metric="units")])
    document["vat"] = "1.00"
    document["total"] = "5.00"
    with pytest.raises(ValueError, match="VAT per rate"):
        render_ehf(document, CATALOGUE)


# --- many generated settlements ------------------------------------------------------------

_LICENCES = {
    VENDOR: ("L-2026-001", "L-2026-002", "L-2026-003"),
    OTHER_VENDOR: ("L-2026-004",),
}
_METRICS = {
    "L-2026-001": "active_learners",
    "L-2026-002": "units",
    "L-2026-003": "fixed_per_pupil",
    "L-2026-004": "units",
}


@st.composite
def _line(draw: st.DrawFn, vendor: str) -> LineSpec:
    licence = draw(st.sampled_from(_LICENCES[vendor]))
    vat_rate = draw(st.sampled_from(["0.25", "0", "0.00", "0.25"]))
    if draw(st.booleans()):  # adjustment for an earlier month: any sign, any combination
        return LineSpec(
            licence,
            quantity=draw(st.integers(-1_000_000, 1_000_000)),
            amount_ore=draw(
                st.one_of(st.integers(-10_000, 10_000), st.integers(-(10**10), 10**10))
            ),
            vat_rate=vat_rate,
            usage_period=draw(st.sampled_from(["2025-12", "2026-08", "2026-09"])),
            metric=_METRICS[licence],
        )
    quantity = draw(st.one_of(st.integers(0, 1_000), st.integers(0, 10**9)))
    if quantity and draw(st.booleans()):  # priced per unit
        amount_ore = quantity * draw(st.integers(0, 100_000))
    else:  # capped, tiered or shared: anything
        amount_ore = draw(st.one_of(st.integers(0, 10_000), st.integers(0, 10**11)))
    if quantity == 0 and amount_ore == 0:
        amount_ore = 1
    return LineSpec(
        licence,
        quantity=quantity,
        amount_ore=amount_ore,
        vat_rate=vat_rate,
        metric=_METRICS[licence],
        cap_applied=draw(st.booleans()),
    )


@st.composite
def _settlement(draw: st.DrawFn) -> dict[str, object]:
    vendor = draw(st.sampled_from([VENDOR, OTHER_VENDOR]))
    lines = draw(st.lists(_line(vendor), min_size=1, max_size=8))
    return make_settlement(
        lines,
        municipality=draw(st.sampled_from([BAERUM, OSLO])),
        vendor=vendor,
        unlicensed=draw(st.tuples(st.integers(0, 50), st.integers(0, 20))),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_settlement())
def test_generated_settlements_validate(document: dict[str, object]) -> None:
    xml = _render(document)
    root = parse(xml)
    event("credit note" if root.xpath("boolean(/cn:CreditNote)", namespaces=NS) else "invoice")
    event(f"lump-sum lines: {'LS' in texts(root, '//@unitCode')}")
    event(f"base quantity: {bool(texts(root, '//cbc:BaseQuantity'))}")
    event(f"VAT categories: {texts(root, '//cac:TaxSubtotal/cac:TaxCategory/cbc:ID/text()')}")
    _assert_valid(xml)
    _assert_facts(xml, document)
    assert _render(document) == xml
