"""Writing issued settlements to files: JSON (contract), CSV (spreadsheets), EHF (e-invoice)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select

from billing.export.csv_export import render_csv
from billing.export.ehf import render_ehf
from billing.export.json_export import render_json, settlement_file_name
from ledger.app.settle import catalogue_version, settlement_documents
from ledger.app.workspace import Workspace
from ledger.store.engine import create_ledger_engine
from ledger.store.schema import closings


def _write_atomically(path: Path, content: bytes) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)


async def export_period(ws: Workspace, period: str, format_: str, out: Path) -> list[Path]:
    engine = create_ledger_engine(ws.database_url)
    try:
        async with engine.connect() as conn:
            documents = await settlement_documents(conn, period)
            if not documents:
                return []
            version = (
                await conn.execute(
                    select(closings.c.catalogue_version).where(closings.c.period == period)
                )
            ).scalar_one()
            catalogue = await catalogue_version(conn, version)
    finally:
        await engine.dispose()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for document in documents:
        if format_ == "json":
            content: bytes | None = render_json(document)
        elif format_ == "csv":
            content = render_csv(document)
        else:
            content = render_ehf(document, catalogue)
        if content is None:  # no lines (only unlicensed use): nothing to invoice
            continue
        path = out / settlement_file_name(document, "xml" if format_ == "ehf" else format_)
        _write_atomically(path, content)
        written.append(path)
    return written
