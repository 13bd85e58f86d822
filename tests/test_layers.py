"""The layers are folders and imports point one way (docs/ARCHITECTURE.md, "Layers").

Reads every import of the product's packages, at module level, under TYPE_CHECKING and
inside functions alike (an import hidden in a function to dodge a cycle is still a cycle),
and fails when a lower layer imports a higher one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PRODUCT_PACKAGES = ("ledger", "streams", "schemas", "billing", "infra")

# Each layer and the layers of ours it may import (its own is always allowed). Lowest first.
ALLOWED: dict[str, frozenset[str]] = {
    "schemas": frozenset(),
    "infra": frozenset(),
    "ledger.domain": frozenset({"schemas"}),
    "billing": frozenset({"ledger.domain"}),
    "ledger.store": frozenset({"ledger.domain"}),
    "streams": frozenset({"ledger.domain", "ledger.store", "schemas"}),
    "ledger.demo": frozenset({"ledger.domain"}),
    "ledger.app": frozenset(
        {"ledger.domain", "ledger.store", "billing", "streams", "schemas", "infra", "ledger.demo"}
    ),
    # Entry points reach the ledger through use cases only; the CLI also runs the services.
    "ledger.cli": frozenset({"ledger.app", "ledger.domain", "ledger.http", "infra"}),
    "ledger.http": frozenset({"ledger.app", "ledger.domain"}),
    "ledger": frozenset({"ledger.cli"}),  # ledger/__init__.py and ledger/__main__.py
}

# Libraries that do I/O, which the pure layers must not reach for.
IO_LIBRARIES = frozenset(
    {
        "aiokafka",
        "asyncpg",
        "faust",
        "fastapi",
        "httpx",
        "mode",
        "requests",
        "rich",
        "socket",
        "sqlalchemy",
        "subprocess",
        "typer",
        "uvicorn",
    }
)
PURE_LAYERS = frozenset({"ledger.domain", "billing", "schemas"})


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted (absolute)
    line: int
    in_function: bool


def layer_of(module: str) -> str | None:
    """The longest layer name that is `module` or a package above it."""
    candidates = [name for name in ALLOWED if module == name or module.startswith(name + ".")]
    return max(candidates, key=len) if candidates else None


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, *, is_package: bool = False) -> Iterator[Import]:
    tree = ast.parse(source)
    function_nodes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            function_nodes.update(id(inner) for inner in ast.walk(node) if inner is not node)
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                prefix = ".".join(base)
                absolute = f"{prefix}.{node.module}" if node.module else prefix
            else:
                absolute = node.module or ""
            # `from package import module` names a module too: count the deeper one.
            targets = [f"{absolute}.{alias.name}" for alias in node.names] or [absolute]
        for target in targets:
            yield Import(module, target, node.lineno, id(node) in function_nodes)


def violations(imports: list[Import]) -> list[str]:
    found = []
    for item in imports:
        source_layer = layer_of(item.module)
        top = item.target.split(".")[0]
        if source_layer is None:
            continue
        if top in IO_LIBRARIES and source_layer in PURE_LAYERS:
            found.append(f"{item.module}:{item.line} imports {top}: {source_layer} does no I/O")
        if top not in PRODUCT_PACKAGES:
            continue
        target_layer = layer_of(item.target)
        if target_layer is None:
            found.append(f"{item.module}:{item.line} imports {item.target}, which has no layer")
            continue
        if target_layer == source_layer or target_layer in ALLOWED[source_layer]:
            continue
        where = " (inside a function)" if item.in_function else ""
        found.append(
            f"{item.module}:{item.line} imports {item.target}{where}: "
            f"{source_layer} may import only {sorted(ALLOWED[source_layer]) or 'nothing of ours'}"
        )
    return found


def product_imports(root: Path = REPO_ROOT) -> list[Import]:
    collected: list[Import] = []
    for package in PRODUCT_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:  # Alembic's env runs inside the store's migrate
                continue
            module = module_name(path, root)
            source = path.read_text(encoding="utf-8")
            collected.extend(imports_of(source, module, is_package=path.name == "__init__.py"))
    return collected


def test_every_module_belongs_to_a_layer() -> None:
    modules = {item.module for item in product_imports()}
    assert {m for m in modules if layer_of(m) is None} == set()


def test_imports_point_one_way() -> None:
    assert violations(product_imports()) == []


def test_no_import_of_ours_hides_inside_a_function() -> None:
    hidden = [
        f"{item.module}:{item.line} imports {item.target}"
        for item in product_imports()
        if item.in_function and item.target.split(".")[0] in PRODUCT_PACKAGES
    ]
    assert hidden == []


# The checker itself must catch what it is there for: planted violations.


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("ledger.domain.events", "from ledger.store.schema import entries\n", "ledger.store"),
        ("billing.pricing", "import streams.writer\n", "streams.writer"),
        ("schemas.codec", "from ledger.domain import events\n", "ledger.domain.events"),
        ("ledger.store.usage", "from billing.usage import x\n", "billing.usage"),
        ("streams.writer", "def f():\n    from ledger.app import settle\n", "inside a function"),
        ("infra.kafka", "from ledger.domain.workspaces import Topics\n", "nothing of ours"),
        ("ledger.cli.common", "from ledger.store.engine import create_ledger_engine\n", "app"),
        ("ledger.domain.periods", "import sqlalchemy\n", "does no I/O"),
        ("ledger.store.append", "from ..app import settle\n", "ledger.app.settle"),
    ],
)
def test_a_planted_violation_is_found(module: str, source: str, expected: str) -> None:
    found = violations(list(imports_of(source, module)))
    assert len(found) == 1 and expected in found[0]


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("billing.pricing", "from ledger.domain.money import format_ore\n"),
        ("ledger.cli.app", "from ledger.app.settle import settle\n"),
        ("streams.writer", "from ledger.store.append import append_entries\n"),
        ("ledger.store.append", "from .locks import chain_lock_class\n"),
    ],
)
def test_an_allowed_import_passes(module: str, source: str) -> None:
    assert violations(list(imports_of(source, module))) == []
