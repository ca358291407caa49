"""A tenant without the Payroll scope: the sync and `check` name the missing scope per entity,
everything else still syncs, and ``SERVICETITAN_ENTITIES=all,-payroll`` makes both pass."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from servicetitan_pipeline.config import select_entities
from servicetitan_pipeline.entities import ENTITIES, ENTITIES_BY_NAME

pytestmark = pytest.mark.e2e

PAYROLL = [e for e in ENTITIES if e.module == "payroll"]


@pytest.fixture(scope="module")
def payroll_denied():
    """A simulator whose app lacks every Payroll scope (module-wide: the tests only read it)."""
    from servicetitan_pipeline.simulator import SimulatorConfig, start_simulator

    config = SimulatorConfig(customers=80, seed=11, denied_modules=frozenset({"payroll"}))
    with start_simulator(config) as sim:
        yield sim


@pytest.fixture
def env(payroll_denied, tmp_path, clean_env):
    sim = payroll_denied
    (tmp_path / "dagster_home").mkdir()
    return clean_env(
        SERVICETITAN_CONNECTION_NAME="scopes",
        SERVICETITAN_ENVIRONMENT="integration",
        SERVICETITAN_TENANT_ID=str(sim.config.tenant_id),
        SERVICETITAN_CLIENT_ID=sim.config.client_id,
        SERVICETITAN_CLIENT_SECRET=sim.config.client_secret,
        SERVICETITAN_APP_KEY=sim.config.app_key,
        SERVICETITAN_API_BASE_URL=sim.base_url,
        SERVICETITAN_AUTH_URL=sim.auth_url,
        SERVICETITAN_DUCKDB_PATH=str(tmp_path / "warehouse.duckdb"),
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
    )


def entity_line(text: str, name: str) -> str:
    pattern = re.compile(rf"^ {{4}}{re.escape(name)} +(OK|FAILED|skipped) ")
    (line,) = [ln for ln in text.splitlines() if pattern.match(ln)]
    return line


def raw_ids(database: Path, entity: str) -> set[int] | None:
    """The ids in ``raw_servicetitan.<entity>``; None when the table does not exist."""
    with duckdb.connect(str(database), read_only=True) as con:
        tables = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'raw_servicetitan'"
            ).fetchall()
        }
        if entity not in tables:
            return None
        rows = con.execute(f"select id from raw_servicetitan.{entity}").fetchall()
        return {row[0] for row in rows}


def test_sync_fails_the_payroll_entity_with_its_scope_and_syncs_the_crm_one(
    payroll_denied, env, tmp_path, run_cli
):
    env["SERVICETITAN_ENTITIES"] = "customers,job_splits"
    result = run_cli("sync", "--no-dbt", env=env, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output

    (failure,) = [ln for ln in result.stdout.splitlines() if "job_splits" in ln and "403" in ln]
    job_splits = ENTITIES_BY_NAME["job_splits"]
    assert f"the app lacks the API scope '{job_splits.scope}'" in failure
    assert job_splits.export_path(payroll_denied.config.tenant_id) in failure
    assert "developer portal" in failure and "SERVICETITAN_ENTITIES=all,-payroll" in failure

    # the other entity of the run synced, exactly
    database = Path(env["SERVICETITAN_DUCKDB_PATH"])
    truth = {record["id"] for record in payroll_denied.truth("customers")}
    assert raw_ids(database, "customers") == truth
    assert not raw_ids(database, "job_splits")


def test_check_names_the_scope_of_every_payroll_entity_and_fails(env, tmp_path, run_cli):
    result = run_cli("check", env=env, cwd=tmp_path, timeout=120)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    for entity in PAYROLL:
        line = entity_line(out, entity.name)
        assert f"FAILED   HTTP 403: missing API scope '{entity.scope}'" in line
    others = [e for e in ENTITIES if e.module != "payroll"]
    for entity in others:
        assert " OK " in entity_line(out, entity.name)
    assert f"{len(PAYROLL)} of {len(ENTITIES)} entities FAILED" in out
    assert "or sync without those entities: SERVICETITAN_ENTITIES=all,-payroll" in out


def test_check_passes_without_payroll_and_says_it_was_skipped(env, tmp_path, run_cli):
    # in a .env, as a user would set it
    settings_file = tmp_path / ".env"
    settings_file.write_text("SERVICETITAN_ENTITIES=all,-payroll\n", encoding="utf-8")
    settings_file.chmod(0o600)
    result = run_cli("check", env=env, cwd=tmp_path, timeout=120)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    for entity in PAYROLL:
        assert entity_line(out, entity.name).endswith(
            "skipped  not selected by SERVICETITAN_ENTITIES"
        )
    selected = len(select_entities("all,-payroll").entities)
    assert (
        f"All {selected} entities OK; {len(PAYROLL)} skipped "
        "(not selected by SERVICETITAN_ENTITIES)." in out
    )
