"""The package's layers import only downwards: client -> sync -> warehouse, Dagster and CLI on top.

Read from the source (every import statement, including those inside functions), so a new
module that reaches upwards fails here instead of slowly tangling the layout.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "servicetitan_pipeline"
PACKAGE_DIR = Path(__file__).resolve().parents[2] / PACKAGE

# What each part of the package may import from the rest of it. A part always may import itself.
# The library (client, sync, warehouse, simulator) never imports defs/ or cli/; the warehouse
# knows nothing of HTTP, the client nothing of DuckDB, the simulator nothing of the pipeline.
ALLOWED: dict[str, frozenset[str]] = {
    "entities": frozenset(),
    "config": frozenset({"entities"}),
    "openapi": frozenset(),
    "client": frozenset({"entities", "config"}),
    "warehouse": frozenset({"entities", "config"}),
    "sync": frozenset({"entities", "config", "client", "warehouse"}),
    "simulator": frozenset({"entities", "config", "openapi"}),
    # Alert messages and their delivery (webhook, SMTP): no Dagster, no ServiceTitan client.
    "alerts": frozenset({"config"}),
    "defs": frozenset({"entities", "config", "client", "warehouse", "sync", "alerts"}),
    "cli": frozenset(
        {"entities", "config", "client", "warehouse", "sync", "simulator", "defs", "alerts"}
    ),
}


def _part(module: str) -> str:
    """The top-level part of ``servicetitan_pipeline.<part>...`` (module or folder)."""
    return module.split(".")[1]


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module of the package that ``module`` imports, relative imports resolved."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            # `from servicetitan_pipeline import warehouse` imports the part `warehouse`.
            if target == PACKAGE:
                found.update(f"{PACKAGE}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith(f"{PACKAGE}.")}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_part_of_the_package_has_a_layer():
    parts = {_part(_module_name(p)) for p in _modules() if _module_name(p) != PACKAGE}
    assert parts <= set(ALLOWED), f"parts without a layer rule: {sorted(parts - set(ALLOWED))}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE_DIR)))
def test_imports_only_go_downwards(path: Path):
    module = _module_name(path)
    if module == PACKAGE:
        return
    own = _part(module)
    upward = sorted(
        name
        for name in _imported_modules(
            path.read_text(encoding="utf-8"), module, is_package=path.name == "__init__.py"
        )
        if _part(name) != own and _part(name) not in ALLOWED.get(own, frozenset())
    )
    assert not upward, f"{module} ({own}) imports {upward}: allowed are {sorted(ALLOWED[own])}"


def test_the_rule_catches_an_upward_import():
    """The checker itself: absolute, relative and package-level imports are all resolved."""
    source = (
        "from servicetitan_pipeline.client import ServiceTitanClient\n"
        "from ..sync import pages\n"
        "from servicetitan_pipeline import defs\n"
        "def later():\n"
        "    import servicetitan_pipeline.cli.sync\n"
    )
    imported = _imported_modules(source, "servicetitan_pipeline.warehouse.upsert")
    assert imported == {
        "servicetitan_pipeline.client",
        "servicetitan_pipeline.sync",
        "servicetitan_pipeline.defs",
        "servicetitan_pipeline.cli.sync",
    }
    assert {_part(name) for name in imported} - ALLOWED["warehouse"] == {
        "client",
        "sync",
        "defs",
        "cli",
    }
