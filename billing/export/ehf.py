"""EHF 3.0 export: a settlement as a PEPPOL BIS Billing 3.0 (UBL 2.1) Invoice or CreditNote.

`render_ehf(document, catalogue)` turns one settlement (CONTRACT section 6, as a dict) into
the e-invoice Norwegian public buyers receive. Pure: no I/O, same input gives the same bytes.

Choices, each forced or allowed by the rules (CEN EN 16931 + OpenPeppol BIS 3.0 + NO rules),
and checked by the official validation artefacts in the tests:

- **Document kind.** A settlement whose total is negative becomes a CreditNote (type 381)
  with every amount and quantity negated, so that what the buyer is owed reads positive;
  it refers (BillingReference) to the invoices of the usage periods it corrects. Everything
  else, a zero total included, is an Invoice (type 380). A settlement without lines (only
  unlicensed use) is no invoice at all: `None`.
- **Identifier** `<period>-<municipality>-<vendor>`: one settlement per period, municipality
  and vendor, so the id is deterministic and an adjustment can name the invoice it corrects.
- **References** (PEPPOL-EN16931-R003 wants a buyer reference or an order reference):
  BuyerReference is the municipality's `buyer_reference`; OrderReference is the
  `order_reference` of the first line's licence that has one (a document holds only one;
  every line also names its own licence's order reference in its note). When neither
  exists, BuyerReference falls back to the municipality id (kommunenummer), which the
  municipality's finance office can always route on.
- **Periods.** The document InvoicePeriod is the settlement month. Adjustment lines carry
  their own earlier usage month as line InvoicePeriod, and the rules require line periods
  inside the document period (PEPPOL-EN16931-R110/R111), so when a settlement has
  adjustments the document period starts at the first day of the earliest usage month.
- **Quantity, unit and price.** The line's real measured quantity is the InvoicedQuantity
  (CreditedQuantity) whenever the rules allow it, with UN/ECE rec. 20 unit `IE` (person) for
  `active_learners` and `fixed_per_pupil`, and `C62` (one) for `units`. The rules demand a
  non-negative net price, a positive base quantity and LineExtensionAmount = quantity ×
  price / base quantity (PEPPOL-EN16931-R120, BR-27, PEPPOL-EN16931-R121), so:
  * when the amount divides exactly into a price with at most 4 decimals, Price is that unit
    price and BaseQuantity is left out (readable: "812 × 12.50");
  * otherwise (tiers, caps, shares) Price is the whole line amount and BaseQuantity the
    quantity: "10 150.00 per 812 persons", exact for any size;
  * when the quantity is zero or has the opposite sign of the amount (possible for joint
    licences split by population, and for adjustments), the line is a lump sum: quantity
    ±1 of unit `LS` and Price the amount. The measured quantity stays visible in the item
    description and as an AdditionalItemProperty on every line.
- **VAT.** Category S with the line's rate as percent when the rate is positive, Z (zero
  rated, e.g. e-books) with 0 when it is zero. The breakdown per rate is computed from the
  lines with CONTRACT 5.7's rounding (half-even to whole øre per rate) and must add up to
  the document's `vat`; if it does not, the settlement is inconsistent and `ValueError` is
  raised rather than an invoice that disagrees with the ledger.
- **Payment.** With `payee_account` (the vendor's bank account; the catalogue has none):
  PaymentMeans 30 (credit transfer) with the account, as BR-61 requires for 30/58. Without
  it: PaymentMeans 1 (instrument not defined), which needs no account and still carries the
  invoice id as PaymentID. Due date is the issue date + 30 days. Credit notes carry no
  payment instruction (the vendor pays back or sets off; a payment term says so).
- **Supplier** is a Norwegian company: VAT id `NO<org no>MVA` and the `Foretaksregisteret`
  tax scheme (NO-R-001, NO-R-002); all organisation numbers use scheme 0192.

Money is `Decimal` throughout and written with exactly two decimals; never `float`.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

from lxml import etree

from ledger.domain.catalogue import Catalogue, Licence, Municipality, Vendor
from ledger.domain.invariants import invariant

NAMESPACE_INVOICE: Final = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NAMESPACE_CREDIT_NOTE: Final = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NAMESPACE_CAC: Final = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NAMESPACE_CBC: Final = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

CUSTOMIZATION_ID: Final = (
    "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
)
PROFILE_ID: Final = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
INVOICE_TYPE_CODE: Final = "380"  # commercial invoice
CREDIT_NOTE_TYPE_CODE: Final = "381"  # credit note
ORGANISATION_NUMBER_SCHEME: Final = "0192"  # Enhetsregisteret (Brønnøysund)
COUNTRY_CODE: Final = "NO"
PAYMENT_MEANS_CREDIT_TRANSFER: Final = "30"
PAYMENT_MEANS_NOT_DEFINED: Final = "1"

UNIT_CODE_PERSON: Final = "IE"  # UN/ECE rec. 20 "person"
UNIT_CODE_ONE: Final = "C62"  # UN/ECE rec. 20 "one"
UNIT_CODE_LUMP_SUM: Final = "LS"  # UN/ECE rec. 20 "lump sum"

XML_DECLARATION: Final = b'<?xml version="1.0" encoding="UTF-8"?>\n'

payment_terms_days: Final = 30
unit_price_decimals_max: Final = 4  # beyond this, the price is given per the whole quantity
item_products_chars_max: Final = 160  # product names in an item name, before "…"
lines_max: Final = 100_000  # a settlement has one line per licence (and adjusted period)

CENT: Final = Decimal("0.01")
_AMOUNT_PATTERN: Final = re.compile(r"-?[0-9]+\.[0-9]{2}")
_RATE_PATTERN: Final = re.compile(r"[0-9]+(\.[0-9]+)?")
_PERIOD_PATTERN: Final = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_DATE_PATTERN: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

_METRIC_LABELS: Final[Mapping[str, str]] = {
    "active_learners": "aktive elever",
    "units": "enheter",
    "fixed_per_pupil": "elever (fast pris per elev)",
}
_METRIC_UNIT_CODES: Final[Mapping[str, str]] = {
    "active_learners": UNIT_CODE_PERSON,
    "units": UNIT_CODE_ONE,
    "fixed_per_pupil": UNIT_CODE_PERSON,
}


@dataclass(frozen=True)
class _Line:
    licence: str
    metric: str
    usage_period: str
    quantity: int
    amount: Decimal
    vat_rate: Decimal
    cap_applied: bool
    adjustment: bool


@dataclass(frozen=True)
class _Settlement:
    period: str
    municipality: str
    vendor: str
    currency: str
    lines: tuple[_Line, ...]
    subtotal: Decimal
    vat: Decimal
    total: Decimal
    unlicensed_events: int
    unlicensed_learners: int
    issue_date: date
    digest: str | None


@dataclass(frozen=True)
class _TaxSubtotal:
    rate: Decimal
    taxable: Decimal
    tax: Decimal


@dataclass(frozen=True)
class _PriceTerms:
    """How one line's amount is expressed so that quantity × price / base = amount."""

    quantity: int
    unit_code: str
    price: Decimal
    base_quantity: int | None


