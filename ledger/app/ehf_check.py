"""Checking e-invoices made elsewhere by the official rules (`ledger validate-ehf`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from billing.export.ehf_validation import ValidationReport, document_bytes_max
from infra.common import InfraError
from ledger.app.export import ehf_validator


class EhfCheckError(Exception):
    """A file cannot be read, or the rules cannot be had: the user's to fix, exit 2."""


def read_documents(files: Sequence[Path]) -> dict[Path, bytes]:
    """Every file's bytes, read before the rules are compiled: a typo fails at once."""
    documents: dict[Path, bytes] = {}
    for path in files:
        try:
            with path.open("rb") as file:
                # One byte over the limit is enough for the validator to refuse it.
                documents[path] = file.read(document_bytes_max + 1)
        except OSError as error:
            raise EhfCheckError(f"cannot read {path}: {error.strerror or error}") from error
    return documents


def check_ehf_files(files: Sequence[Path]) -> dict[Path, ValidationReport]:
    """Each document's report; `EhfCheckError` when one is not an EHF document at all."""
    documents = read_documents(files)
    try:
        validator = ehf_validator()
    except InfraError as error:
        raise EhfCheckError(str(error)) from error
    reports = {path: validator.report(content) for path, content in documents.items()}
    for path, report in reports.items():
        if not report.checkable:
            raise EhfCheckError(f"{path} is not an EHF document: {report.failures[0]}")
    return reports
