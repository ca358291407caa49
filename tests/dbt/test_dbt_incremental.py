"""The incremental facts after changes at the source equal a full refresh, row for row.

One scenario, built once for the module (the builds are CPU heavy): a small simulated tenant is
synced and built; its clock moves two days (updates, deactivations, customer merges, new
records), it is synced again and built incrementally; a copy of that warehouse is then built
with ``dbt build --full-refresh``. Every mart and report of the incremental warehouse must hold
exactly the rows of the full refresh (EXCEPT ALL both ways, every column), and the facts must
really have been built incrementally, from a part of their rows.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource
from dbt_test_helpers import run_dbt

from servicetitan_pipeline.defs import ingestion
from servicetitan_pipeline.defs.resources import ServiceTitanResource
from servicetitan_pipeline.entities import ENTITIES
from servicetitan_pipeline.simulator import Simulator, SimulatorConfig, start_simulator

# Three dbt runs of every model: well over the suite's default per-test timeout on a busy machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

# Each incremental fact, the raw table of the record its rows come from, and the key of that
# record in the fact (the raw table's `id`).
INCREMENTAL_FACTS = {
    "fct_appointments": ("appointments", "appointment_id"),
    "fct_calls": ("calls", "call_id"),
    "fct_estimate_items": ("estimates", "estimate_id"),
    "fct_estimates": ("estimates", "estimate_id"),
    "fct_invoice_items": ("invoice_items", "invoice_item_id"),
    "fct_invoices": ("invoices", "invoice_id"),
    "fct_job_splits": ("job_splits", "job_split_id"),
    "fct_job_timesheets": ("job_timesheets", "job_timesheet_id"),
    "fct_jobs": ("jobs", "job_id"),
    "fct_payment_applications": ("payments", "payment_id"),
    "fct_payments": ("payments", "payment_id"),
}
# Marks the stored rows before the incremental build: a row the build rewrites gets its raw
# record's `_loaded_at` again, a row it leaves alone keeps the mark (no model reads a fact's
# `loaded_at`, and the watermark is not taken from it).
MARK = "interval 1 microsecond"
AS_OF = "{ar_as_of_date: '2026-06-01', estimate_as_of_date: '2026-06-01'}"


@dataclass(frozen=True)
class Scenario:
    incremental: Path
    full_refresh: Path
    changes: dict[str, int]
    # per fact: (rows rewritten by the incremental build, rows it left alone, rows in all)
    rebuilt: dict[str, tuple[int, int, int]]


def _sync(sim: Simulator, database: Path) -> None:
    resource = ServiceTitanResource(
        name="dbt-incremental",
        environment="integration",
        tenant_id=str(sim.config.tenant_id),
        client_id=sim.config.client_id,
        client_secret=sim.config.client_secret,
        app_key=sim.config.app_key,
        api_base_url=sim.base_url,
        auth_url=sim.auth_url,
    )
    result = dg.materialize(
        ingestion.build_ingestion_assets(),
        resources={"servicetitan": resource, "duckdb": DuckDBResource(database=str(database))},
        run_config=ingestion.ingestion_run_config([e.name for e in ENTITIES]),
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success


def _dbt(command: str, database: Path, target: Path, *extra: str) -> None:
    result = run_dbt([command, "--vars", AS_OF, *extra], database=database, target_path=target)
    assert result.returncode == 0, result.output
    assert "ERROR=0" in result.output, result.output


def _same_record_loaded_at(fact: str) -> str:
    raw_table, key = INCREMENTAL_FACTS[fact]
    return (
        f"from raw_servicetitan.{raw_table} as raw where raw._tenant_id = fact.tenant_id "
        f"and raw.id = fact.{key}"
    )


def _mark_stored_rows(database: Path) -> None:
    with duckdb.connect(str(database)) as con:
        for fact in INCREMENTAL_FACTS:
            con.execute(f"update main.{fact} set loaded_at = loaded_at + {MARK}")


def _count_and_unmark(database: Path) -> dict[str, tuple[int, int, int]]:
    """Per fact: rows rewritten, rows left alone (marked), rows; then the marks removed."""
    counts: dict[str, tuple[int, int, int]] = {}
    with duckdb.connect(str(database)) as con:
        for fact in INCREMENTAL_FACTS:
            same = _same_record_loaded_at(fact)
            row = con.execute(
                f"select count(*) filter (where exists (select 1 {same} "
                f"and raw._loaded_at = fact.loaded_at)), "
                f"count(*) filter (where exists (select 1 {same} "
                f"and raw._loaded_at + {MARK} = fact.loaded_at)), "
                f"count(*) from main.{fact} as fact"
            ).fetchone()
            assert row is not None
            rewritten, left, total = row
            counts[fact] = (rewritten, left, total)
            con.execute(
                f"update main.{fact} as fact set loaded_at = loaded_at - {MARK} "
                f"where exists (select 1 {same} and raw._loaded_at + {MARK} = fact.loaded_at)"
            )
    return counts


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Synced and built, changed at the source, synced and built incrementally (its stored
    rows marked first, to count what the build rewrote), and a full-refresh copy of it."""
    root = tmp_path_factory.mktemp("dbt_incremental")
    database = root / "incremental.duckdb"
    with start_simulator(SimulatorConfig(customers=120, seed=14)) as sim:
        sim.advance(hours=24)
        _sync(sim, database)
        _dbt("run", database, root / "target_first")
        changes = _advance_until_every_kind_of_change(sim)
        _sync(sim, database)
    _mark_stored_rows(database)
    # Models only (no dbt tests): a result equal to the full refresh passes the same tests.
    _dbt("run", database, root / "target_incremental")
    rebuilt = _count_and_unmark(database)
    full_refresh = root / "full_refresh.duckdb"
    shutil.copyfile(database, full_refresh)
    _dbt("run", full_refresh, root / "target_full", "--full-refresh")
    return Scenario(database, full_refresh, changes, rebuilt)