def render_ehf(
    document: Mapping[str, object],
    catalogue: Catalogue,
    *,
    payee_account: str | None = None,
) -> bytes | None:
    """The settlement as EHF 3.0 XML (UTF-8, with declaration), or None when it has no lines.

    `payee_account` is the vendor's bank account number (Norwegian 11 digits or an IBAN);
    without it the invoice carries payment means code 1 and no account (see module doc).
    Raises `ValueError` when the settlement is malformed, inconsistent (lines, subtotal,
    VAT per rate and total do not agree), or names a municipality or vendor the catalogue
    does not know.
    """
    settlement = _parse_settlement(document)
    if not settlement.lines:
        return None
    municipality = catalogue.municipality(settlement.municipality)
    if municipality is None:
        raise ValueError(f"municipality {settlement.municipality!r} is not in the catalogue")
    vendor = catalogue.vendor(settlement.vendor)
    if vendor is None:
        raise ValueError(f"vendor {settlement.vendor!r} is not in the catalogue")
    tax_subtotals = _tax_breakdown(settlement)
    root = _build_document(
        settlement, catalogue, municipality, vendor, tax_subtotals, _clean(payee_account)
    )
    return XML_DECLARATION + bytes(
        etree.tostring(root, encoding="UTF-8", xml_declaration=False, pretty_print=True)
    )


def invoice_id(period: str, municipality: str, vendor: str) -> str:
    """The e-invoice id of the settlement of `period` for `municipality` from `vendor`."""
    return f"{period}-{municipality}-{vendor}"


