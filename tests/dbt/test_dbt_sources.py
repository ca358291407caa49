"""The dbt sources are written from the entity table and map onto the ingestion assets."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import dagster as dg
import pytest
import yaml
from dbt_test_helpers import REPO

from servicetitan_pipeline.entities import ENTITIES, ENTITIES_BY_NAME


def _load_script(name: str) -> ModuleType:
    """A module of scripts/ (not a package: loaded from its file)."""
    path = REPO / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"scripts_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dbt_sources() -> ModuleType:
    return _load_script("dbt_sources")


def _tables(text: str) -> dict[str, dict]:
    [source] = yaml.safe_load(text)["sources"]
    assert source["name"] == "servicetitan"
    return {t["name"]: t for t in source["tables"]}


def test_the_committed_sources_file_is_what_the_entity_table_gives(dbt_sources):
    committed = dbt_sources.OUTPUT.read_text(encoding="utf-8")
    assert committed == dbt_sources.render(), "run python scripts/dbt_sources.py"


def test_the_source_tables_macro_lists_every_source_table(dbt_sources):
    """dim_tenants declares every raw table through this macro: it must be current."""
    committed = dbt_sources.MACRO_OUTPUT.read_text(encoding="utf-8")
    assert committed == dbt_sources.render_macro(), "run python scripts/dbt_sources.py"
    listed = [line.strip().strip("',") for line in committed.splitlines() if line.endswith("',")]
    assert listed == list(_tables(dbt_sources.render())) == [e.name for e in ENTITIES]


def test_dim_tenants_depends_on_every_source_table(dbt_manifest):
    manifest = json.loads(dbt_manifest.read_text())
    [dim_tenants] = [n for n in manifest["nodes"].values() if n["name"] == "dim_tenants"]
    sources = {
        n["name"] for n in manifest["sources"].values() if n["source_name"] == "servicetitan"
    }
    depends = {
        manifest["sources"][uid]["name"]
        for uid in dim_tenants["depends_on"]["nodes"]
        if uid.startswith("source.")
    }
    assert depends == sources == {e.name for e in ENTITIES}


def test_every_entity_is_a_table_with_the_raw_columns_and_its_key(dbt_sources):
    tables = _tables(dbt_sources.render())
    assert list(tables) == [e.name for e in ENTITIES]
    for entity in ENTITIES:
        table = tables[entity.name]
        columns = [c["name"] for c in table["columns"]]
        assert columns[:2] == ["_tenant_id", "id"], entity.name
        assert {"modified_on", "active", "payload", "_connection", "_loaded_at"} <= set(columns)
        assert ("id_2" in columns) == (len(entity.key) == 2), entity.name
        assert all(c.get("description") for c in table["columns"]), entity.name
        # the description says what the entity is, and how it is synced and keyed
        assert table["description"].startswith(entity.description.split(" ")[0])
        assert entity.resource in table["description"]
        for key_field in entity.key:
            assert f"`{key_field}`" in table["description"], entity.name


def test_the_header_and_freshness_config_are_kept(dbt_sources):
    [source] = yaml.safe_load(dbt_sources.render())["sources"]
    assert source["schema"] == "raw_servicetitan"
    assert source["config"]["loaded_at_field"] == "_loaded_at"
    assert source["config"]["freshness"]["error_after"] == {"count": 72, "period": "hour"}


def test_columns_follow_the_entity_s_key_ordering_and_active_fields(dbt_sources):
    tables = _tables(dbt_sources.render())

    def column(entity: str, name: str) -> str:
        [description] = [c["description"] for c in tables[entity]["columns"] if c["name"] == name]
        return str(description)

    two_field = next(e for e in ENTITIES if len(e.key) == 2)
    assert f"`{two_field.key[1]}`" in column(two_field.name, "id_2")
    by_created = next(e for e in ENTITIES if e.modified_field == "createdOn")
    assert "`createdOn`" in column(by_created.name, "modified_on")
    unordered = next(e for e in ENTITIES if e.modified_field is None)
    assert column(unordered.name, "modified_on").startswith("Always null")
    inactive_less = next(e for e in ENTITIES if e.active_field is None)
    assert column(inactive_less.name, "active").startswith("Always null")


def test_check_mode_fails_on_a_stale_file_and_passes_once_written(
    dbt_sources, tmp_path, monkeypatch, capsys
):
    output = tmp_path / "_servicetitan__sources.yml"
    macro = tmp_path / "servicetitan_source_tables.sql"
    monkeypatch.setattr(dbt_sources, "OUTPUT", output)
    monkeypatch.setattr(dbt_sources, "MACRO_OUTPUT", macro)
    monkeypatch.setattr(dbt_sources, "REPO", tmp_path)
    assert dbt_sources.main(["--check"]) == 1  # missing
    output.write_text(dbt_sources.render().replace("- name: zones", "- name: zonez"))
    assert dbt_sources.main(["--check"]) == 1  # stale
    assert "run python scripts/dbt_sources.py" in capsys.readouterr().err
    assert dbt_sources.main([]) == 0
    assert dbt_sources.main(["--check"]) == 0
    assert output.read_text() == dbt_sources.render()
    assert macro.read_text() == dbt_sources.render_macro()
    macro.write_text(dbt_sources.render_macro().replace("'zones',", ""))
    assert dbt_sources.main(["--check"]) == 1  # the macro alone stale


def test_an_undescribed_raw_column_is_an_error_naming_it(dbt_sources, monkeypatch):
    columns = (*dbt_sources.ENTITY_COLUMNS, ("_batch", "VARCHAR"))
    monkeypatch.setattr(dbt_sources, "ENTITY_COLUMNS", columns)
    with pytest.raises(ValueError, match=r"raw column '_batch' of business_units"):
        dbt_sources.render()


def test_every_source_table_is_an_ingestion_asset(dbt_manifest: Path):
    from servicetitan_pipeline.defs.dbt import translator
    from servicetitan_pipeline.defs.ingestion import build_ingestion_assets

    manifest = json.loads(dbt_manifest.read_text())
    sources = [s for s in manifest["sources"].values() if s["source_name"] == "servicetitan"]
    ingestion_keys = {key for asset in build_ingestion_assets() for key in asset.keys}
    source_keys = {translator.get_asset_key(s) for s in sources}
    assert source_keys == ingestion_keys
    for source in sources:
        # dbt's own key of the table is the entity's: the lineage needs no override
        assert ["servicetitan", source["name"]] == ENTITIES_BY_NAME[source["name"]].asset_key_path
        assert source["schema"] == "raw_servicetitan"
    assert dg.AssetKey(["servicetitan", "zones"]) in source_keys
