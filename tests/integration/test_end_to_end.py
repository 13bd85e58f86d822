"""The whole product through the real `ledger` command line, as its users run it.

Two months settled with late events in between, exports in every format (all EHF
documents valid by the official rules), verify, trace, replay and archives.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import fastavro
import pytest

from ledger.demo.simulate import generate_events, write_json_lines
from ledger.domain.canonical import document_digest
from ledger.domain.catalogue_parse import load_catalogue_text
from tests.conftest import REPO_ROOT
from tests.integration.conftest import ledger_cli
from tests.superuser import superuser_url

pytestmark = pytest.mark.integration

CATALOGUE = REPO_ROOT / "examples" / "catalogue.yaml"


@pytest.fixture
def cli_workspace(services, workspace_name: str):
    import asyncio

    from ledger.app.workspace import drop_workspace

    names = [workspace_name]
    yield names
    for name in names:
        asyncio.run(drop_workspace(services, name))


def _events(tmp_path: Path, name: str, period: str, count: int, seed: int, prefix: str) -> Path:
    catalogue = load_catalogue_text(CATALOGUE.read_text(encoding="utf-8"))
    path = tmp_path / f"{name}.jsonl"
    write_json_lines(
        generate_events(catalogue, period=period, count=count, seed=seed, id_prefix=prefix), path
    )
    return path


def _psql(services, database: str, sql: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(superuser_url(services.database_url))
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))
    psql = str(binaries[-1]) if binaries else "psql"
    return subprocess.run(
        [
            psql,
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port),
            "-U",
            url.username or "postgres",
            "-d",
            database,
            "-tAc",
            sql,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PGPASSWORD": url.password or ""},
    ).stdout.strip()


def test_two_months_with_late_events_settle_export_verify_replay(
    cli_workspace: list[str], tmp_path: Path, services
):
    ws = cli_workspace[0]
    run = lambda *args, **kw: ledger_cli(*args, "--workspace", ws, **kw)  # noqa: E731
    september = _events(tmp_path, "sep", "2026-09", 3000, seed=1, prefix="s")
    late = _events(tmp_path, "late", "2026-09", 200, seed=3, prefix="late")
    october = _events(tmp_path, "oct", "2026-10", 3000, seed=2, prefix="o")

    assert "recorded as new version 1" in run("catalogue", "load", str(CATALOGUE)).stdout
    assert "unchanged" in run("catalogue", "load", str(CATALOGUE)).stdout
    assert "sent 3000 events" in run("ingest", str(september)).stdout
    run("process", "--until-idle")
    blocked = run("settle", "--period", "2026-10", check=False)
    assert blocked.returncode == 2 and "2026-08" in blocked.stderr, blocked.stderr
    # August has no events but L-2026-020's fixed per-pupil charge (CONTRACT 4).
    run("settle", "--period", "2026-08")
    blocked = run("settle", "--period", "2026-10", check=False)
    assert blocked.returncode == 2 and "2026-09" in blocked.stderr, blocked.stderr
    preview = run("settle", "--period", "2026-09", "--dry-run").stdout
    assert "would issue" in preview
    run("settle", "--period", "2026-09")

    # refused: settled twice, a month not yet ended, nonsense
    for period, reason in [
        ("2026-09", "already settled"),
        ("2999-01", "has not ended"),
        ("2026-13", "month"),
    ]:
        refused = run("settle", "--period", period, check=False)
        assert refused.returncode == 2 and reason in refused.stderr
        assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1

    run("ingest", str(late))
    run("ingest", str(october))
    month_to_date = run("usage", "--period", "2026-10").stdout
    assert "L-2026-001" in month_to_date and "UNLICENSED" in month_to_date
    run("settle", "--period", "2026-10")

    out = tmp_path / "out"
    for period in ("2026-09", "2026-10"):
        for format_ in ("json", "csv", "ehf"):
            run("export", "--period", period, "--format", format_, "--out", str(out))

    documents = {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}
    assert {name[:7] for name in documents} == {"2026-09", "2026-10"}
    for name, document in documents.items():
        assert document_digest(document) == document["digest"], name
        assert name == f"{document['period']}_{document['municipality']}_{document['vendor']}"
    adjustments = [
        line
        for d in documents.values()
        if d["period"] == "2026-10"
        for line in d["lines"]
        if line["usage_period"] == "2026-09"
    ]
    assert adjustments, "late September events must adjust September in October's settlement"
    # September as issued never changes
    assert all(
        line["usage_period"] == "2026-09"
        for d in documents.values()
        if d["period"] == "2026-09"
        for line in d["lines"]
    )
    csv_rows = sum(
        len(p.read_text(encoding="utf-8-sig").splitlines()) - 1 for p in out.glob("*.csv")
    )
    assert csv_rows == sum(len(d["lines"]) for d in documents.values())

    from tests.ehf import validator as ehf_validator

    validator = ehf_validator()
    invoices = sorted(out.glob("*.xml"))
    assert len(invoices) == sum(1 for d in documents.values() if d["lines"])
    for invoice in invoices:
        assert validator.validate(invoice.read_bytes()) == [], invoice.name

    verified = run("verify")
    assert "intact" in verified.stdout

    # trace: the events behind a line add up to the line for units (sum of counted quantities)
    units_doc = next(
        d
        for d in documents.values()
        if d["period"] == "2026-10" and any(line["metric"] == "units" for line in d["lines"])
    )
    number = next(
        i
        for i, line in enumerate(units_doc["lines"], start=1)
        if line["metric"] == "units" and not line["adjustment"]
    )
    settlement_id = f"{units_doc['period']}_{units_doc['municipality']}_{units_doc['vendor']}"
    traced = json.loads(run("trace", settlement_id, "--line", str(number), "--json").stdout)
    counted = sum(e["quantity"] for e in traced["events"] if e["counted"])
    assert counted == units_doc["lines"][number - 1]["quantity"]

    # replay into an empty workspace reproduces every entry and settlement
    cli_workspace.append(f"{ws}_replay")
    replayed = run("replay", "--to-workspace", f"{ws}_replay")
    assert "identical" in replayed.stdout

    # archives: a replay from an archive missing one event is reported
    archive = tmp_path / "archive"
    run("archive", "--period", "2026-09", "--out", str(archive))
    manifest = json.loads((archive / "2026-09" / "manifest.json").read_text())
    assert {"raw-p0.avro", "entries-p0.avro"} <= set(manifest["files"])
    raw = archive / "2026-09" / "raw-p1.avro"
    with raw.open("rb") as file:
        reader = fastavro.reader(file)
        schema, records = reader.writer_schema, list(reader)
    del records[len(records) // 2]
    with raw.open("wb") as file:
        fastavro.writer(file, schema, records)
    cli_workspace.append(f"{ws}_broken")
    broken = run(
        "replay", "--to-workspace", f"{ws}_broken", "--from-archive", str(archive), check=False
    )
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "archive" in broken.stderr

    # tampering by a superuser who disables the triggers is found, naming the entry
    database = f"ledger_{ws}"
    _psql(
        services,
        database,
        "ALTER TABLE ledger.entries DISABLE TRIGGER ALL;"
        " UPDATE ledger.entries SET quantity = 5 WHERE chain = 2 AND seq = 17;"
        " UPDATE ledger.entries SET school = '974620000' WHERE chain = 3 AND seq = 9;"
        " ALTER TABLE ledger.entries ENABLE TRIGGER ALL;",
    )
    damaged = run("verify", check=False)
    assert damaged.returncode == 1
    first, count, *rest = damaged.stderr.splitlines()
    assert first.startswith("DAMAGED: chain 2 seq 17 ")
    assert count == "2 damages found in all, the next 1:"
    assert [line.split(" (")[0] for line in rest] == ["  chain 3 seq 9"]


def test_the_database_refuses_to_change_ledger_rows(
    cli_workspace: list[str], tmp_path: Path, services
):
    ws = cli_workspace[0]
    ledger_cli("catalogue", "load", str(CATALOGUE), "--workspace", ws)
    database = f"ledger_{ws}"
    for statement in (
        "UPDATE ledger.entries SET quantity = 2",
        "DELETE FROM ledger.entries",
        "TRUNCATE ledger.entries",
        "UPDATE ledger.catalogue_versions SET sha256 = 'x'",
    ):
        with pytest.raises(subprocess.CalledProcessError) as refused:
            _psql(services, database, statement)
        assert "append-only" in refused.value.stderr or "refuse" in refused.value.stderr.lower()


def test_bad_input_is_one_line_and_exit_2(cli_workspace: list[str], tmp_path: Path):
    ws = cli_workspace[0]
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        CATALOGUE.read_text()
        .replace('"935478715"', '"935478716"')
        .replace('vendor: "912000001"', 'vendor: "123456789"', 1)
    )
    cases = [
        ("catalogue", "load", str(bad)),
        ("catalogue", "load", str(tmp_path / "missing.yaml")),
        ("ingest", str(tmp_path / "missing.jsonl")),
        ("export", "--period", "2026-09", "--format", "pdf", "--out", str(tmp_path)),
        ("settle", "--period", "September"),
        ("trace", "not-a-settlement"),
    ]
    for args in cases:
        result = ledger_cli(*args, "--workspace", ws, check=False)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, args
        assert len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
    refused = ledger_cli("catalogue", "load", str(bad), "--workspace", ws, check=False).stderr
    assert "check digit" in refused or "organisation number" in refused
    assert "123456789" in refused, "every problem is listed"
