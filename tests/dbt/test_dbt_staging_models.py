"""The staging models of every entity: each reads every field of its record schema, builds on
records built from the spec, types them (exact money, UTC instants, lists) and passes its tests.

The first entities' models are covered by the hand-built fixture (test_dbt_build_fixture.py);
here every model of the entity table is built on spec records, in one `dbt build`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import orjson
import pytest
from dbt_test_helpers import DBT_PROJECT_DIR, run_dbt
from spec_records import spec_record

from servicetitan_pipeline.entities import ENTITIES, Entity
from servicetitan_pipeline.openapi import modules
from servicetitan_pipeline.warehouse.schema import (
    RecordFields,
    ensure_entity_table,
    entity_columns,
    raw_table,
)

STAGING_DIR = DBT_PROJECT_DIR / "models" / "staging" / "servicetitan"
TENANT = 1000001
OTHER_TENANT = 2000002
LOADED_AT = datetime(2026, 3, 31, 6, 0, tzinfo=UTC)
# The first entities' hand-written models, documented in _servicetitan__models.yml: their
# figures are tested on hand-built records (dbt_fixture_records.py).
LEGACY_MODELS = STAGING_DIR / "_servicetitan__models.yml"
# (tenant, id, variant) of the records loaded per entity: three, and the same id in another
# tenant (a different record)
RECORDS = ((TENANT, 1, 0), (TENANT, 2, 1), (TENANT, 3, 2), (OTHER_TENANT, 1, 3))


def _model_path(entity: Entity) -> Path:
    return STAGING_DIR / f"stg_servicetitan__{entity.name}.sql"


def _legacy(entity: Entity) -> bool:
    return f"name: stg_servicetitan__{entity.name}\n" in LEGACY_MODELS.read_text()


# Entities whose model is in this tree (another branch may be adding the others).
MODELLED = [e for e in ENTITIES if _model_path(e).exists()]
SPEC_MODELLED = [e for e in MODELLED if not _legacy(e)]


@pytest.mark.parametrize("entity", SPEC_MODELLED, ids=lambda e: e.name)
def test_the_model_reads_every_field_of_the_record_schema(entity: Entity):
    spec = modules()[entity.module]
    schema = spec.resolve(spec.schema(entity.record_schema))
    sql = _model_path(entity).read_text()
    # the key, createdOn/modifiedOn and the active flag come from the raw layer's columns
    from_raw = {*entity.key, "createdOn", "modifiedOn", entity.active_field}
    unread = [
        name
        for name in schema["properties"]
        if name not in from_raw and not re.search(rf"'\$\.{re.escape(name)}[.']", sql)
    ]
    assert not unread, f"{entity.name}: fields not in the model: {unread}"
    assert f"source('servicetitan', '{entity.name}')" in sql


@dataclass(frozen=True)
class SpecWarehouse:
    database: Path
    build_output: str


@pytest.fixture(scope="module")
def spec_warehouse(tmp_path_factory) -> SpecWarehouse:
    """Every raw table, the modelled entities' holding spec records; then `dbt build` of the
    staging layer."""
    root = tmp_path_factory.mktemp("dbt_spec")
    database = root / "warehouse.duckdb"
    with duckdb.connect(str(database)) as con:
        for entity in ENTITIES:
            ensure_entity_table(con, entity.name)
        for entity in SPEC_MODELLED:
            for tenant, record_id, variant in RECORDS:
                record = spec_record(entity, record_id, variant)
                values = {
                    "_tenant_id": tenant,
                    "id": record_id,
                    # a second key field (the raw layer's `id_2`, where it has one)
                    "id_2": record_id + 1 if len(entity.key) == 2 else None,
                    "modified_on": LOADED_AT if entity.modified_field else None,
                    "active": record.get(entity.active_field) if entity.active_field else None,
                    "payload": orjson.dumps(record).decode(),
                    "_connection": "spec",
                    "_loaded_at": LOADED_AT,
                }
                columns = [name for name, _ddl in entity_columns(RecordFields.of(entity))]
                con.execute(
                    f"insert into {raw_table(entity.name)} ({', '.join(columns)}) "
                    f"values ({', '.join('?' for _ in columns)})",
                    [values[name] for name in columns],
                )
    result = run_dbt(
        ["build", "--select", "staging"], database=database, target_path=root / "target"
    )
    assert result.returncode == 0, result.output
    return SpecWarehouse(database, result.output)


def _query(warehouse: SpecWarehouse, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse.database), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _columns(warehouse: SpecWarehouse, model: str) -> dict[str, str]:
    return dict(
        _query(
            warehouse,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'staging' and table_name = ? order by ordinal_position",
            [model],
        )
    )


@pytest.mark.integration
def test_every_model_builds_and_passes_its_tests_on_spec_records(spec_warehouse):
    assert "ERROR=0" in spec_warehouse.build_output
    # Records drawn from the spec alone may trip only the tests that go beyond the spec on
    # purpose and say so by warning (an estimate status outside Open/Sold/Dismissed, a month
    # outside 1-12): every warning must come from a test of severity warn.
    run_results = orjson.loads(
        (spec_warehouse.database.parent / "target/run_results.json").read_bytes()
    )
    warned = [r["unique_id"] for r in run_results["results"] if r["status"] == "warn"]
    manifest = orjson.loads((spec_warehouse.database.parent / "target/manifest.json").read_bytes())
    severities = {test: manifest["nodes"][test]["config"]["severity"].lower() for test in warned}
    assert all(severity == "warn" for severity in severities.values()), severities
    for entity in SPEC_MODELLED:
        model = f"stg_servicetitan__{entity.name}"
        counts = _query(
            spec_warehouse,
            f"select tenant_id, count(*) from staging.{model} group by 1 order by 1",
        )
        assert counts == [(TENANT, 3), (OTHER_TENANT, 1)], model


@pytest.mark.integration
def test_columns_are_typed_by_their_names(spec_warehouse):
    for entity in SPEC_MODELLED:
        model = f"stg_servicetitan__{entity.name}"
        columns = _columns(spec_warehouse, model)
        assert next(iter(columns)) == "tenant_id", model
        for name, data_type in columns.items():
            where = f"{model}.{name}"
            # no floating point anywhere: money and measures are DECIMAL
            assert data_type not in ("DOUBLE", "FLOAT", "REAL"), where
            if name.endswith("_at"):
                assert data_type == "TIMESTAMP WITH TIME ZONE", where
            elif name.startswith(("is_", "has_")):
                assert data_type == "BOOLEAN", where
            elif name.endswith("_ids"):
                assert data_type == "BIGINT[]", where
            elif name.endswith("_date"):
                assert data_type == "DATE", where
            elif name.endswith("_seconds"):
                assert data_type == "BIGINT", where
            elif name.endswith("_id") and name != "import_id":
                assert data_type in ("BIGINT", "VARCHAR"), where


@pytest.mark.integration
def test_money_is_exact_and_spans_are_seconds(spec_warehouse):
    # money strings ("12.35") and money numbers (12.35, which a double cannot hold) both land
    # as exactly 12.35 in DECIMAL(18,2)
    [(bill_amount, price, cost)] = _query(
        spec_warehouse,
        "select b.bill_amount, s.unit_price, m.unit_cost "
        "from staging.stg_servicetitan__inventory_bills as b, "
        "staging.stg_servicetitan__pricebook_services as s, "
        "staging.stg_servicetitan__pricebook_materials as m "
        "where b.tenant_id = ? and b.inventory_bill_id = 1 and s.tenant_id = b.tenant_id "
        "and s.pricebook_service_id = 1 and m.tenant_id = b.tenant_id "
        "and m.pricebook_material_id = 1",
        [TENANT],
    )
    assert (bill_amount, price, cost) == (Decimal("12.35"),) * 3
    assert _columns(spec_warehouse, "stg_servicetitan__inventory_bills")["bill_amount"] == (
        "DECIMAL(18,2)"
    )
    # a TimeSpan of 01:30:00 is 5400 seconds
    [(duration,)] = _query(
        spec_warehouse,
        "select duration_seconds from staging.stg_servicetitan__arrival_windows "
        "where tenant_id = ? and arrival_window_id = 1",
        [TENANT],
    )
    assert duration == 5400


@pytest.mark.integration
def test_nested_references_and_addresses_are_flattened(spec_warehouse):
    [(vendor_id, business_unit_id, ship_to_city, items)] = _query(
        spec_warehouse,
        "select vendor_id, business_unit_id, ship_to_city, items "
        "from staging.stg_servicetitan__inventory_bills where tenant_id = ? "
        "and inventory_bill_id = 2",
        [TENANT],
    )
    # vendor.id and businessUnit.id of the record (variant 1: 1001), shipTo.city kept as text
    assert (vendor_id, business_unit_id) == (1001, 1001)
    assert ship_to_city == "13.35"
    # arrays of objects stay JSON
    assert isinstance(orjson.loads(items), list)


def _macro(name: str, *args: str) -> str:
    """The SQL of one of the project's macros (plain Jinja: they call no dbt builtins)."""
    import jinja2

    source = (DBT_PROJECT_DIR / "macros" / "servicetitan_more_types.sql").read_text()
    module = jinja2.Environment().from_string(source).module
    return str(getattr(module, name)(*args))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("07:00:00", 25200),
        ("1.02:30:00", 95400),
        ("-00:30:00", -1800),
        ("00:00:30.6000000", 31),
        ("12:05", 43500),
        ("2 hours", 7200),
        ("", None),
        (None, None),
    ],
)
def test_timespans_are_seconds(text: str | None, seconds: int | None):
    with duckdb.connect() as con:
        sql = _macro("st_timespan_seconds", "$1")
        [(value,)] = con.execute(f"select {sql}", [text]).fetchall()
    assert value == seconds


def test_a_malformed_timespan_fails_rather_than_vanishing():
    with duckdb.connect() as con, pytest.raises(duckdb.Error):
        con.execute(f"select {_macro('st_timespan_seconds', '$1')}", ["about an hour"]).fetchall()


def test_dates_and_text_lists():
    with duckdb.connect() as con:
        [(day, stamp_day, cities)] = con.execute(
            f"select {_macro('st_date', '$1')}, {_macro('st_date', '$2')}, "
            f"{_macro('st_text_list', '$3::json')}",
            ["2026-03-01", "2026-03-01T23:30:00-05:00", '["Austin", "Round Rock"]'],
        ).fetchall()
    assert str(day) == str(stamp_day) == "2026-03-01"
    assert cities == ["Austin", "Round Rock"]
