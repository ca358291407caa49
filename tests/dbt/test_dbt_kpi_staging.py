"""The hand-written staging models of the KPI entities, on the fixture's real `dbt build`.

The records are in dbt_fixture_records.py (``kpi_tenant_records``): shaped like the official
schemas (checked here first, so a typo in a JSON path cannot hide behind the same typo in the
fixture), loaded into the raw layer next to the original entities' and built by the session's
one `dbt build` (conftest ``fixture_warehouse``). Each expected figure shows its arithmetic.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from dbt_fixture_records import (
    KPI_ENTITIES,
    OTHER_TENANT,
    TENANT,
    kpi_other_tenant_records,
    kpi_tenant_records,
)
from dbt_test_helpers import run_dbt

from servicetitan_pipeline import openapi
from servicetitan_pipeline.entities import get_entity

D = Decimal

# Every model this part of the project stages (entities, and the arrays unnested into rows).
KPI_MODELS = (
    *(f"stg_servicetitan__{name}" for name in KPI_ENTITIES),
    "stg_servicetitan__estimate_items",
    "stg_servicetitan__job_history_events",
)

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _shape_problems(spec: openapi.ModuleSpec, schema: Any, value: Any, where: str) -> list[str]:
    """Where ``value`` departs from ``schema``: missing or unknown properties, a wrong JSON
    type, a null the spec does not allow, a value outside an enum (nested objects and arrays
    included)."""
    nullable = bool(schema.get("nullable"))
    schema = spec.resolve(schema)
    nullable = nullable or bool(schema.get("nullable"))
    if value is None:
        return [] if nullable else [f"{where}: null, not nullable"]
    kind = schema.get("type", "object" if "properties" in schema else None)
    is_bool = isinstance(value, bool)
    if kind and (not isinstance(value, _JSON_TYPES[kind]) or (is_bool and kind != "boolean")):
        return [f"{where}: {type(value).__name__}, the spec says {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} is not one of {schema['enum']}"]
    problems = []
    if kind == "object":
        properties = schema.get("properties", {})
        if set(value) != set(properties):
            problems.append(f"{where}: keys {sorted(set(value) ^ set(properties))} differ")
        for name in set(value) & set(properties):
            problems += _shape_problems(spec, properties[name], value[name], f"{where}.{name}")
    elif kind == "array":
        for n, item in enumerate(value):
            problems += _shape_problems(spec, schema["items"], item, f"{where}[{n}]")
    return problems


def test_the_fixture_records_are_shaped_like_the_official_schemas():
    records = [kpi_tenant_records(), kpi_other_tenant_records()]
    problems = []
    for entity_name in KPI_ENTITIES:
        entity = get_entity(entity_name)
        spec = openapi.module(entity.module)
        rows = [row for tenant in records for row in tenant.get(entity_name, [])]
        assert rows, f"no fixture records for {entity_name}"
        for n, row in enumerate(rows):
            schema = spec.schema(entity.record_schema)
            problems += _shape_problems(spec, schema, row, f"{entity_name}[{n}]")
    assert problems == []


def test_the_shape_check_catches_a_misspelt_field():
    entity = get_entity("calls")
    spec = openapi.module(entity.module)
    [good, *_] = kpi_tenant_records()["calls"]
    bad = {**{k: v for k, v in good.items() if k != "duration"}, "durationSeconds": 245}
    bad["direction"] = "Sideways"
    problems = _shape_problems(spec, spec.schema(entity.record_schema), bad, "call")
    assert len(problems) == 2
    assert "durationSeconds" in problems[0] and "duration'" in problems[0]
    assert "Sideways" in problems[1]


def _spec_enums(spec: openapi.ModuleSpec, schema: Any, where: str) -> dict[str, tuple[str, ...]]:
    """Every enum field of ``schema`` (nested objects and arrays included), by its path."""
    schema = spec.resolve(schema)
    if "enum" in schema:
        return {where: tuple(schema["enum"])}
    found: dict[str, tuple[str, ...]] = {}
    for name, sub in schema.get("properties", {}).items():
        found |= _spec_enums(spec, sub, f"{where}.{name}")
    if schema.get("type") == "array":
        found |= _spec_enums(spec, schema["items"], f"{where}[]")
    return found


# The models each entity's fields land in: its own, and those of the arrays unnested into rows.
_MODELS_OF = {
    "estimates": ("stg_servicetitan__estimates", "stg_servicetitan__estimate_items"),
    "job_history": ("stg_servicetitan__job_history", "stg_servicetitan__job_history_events"),
}


def test_every_spec_enum_is_tested_with_exactly_the_specs_values(dbt_manifest):
    nodes = json.loads(dbt_manifest.read_text())["nodes"].values()
    tested: dict[str, list[tuple[str, ...]]] = {}
    for node in nodes:
        if node.get("test_metadata", {}).get("name") == "accepted_values":
            model = node["attached_node"].rsplit(".", 1)[-1]
            tested.setdefault(model, []).append(tuple(node["test_metadata"]["kwargs"]["values"]))
    untested = []
    for entity_name in KPI_ENTITIES:
        entity = get_entity(entity_name)
        spec = openapi.module(entity.module)
        models = _MODELS_OF.get(entity_name, (f"stg_servicetitan__{entity_name}",))
        available = [values for model in models for values in tested.get(model, [])]
        for field, values in _spec_enums(spec, spec.schema(entity.record_schema), "").items():
            # each enum field needs a test of its own (two fields with the same values, two tests)
            if values in available:
                available.remove(values)
            else:
                untested.append(f"{entity_name}{field}: {values}")
    assert untested == []


# ---- on the built warehouse ----


def query(warehouse, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse.database), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.mark.integration
def test_every_kpi_model_is_built_and_tested(fixture_warehouse):
    out = fixture_warehouse.build_output
    for model in KPI_MODELS:
        assert f"OK created sql view model staging.{model}" in out
        # its key test ran and passed
        assert f"PASS unique_combination_of_columns_{model}_" in out


@pytest.mark.integration
def test_every_column_is_read_from_a_real_value(fixture_warehouse):
    """Each fixture field the spec allows to be null is set on some record: a column that is
    null on every row reads a path that is not in the record."""
    always_null = {}
    with duckdb.connect(str(fixture_warehouse.database), read_only=True) as con:
        for model in KPI_MODELS:
            columns = [
                d[0] for d in con.execute(f"select * from staging.{model} limit 0").description
            ]
            counts = ", ".join(f'count("{c}")' for c in columns)
            [row] = con.execute(f"select {counts} from staging.{model}").fetchall()
            nulls = [c for c, n in zip(columns, row, strict=True) if n == 0]
            if nulls:
                always_null[model] = nulls
    assert always_null == {}


@pytest.mark.integration
def test_no_column_is_floating_point(fixture_warehouse):
    """Money, quantities, percentages and ratings are DECIMALs cast from the JSON text."""
    floating = query(
        fixture_warehouse,
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'staging' and data_type in ('DOUBLE', 'FLOAT', 'REAL') "
        f"and table_name in ({', '.join(repr(m) for m in KPI_MODELS)})",
    )
    assert floating == []


@pytest.mark.integration
def test_estimate_items_are_unnested_with_exact_money_adding_up_to_the_subtotal(
    fixture_warehouse,
):
    items = query(
        fixture_warehouse,
        "select estimate_id, item_index, estimate_item_id, job_id, customer_id, "
        "business_unit_id, quantity, unit_rate, total, is_estimate_active "
        "from staging.stg_servicetitan__estimate_items where tenant_id = ? "
        "order by estimate_id, item_index",
        [TENANT],
    )
    # 9003 has an empty `items`, 9004 a null one: no rows, no error
    assert [(r[0], r[1], r[2]) for r in items] == [
        (9001, 1, 1),
        (9001, 2, 2),
        (9001, 3, 3),
        (9002, 1, 4),
    ]
    # the estimate's keys travel with each item
    assert {r[3:6] for r in items} == {(101, 1, 10)}
    # qty 2 x 50.0000 = 100.00
    assert items[2][6:9] == (D("2.0000"), D("50.0000"), D("100.00"))
    reconciled = query(
        fixture_warehouse,
        "select estimates.estimate_id, estimates.subtotal, estimates.item_count, "
        "sum(items.total), count(items.item_index) "
        "from staging.stg_servicetitan__estimates as estimates "
        "left join staging.stg_servicetitan__estimate_items as items "
        "on estimates.tenant_id = items.tenant_id and estimates.estimate_id = items.estimate_id "
        "where estimates.tenant_id = ? group by all order by 1",
        [TENANT],
    )
    assert reconciled == [
        # 0.1 + 0.2 + 100.0 = 100.30 exactly (0.30000000000000004 in floating point)
        (9001, D("100.30"), 3, D("100.30"), 3),
        (9002, D("1499.99"), 1, D("1499.99"), 1),
        (9003, D("0.00"), 0, None, 0),
        (9004, D("0.00"), 0, None, 0),
    ]
    # the other tenant's estimate 9001 is another estimate, with its own single item
    assert query(
        fixture_warehouse,
        "select estimate_item_id, total from staging.stg_servicetitan__estimate_items "
        "where tenant_id = ?",
        [OTHER_TENANT],
    ) == [(1, D("5.00"))]


@pytest.mark.integration
def test_estimates_sold_and_dismissed(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select estimate_id, estimate_status, estimate_status_value, sold_by_technician_id, "
        "sold_at, tax, is_active from staging.stg_servicetitan__estimates "
        "where tenant_id = ? order by estimate_id",
        [TENANT],
    )
    sold_at = datetime(2026, 1, 15, 15, 45, tzinfo=UTC)
    assert rows == [
        (9001, "Sold", 1, 100, sold_at, D("8.02"), True),
        (9002, "Dismissed", 2, None, None, D("0.00"), True),
        (9003, "Open", 0, None, None, D("0.00"), True),
        (9004, "Open", 0, None, None, D("0.00"), False),
    ]
    types = dict(
        query(
            fixture_warehouse,
            "select column_name, data_type from information_schema.columns "
            "where table_name = 'stg_servicetitan__estimates' "
            "and column_name in ('subtotal', 'tax', 'sold_at')",
        )
    )
    assert types == {
        "subtotal": "DECIMAL(18,2)",
        "tax": "DECIMAL(18,2)",
        "sold_at": "TIMESTAMP WITH TIME ZONE",
    }


@pytest.mark.integration
def test_calls_durations_in_seconds_and_references_flattened(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select call_id, duration_seconds, call_direction, call_type, job_id, campaign_id, "
        "customer_id, customer_name, lead_id from staging.stg_servicetitan__calls "
        "where tenant_id = ? order by call_id",
        [TENANT],
    )
    customer = "O'Brien 🔧 Heating & Air"
    assert rows == [
        # 4 min 5 s
        (7001, 245, "Inbound", "Booked", 101, 500, 1, customer, None),
        (7002, 30, "Outbound", None, None, None, 1, customer, None),
        # 12 min 34.4 s, to the nearest second
        (7003, 754, "Inbound", "Unbooked", None, 500, 1, customer, 6003),
        # 1 day 2 h 3 min 4 s = 86400 + 7200 + 180 + 4
        (7004, 93784, "Inbound", "Abandoned", None, 500, 1, customer, None),
    ]


@pytest.mark.integration
def test_a_malformed_call_duration_fails_loudly_naming_the_value(fixture_warehouse, tmp_path):
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(fixture_warehouse.database, database)
    with duckdb.connect(str(database)) as con:
        con.execute(
            """update raw_servicetitan.calls
               set payload = json_merge_patch(payload, '{"duration": "4 minutes"}')
               where _tenant_id = ? and id = 7001""",
            [TENANT],
        )
        with pytest.raises(
            duckdb.InvalidInputException,
            match=re.escape(
                "not a ServiceTitan duration ([d.]hh:mm:ss) in call 7001 of tenant 1000001: "
                "4 minutes"
            ),
        ):
            con.execute("select sum(duration_seconds) from staging.stg_servicetitan__calls")


@pytest.mark.integration
def test_job_splits_of_each_job_sum_to_exactly_100(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select job_id, sum(split_percent), count(*) from staging.stg_servicetitan__job_splits "
        "where tenant_id = ? and is_active group by job_id order by job_id",
        [TENANT],
    )
    # 60 + 40; 100 (the inactive 50 of job 102 does not count); 66.67 + 33.33
    assert rows == [(101, D("100"), 2), (102, D("100"), 1), (105, D("100"), 2)]


@pytest.mark.integration
def test_job_history_events_one_row_per_entry(fixture_warehouse):
    events = query(
        fixture_warehouse,
        "select tenant_id, job_id, count(*), min(event_at), max(event_at) "
        "from staging.stg_servicetitan__job_history_events group by all order by all",
    )
    assert events == [
        (
            TENANT,
            101,
            4,
            datetime(2026, 1, 2, 9, tzinfo=UTC),
            datetime(2026, 1, 16, 1, 30, tzinfo=UTC),
        ),
        (
            TENANT,
            103,
            2,
            datetime(2026, 1, 2, 9, tzinfo=UTC),
            datetime(2026, 1, 15, 12, tzinfo=UTC),
        ),
        (
            OTHER_TENANT,
            101,
            1,
            datetime(2026, 1, 2, 9, tzinfo=UTC),
            datetime(2026, 1, 2, 9, tzinfo=UTC),
        ),
    ]
    # the history's order is kept (entry 2 was sent third), and a system event has no employee
    assert query(
        fixture_warehouse,
        "select event_index, job_history_event_id, event_type, employee_id "
        "from staging.stg_servicetitan__job_history_events "
        "where tenant_id = ? and job_id = 101 order by event_index",
        [TENANT],
    ) == [
        (1, 1, "Job Booked", 30),
        (2, 3, "Technician Arrived", 100),
        (3, 2, "Technician Dispatched", None),
        (4, 4, "Job Completed", 100),
    ]
    # one row per job, its counts agreeing with the events; an empty history is 0 events
    jobs = query(
        fixture_warehouse,
        "select job_id, event_count, first_event_at, last_event_at "
        "from staging.stg_servicetitan__job_history where tenant_id = ? order by job_id",
        [TENANT],
    )
    assert [(j[0], j[1]) for j in jobs] == [(101, 4), (103, 2), (104, 0)]
    assert jobs[0][2:] == events[0][3:]
    assert jobs[2][2:] == (None, None)


@pytest.mark.integration
def test_technician_ratings_are_keyed_by_job_and_technician(fixture_warehouse):
    assert query(
        fixture_warehouse,
        "select tenant_id, job_id, technician_id, rating "
        "from staging.stg_servicetitan__technician_ratings order by all",
    ) == [
        (TENANT, 101, 100, D("9.000000")),
        (TENANT, 101, 200, D("7.500000")),
        (TENANT, 102, 200, D("10.000000")),
        (OTHER_TENANT, 101, 100, D("3.000000")),
    ]


@pytest.mark.integration
def test_memberships_terms_renewals_and_status_changes(fixture_warehouse):
    rows = query(
        fixture_warehouse,
        "select membership_id, membership_status, start_date, end_date, cancellation_date, "
        "renewed_by_membership_id, duration_months, initial_deferred_revenue, "
        "json_array_length(custom_fields) "
        "from staging.stg_servicetitan__memberships where tenant_id = ? order by membership_id",
        [TENANT],
    )
    deferred = D("199.99")
    assert rows == [
        (8001, "Active", date(2025, 6, 1), date(2026, 5, 31), None, None, 12, deferred, 1),
        (8002, "Expired", date(2024, 3, 1), date(2025, 2, 28), None, 8003, 12, deferred, 1),
        (
            8003,
            "Canceled",
            date(2025, 3, 1),
            date(2026, 2, 28),
            date(2025, 10, 15),
            None,
            12,
            deferred,
            1,
        ),
    ]
    # 8003's changes chain: Active -> Suspended -> Canceled
    assert query(
        fixture_warehouse,
        "select old_status, new_status from staging.stg_servicetitan__membership_status_changes "
        "where tenant_id = ? and membership_id = 8003 order by created_at",
        [TENANT],
    ) == [("Active", "Suspended"), ("Suspended", "Canceled")]


@pytest.mark.integration
def test_campaign_costs_by_month(fixture_warehouse):
    assert query(
        fixture_warehouse,
        "select campaign_id, cost_year, cost_month, month_start_date, daily_cost "
        "from staging.stg_servicetitan__campaign_costs where tenant_id = ? order by all",
        [TENANT],
    ) == [
        (500, 2026, 1, date(2026, 1, 1), D("12.50")),
        (500, 2026, 2, date(2026, 2, 1), D("12.50")),
        (600, 2025, 12, date(2025, 12, 1), D("0.10")),
    ]


@pytest.mark.integration
def test_timesheets_and_assignments(fixture_warehouse):
    assert query(
        fixture_warehouse,
        "select job_timesheet_id, appointment_id, technician_id, "
        "date_diff('minute', arrived_at, done_at), canceled_at is not null "
        "from staging.stg_servicetitan__job_timesheets where tenant_id = ? order by 1",
        [TENANT],
    ) == [(1, 1010, 100, 125, False), (2, 1020, 200, 120, False), (3, 1030, 200, None, True)]
    assert query(
        fixture_warehouse,
        "select appointment_id, technician_id, technician_name, assignment_status, is_active "
        "from staging.stg_servicetitan__appointment_assignments where tenant_id = ? "
        "order by appointment_assignment_id",
        [TENANT],
    ) == [
        (1010, 100, "Ana Alvarez", "Done", True),
        (1010, 200, "Bob Brown", "Scheduled", False),
        (1020, 200, "Bob Brown", "Done", True),
        (1040, 100, "Ana Alvarez", "Scheduled", True),
    ]


@pytest.mark.integration
def test_leads_and_bookings(fixture_warehouse):
    assert query(
        fixture_warehouse,
        "select lead_id, lead_status, call_id, booking_id, dismissing_reason_id, tag_type_ids "
        "from staging.stg_servicetitan__leads where tenant_id = ? order by lead_id",
        [TENANT],
    ) == [
        (6001, "Converted", None, 5001, None, [1, 2]),
        (6002, "Dismissed", None, None, 77, [1, 2]),
        (6003, "Open", 7003, None, None, [1, 2]),
    ]
    assert query(
        fixture_warehouse,
        "select booking_id, booking_status, job_id, address_unit, starts_at "
        "from staging.stg_servicetitan__bookings where tenant_id = ? order by booking_id",
        [TENANT],
    ) == [
        (5001, "Converted", 104, None, datetime(2026, 1, 3, 15, tzinfo=UTC)),
        (5002, "Dismissed", None, None, datetime(2026, 1, 3, 15, tzinfo=UTC)),
        (5003, "New", None, "Suite 100", datetime(2026, 1, 3, 15, tzinfo=UTC)),
    ]


@pytest.mark.integration
def test_enum_tests_fail_on_values_outside_the_spec(fixture_warehouse, tmp_path):
    """The accepted-values tests are real tests: they fail on a value the spec does not list."""
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(fixture_warehouse.database, database)
    with duckdb.connect(str(database)) as con:
        # a call type the spec does not know
        con.execute(
            """update raw_servicetitan.calls
               set payload = json_merge_patch(payload, '{"type": "Spam"}')
               where _tenant_id = ? and id = 7002""",
            [TENANT],
        )
        # a history entry whose scheduling tool is not in the spec's enum
        con.execute(
            """update raw_servicetitan.job_history
               set payload = json_merge_patch(payload, '{"history": [
                   {"id": 9, "employeeId": null, "eventType": "Job Booked",
                    "date": "2026-01-02T09:00:00Z", "usedSchedulingTool": "Crystal ball"}]}')
               where _tenant_id = ? and id = 104""",
            [TENANT],
        )
    result = run_dbt(
        ["test", "--select", "stg_servicetitan__calls", "stg_servicetitan__job_history_events"],
        database=database,
        target_path=tmp_path / "target",
    )
    assert result.returncode != 0
    assert "FAIL 1 accepted_values_stg_servicetitan__calls_call_type" in result.output
    assert "FAIL 1 accepted_values_stg_servicetitan__job_history_events_used_scheduling_tool" in (
        result.output
    )
