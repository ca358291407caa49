"""`servicetitan-pipeline sync` end to end: a real sync + dbt build, and no secret anywhere."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.e2e


def _files_containing(root: Path, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def _duckdb_values_containing(database: Path, needle: str) -> list[str]:
    """Every table and column of the warehouse whose text contains ``needle``."""
    hits = []
    with duckdb.connect(str(database), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
        for schema, table in tables:
            columns = [
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ?",
                    [schema, table],
                ).fetchall()
            ]
            for column in columns:
                found = con.execute(
                    f'select count(*) from "{schema}"."{table}" '
                    f'where cast("{column}" as varchar) like ?',
                    [f"%{needle}%"],
                ).fetchall()[0][0]
                if found:
                    hits.append(f"{schema}.{table}.{column}")
    return hits


INVOICE_ENTITIES = "business_units,customers,locations,jobs,invoices,invoice_items,payments"


def test_sync_builds_the_warehouse_and_leaks_no_secret(
    simulator_env, tmp_path, run_cli, canary_secret
):
    sim, env = simulator_env
    # The entities the invoice marts read, and the dbt models downstream of them: a whole
    # sync of every entity is the demo's and test_sync_selection's.
    result = run_cli("sync", "--select", INVOICE_ENTITIES, env=env, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output

    database = Path(env["SERVICETITAN_DUCKDB_PATH"])
    with duckdb.connect(str(database), read_only=True) as con:
        customers = con.execute("select count(*) from raw_servicetitan.customers").fetchall()[0][0]
        invoices = con.execute("select count(*) from main.fct_invoices").fetchall()[0][0]
    assert customers == len(sim.truth("customers"))
    assert invoices == len(sim.truth("invoices"))
    assert "customers" in output

    # The secret and the app key: nowhere in what the user saw, in Dagster's storage (event
    # log, run storage, compute logs) or in the warehouse.
    for secret in (canary_secret, sim.config.app_key):
        assert secret not in output
        assert _files_containing(Path(env["DAGSTER_HOME"]), secret.encode()) == []
        assert _files_containing(tmp_path, secret.encode()) == []
        assert _duckdb_values_containing(database, secret) == []


def test_sync_fails_with_one_line_per_failed_asset_and_no_secret(
    simulator_env, tmp_path, run_cli, canary_secret
):
    _sim, env = simulator_env
    env["SERVICETITAN_CLIENT_SECRET"] = canary_secret + "-wrong"
    result = run_cli("sync", "--select", "customers,jobs", "--no-dbt", env=env, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    failed_lines = [line for line in output.splitlines() if "rejected the client" in line]
    assert any("customers" in line for line in failed_lines), output
    assert any("jobs" in line for line in failed_lines), output
    assert canary_secret not in output
    # The log the failure points to tells the story (dbt never ran, so none of it is dbt's).
    (log_line,) = [line for line in output.splitlines() if "full output:" in line]
    log = Path(log_line.split("full output:", 1)[1].strip()).read_text()
    assert "rejected the client" in log and "customers: " in log, log
    assert canary_secret not in log


def test_sync_rejects_an_unknown_entity_by_name(simulator_env, tmp_path, run_cli):
    _, env = simulator_env
    result = run_cli("sync", "--select", "customers,widgets", env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert "widgets" in result.stderr and "known entities" in result.stderr


def test_sync_reads_settings_from_a_dotenv_file(simulator_env, tmp_path, run_cli):
    _sim, env = simulator_env
    dotenv = tmp_path / "project"
    dotenv.mkdir()
    secret = env.pop("SERVICETITAN_CLIENT_SECRET")
    (dotenv / ".env").write_text(f"SERVICETITAN_CLIENT_SECRET={secret}\n")
    result = run_cli("sync", "--select", "business_units", "--no-dbt", env=env, cwd=dotenv)
    assert result.returncode == 0, result.stdout + result.stderr
    assert secret not in result.stdout + result.stderr


# --- hardening of the settings (issue #10) -----------------------------------------------------


def test_a_planted_dotenv_cannot_send_the_environments_credentials_elsewhere(
    simulator_env, tmp_path, run_cli, canary_secret
):
    """Case 1: credentials in the environment, a .env pointing the URLs at another host."""
    import socket

    _sim, env = simulator_env
    del env["SERVICETITAN_API_BASE_URL"], env["SERVICETITAN_AUTH_URL"]
    with socket.create_server(("127.0.0.1", 0)) as trap:
        trap.settimeout(0.2)
        elsewhere = f"http://127.0.0.1:{trap.getsockname()[1]}"
        (tmp_path / ".env").write_text(
            f"SERVICETITAN_API_BASE_URL={elsewhere}\n"
            f"SERVICETITAN_AUTH_URL={elsewhere}/connect/token\n"
        )
        result = run_cli("sync", "--no-dbt", env=env, cwd=tmp_path, timeout=60)
        with pytest.raises(TimeoutError):
            trap.accept()  # nobody ever connected to the planted host
    assert result.returncode == 2, result.stdout + result.stderr
    assert "a settings file may not send credentials" in result.stderr
    assert canary_secret not in result.stdout + result.stderr


def test_a_line_break_in_the_app_key_is_named_and_stored_nowhere(simulator_env, tmp_path, run_cli):
    """Case 2: the app key is refused when read; it reaches no output, log or Dagster storage."""
    sim, env = simulator_env
    env["SERVICETITAN_APP_KEY"] = sim.config.app_key + "\r\nX-Injected: evil"
    result = run_cli("sync", "--no-dbt", env=env, cwd=tmp_path, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "SERVICETITAN_APP_KEY / app_key contains" in result.stderr
    assert sim.config.app_key not in output and "X-Injected" not in output
    assert _files_containing(tmp_path, sim.config.app_key.encode()) == []


def test_a_bad_setting_is_one_line_before_dagster_starts(simulator_env, tmp_path, run_cli):
    """Case 17: not Dagster's "Initialization of resources failed", nor a config traceback."""
    _sim, env = simulator_env
    env["SERVICETITAN_TENANT_ID"] = "acme"
    result = run_cli("sync", "--no-dbt", env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (
        "servicetitan-pipeline sync: SERVICETITAN_TENANT_ID / tenant_id must be a positive "
        "integer, got 'acme'"
    )
    assert result.stdout == ""
    # No run was started: nothing in Dagster's storage, no run log.
    assert list(Path(env["DAGSTER_HOME"]).iterdir()) == []
    assert not (Path(env["SERVICETITAN_DUCKDB_PATH"]).parent / "logs").exists()

    del env["SERVICETITAN_CLIENT_SECRET"]
    result = run_cli("sync", "--no-dbt", env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert "missing ServiceTitan settings: SERVICETITAN_CLIENT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr and "DagsterInvalidConfigError" not in result.stderr


def test_the_warehouse_logs_and_dagster_storage_are_owner_only(simulator_env, tmp_path):
    """Case 4: under the usual umask 022, what a sync creates is still 0600 / 0700."""
    import os
    import stat
    import subprocess
    import sys

    _sim, env = simulator_env
    env["DAGSTER_HOME"] = str(tmp_path / "new_dagster_home")  # created by the sync itself
    cli = str(Path(sys.executable).parent / "servicetitan-pipeline")
    result = subprocess.run(
        [cli, "sync", "--select", "business_units", "--no-dbt"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert result.returncode == 0, result.stdout + result.stderr

    database = Path(env["SERVICETITAN_DUCKDB_PATH"])
    created = [database.parent / "logs", Path(env["DAGSTER_HOME"])]
    created += [p for root in created for p in root.rglob("*")]
    created += [p for p in database.parent.glob(database.name + "*")]
    assert database in created and any(p.suffix == ".log" for p in created)
    loose = {
        str(p): oct(stat.S_IMODE(p.stat().st_mode))
        for p in created
        if stat.S_IMODE(p.stat().st_mode) & 0o077
    }
    assert loose == {}, loose
