"""The README's table of entities is what scripts/entity_docs.py writes from the entity table."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from servicetitan_pipeline.entities import ENTITIES, SyncMode

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("entity_docs", REPO / "scripts/entity_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_table_is_current(script):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme == script.with_table(readme, script.render_table()), (
        "README.md's table of entities is stale: run .venv/bin/python scripts/entity_docs.py"
    )
    assert script.main(["--check"]) == 0


def test_the_table_has_a_row_per_entity_with_endpoint_mode_key_and_scope(script):
    rows = [ln for ln in script.render_table().splitlines() if ln.startswith("| ") and "`" in ln]
    rows = [row for row in rows if not row.startswith("| module ")]
    assert len(rows) == len(ENTITIES)
    for entity in ENTITIES:
        (row,) = [r for r in rows if f"| `{entity.name}` |" in r]
        path = (
            entity.export_path("{tenant}")
            if entity.sync_mode is SyncMode.EXPORT
            else entity.list_path("{tenant}")
        )
        assert f"| {entity.module} | `{entity.name}` | `{path}` |" in row
        assert row.endswith(f" | {entity.scope} |")
        assert " + ".join(f"`{field}`" for field in entity.key) in row


def test_a_stale_table_is_replaced_and_missing_markers_are_an_error(script):
    stale = f"intro\n{script.BEGIN}\n| old |\n{script.END}\noutro\n"
    fresh = script.with_table(stale, "| new |\n")
    assert fresh == f"intro\n{script.BEGIN}\n| new |\n\n{script.END}\noutro\n"
    with pytest.raises(ValueError, match="markers"):
        script.with_table("no markers here", "| new |\n")
    with pytest.raises(ValueError, match="markers"):
        script.with_table(f"{script.END}\n{script.BEGIN}\n", "| new |\n")
