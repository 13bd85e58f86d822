"""Commands for e-invoices: validate-ehf, for EHF documents made elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from billing.export.ehf_validation import ValidationReport, document_bytes_max
from infra.common import InfraError
from ledger.app.export import ehf_validator
from ledger.cli.app import BadInput, app
from ledger.cli.common import console, report_line


def _read_documents(files: list[Path]) -> dict[Path, bytes]:
    """Every file's bytes, read before the rules are compiled: a typo fails at once."""
    documents: dict[Path, bytes] = {}
    for path in files:
        try:
            with path.open("rb") as file:
                # One byte over the limit is enough for the validator to refuse it.
                documents[path] = file.read(document_bytes_max + 1)
        except OSError as error:
            raise BadInput(f"cannot read {path}: {error.strerror or error}") from error
    return documents


@app.command("validate-ehf")
def validate_ehf(
    files: Annotated[
        list[Path], typer.Argument(help="EHF 3.0 (PEPPOL BIS Billing 3.0) UBL documents.")
    ],
) -> None:
    """Check e-invoices with the official PEPPOL BIS Billing 3.0 and EN 16931 rules.

    Exit 0 when all are valid; 1 when any breaks a rule, each failure on its own line on
    stderr as `FILE: RULE-ID: message`; 2 when a file cannot be read or is not an
    Invoice or CreditNote in XML.
    """
    documents = _read_documents(files)
    try:
        validator = ehf_validator()
    except InfraError as error:
        raise BadInput(str(error)) from error
    reports: dict[Path, ValidationReport] = {
        path: validator.report(content) for path, content in documents.items()
    }
    for path, report in reports.items():
        if not report.checkable:
            raise BadInput(f"{path} is not an EHF document: {report.failures[0]}")
    for path, report in reports.items():
        if report.valid:
            console.print(f"{path}: valid ({len(report.warnings)} warnings)", highlight=False)
        for failure in report.failures:
            report_line(f"{path}: {failure}")
    invalid = sum(1 for report in reports.values() if not report.valid)
    if invalid:
        report_line(f"{invalid} of {len(reports)} documents break the rules")
        raise typer.Exit(1)
