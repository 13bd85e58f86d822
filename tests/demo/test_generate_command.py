"""`ledger demo generate` as a user runs it: same seed, same files; bad sizes refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def ledger(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledger", *args], capture_output=True, text=True, timeout=120
    )


def test_the_same_seed_writes_the_same_files_and_a_bad_size_is_refused(tmp_path: Path) -> None:
    first = ledger("demo", "generate", "--events", "800", "--seed", "4", "--out", str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("\n") == 1 and "wrote 800 events" in first.stdout
    files = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert Path("catalogue.yaml") in files and Path("manifest.json") in files

    again = tmp_path / "again"
    assert (
        ledger("demo", "generate", "--events", "800", "--seed", "4", "--out", str(again)).returncode
        == 0
    )
    assert {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()} == {
        name: content for name, content in files.items() if not str(name).startswith("again")
    }

    refused = ledger("demo", "generate", "--events", "5", "--out", str(tmp_path / "x"))
    assert refused.returncode == 2
    assert refused.stderr.startswith("ledger: events must be between")
