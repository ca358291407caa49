"""The CLI with several tenants: `check` one block per tenant, `sync --tenant`."""

from __future__ import annotations

import pytest

from servicetitan_pipeline.entities import ENTITIES

pytestmark = pytest.mark.e2e

FEW = "business_units,customers,jobs,invoices"


def test_check_gives_one_block_per_tenant(two_tenants_env, tmp_path, run_cli, canary_secret):
    tenants, env = two_tenants_env
    result = run_cli("check", env=env, cwd=tmp_path, timeout=120)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    for position, (name, sim) in enumerate(tenants.items(), start=1):
        assert f"=== [{position}/2] connection {name!r} (tenant {sim.config.tenant_id}) ===" in out
    assert out.count(f"All {len(ENTITIES)} entities OK.") == 2
    assert "By tenant (2 of 2 OK):" in out
    assert canary_secret not in out + result.stderr


def test_a_tenant_with_a_missing_variable_fails_alone_and_by_name(
    two_tenants_env, tmp_path, run_cli
):
    _, env = two_tenants_env
    del env["E2E_TENANT_1_CLIENT_SECRET"]
    result = run_cli("check", "--select", "crm", env=env, cwd=tmp_path, timeout=120)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "connection 'north'" in out and "E2E_TENANT_1_CLIENT_SECRET" in out
    assert "is not set" in out
    # The other tenant was checked all the same.
    assert "  south  OK" in out and "  north  FAILED" in out
    assert "1 of 2 tenants FAILED: 'north'." in out


def test_check_one_tenant_by_name_and_an_unknown_name_lists_the_known(
    two_tenants_env, tmp_path, run_cli
):
    _, env = two_tenants_env
    result = run_cli("check", "--tenant", "south", "--select", "crm", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "south" in result.stdout and "north" not in result.stdout
    bad = run_cli("check", "--tenant", "east", env=env, cwd=tmp_path)
    assert bad.returncode == 2
    assert "--tenant: no connection named 'east'; known: 'north', 'south'" in bad.stderr


def test_check_with_the_demo_settings_file_checks_both_tenants(tmp_path, run_cli, clean_env):
    from servicetitan_pipeline.cli.simulated import DEMO_CONNECTION_NAMES, write_group_files
    from servicetitan_pipeline.simulator import demo_tenant_configs, start_tenants

    with start_tenants(demo_tenant_configs(2, customers=30)) as group:
        home = tmp_path / ".dagster_home"
        _, settings_file, _ = write_group_files(
            home, group, tmp_path / "dev.duckdb", DEMO_CONNECTION_NAMES, by="dev"
        )
        result = run_cli(
            "check",
            "--select",
            "crm",
            "--env-file",
            str(settings_file),
            env=clean_env(),
            cwd=tmp_path,
            timeout=120,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    for name, tenant_id in zip(DEMO_CONNECTION_NAMES, group.tenants, strict=True):
        assert f"connection {name!r} (tenant {tenant_id})" in result.stdout
    assert "By tenant (2 of 2 OK):" in result.stdout
    assert "SERVICETITAN_TENANT_2_CLIENT_SECRET" in result.stderr  # named as loaded, no value
    assert "cs1.demo-secret" not in result.stdout + result.stderr


def _tenant_counts(database, entity: str) -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        return dict(
            con.execute(
                f"select _connection, count(*) from raw_servicetitan.{entity} group by 1"
            ).fetchall()
        )


def test_a_refused_tenant_fails_alone_then_sync_tenant_catches_it_up(
    two_tenants_env, tmp_path, run_cli, canary_secret
):
    from pathlib import Path

    tenants, env = two_tenants_env
    database = Path(env["SERVICETITAN_DUCKDB_PATH"])
    sync = ("sync", "--select", FEW, "--no-dbt")

    # Every tenant in one run; north's secret is refused: north fails, named, south lands.
    refused = run_cli(
        *sync, env={**env, "E2E_TENANT_1_CLIENT_SECRET": canary_secret + "-wrong"}, cwd=tmp_path
    )
    out = refused.stdout + refused.stderr
    assert refused.returncode == 1, out
    assert "tenant north: FAILED, 0 entities synced" in out
    assert "tenant south: OK, 4 entities synced" in out
    assert "1 of 2 tenants FAILED: north; the others' data landed" in out
    assert canary_secret not in out
    assert _tenant_counts(database, "customers") == {
        "south": len(tenants["south"].truth("customers"))
    }

    # `--tenant north` syncs it alone; then both tenants are exact, their ids overlapping.
    north = run_cli(*sync, "--tenant", "north", env=env, cwd=tmp_path)
    assert north.returncode == 0, north.stdout + north.stderr
    assert "south" not in north.stdout
    for entity in FEW.split(","):
        assert _tenant_counts(database, entity) == {
            name: len(sim.truth(entity)) for name, sim in tenants.items()
        }, entity

    unknown = run_cli(*sync, "--tenant", "north,east", env=env, cwd=tmp_path)
    assert unknown.returncode == 2
    assert "--tenant: no connection named 'east'; known: 'north', 'south'" in unknown.stderr

    # Only variable names in what Dagster stored (runs, their config, the event log).
    for path in Path(env["DAGSTER_HOME"]).rglob("*"):
        if path.is_file():
            assert canary_secret.encode() not in path.read_bytes(), path
