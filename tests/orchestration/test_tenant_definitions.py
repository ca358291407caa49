"""The code location with a connections file: a partition per tenant, the schedule's one run
over all of them, a bad file failing the load with its message, and no secret in what
Dagster stores or shows.

The definitions read the connections file when they load, so the code location is loaded in
a fresh interpreter with ``SERVICETITAN_CONNECTIONS_FILE`` set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from servicetitan_pipeline.simulator.reporting import DEMO_REPORTS_FILE

SECRET = "cs1.tenant-definitions-SECRET-81c4"
APP_KEY = "ak1.tenant-definitions-APPKEY-2b9e"

CONNECTIONS = """
[defaults]
environment = "integration"
app_key_env = "GROUP_APP_KEY"

[[connections]]
name = "Acme HVAC"
tenant_id = 1234567
client_id_env = "ACME_CLIENT_ID"
client_secret_env = "ACME_CLIENT_SECRET"

[[connections]]
name = "Bolt Plumbing"
tenant_id = 7654321
client_id_env = "BOLT_CLIENT_ID"
client_secret_env = "BOLT_CLIENT_SECRET"
"""

PROBE = """
import json
import dagster as dg
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value
from servicetitan_pipeline.defs.definitions import defs
from servicetitan_pipeline.defs.jobs import SYNC_JOB_NAME, SYNC_SCHEDULE_NAME

graph = defs.resolve_asset_graph()
partitioned = {}
for key in graph.materializable_asset_keys:
    node = graph.get(key)
    if node.partitions_def is not None:
        partitioned["/".join(key.path)] = {
            "keys": node.partitions_def.get_partition_keys(),
            "single_run": node.backfill_policy is not None
            and node.backfill_policy.max_partitions_per_run is None,
        }
unpartitioned = [
    "/".join(k.path) for k in graph.materializable_asset_keys if graph.get(k).partitions_def is None
]
with dg.instance_for_test() as instance:
    context = dg.build_schedule_context(
        instance=instance, repository_def=defs.get_repository_def()
    )
    tick = defs.resolve_schedule_def(SYNC_SCHEDULE_NAME).evaluate_tick(context)
requests = [
    {"tags": dict(r.tags), "partition_key": r.partition_key, "job": r.job_name}
    for r in tick.run_requests or []
]
repository = defs.get_repository_def()
snap = serialize_value(RepositorySnap.from_def(repository))
resource = defs.resources["servicetitan"]
print(json.dumps({
    "partitioned": partitioned,
    "unpartitioned": unpartitioned,
    "requests": requests,
    "job_partitions": defs.resolve_job_def(SYNC_JOB_NAME).partitions_def.get_partition_keys(),
    "snapshot": snap,
    "resource_config": json.dumps(resource.model_dump(), default=str),
}))
"""


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICETITAN_")}
    env.update(
        {
            "SERVICETITAN_DUCKDB_PATH": str(tmp_path / "w.duckdb"),
            "SERVICETITAN_REPORTS_FILE": str(DEMO_REPORTS_FILE),
            "GROUP_APP_KEY": APP_KEY,
            "ACME_CLIENT_ID": "cid.acme",
            "ACME_CLIENT_SECRET": SECRET,
            "BOLT_CLIENT_ID": "cid.bolt",
            "BOLT_CLIENT_SECRET": SECRET + "-bolt",
        }
    )
    env.update(extra)
    return env


def _load(tmp_path: Path, text: str, script: str = PROBE) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "servicetitan_connections.toml"
    path.write_text(text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-c", script],
        env=_environment(tmp_path, SERVICETITAN_CONNECTIONS_FILE=str(path)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("tenants")
    result = _load(tmp_path, CONNECTIONS)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_ingestion_and_report_asset_has_a_partition_per_tenant(probe):
    partitioned = probe["partitioned"]
    ingestion = [k for k in partitioned if not k.split("/")[-1].startswith("report_")]
    reports = [k for k in partitioned if k.split("/")[-1].startswith("report_")]
    assert len(ingestion) > 10 and reports
    for key, info in partitioned.items():
        assert info["keys"] == ["Acme HVAC", "Bolt Plumbing"], key
        # A backfill of every tenant is one run.
        assert info["single_run"], key
    # dbt runs once after the tenants, unpartitioned.
    assert any(k.startswith("main/") or "stg_" in k for k in probe["unpartitioned"])
    assert not any(k.startswith("servicetitan/") for k in probe["unpartitioned"])
    assert probe["job_partitions"] == ["Acme HVAC", "Bolt Plumbing"]


def test_the_schedule_requests_one_run_over_every_tenant(probe):
    (request,) = probe["requests"]
    assert request["partition_key"] is None
    assert request["tags"]["dagster/asset_partition_range_start"] == "Acme HVAC"
    assert request["tags"]["dagster/asset_partition_range_end"] == "Bolt Plumbing"


def test_only_variable_names_reach_the_definitions(probe):
    shown = probe["snapshot"] + probe["resource_config"]
    for name in ("ACME_CLIENT_SECRET", "BOLT_CLIENT_ID", "GROUP_APP_KEY"):
        assert name in probe["resource_config"]
    for value in (SECRET, APP_KEY, "cid.acme"):
        assert value not in shown


def test_a_bad_connections_file_fails_the_load_with_its_message(tmp_path):
    bad = CONNECTIONS.replace(
        'client_secret_env = "BOLT_CLIENT_SECRET"', f'client_secret_env = "{SECRET}"'
    )
    result = _load(tmp_path, bad, "import servicetitan_pipeline.defs.definitions")
    assert result.returncode != 0
    assert "ConnectionsFileError" in result.stderr
    assert "connection 'Bolt Plumbing': 'client_secret_env' must be the name" in result.stderr
    assert SECRET not in result.stderr + result.stdout
