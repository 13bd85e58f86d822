"""Validate EHF 3.0 documents with the official artefacts: UBL 2.1 XSD + the two Schematrons.

`EhfValidator(schemas, stylesheets)` loads the Invoice and CreditNote schemas (lxml) and
compiles the CEN EN 16931 and OpenPeppol BIS Billing 3.0 rules (XSLT 2.0, run with Saxon)
once; each `report(xml_bytes)` then costs a parse and two transforms of an in-memory node (no
temp files), a few milliseconds per document.

The artefacts are paths given by the caller (the use cases take them from
`infra.peppol.ensure_peppol_artefacts`, which fetches them from Maven Central): billing
imports nothing but the domain.

Every finding carries the id of the rule it breaks: the Schematron rule ids (`BR-CO-15`,
`PEPPOL-EN16931-R001`, `NO-R-002`, …), `XSD` for a schema violation, `XML` for a document
that could not be checked at all (not well-formed, too large, not an Invoice or CreditNote).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from lxml import etree
from saxonche import PySaxonProcessor

from billing.export.ehf import NAMESPACE_CREDIT_NOTE, NAMESPACE_INVOICE

NAMESPACE_SVRL: Final = "http://purl.oclc.org/dsdl/svrl"
RULE_ID_SCHEMA: Final = "XSD"
RULE_ID_UNCHECKABLE: Final = "XML"  # not a document the rules can be applied to
DOCUMENT_NAMESPACES: Final = (NAMESPACE_INVOICE, NAMESPACE_CREDIT_NOTE)
document_bytes_max: Final = 64 * 1024 * 1024  # far above any settlement; bounds memory use
schema_errors_max: Final = 50  # one broken structure can cascade into many; keep it readable


@dataclass(frozen=True)
class Finding:
    """One broken rule: its id, what the rule says, and where in the document (an XPath)."""

    rule_id: str
    message: str
    location: str = ""

    def __str__(self) -> str:
        where = f" @ {self.location}" if self.location else ""
        return f"{self.rule_id}: {self.message}{where}"


@dataclass(frozen=True)
class ValidationReport:
    """Fatal failures make a document invalid; warnings are advice (e.g. NO-R-002)."""

    failures: tuple[Finding, ...]
    warnings: tuple[Finding, ...]

    @property
    def valid(self) -> bool:
        return not self.failures

    @property
    def checkable(self) -> bool:
        """False when the document was not XML, too large, or not an Invoice / CreditNote."""
        return all(failure.rule_id != RULE_ID_UNCHECKABLE for failure in self.failures)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The ids of the failed rules, each once, in the order they were found."""
        return tuple(dict.fromkeys(failure.rule_id for failure in self.failures))


class EhfValidator:
    """XSD + CEN + PEPPOL validation of UBL Invoice / CreditNote documents, compiled once."""

    def __init__(self, schemas: Sequence[Path], stylesheets: Sequence[Path]) -> None:
        """`schemas`: the UBL 2.1 Invoice and CreditNote XSDs; `stylesheets`: the rules."""
        missing = [path for path in (*schemas, *stylesheets) if not path.is_file()]
        if missing or not schemas or not stylesheets:
            raise FileNotFoundError(f"PEPPOL validation artefacts missing: {missing}")
        self._schemas: dict[str, etree.XMLSchema] = {}
        for path in schemas:
            schema = etree.parse(str(path))
            namespace = schema.getroot().get("targetNamespace", "")
            self._schemas[namespace] = etree.XMLSchema(schema)
        without_schema = [ns for ns in DOCUMENT_NAMESPACES if ns not in self._schemas]
        if without_schema:
            raise FileNotFoundError(
                f"PEPPOL validation artefacts missing: no schema for {without_schema}"
            )
        self._processor: Any = PySaxonProcessor(license=False)
        compiler = self._processor.new_xslt30_processor()
        self._stylesheets: tuple[Any, ...] = tuple(
            compiler.compile_stylesheet(stylesheet_file=str(path)) for path in stylesheets
        )

    def validate(self, xml_bytes: bytes) -> list[str]:
        """Every fatal failure as "<rule id>: <text> @ <location>"; [] means valid."""
        return [str(failure) for failure in self.report(xml_bytes).failures]

    def report(self, xml_bytes: bytes) -> ValidationReport:
        """Fatal failures (XSD errors, then Schematron asserts) and warnings."""
        if len(xml_bytes) > document_bytes_max:
            return _uncheckable(f"document is larger than {document_bytes_max} bytes")
        try:
            tree = etree.fromstring(
                xml_bytes, parser=etree.XMLParser(resolve_entities=False, no_network=True)
            )
        except etree.XMLSyntaxError as error:
            return _uncheckable(str(error))
        schema = self._schemas.get(etree.QName(tree).namespace or "")
        if schema is None:
            return _uncheckable(f"root element {tree.tag} is not a UBL 2.1 Invoice or CreditNote")
        failures = _schema_failures(schema, tree)
        schematron_failures, warnings = self._schematron(tree)
        return ValidationReport((*failures, *schematron_failures), warnings)

    def _schematron(self, tree: etree._Element) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
        # Hand Saxon the text of the tree lxml already parsed: no temp file, any encoding.
        node = self._processor.parse_xml(xml_text=etree.tostring(tree, encoding="unicode"))
        failures: list[Finding] = []
        warnings: list[Finding] = []
        for stylesheet in self._stylesheets:
            svrl = stylesheet.transform_to_string(xdm_node=node)
            if svrl is None:
                failures.append(Finding("SCHEMATRON", "the transformation produced no report"))
                continue
            for flag, finding in _svrl_findings(svrl.encode("utf-8")):
                (failures if flag == "fatal" else warnings).append(finding)
        return tuple(failures), tuple(warnings)


def _uncheckable(message: str) -> ValidationReport:
    return ValidationReport((Finding(RULE_ID_UNCHECKABLE, message),), ())


def _schema_failures(schema: etree.XMLSchema, tree: etree._Element) -> list[Finding]:
    if schema.validate(tree):
        return []
    return [
        Finding(RULE_ID_SCHEMA, f"line {error.line}: {error.message}")
        for error in list(schema.error_log)[:schema_errors_max]
    ]


def _svrl_findings(svrl: bytes) -> list[tuple[str, Finding]]:
    """(flag, finding) of every failed assert and successful report."""
    report = etree.fromstring(svrl)
    findings: list[tuple[str, Finding]] = []
    for element in report.iterfind(f"{{{NAMESPACE_SVRL}}}*"):
        if etree.QName(element).localname not in ("failed-assert", "successful-report"):
            continue
        rule_id = element.get("id", "?")
        text = " ".join(element.findtext(f"{{{NAMESPACE_SVRL}}}text", "").split())
        prefix = f"[{rule_id}]-"
        if text.startswith(prefix):
            text = text[len(prefix) :]
        finding = Finding(rule_id, text, element.get("location", ""))
        findings.append((element.get("flag", "fatal"), finding))
    return findings
