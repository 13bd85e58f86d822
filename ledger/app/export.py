"""Writing issued settlements to files: JSON (contract), CSV (spreadsheets), EHF (e-invoice)."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path

from billing.export.csv_export import render_csv
from billing.export.ehf import render_ehf
from billing.export.ehf_validation import EhfValidator
from billing.export.json_export import render_json, settlement_file_name
from infra.peppol import ensure_peppol_artefacts
from ledger.app.workspace import Workspace
from ledger.domain.catalogue import Catalogue
from ledger.domain.invariants import InvariantViolation, invariant
from ledger.store.catalogues import catalogue_version
from ledger.store.closings import period_catalogue_version
from ledger.store.engine import create_ledger_engine
from ledger.store.settlements import settlement_documents


class EhfInvalid(Exception):
    """An exported e-invoice breaks the official rules: refused, exit 2 with the rule ids."""


@functools.cache
def ehf_validator() -> EhfValidator:
    """The official rules, fetched on first use and compiled once a process (a few seconds)."""
    artefacts = ensure_peppol_artefacts()
    return EhfValidator(artefacts.schemas, artefacts.stylesheets)


def _write_atomically(path: Path, content: bytes) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)


def file_suffix(format_: str) -> str:
    return "xml" if format_ == "ehf" else format_


def render_settlement(
    document: Mapping[str, object], catalogue: Catalogue | None, format_: str
) -> bytes | None:
    """One settlement in `format_` (json, csv or ehf); None: no lines, so no e-invoice.

    EHF needs the catalogue the period was priced with (the parties' names and
    references). Its output is not checked here: pass it to `refuse_invalid_ehf`.
    """
    if format_ == "json":
        return render_json(document)
    if format_ == "csv":
        return render_csv(document)
    invariant(format_ == "ehf", f"unknown settlement format {format_!r}")
    if catalogue is None:
        raise InvariantViolation("an EHF document needs its period's catalogue")
    return render_ehf(document, catalogue)


async def export_period(ws: Workspace, period: str, format_: str, out: Path) -> list[Path]:
    engine = create_ledger_engine(ws.database_url)
    try:
        async with engine.connect() as conn:
            documents = await settlement_documents(conn, period)
            if not documents:
                return []
            version = await period_catalogue_version(conn, period)
            catalogue = await catalogue_version(conn, version)
    finally:
        await engine.dispose()
    files: dict[str, bytes] = {}
    for document in documents:
        content = render_settlement(document, catalogue, format_)
        if content is None:  # no lines (only unlicensed use): nothing to invoice
            continue
        files[settlement_file_name(document, file_suffix(format_))] = content
    if format_ == "ehf":
        refuse_invalid_ehf(files)  # all checked before any is written: no half-sent period
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = out / name
        _write_atomically(path, content)
        written.append(path)
    return written


def refuse_invalid_ehf(files: Mapping[str, bytes]) -> None:
    """EhfInvalid naming each document the official rules reject and the rules it breaks."""
    validator = ehf_validator()
    broken = {name: validator.report(content) for name, content in files.items()}
    reasons = [
        f"{name} breaks {', '.join(report.rule_ids)}"
        for name, report in broken.items()
        if not report.valid
    ]
    if reasons:
        raise EhfInvalid(
            f"refused to write EHF files that the PEPPOL BIS Billing 3.0 rules reject:"
            f" {'; '.join(reasons)}. Nothing was written: check the parties and references in"
            " the catalogue, or report a fault in the EHF export"
        )