def _advance_until_every_kind_of_change(sim: Simulator) -> dict[str, int]:
    """Move the clock a day at a time (at most ten) until it has made at least one customer
    merge and one deactivation: the totals of the days (created, updated, deactivated, merged,
    and per entity ``<entity>.created`` / ``<entity>.updated``)."""
    totals: dict[str, int] = {}
    for _ in range(10):
        summary = sim.advance(hours=24)
        for kind in ("created", "updated", "deactivated", "merged"):
            totals[kind] = totals.get(kind, 0) + int(summary[kind])
        for entity, counts in summary["entities"].items():
            for kind in ("created", "updated"):
                key = f"{entity}.{kind}"
                totals[key] = (
                    totals.get(key, 0) + counts["created" if kind == "created" else "updated"]
                )
        if totals["merged"] and totals["deactivated"]:
            break
    return totals


def _marts_and_reports(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_name from duckdb_tables() where database_name = 'incremental' "
        "and schema_name = 'main' order by table_name"
    ).fetchall()
    return [name for (name,) in rows]


def test_source_changes_reach_the_incremental_build(scenario: Scenario) -> None:
    """The second sync brought changes of every kind the facts must follow."""
    changes = scenario.changes
    assert changes["merged"] >= 1, changes
    assert changes["deactivated"] >= 1, changes
    for entity in ("invoices", "jobs", "payments", "appointments", "calls"):
        assert changes[f"{entity}.created"] >= 1, (entity, changes)
    # payments and calls are not modified once made; invoices (adjusted, paid, voided) and
    # customers (merged, deactivated) are
    for entity in ("invoices", "customers"):
        assert changes[f"{entity}.updated"] >= 1, (entity, changes)


def test_facts_are_built_incrementally(scenario: Scenario) -> None:
    """The incremental build rewrote a part of each fact's rows and left the others alone."""
    for fact, (rewritten, left, total) in scenario.rebuilt.items():
        assert rewritten + left == total, (fact, scenario.rebuilt[fact])
        assert left > rewritten, (fact, scenario.rebuilt[fact])
    for fact in ("fct_invoices", "fct_invoice_items", "fct_jobs", "fct_payments", "fct_calls"):
        assert scenario.rebuilt[fact][0] > 0, (fact, scenario.rebuilt[fact])


def test_every_mart_and_report_equals_a_full_refresh(scenario: Scenario) -> None:
    """Row for row, every column, both ways: nothing missing, nothing extra, nothing stale."""
    with duckdb.connect() as con:
        con.execute(f"attach '{scenario.incremental}' as incremental (read_only)")
        con.execute(f"attach '{scenario.full_refresh}' as full_refresh (read_only)")
        tables = _marts_and_reports(con)
        assert set(INCREMENTAL_FACTS) <= set(tables)
        differences = {}
        for table in tables:
            for left, right in (("incremental", "full_refresh"), ("full_refresh", "incremental")):
                row = con.execute(
                    f"select count(*) from (select * from {left}.main.{table} "
                    f"except all select * from {right}.main.{table})"
                ).fetchone()
                count = row[0] if row else -1
                if count:
                    differences[f"{table}: {left} minus {right}"] = count
        assert differences == {}
