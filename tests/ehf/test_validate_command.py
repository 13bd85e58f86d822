"""`ledger validate-ehf FILE...`: 0 valid, 1 a rule broken (a line per failure), 2 bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lxml import etree

from tests.ehf import NS, example_documents

command_timeout_s = 300


def _validate_ehf(*files: Path) -> subprocess.CompletedProcess[str]:
    """The real command line, as a user runs it (no services needed)."""
    return subprocess.run(
        [sys.executable, "-m", "ledger", "validate-ehf", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=command_timeout_s,
        check=False,
    )


def _broken_total(xml: bytes) -> bytes:
    """TaxInclusiveAmount no longer TaxExclusiveAmount + VAT: breaks BR-CO-15."""
    root = etree.fromstring(xml)
    (amount,) = root.xpath("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", namespaces=NS)
    amount.text = "1.00"
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _write(directory: Path, documents: dict[str, bytes]) -> list[Path]:
    paths = []
    for name, content in documents.items():
        path = directory / f"{name}.xml"
        path.write_bytes(content)
        paths.append(path)
    return paths


def test_valid_documents_exit_0(tmp_path: Path) -> None:
    paths = _write(tmp_path, example_documents())
    result = _validate_ehf(*paths)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in paths:
        assert f"{path}: valid" in result.stdout
    assert result.stderr == ""


def test_a_broken_document_exits_1_with_each_failure_on_its_own_line(tmp_path: Path) -> None:
    examples = example_documents()
    valid, broken = _write(
        tmp_path,
        {
            "valid": examples["credit-note"],
            "broken": _broken_total(examples["norwegian-invoice"]),
        },
    )
    result = _validate_ehf(valid, broken)
    assert result.returncode == 1, result.stdout + result.stderr
    *failures, summary = result.stderr.strip().splitlines()
    assert failures, result.stderr
    assert all(line.startswith(f"{broken}: ") for line in failures), failures
    assert any(line.startswith(f"{broken}: BR-CO-15: ") for line in failures), failures
    assert summary == "1 of 2 documents break the rules"
    assert f"{valid}: valid" in result.stdout


def test_unreadable_or_not_xml_exits_2_with_one_line(tmp_path: Path) -> None:
    valid = _write(tmp_path, {"valid": example_documents()["base-invoice"]})[0]
    not_xml = tmp_path / "notes.xml"
    not_xml.write_text("this is not an invoice", encoding="utf-8")
    not_an_invoice = tmp_path / "order.xml"
    not_an_invoice.write_text("<Order/>", encoding="utf-8")
    cases = {
        "missing": (valid, tmp_path / "missing.xml"),
        "a folder": (tmp_path,),
        "not XML": (valid, not_xml),
        "not an invoice": (not_an_invoice,),
    }
    for case, files in cases.items():
        result = _validate_ehf(*files)
        assert result.returncode == 2, (case, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, case
        assert len(result.stderr.strip().splitlines()) == 1, (case, result.stderr)
        assert str(files[-1]) in result.stderr, (case, result.stderr)
