"""Helpers of the DuckLake tests: a lake's contents compared with a simulator's truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import duckdb
from ingestion_helpers import _ts, record_key, truth_by_key
from postgres_server import lake_environment
from tenants_helpers import connections, environment

from servicetitan_pipeline.entities import get_entity
from servicetitan_pipeline.warehouse.lake import LakeSettings, connect_lake
from servicetitan_pipeline.warehouse.schema import RecordFields, stored_key_columns


def assert_lake_equals_truth(sim, lake: LakeSettings, entities: Sequence[str]) -> dict[str, int]:
    """Every raw table of the lake holds exactly ``sim``'s current records for its tenant
    (keys, whole payloads, typed columns as the payload says), as
    ``ingestion_helpers.assert_equals_truth`` checks a file. Returns rows per entity."""
    tenant = sim.config.tenant_id
    counts = {}
    with connect_lake(lake, read_only=True) as conn:
        for name in entities:
            fields = RecordFields.of(get_entity(name))
            truth = truth_by_key(sim, name)
            rows = conn.execute(
                f"SELECT {', '.join(fields.key_columns)}, modified_on, active, payload "
                f"FROM raw_servicetitan.{name} WHERE _tenant_id = ?",
                [tenant],
            ).fetchall()
            stored = {}
            for row in rows:
                key, (modified_on, active, payload) = tuple(row[:-3]), row[-3:]
                record = json.loads(payload)
                assert key == record_key(name, record), (name, key)
                modified = record.get(fields.modified) if fields.modified else None
                assert modified_on == _ts(modified), (name, key)
                assert active is (record.get(fields.active) if fields.active else None), (name, key)
                stored[key] = record
            assert len(rows) == len(stored), f"{name}: duplicated keys"
            assert stored.keys() == truth.keys(), (name, len(stored), len(truth))
            different = [k for k in truth if truth[k] != stored[k]]
            assert not different, (name, len(different))
            counts[name] = len(rows)
    return counts


def duplicated_keys(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per raw table of the lake, how many rows repeat a (tenant, key): 0 everywhere when
    nothing was doubled."""
    tables = [
        t
        for (t,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "'raw_servicetitan' AND table_type = 'BASE TABLE' AND NOT starts_with(table_name, '_')"
        ).fetchall()
    ]
    found = {}
    for t in tables:
        key = ", ".join(("_tenant_id", *stored_key_columns(conn, t)))
        (dups,) = conn.execute(
            f"SELECT count(*) - count(DISTINCT ({key})) FROM raw_servicetitan.{t}"
        ).fetchall()[0]
        found[t] = int(dups)
    return found


CLI = str(Path(sys.executable).parent / "servicetitan-pipeline")
# The entities the CLI tests sync: an export entity with references, and a list.
FEW = "business_units,customers,jobs,invoices"


def cli_environment(tenants, lake: LakeSettings, tmp_path: Path) -> dict[str, str]:
    """The environment of a ``servicetitan-pipeline`` process syncing ``tenants`` (the
    ingestion helpers' ``SimTenant``) into ``lake``: a connections file naming the variables
    that hold the credentials, the lake's settings, its own Dagster home."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SERVICETITAN_") and k != "DAGSTER_HOME"
    }
    lines: list[str] = []
    for t, connection in zip(tenants, connections(tenants), strict=True):
        lines += [
            "[[connections]]",
            f'name = "{t.name}"',
            'environment = "integration"',
            f"tenant_id = {t.tenant_id}",
            f'client_id_env = "{connection.client_id_env}"',
            f'client_secret_env = "{connection.client_secret_env}"',
            f'app_key_env = "{connection.app_key_env}"',
            f'api_base_url = "{t.api_base_url}"',
            f'auth_url = "{t.auth_url}"',
            "",
        ]
    (tmp_path / "connections.toml").write_text("\n".join(lines), encoding="utf-8")
    env.update(environment(tenants))
    env.update(lake_environment(lake))
    env.update(
        SERVICETITAN_CONNECTIONS_FILE=str(tmp_path / "connections.toml"),
        SERVICETITAN_DUCKDB_PATH=str(tmp_path / "logs-only" / "unused.duckdb"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="False",
    )
    return env


def start_sync(tenant: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """``servicetitan-pipeline sync --tenant <tenant>`` of :data:`FEW`, raw layer only, with
    the tenant's own Dagster home (as two workers of a deployment have their run storage
    made already: two processes creating one SQLite storage at once collide)."""
    home = cwd / f"dagster_home_{tenant}"
    home.mkdir(exist_ok=True)
    return subprocess.Popen(
        [CLI, "sync", "--tenant", tenant, "--select", FEW, "--no-dbt"],
        env={**env, "DAGSTER_HOME": str(home)},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def finished(process: subprocess.Popen[str], timeout: float = 240) -> str:
    """Wait for ``process``; its output, asserting it succeeded."""
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, out
    return out
