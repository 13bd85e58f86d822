"""The validator is real: exported examples pass, deliberately broken documents fail."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from billing.export.ehf import render_ehf
from billing.export.ehf_validation import EhfValidator
from tests.ehf import NS, LineSpec, catalogue, example_documents, make_settlement, validator

# Made by the exporter (tests/ehf/__init__.py): a Norwegian invoice, a base invoice and a
# credit note, in place of the OpenPEPPOL examples, which a clone does not carry.
EXAMPLES = ("norwegian-invoice", "base-invoice", "credit-note")


def _example(name: str) -> bytes:
    return example_documents()[name]


def _edit(xml: bytes, change: Callable[[etree._Element], None]) -> bytes:
    root = etree.fromstring(xml)
    change(root)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _one(root: etree._Element, path: str) -> etree._Element:
    found = root.xpath(path, namespaces=NS)
    assert len(found) == 1, path
    element: etree._Element = found[0]
    return element


def _remove(root: etree._Element, path: str) -> None:
    for element in root.xpath(path, namespaces=NS):
        element.getparent().remove(element)


def _rule_ids(failures: list[str]) -> set[str]:
    return {failure.split(":", 1)[0] for failure in failures}


@pytest.mark.parametrize("name", EXAMPLES)
def test_official_examples_are_valid(name: str) -> None:
    assert validator().validate(_example(name)) == []


def test_warnings_are_reported_apart_from_failures() -> None:
    def change(root: etree._Element) -> None:
        # "Foretaksregisteret" is advice for Norwegian suppliers (NO-R-002), not a must.
        _remove(
            root,
            "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='TAX']",
        )

    report = validator().report(_edit(_example("norwegian-invoice"), change))
    assert report.valid
    assert report.warnings, "without Foretaksregisteret the Norwegian rules warn"
    assert "NO-R-002" in {warning.rule_id for warning in report.warnings}, report.warnings


def test_wrong_total_is_fatal() -> None:
    def change(root: etree._Element) -> None:
        _one(root, "cac:LegalMonetaryTotal/cbc:PayableAmount").text = "803.00"

    failures = validator().validate(_edit(_example("norwegian-invoice"), change))
    assert "BR-CO-16" in _rule_ids(failures), failures


def test_missing_buyer_and_order_reference_is_fatal() -> None:
    def change(root: etree._Element) -> None:
        _remove(root, "cbc:BuyerReference")
        _remove(root, "cac:OrderReference")

    failures = validator().validate(_edit(_example("norwegian-invoice"), change))
    assert "PEPPOL-EN16931-R003" in _rule_ids(failures), failures


def test_invalid_norwegian_organisation_number_is_fatal() -> None:
    def change(root: etree._Element) -> None:
        endpoint = _one(root, "cac:AccountingSupplierParty/cac:Party/cbc:EndpointID")
        endpoint.text = "123456789"  # wrong mod-11 check digit

    failures = validator().validate(_edit(_example("norwegian-invoice"), change))
    assert "PEPPOL-COMMON-R041" in _rule_ids(failures), failures


def test_unknown_electronic_address_scheme_is_fatal() -> None:
    def change(root: etree._Element) -> None:
        _one(root, "cac:AccountingCustomerParty/cac:Party/cbc:EndpointID").set("schemeID", "9999")

    failures = validator().validate(_edit(_example("norwegian-invoice"), change))
    assert "PEPPOL-EN16931-CL008" in _rule_ids(failures), failures


def test_schema_violation_is_reported() -> None:
    def change(root: etree._Element) -> None:
        # IssueDate after DueDate breaks the UBL sequence.
        issue_date = _one(root, "cbc:IssueDate")
        root.remove(issue_date)
        _one(root, "cbc:InvoiceTypeCode").addnext(issue_date)

    failures = validator().validate(_edit(_example("norwegian-invoice"), change))
    assert any(failure.startswith("XSD") for failure in failures), failures


def test_not_xml_and_not_ubl_are_reported() -> None:
    assert validator().validate(b"<Invoice>")[0].startswith("XML:")
    assert validator().validate(b"<Invoice/>")[0].startswith("XML:")


def test_tampered_export_is_fatal() -> None:
    xml = render_ehf(make_settlement([LineSpec("L-2026-001", 812, 1_015_000)]), catalogue())
    assert xml is not None
    assert validator().validate(xml) == []

    def change(root: etree._Element) -> None:
        _one(root, "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount").text = "12687.49"

    failures = validator().validate(_edit(xml, change))
    assert "BR-CO-15" in _rule_ids(failures), failures


def test_artefacts_missing_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="PEPPOL validation artefacts missing"):
        EhfValidator([tmp_path / "UBL-Invoice-2.1.xsd"], [tmp_path / "CEN-EN16931-UBL.xslt"])


def test_failures_carry_their_rule_ids() -> None:
    def change(root: etree._Element) -> None:
        _one(root, "cac:LegalMonetaryTotal/cbc:PayableAmount").text = "803.00"

    report = validator().report(_edit(_example("norwegian-invoice"), change))
    assert not report.valid and report.checkable
    assert "BR-CO-16" in report.rule_ids
    assert all(str(failure).startswith(f"{failure.rule_id}: ") for failure in report.failures)
    assert validator().report(b"not xml").rule_ids == ("XML",)
    assert not validator().report(b"not xml").checkable
