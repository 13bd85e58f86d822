"""Tokens for every party of a generated demo, made in one process (one per party kind).

Fifteen `ledger tokens create` processes cost most of a minute on a small machine;
these are the same tokens (same use case, same hashes stored), made in a second.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from ledger.app.tokens import create_token
from ledger.app.workspace import Workspace
from ledger.demo.partnership import read_manifest
from ledger.domain.tokens import Scope

demo_parties_max: Final = 100  # a manifest names a handful of vendors and municipalities
admin_name: Final = "operator"
auditor_name: Final = "revisor"


def demo_parties(folder: Path) -> list[tuple[Scope, str]]:
    """(scope, subject) of the operator, an auditor, every municipality and every vendor."""
    manifest = read_manifest(folder)
    vendors = manifest["vendors"]
    municipalities = manifest["municipalities"]
    if not isinstance(vendors, list) or not isinstance(municipalities, list):
        raise ValueError(f"{folder}: the manifest lists no vendors or municipalities")
    parties: list[tuple[Scope, str]] = [("admin", admin_name), ("auditor", auditor_name)]
    parties += [("municipality", str(m)) for m in municipalities]
    parties += [("vendor", str(v["org_no"])) for v in vendors]
    if len(parties) > demo_parties_max:
        raise ValueError(f"{folder}: more than {demo_parties_max} parties")
    return parties


async def create_demo_tokens(ws: Workspace, folder: Path) -> list[tuple[str, str, str]]:
    """(scope, subject, token) for every party of the demo in `folder`."""
    made: list[tuple[str, str, str]] = []
    for scope, subject in demo_parties(folder):
        issued = await create_token(ws, scope, subject)
        made.append((scope, subject, issued.token))
    return made


def write_tokens(path: Path, tokens: list[tuple[str, str, str]]) -> None:
    """`<scope> <subject> <token>` lines, readable by the owner only (they are secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write("# scope subject token (ledger demo tokens)\n")
        for scope, subject, token in tokens:
            file.write(f"{scope} {subject} {token}\n")
