"""`ledger export --format ehf` refuses a document the official rules reject, naming the rule.

Through the real command line over the real services: a month is loaded, processed and
settled with the `ledger` commands; then the export runs in this process with the renderer
made to break BR-CO-15 in one document, so the validator, the use case and the CLI's error
handling are the product's own.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

import ledger.app.export
from billing.export.ehf import render_ehf
from ledger.app.workspace import drop_workspace
from ledger.cli import main
from tests.conftest import REPO_ROOT
from tests.ehf import NS

pytestmark = pytest.mark.integration

CATALOGUE = REPO_ROOT / "examples" / "catalogue.yaml"
PERIOD = "2026-08"  # the first month with licences: no earlier month left open
command_timeout_s = 600


def _ledger(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "ledger", *args],
        capture_output=True,
        text=True,
        timeout=command_timeout_s,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"ledger {' '.join(args)} exited {result.returncode}: {result}")
    return result


@pytest.fixture
def settled_workspace(services: object, workspace_name: str, tmp_path: Path) -> Iterator[str]:
    """A workspace with PERIOD settled: Bærum's usage and two municipalities' fixed charges."""
    events = [
        {
            "event_id": f"refusal-{number}",
            "vendor": "987654325",
            "product": "matte-1-7",
            "school": "974000008",
            "learner": f"learner-{number}",
            "role": "pupil",
            "action": "open",
            "item": "kap-1",
            "quantity": 1,
            "unit": "access",
            "occurred_at": f"{PERIOD}-1{number}T08:15:00Z",
        }
        for number in range(3)
    ]
    events_file = tmp_path / "events.jsonl"
    events_file.write_text("".join(json.dumps(event) + "\n" for event in events))
    ws = ("--workspace", workspace_name)
    _ledger("catalogue", "load", str(CATALOGUE), *ws)
    _ledger("ingest", str(events_file), *ws)
    _ledger("process", "--until-idle", *ws)
    _ledger("settle", "--period", PERIOD, *ws)
    yield workspace_name
    asyncio.run(drop_workspace(services, workspace_name))  # type: ignore[arg-type]


def _break_tax_inclusive_amount(xml: bytes) -> bytes:
    root = etree.fromstring(xml)
    (amount,) = root.xpath("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", namespaces=NS)
    amount.text = "1.00"
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def test_an_invalid_document_is_refused_naming_the_rule_and_nothing_is_written(
    settled_workspace: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "invoices"
    rendered: list[str] = []

    def render_one_broken(document: dict[str, object], *args: object, **kwargs: object) -> bytes:
        xml = render_ehf(document, *args, **kwargs)  # type: ignore[arg-type]
        assert xml is not None
        rendered.append(f"{document['period']}_{document['municipality']}_{document['vendor']}")
        return _break_tax_inclusive_amount(xml) if len(rendered) == 1 else xml

    monkeypatch.setattr(ledger.app.export, "render_ehf", render_one_broken)
    export = ["export", "--period", PERIOD, "--format", "ehf", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", ["ledger", *export, "--workspace", settled_workspace])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    stderr = capsys.readouterr().err
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "BR-CO-15" in stderr, stderr
    assert len(rendered) >= 2, "the other settlements are valid and named nowhere"
    assert f"{rendered[0]}.xml breaks BR-CO-15" in stderr, stderr
    assert all(name not in stderr for name in rendered[1:]), stderr
    assert not out.exists() or list(out.iterdir()) == [], "nothing is written"

    # The same export, rendered as the product does, is valid and written whole.
    monkeypatch.undo()
    written = _ledger(*export, "--workspace", settled_workspace)
    assert f"wrote {len(rendered)} ehf files" in written.stdout
    assert sorted(path.stem for path in out.glob("*.xml")) == sorted(rendered)
