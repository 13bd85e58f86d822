"""`ledger budget set|list`: budgets a municipality sets per licence, append-only."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.app.workspace import Workspace
from ledger.store.budgets import budgets_in_force
from ledger.store.engine import create_ledger_engine
from tests.integration.conftest import ledger_cli, load_catalogue

pytestmark = pytest.mark.integration


async def in_force(ws: Workspace, municipality: str, period: str) -> dict[str, int]:
    engine = create_ledger_engine(ws.database_url)
    try:
        async with engine.connect() as conn:
            return await budgets_in_force(conn, municipality, period)
    finally:
        await engine.dispose()


async def test_set_and_list_and_a_later_budget_supersedes(workspace: Workspace) -> None:
    await load_catalogue(workspace)
    ws = ("--workspace", workspace.name)
    standing = ledger_cli(
        "budget", "set", "--municipality", "3201", "--licence", "L-ALL",
        "--amount", "40000.00", "--from", "2026-09", *ws,
    )  # fmt: skip
    assert "40000.00" in standing.stdout and "from 2026-09 on" in standing.stdout
    ledger_cli(
        "budget", "set", "--municipality", "3201", "--licence", "L-ALL",
        "--amount", "500", "--period", "2026-10", *ws,
    )  # fmt: skip
    ledger_cli(
        "budget", "set", "--municipality", "3203", "--licence", "L-JOINT",
        "--amount", "12.5", "--from", "2026-08", *ws,
    )  # fmt: skip

    assert await in_force(workspace, "3201", "2026-08") == {}
    assert await in_force(workspace, "3201", "2026-09") == {"L-ALL": 4_000_000}
    assert await in_force(workspace, "3201", "2026-10") == {"L-ALL": 50_000}  # one month only
    assert await in_force(workspace, "3201", "2026-11") == {"L-ALL": 4_000_000}
    assert await in_force(workspace, "3203", "2026-11") == {"L-JOINT": 1_250}

    # A later standing budget supersedes both from its month on; history stays.
    ledger_cli(
        "budget", "set", "--municipality", "3201", "--licence", "L-ALL",
        "--amount", "45000", "--from", "2026-10", *ws,
    )  # fmt: skip
    assert await in_force(workspace, "3201", "2026-09") == {"L-ALL": 4_000_000}
    assert await in_force(workspace, "3201", "2026-10") == {"L-ALL": 4_500_000}

    listed = ledger_cli("budget", "list", "--municipality", "3201", *ws).stdout
    assert listed.count("L-ALL") == 3 and "L-JOINT" not in listed
    assert "40000.00" in listed and "500.00" in listed and "45000.00" in listed
    everything = ledger_cli("budget", "list", *ws).stdout
    assert "L-JOINT" in everything and "12.50" in everything


BAD_INPUT = [
    (("--municipality", "9999", "--licence", "L-ALL", "--amount", "1"), "municipality 9999"),
    (("--municipality", "3201", "--licence", "L-NONE", "--amount", "1"), "licence L-NONE"),
    (("--municipality", "3203", "--licence", "L-ALL", "--amount", "1"), "not a buyer"),
    (("--municipality", "3201", "--licence", "L-ALL", "--amount", "0"), "above zero"),
    (("--municipality", "3201", "--licence", "L-ALL", "--amount", "-5"), "at most two decimals"),
    (("--municipality", "3201", "--licence", "L-ALL", "--amount", "1.005"), "two decimals"),
    (("--municipality", "3201", "--licence", "L-ALL", "--amount", "1e5"), "two decimals"),
    (
        ("--municipality", "3201", "--licence", "L-ALL", "--amount", "1", "--from", "2026-13"),
        "01 to 12",
    ),
    (
        (
            "--municipality",
            "3201",
            "--licence",
            "L-ALL",
            "--amount",
            "1",
            "--from",
            "2026-09",
            "--period",
            "2026-10",
        ),
        "not both",
    ),
]


async def test_bad_input_is_one_line_and_exit_2(workspace: Workspace) -> None:
    await load_catalogue(workspace)
    for arguments, reason in BAD_INPUT:
        result = ledger_cli("budget", "set", *arguments, "--workspace", workspace.name, check=False)
        assert result.returncode == 2, (arguments, result.stderr)
        assert reason in result.stderr, (arguments, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert await in_force(workspace, "3201", "2026-10") == {}


async def test_without_a_catalogue_a_budget_is_refused(workspace: Workspace) -> None:
    result = ledger_cli(
        "budget", "set", "--municipality", "3201", "--licence", "L-ALL", "--amount", "1",
        "--workspace", workspace.name, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "no catalogue" in result.stderr


async def test_budgets_are_append_only(workspace: Workspace) -> None:
    await load_catalogue(workspace)
    ledger_cli(
        "budget", "set", "--municipality", "3201", "--licence", "L-ALL", "--amount", "100",
        "--workspace", workspace.name,
    )  # fmt: skip
    engine = create_ledger_engine(workspace.database_url)
    try:
        for statement in (
            "UPDATE ledger.budgets SET amount_ore = 1",
            "DELETE FROM ledger.budgets",
        ):
            with pytest.raises(DBAPIError):
                async with engine.begin() as conn:
                    await conn.execute(text(statement))
    finally:
        await engine.dispose()
    assert len(await in_force(workspace, "3201", "2099-01")) == 1
