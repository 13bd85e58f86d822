"""Commands for e-invoices: validate-ehf, for EHF documents made elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.app.ehf_check import EhfCheckError, check_ehf_files
from ledger.cli.app import BadInput, app
from ledger.cli.common import console, report_line


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
    try:
        reports = check_ehf_files(files)
    except EhfCheckError as error:
        raise BadInput(str(error)) from error
    for path, report in reports.items():
        if report.valid:
            console.print(f"{path}: valid ({len(report.warnings)} warnings)", highlight=False)
        for failure in report.failures:
            report_line(f"{path}: {failure}")
    invalid = sum(1 for report in reports.values() if not report.valid)
    if invalid:
        report_line(f"{invalid} of {len(reports)} documents break the rules")
        raise typer.Exit(1)
