"""Validate EHF 3.0 documents with the official artefacts: UBL 2.1 XSD + the two Schematrons.

`EhfValidator(peppol_dir)` loads the Invoice and CreditNote schemas (lxml) and compiles the
CEN EN 16931 and OpenPeppol BIS Billing 3.0 rules (XSLT 2.0, run with Saxon) once; each
`validate(xml_bytes)` then costs a parse and two transforms of an in-memory node (no temp
files), a few milliseconds per document.

`peppol_dir` is the folder described in shared/peppol/README.md: `xsd/maindoc/*.xsd` and
`xslt/CEN-EN16931-UBL.xslt`, `xslt/PEPPOL-EN16931-UBL.xslt`.

saxonche is a development dependency (the exporter does not need it), so it is imported
only when a validator is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from lxml import etree

from billing.export.ehf import NAMESPACE_CREDIT_NOTE, NAMESPACE_INVOICE

NAMESPACE_SVRL: Final = "http://purl.oclc.org/dsdl/svrl"
STYLESHEET_NAMES: Final = ("CEN-EN16931-UBL.xslt", "PEPPOL-EN16931-UBL.xslt")
SCHEMA_NAMES: Final = {
    NAMESPACE_INVOICE: "UBL-Invoice-2.1.xsd",
    NAMESPACE_CREDIT_NOTE: "UBL-CreditNote-2.1.xsd",
}
document_bytes_max: Final = 64 * 1024 * 1024  # far above any settlement; bounds memory use
schema_errors_max: Final = 50  # one broken structure can cascade into many; keep it readable


@dataclass(frozen=True)
class ValidationReport:
    """Fatal failures make a document invalid; warnings are advice (e.g. NO-R-002)."""

    failures: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def valid(self) -> bool:
        return not self.failures


class EhfValidator:
    """XSD + CEN + PEPPOL validation of UBL Invoice / CreditNote documents, compiled once."""

    def __init__(self, peppol_dir: Path) -> None:
        from saxonche import PySaxonProcessor  # dev dependency only: imported here on purpose

        missing = [
            path
            for path in (
                *(peppol_dir / "xslt" / name for name in STYLESHEET_NAMES),
                *(peppol_dir / "xsd" / "maindoc" / name for name in SCHEMA_NAMES.values()),
            )
            if not path.is_file()
        ]
        if missing:
            raise FileNotFoundError(f"PEPPOL validation artefacts missing: {missing}")
        self._processor: Any = PySaxonProcessor(license=False)
        compiler = self._processor.new_xslt30_processor()
        self._stylesheets: tuple[Any, ...] = tuple(
            compiler.compile_stylesheet(stylesheet_file=str(peppol_dir / "xslt" / name))
            for name in STYLESHEET_NAMES
        )
        self._schemas: dict[str, etree.XMLSchema] = {
            namespace: etree.XMLSchema(etree.parse(str(peppol_dir / "xsd" / "maindoc" / name)))
            for namespace, name in SCHEMA_NAMES.items()
        }

    def validate(self, xml_bytes: bytes) -> list[str]:
        """Every fatal failure (XSD errors, then Schematron asserts); [] means valid."""
        return list(self.report(xml_bytes).failures)

    def report(self, xml_bytes: bytes) -> ValidationReport:
        """Fatal failures and warnings, each as "<rule id>: <text> @ <location>"."""
        if len(xml_bytes) > document_bytes_max:
            return ValidationReport((f"document is larger than {document_bytes_max} bytes",), ())
        try:
            tree = etree.fromstring(xml_bytes, parser=etree.XMLParser(resolve_entities=False))
        except etree.XMLSyntaxError as error:
            return ValidationReport((f"XML: {error}",), ())
        namespace = etree.QName(tree).namespace
        schema = self._schemas.get(namespace or "")
        if schema is None:
            return ValidationReport(
                (f"XML: root element {tree.tag} is not a UBL 2.1 Invoice or CreditNote",), ()
            )
        failures = self._schema_failures(schema, tree)
        schematron_failures, warnings = self._schematron(tree)
        return ValidationReport((*failures, *schematron_failures), warnings)

    @staticmethod
    def _schema_failures(schema: etree.XMLSchema, tree: etree._Element) -> list[str]:
        if schema.validate(tree):
            return []
        return [
            f"XSD line {error.line}: {error.message}"
            for error in list(schema.error_log)[:schema_errors_max]
        ]

    def _schematron(self, tree: etree._Element) -> tuple[tuple[str, ...], tuple[str, ...]]:
        # Hand Saxon the text of the tree lxml already parsed: no temp file, any encoding.
        node = self._processor.parse_xml(xml_text=etree.tostring(tree, encoding="unicode"))
        failures: list[str] = []
        warnings: list[str] = []
        for stylesheet in self._stylesheets:
            svrl = stylesheet.transform_to_string(xdm_node=node)
            if svrl is None:
                failures.append("Schematron: the transformation produced no report")
                continue
            for flag, message in _svrl_messages(svrl.encode("utf-8")):
                (failures if flag == "fatal" else warnings).append(message)
        return tuple(failures), tuple(warnings)


def _svrl_messages(svrl: bytes) -> list[tuple[str, str]]:
    """(flag, "<id>: <text> @ <location>") of every failed assert and successful report."""
    report = etree.fromstring(svrl)
    messages: list[tuple[str, str]] = []
    for element in report.iterfind(f"{{{NAMESPACE_SVRL}}}*"):
        if etree.QName(element).localname not in ("failed-assert", "successful-report"):
            continue
        rule_id = element.get("id", "?")
        text = " ".join(element.findtext(f"{{{NAMESPACE_SVRL}}}text", "").split())
        prefix = f"[{rule_id}]-"
        if text.startswith(prefix):
            text = text[len(prefix) :]
        messages.append(
            (element.get("flag", "fatal"), f"{rule_id}: {text} @ {element.get('location', '')}")
        )
    return messages