# --- reading and checking the settlement -------------------------------------------------


def _parse_settlement(document: Mapping[str, object]) -> _Settlement:
    period = _period(document, "period")
    raw_lines = document.get("lines", [])
    if not isinstance(raw_lines, Sequence) or isinstance(raw_lines, str | bytes):
        raise ValueError("settlement 'lines' must be a list")
    if len(raw_lines) > lines_max:
        raise ValueError(f"settlement has {len(raw_lines)} lines, more than {lines_max}")
    lines = tuple(_parse_line(raw, period, index) for index, raw in enumerate(raw_lines, 1))
    unlicensed = document.get("unlicensed", {})
    if not isinstance(unlicensed, Mapping):
        raise ValueError("settlement 'unlicensed' must be an object")
    digest = document.get("digest")
    currency = document.get("currency", "NOK")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValueError(f"settlement currency {currency!r} is not an ISO 4217 code")
    return _Settlement(
        period=period,
        municipality=_string(document, "municipality"),
        vendor=_string(document, "vendor"),
        currency=currency,
        lines=lines,
        subtotal=_amount(document, "subtotal"),
        vat=_amount(document, "vat"),
        total=_amount(document, "total"),
        unlicensed_events=_count(unlicensed, "events"),
        unlicensed_learners=_count(unlicensed, "learners"),
        issue_date=_date(document, "issue_date"),
        digest=digest if isinstance(digest, str) and digest else None,
    )


def _parse_line(raw: object, period: str, index: int) -> _Line:
    if not isinstance(raw, Mapping):
        raise ValueError(f"settlement line {index} must be an object")
    usage_period = _period(raw, "usage_period")
    if usage_period > period:
        raise ValueError(
            f"settlement line {index}: usage period {usage_period} is after period {period}"
        )
    quantity = raw.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise ValueError(f"settlement line {index}: quantity must be a whole number")
    rate_text = raw.get("vat_rate")
    if not isinstance(rate_text, str) or not _RATE_PATTERN.fullmatch(rate_text):
        raise ValueError(f"settlement line {index}: vat_rate {rate_text!r} is not a decimal")
    vat_rate = Decimal(rate_text)
    if vat_rate >= 1:
        raise ValueError(f"settlement line {index}: vat_rate {rate_text} is not below 1")
    return _Line(
        licence=_string(raw, "licence"),
        metric=_string(raw, "metric"),
        usage_period=usage_period,
        quantity=quantity,
        amount=_amount(raw, "amount"),
        vat_rate=vat_rate,
        cap_applied=raw.get("cap_applied") is True,
        # An older settlement may lack the flag: a line for an earlier month is an adjustment.
        adjustment=raw.get("adjustment") is True or usage_period != period,
    )


def _tax_breakdown(settlement: _Settlement) -> tuple[_TaxSubtotal, ...]:
    """VAT per rate, highest rate first, checked against the settlement's own figures.

    Rounding as CONTRACT 5.7: per rate, half-even to whole øre of (sum of amounts × rate).
    """
    line_sum = sum((line.amount for line in settlement.lines), Decimal("0.00"))
    if line_sum != settlement.subtotal:
        raise ValueError(
            f"settlement subtotal {settlement.subtotal} is not the sum of its lines {line_sum}"
        )
    if settlement.subtotal + settlement.vat != settlement.total:
        raise ValueError(
            f"settlement total {settlement.total} is not subtotal {settlement.subtotal}"
            f" + vat {settlement.vat}"
        )
    taxable_by_rate: dict[Decimal, Decimal] = {}
    for line in settlement.lines:
        taxable_by_rate[line.vat_rate] = taxable_by_rate.get(line.vat_rate, Decimal("0.00")) + (
            line.amount
        )
    subtotals = tuple(
        _TaxSubtotal(rate, taxable, (taxable * rate).quantize(CENT, rounding=ROUND_HALF_EVEN))
        for rate, taxable in sorted(taxable_by_rate.items(), reverse=True)
    )
    tax_sum = sum((subtotal.tax for subtotal in subtotals), Decimal("0.00"))
    if tax_sum != settlement.vat:
        per_rate = ", ".join(f"{s.rate}: {s.tax} on {s.taxable}" for s in subtotals)
        raise ValueError(
            f"settlement vat {settlement.vat} is not the sum of VAT per rate"
            f" ({per_rate}) = {tax_sum}"
        )
    return subtotals


