"""scripts/scaffold_staging.py: how a record schema becomes a staging model and its yml entry."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any

import pytest
import yaml
from dbt_test_helpers import REPO

from servicetitan_pipeline.entities import ENTITIES, Entity, Reference, SyncMode
from servicetitan_pipeline.openapi import ModuleSpec, modules


def _load_script(name: str) -> ModuleType:
    path = REPO / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"scripts_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scaffold() -> ModuleType:
    return _load_script("scaffold_staging")


WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "format": "int64"},
        "active": {"type": "boolean"},
        "createdOn": {"type": "string", "format": "date-time"},
        "modifiedOn": {"type": "string", "format": "date-time"},
        "name": {"type": "string"},
        "customerId": {"type": "integer", "format": "int64"},
        "soldBy": {"type": "integer", "format": "int64"},
        "createdById": {"type": "integer", "format": "int64"},
        "count": {"type": "integer", "format": "int32"},
        "status": {"oneOf": [{"$ref": "#/components/schemas/WidgetStatus"}]},
        "level": {"type": "integer", "format": "int32", "enum": [0, 1, 2]},
        "billAmount": {"type": "string"},
        "budgetCostCode": {"type": "string"},
        "unitPrice": {"type": "number", "format": "decimal"},
        "taxRate": {"type": "number", "format": "decimal"},
        "latitude": {"type": "number", "format": "double"},
        "completedOn": {"type": "string", "format": "date-time"},
        "dateCanceled": {"type": "string", "format": "date-time"},
        "warrantyEnd": {"type": "string", "format": "date"},
        "duration": {"type": "string", "format": "duration"},
        "taxable": {"type": "boolean"},
        "isPinned": {"type": "boolean"},
        "address": {"$ref": "#/components/schemas/Address"},
        "vendor": {
            "type": "object",
            "properties": {
                "id": {"type": "integer", "format": "int64"},
                "name": {"type": "string"},
                "contact": {"type": "object", "properties": {"email": {"type": "string"}}},
            },
        },
        "vendorId": {"type": "integer", "format": "int64", "deprecated": True},
        "tagTypeIds": {"type": "array", "items": {"type": "integer", "format": "int64"}},
        "technicians": {"type": "array", "items": {"type": "integer", "format": "int64"}},
        "zips": {"type": "array", "items": {"type": "string"}},
        "customFields": {"type": "array", "items": {"$ref": "#/components/schemas/CustomField"}},
        "model": {"type": "string"},
    },
}
SCHEMAS: dict[str, Any] = {
    "Widget": WIDGET_SCHEMA,
    "WidgetStatus": {"type": "string", "enum": ["Open", "Done", "Yes", "On Hold"]},
    "Address": {
        "type": "object",
        "properties": {
            f: {"type": "string"} for f in ("street", "unit", "city", "state", "zip", "country")
        },
    },
    "CustomField": {"type": "object", "properties": {"typeId": {"type": "integer"}}},
}
WIDGET_SPEC = ModuleSpec(
    module="crm",
    document="widgets.json",
    server="https://example.invalid/crm/v2",
    path_prefix="/crm/v2",
    operations=MappingProxyType({}),
    schemas=MappingProxyType(SCHEMAS),
)
WIDGETS = Entity(
    name="widgets",
    module="crm",
    resource="widgets",
    sync_mode=SyncMode.EXPORT,
    description="Widgets for the tests.",
    list_schema=None,
    export_schema="Widget",
    references=(Reference("soldBy", "technicians"),),
)


@pytest.fixture(scope="module")
def widget_columns(scaffold) -> dict[str, Any]:
    columns = scaffold.Scaffolder(WIDGETS, WIDGET_SPEC).build()
    return {c.name: c for c in columns}


def test_names_are_snake_case_and_singular(scaffold):
    assert scaffold.snake("businessUnitId") == "business_unit_id"
    assert scaffold.snake("vendor.contactInfo") == "vendor_contact_info"
    assert scaffold.snake("aadUserId") == "aad_user_id"
    assert scaffold.singular("timesheet_activities") == "timesheet_activity"
    assert scaffold.singular("employees") == "employee"
    assert scaffold.singular("installed_equipment") == "installed_equipment"


def test_keys_and_references(widget_columns):
    assert list(widget_columns)[:2] == ["tenant_id", "widget_id"]
    assert widget_columns["widget_id"].expression == "id"
    assert widget_columns["widget_id"].tests == ["not_null"]
    assert "st_id(\"payload ->> '$.customerId'\")" in widget_columns["customer_id"].expression
    # a reference without `Id` in its name, and "who did it" fields, are ids
    assert "sold_by_id" in widget_columns
    assert "created_by_id" in widget_columns
    # createdOn / modifiedOn / active come from the lineage macro and the raw column
    assert widget_columns["is_active"].expression == "active"
    assert not {"created_at", "modified_at"} & set(widget_columns)


def test_money_is_exact_and_rates_are_not_money(widget_columns):
    assert widget_columns["bill_amount"].expression.startswith("{{ st_money(")
    assert widget_columns["unit_price"].expression.startswith("{{ st_money(")
    assert widget_columns["tax_rate"].expression.startswith("{{ st_decimal(")
    assert widget_columns["latitude"].expression.endswith(", 6) }}")
    # a string is money only when its last word says so
    assert widget_columns["budget_cost_code"].expression == "payload ->> '$.budgetCostCode'"


def test_times_dates_spans_and_flags(widget_columns):
    assert widget_columns["completed_at"].expression.startswith("{{ st_timestamp(")
    assert "canceled_at" in widget_columns
    assert widget_columns["warranty_end"].expression.startswith("{{ st_date(")
    assert widget_columns["duration_seconds"].expression.startswith("{{ st_timespan_seconds(")
    assert "is_taxable" in widget_columns and "is_pinned" in widget_columns


def test_enums_keep_the_spec_s_values(widget_columns):
    status = widget_columns["widget_status"]  # `status` alone is vague: prefixed
    assert status.accepted_values == ("Open", "Done", "Yes", "On Hold")
    level = widget_columns["widget_level"]
    assert level.accepted_values == (0, 1, 2)
    assert level.expression == "cast(payload ->> '$.level' as integer)"


def test_objects_are_flattened_one_level_and_lists_typed(widget_columns):
    assert widget_columns["address"].is_block
    assert widget_columns["address"].expression == "{{ st_address('$.address', 'address') }}"
    assert "payload ->> '$.vendor.id'" in widget_columns["vendor_id"].expression
    assert widget_columns["vendor_name"].expression == "payload ->> '$.vendor.name'"
    # a second level stays JSON
    assert widget_columns["vendor_contact"].expression == "payload -> '$.vendor.contact'"
    # the deprecated `vendorId` gives way to `vendor.id`
    assert "payload ->> '$.vendorId'" in widget_columns["legacy_vendor_id"].expression
    assert widget_columns["tag_type_ids"].expression.startswith("{{ st_id_list(")
    assert widget_columns["technician_ids"].expression.startswith("{{ st_id_list(")
    assert widget_columns["zips"].expression.startswith("{{ st_text_list(")
    assert widget_columns["custom_fields"].expression == "payload -> '$.customFields'"
    # SQL keywords are not column names
    assert "widget_model" in widget_columns


def test_a_clash_of_two_fields_is_an_error_naming_both(scaffold):
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "jobId": {"type": "integer"},
            "job": {"type": "object", "properties": {"id": {"type": "integer"}}},
        },
    }
    spec = ModuleSpec(
        "crm", "x.json", "", "/crm/v2", MappingProxyType({}), MappingProxyType({"W": schema})
    )
    entity = Entity(
        name="widgets",
        module="crm",
        resource="widgets",
        sync_mode=SyncMode.EXPORT,
        description="Widgets.",
        list_schema=None,
        export_schema="W",
    )
    with pytest.raises(ValueError, match=r"widgets: fields 'jobId' and 'job.id' .* 'job_id'"):
        scaffold.Scaffolder(entity, spec).build()


def test_the_model_and_entry_render_in_the_project_s_layout(scaffold, widget_columns):
    columns = list(widget_columns.values())
    sql = scaffold.render_model(WIDGETS, columns)
    assert sql.startswith("with\n\nsource as (\n\n    select * from {{ source('servicetitan', ")
    assert "        {{ st_record_timestamps_and_lineage() }}\n\n    from source" in sql
    assert all(len(line) <= 100 for line in sql.splitlines())
    entry = yaml.safe_load("models:\n" + scaffold.render_model_entry(WIDGETS, columns))
    [model] = entry["models"]
    assert model["name"] == "stg_servicetitan__widgets"
    [unique] = model["data_tests"]
    assert unique["unique_combination_of_columns"]["arguments"] == {
        "combination_of_columns": ["tenant_id", "widget_id"]
    }
    by_name = {c["name"]: c for c in model["columns"]}
    [accepted] = by_name["widget_status"]["data_tests"]
    # YAML would read Yes as true: the value is quoted
    assert accepted["accepted_values"]["arguments"]["values"] == ["Open", "Done", "Yes", "On Hold"]
    [level] = by_name["widget_level"]["data_tests"]
    assert level["accepted_values"]["arguments"] == {"values": [0, 1, 2], "quote": False}


def test_entries_are_added_replaced_only_when_forced(scaffold, tmp_path: Path):
    path = tmp_path / "_servicetitan__crm__models.yml"
    first = "  - name: stg_servicetitan__a\n    description: A.\n"
    second = "  - name: stg_servicetitan__b\n    description: B.\n"
    scaffold.upsert_model_entry(path, "stg_servicetitan__a", first, "CRM", force=False)
    scaffold.upsert_model_entry(path, "stg_servicetitan__b", second, "CRM", force=False)
    with pytest.raises(FileExistsError, match="already documents stg_servicetitan__a"):
        scaffold.upsert_model_entry(path, "stg_servicetitan__a", first, "CRM", force=False)
    replaced = first.replace("A.", "A again.")
    scaffold.upsert_model_entry(path, "stg_servicetitan__a", replaced, "CRM", force=True)
    models = yaml.safe_load(path.read_text())["models"]
    assert [(m["name"], m["description"]) for m in models] == [
        ("stg_servicetitan__a", "A again."),
        ("stg_servicetitan__b", "B."),
    ]
    assert "CRM module" in path.read_text()


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_every_entity_of_the_table_can_be_scaffolded(scaffold, entity: Entity):
    columns = scaffold.Scaffolder(entity, modules()[entity.module]).build()
    names = [c.name for c in columns]
    assert names[0] == "tenant_id"
    assert len(names) == len(set(names)), entity.name
    yaml.safe_load("models:\n" + scaffold.render_model_entry(entity, columns))


def test_the_cli_refuses_to_overwrite_and_names_unknown_entities(scaffold, capsys):
    assert scaffold.main(["zones"]) == 1  # its model exists
    assert "exists (use --force" in capsys.readouterr().err
    assert scaffold.main(["jobs", "--stdout"]) == 1  # a hand-written model
    assert "hand-written" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        scaffold.main(["no_such_entity"])
    assert "unknown entities: no_such_entity" in capsys.readouterr().err
    assert scaffold.main(["zones", "--stdout"]) == 0
    assert "stg_servicetitan__zones" in capsys.readouterr().out