def _string(mapping: Mapping[str, object], key: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"settlement field {key!r} must be a non-empty string")
    return value


def _amount(mapping: Mapping[str, object], key: str) -> Decimal:
    value = mapping.get(key)
    if not isinstance(value, str) or not _AMOUNT_PATTERN.fullmatch(value):
        raise ValueError(f"settlement field {key!r} must be an amount like '12.50', not {value!r}")
    return Decimal(value)


def _count(mapping: Mapping[object, object], key: str) -> int:
    value = mapping.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"settlement unlicensed {key!r} must be a whole number ≥ 0")
    return value


def _period(mapping: Mapping[str, object], key: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not _PERIOD_PATTERN.fullmatch(value):
        raise ValueError(f"settlement field {key!r} must be a period YYYY-MM, not {value!r}")
    return value


def _date(mapping: Mapping[str, object], key: str) -> date:
    value = mapping.get(key)
    if not isinstance(value, str) or not _DATE_PATTERN.fullmatch(value):
        raise ValueError(f"settlement field {key!r} must be a date YYYY-MM-DD, not {value!r}")
    return date.fromisoformat(value)


def _clean(text: str | None) -> str | None:
    """None for absent or blank text: the rules forbid empty elements (PEPPOL-EN16931-R008)."""
    if text is None:
        return None
    stripped = text.strip()
    return stripped or None


# --- pure helpers ------------------------------------------------------------------------


def _month_first_day(period: str) -> date:
    return date(int(period[:4]), int(period[5:7]), 1)


def _month_last_day(period: str) -> date:
    first = _month_first_day(period)
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _money(value: Decimal) -> str:
    """Two decimals, and never "-0.00" (negating a zero amount must not show a sign)."""
    invariant(value == value.quantize(CENT), f"amount {value} is not in whole øre")
    if value.is_zero():
        return "0.00"
    return f"{value:.2f}"


def _decimal_text(value: Decimal) -> str:
    """A price or percent without an exponent or needless trailing zeros."""
    return f"{value.normalize():f}"


def _price_text(value: Decimal) -> str:
    if value == value.quantize(CENT):
        return _money(value)
    return _decimal_text(value)


def _sign(value: int | Decimal) -> int:
    return (value > 0) - (value < 0)


def _price_terms(quantity: int, amount: Decimal, unit_code: str) -> _PriceTerms:
    """Quantity, unit and price such that quantity × price / base quantity == amount exactly.

    Price ≥ 0 and base quantity > 0 (BR-27, PEPPOL-EN16931-R121), so the quantity must have
    the amount's sign; otherwise the line becomes a lump sum of ±1 (see module doc).
    """
    if amount.is_zero():
        return _PriceTerms(quantity, unit_code, Decimal("0.00"), None)
    if quantity == 0 or _sign(quantity) != _sign(amount):
        return _PriceTerms(_sign(amount), UNIT_CODE_LUMP_SUM, abs(amount), None)
    amount_ore = int(abs(amount) * 100)
    scale = 10 ** (unit_price_decimals_max - 2)
    if (amount_ore * scale) % abs(quantity) == 0:
        unit_price = Decimal((amount_ore * scale) // abs(quantity)).scaleb(-unit_price_decimals_max)
        return _PriceTerms(quantity, unit_code, unit_price, None)
    return _PriceTerms(quantity, unit_code, abs(amount), abs(quantity))


def _product_names(licence: Licence | None, vendor: Vendor) -> str:
    if licence is None:
        return "Læringsmiddel"
    names_by_id = {product.id: product.name for product in vendor.products}
    names = ", ".join(names_by_id.get(product_id, product_id) for product_id in licence.products)
    if len(names) > item_products_chars_max:
        names = names[: item_products_chars_max - 1].rstrip() + "…"
    return names or "Læringsmiddel"


def _item_name(line: _Line, licence: Licence | None, vendor: Vendor) -> str:
    name = f"{_product_names(licence, vendor)} – lisens {line.licence}"
    if line.adjustment:
        name += f" (justering for {line.usage_period})"
    return name


def _metric_label(line: _Line, licence: Licence | None) -> str:
    label = _METRIC_LABELS.get(line.metric, line.metric)
    if line.metric == "units" and licence is not None and licence.pricing.unit:
        label = f"enheter ({licence.pricing.unit})"
    return label


def _item_description(line: _Line, licence: Licence | None) -> str:
    description = f"Målt mengde {line.usage_period}: {line.quantity} {_metric_label(line, licence)}"
    if line.adjustment:
        description = (
            f"Endring for {line.usage_period} etter sent mottatte hendelser:"
            f" {line.quantity:+d} {_metric_label(line, licence)}"
        )
    if line.cap_applied:
        description += "; månedlig tak er brukt"
    return description


def _document_note(settlement: _Settlement, municipality: Municipality, vendor: Vendor) -> str:
    note = f"Bruksbasert oppgjør for {settlement.period}: {vendor.name} til {municipality.name}."
    if settlement.unlicensed_events:
        note += (
            f" Ulisensiert bruk, ikke fakturert: {settlement.unlicensed_events} hendelser"
            f" fra {settlement.unlicensed_learners} brukere."
        )
    return note


def _order_reference(settlement: _Settlement, catalogue: Catalogue) -> str | None:
    for line in settlement.lines:
        licence = catalogue.licence(line.licence)
        reference = _clean(licence.order_reference) if licence is not None else None
        if reference is not None:
            return reference
    return None


def _vat_category(rate: Decimal) -> tuple[str, str]:
    """(UNCL 5305 category, percent): S standard rated, Z zero rated."""
    if rate.is_zero():
        return "Z", "0"
    return "S", _decimal_text(rate * 100)


# --- building the XML --------------------------------------------------------------------


def _cbc(parent: etree._Element, name: str, text: str, **attributes: str) -> etree._Element:
    invariant(text != "", f"empty cbc:{name} (PEPPOL-EN16931-R008)")
    element = etree.SubElement(parent, f"{{{NAMESPACE_CBC}}}{name}", attributes)
    element.text = text
    return element


def _cac(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{NAMESPACE_CAC}}}{name}")


def _build_document(
    settlement: _Settlement,
    catalogue: Catalogue,
    municipality: Municipality,
    vendor: Vendor,
    tax_subtotals: tuple[_TaxSubtotal, ...],
    payee_account: str | None,
) -> etree._Element:
    credit = settlement.total < 0
    # A credit note states what the buyer is owed as positive amounts: negate everything.
    sign = Decimal(-1) if credit else Decimal(1)
    currency = settlement.currency
    document_id = invoice_id(settlement.period, settlement.municipality, settlement.vendor)
    root_namespace = NAMESPACE_CREDIT_NOTE if credit else NAMESPACE_INVOICE
    root = etree.Element(
        f"{{{root_namespace}}}{'CreditNote' if credit else 'Invoice'}",
        nsmap={None: root_namespace, "cac": NAMESPACE_CAC, "cbc": NAMESPACE_CBC},
    )
    _header(root, settlement, municipality, vendor, document_id, credit)
    _references(root, settlement, catalogue, municipality, vendor)

    _supplier_party(_cac(root, "AccountingSupplierParty"), vendor)
    _customer_party(_cac(root, "AccountingCustomerParty"), municipality)
    if not credit:
        _payment_means(root, document_id, payee_account)
    _payment_terms(root, credit)
    _tax_total(root, tax_subtotals, sign, currency)
    _monetary_total(root, settlement, sign, currency)
    for number, line in enumerate(settlement.lines, 1):
        _document_line(root, number, line, catalogue, vendor, sign, currency, credit)
    return root


def _header(
    root: etree._Element,
    settlement: _Settlement,
    municipality: Municipality,
    vendor: Vendor,
    document_id: str,
    credit: bool,
) -> None:
    """Profile, id, dates, type, note and currency: the first elements, in UBL's order."""
    _cbc(root, "CustomizationID", CUSTOMIZATION_ID)
    _cbc(root, "ProfileID", PROFILE_ID)
    _cbc(root, "ID", document_id)
    _cbc(root, "IssueDate", settlement.issue_date.isoformat())
    if credit:
        _cbc(root, "CreditNoteTypeCode", CREDIT_NOTE_TYPE_CODE)
    else:
        due_date = settlement.issue_date + timedelta(days=payment_terms_days)
        _cbc(root, "DueDate", due_date.isoformat())
        _cbc(root, "InvoiceTypeCode", INVOICE_TYPE_CODE)
    _cbc(root, "Note", _document_note(settlement, municipality, vendor))
    _cbc(root, "DocumentCurrencyCode", settlement.currency)


def _references(
    root: etree._Element,
    settlement: _Settlement,
    catalogue: Catalogue,
    municipality: Municipality,
    vendor: Vendor,
) -> None:
    """Buyer and order references, the invoice period, corrected invoices, the digest."""
    buyer_reference = _clean(municipality.buyer_reference)
    order_reference = _order_reference(settlement, catalogue)
    if buyer_reference is None and order_reference is None:
        buyer_reference = municipality.id  # fallback, see module doc (PEPPOL-EN16931-R003)
    if buyer_reference is not None:
        _cbc(root, "BuyerReference", buyer_reference)
    earliest_usage_period = min(line.usage_period for line in settlement.lines)
    _period_element(root, earliest_usage_period, settlement.period)
    if order_reference is not None:
        _cbc(_cac(root, "OrderReference"), "ID", order_reference)
    corrected_periods = sorted({line.usage_period for line in settlement.lines if line.adjustment})
    for corrected_period in corrected_periods:
        if corrected_period == settlement.period:
            continue  # a correction within the month itself corrects no earlier invoice
        reference = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(reference, "ID", invoice_id(corrected_period, settlement.municipality, vendor.org_no))
    if settlement.digest is not None:
        digest_reference = _cac(root, "AdditionalDocumentReference")
        _cbc(digest_reference, "ID", settlement.digest)
        _cbc(digest_reference, "DocumentDescription", "Oppgjørets sjekksum i hovedboken")


def _period_element(parent: etree._Element, first_period: str, last_period: str) -> None:
    period = _cac(parent, "InvoicePeriod")
    _cbc(period, "StartDate", _month_first_day(first_period).isoformat())
    _cbc(period, "EndDate", _month_last_day(last_period).isoformat())


def _country_address(party: etree._Element) -> None:
    address = _cac(party, "PostalAddress")
    _cbc(_cac(address, "Country"), "IdentificationCode", COUNTRY_CODE)


def _supplier_party(parent: etree._Element, vendor: Vendor) -> None:
    party = _cac(parent, "Party")
    _cbc(party, "EndpointID", vendor.org_no, schemeID=ORGANISATION_NUMBER_SCHEME)
    _cbc(_cac(party, "PartyName"), "Name", vendor.name)
    _country_address(party)
    vat_scheme = _cac(party, "PartyTaxScheme")
    _cbc(vat_scheme, "CompanyID", f"{COUNTRY_CODE}{vendor.org_no}MVA")
    _cbc(_cac(vat_scheme, "TaxScheme"), "ID", "VAT")
    # Vendors are companies (AS/ASA): foretaksregisterloven § 10-2, rule NO-R-002.
    register_scheme = _cac(party, "PartyTaxScheme")
    _cbc(register_scheme, "CompanyID", "Foretaksregisteret")
    _cbc(_cac(register_scheme, "TaxScheme"), "ID", "TAX")
    legal_entity = _cac(party, "PartyLegalEntity")
    _cbc(legal_entity, "RegistrationName", vendor.name)
    _cbc(legal_entity, "CompanyID", vendor.org_no, schemeID=ORGANISATION_NUMBER_SCHEME)


def _customer_party(parent: etree._Element, municipality: Municipality) -> None:
    party = _cac(parent, "Party")
    _cbc(party, "EndpointID", municipality.org_no, schemeID=ORGANISATION_NUMBER_SCHEME)
    _cbc(_cac(party, "PartyName"), "Name", municipality.name)
    _country_address(party)
    legal_entity = _cac(party, "PartyLegalEntity")
    _cbc(legal_entity, "RegistrationName", municipality.name)
    _cbc(legal_entity, "CompanyID", municipality.org_no, schemeID=ORGANISATION_NUMBER_SCHEME)


def _payment_means(parent: etree._Element, document_id: str, payee_account: str | None) -> None:
    means = _cac(parent, "PaymentMeans")
    if payee_account is None:
        _cbc(means, "PaymentMeansCode", PAYMENT_MEANS_NOT_DEFINED)
        _cbc(means, "PaymentID", document_id)
        return
    _cbc(means, "PaymentMeansCode", PAYMENT_MEANS_CREDIT_TRANSFER)
    _cbc(means, "PaymentID", document_id)
    _cbc(_cac(means, "PayeeFinancialAccount"), "ID", payee_account)


def _payment_terms(parent: etree._Element, credit: bool) -> None:
    if credit:
        note = "Kreditnota: beløpet tilbakebetales eller motregnes i neste oppgjør."
    else:
        note = f"Betales innen {payment_terms_days} dager."
    _cbc(_cac(parent, "PaymentTerms"), "Note", note)


def _tax_category(parent: etree._Element, element_name: str, rate: Decimal) -> None:
    category = _cac(parent, element_name)
    code, percent = _vat_category(rate)
    _cbc(category, "ID", code)
    _cbc(category, "Percent", percent)
    _cbc(_cac(category, "TaxScheme"), "ID", "VAT")


def _tax_total(
    parent: etree._Element,
    tax_subtotals: tuple[_TaxSubtotal, ...],
    sign: Decimal,
    currency: str,
) -> None:
    tax_total = _cac(parent, "TaxTotal")
    tax_sum = sum((subtotal.tax for subtotal in tax_subtotals), Decimal("0.00"))
    _cbc(tax_total, "TaxAmount", _money(tax_sum * sign), currencyID=currency)
    for subtotal in tax_subtotals:
        element = _cac(tax_total, "TaxSubtotal")
        _cbc(element, "TaxableAmount", _money(subtotal.taxable * sign), currencyID=currency)
        _cbc(element, "TaxAmount", _money(subtotal.tax * sign), currencyID=currency)
        _tax_category(element, "TaxCategory", subtotal.rate)


def _monetary_total(
    parent: etree._Element, settlement: _Settlement, sign: Decimal, currency: str
) -> None:
    totals = _cac(parent, "LegalMonetaryTotal")
    _cbc(totals, "LineExtensionAmount", _money(settlement.subtotal * sign), currencyID=currency)
    _cbc(totals, "TaxExclusiveAmount", _money(settlement.subtotal * sign), currencyID=currency)
    _cbc(totals, "TaxInclusiveAmount", _money(settlement.total * sign), currencyID=currency)
    _cbc(totals, "PayableAmount", _money(settlement.total * sign), currencyID=currency)


def _document_line(
    parent: etree._Element,
    number: int,
    line: _Line,
    catalogue: Catalogue,
    vendor: Vendor,
    sign: Decimal,
    currency: str,
    credit: bool,
) -> None:
    licence = catalogue.licence(line.licence)
    quantity = line.quantity * int(sign)
    amount = line.amount * sign
    terms = _price_terms(quantity, amount, _METRIC_UNIT_CODES.get(line.metric, UNIT_CODE_ONE))
    element = _cac(parent, "CreditNoteLine" if credit else "InvoiceLine")
    _cbc(element, "ID", str(number))
    order_reference = _clean(licence.order_reference) if licence is not None else None
    if order_reference is not None:
        _cbc(element, "Note", f"Avtale/bestilling: {order_reference}")
    _cbc(
        element,
        "CreditedQuantity" if credit else "InvoicedQuantity",
        str(terms.quantity),
        unitCode=terms.unit_code,
    )
    _cbc(element, "LineExtensionAmount", _money(amount), currencyID=currency)
    _period_element(element, line.usage_period, line.usage_period)
    item = _cac(element, "Item")
    _cbc(item, "Description", _item_description(line, licence))
    _cbc(item, "Name", _item_name(line, licence, vendor))
    _cbc(_cac(item, "SellersItemIdentification"), "ID", line.licence)
    _tax_category(item, "ClassifiedTaxCategory", line.vat_rate)
    _item_property(item, "Målt mengde", str(line.quantity))
    _item_property(item, "Måleenhet", _metric_label(line, licence))
    _item_property(item, "Bruksperiode", line.usage_period)
    price = _cac(element, "Price")
    _cbc(price, "PriceAmount", _price_text(terms.price), currencyID=currency)
    if terms.base_quantity is not None:
        _cbc(price, "BaseQuantity", str(terms.base_quantity), unitCode=terms.unit_code)
    invariant(
        terms.quantity * terms.price == amount * (terms.base_quantity or 1),
        f"line {number}: quantity × price / base quantity is not the amount {amount}",
    )


def _item_property(item: etree._Element, name: str, value: str) -> None:
    item_property = _cac(item, "AdditionalItemProperty")
    _cbc(item_property, "Name", name)
    _cbc(item_property, "Value", value)
