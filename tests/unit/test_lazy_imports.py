"""A sync that builds no dbt model does not import dbt (seconds of start-up: bench/README.md).

Each case runs in a fresh interpreter, as the CLI does, and reports which dbt modules ended up
in ``sys.modules``; the code location itself (the definitions, dbt layer included) is the
control: the same probe finds dbt there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Top-level packages of dbt-core and dagster-dbt.
DBT_PACKAGES = ("dbt", "dbt_common", "dagster_dbt")

_PROBE = """
import json, sys
{code}
dbt = sorted(m for m in sys.modules if m.split(".")[0] in {packages!r})
print("\\nPROBE " + json.dumps({{"result": result, "dbt": dbt}}))
"""


def _probe(code: str, env: dict[str, str], cwd: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(code=code, packages=DBT_PACKAGES)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    assert done.returncode == 0 and lines, done.stdout + done.stderr
    return json.loads(lines[-1].removeprefix("PROBE "))


@pytest.fixture(scope="module")
def simulator_env(tmp_path_factory):
    from servicetitan_pipeline.simulator import SimulatorConfig, start_simulator

    work = tmp_path_factory.mktemp("lazy")
    with start_simulator(SimulatorConfig(customers=10, seed=5)) as sim:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICETITAN_")}
        env.pop("DAGSTER_HOME", None)
        env.update(
            SERVICETITAN_CONNECTION_NAME="lazy",
            SERVICETITAN_ENVIRONMENT="integration",
            SERVICETITAN_TENANT_ID=str(sim.config.tenant_id),
            SERVICETITAN_CLIENT_ID=sim.config.client_id,
            SERVICETITAN_CLIENT_SECRET=sim.config.client_secret,
            SERVICETITAN_APP_KEY=sim.config.app_key,
            SERVICETITAN_API_BASE_URL=sim.base_url,
            SERVICETITAN_AUTH_URL=sim.auth_url,
            SERVICETITAN_DUCKDB_PATH=str(work / "warehouse.duckdb"),
        )
        yield env, work


@pytest.mark.integration
def test_a_sync_without_dbt_does_not_import_dbt(simulator_env):
    env, work = simulator_env
    probe = _probe(
        "from servicetitan_pipeline.cli import main\n"
        "result = main(['sync', '--select', 'business_units', '--no-dbt'])",
        env,
        work,
    )
    assert probe["result"] == 0
    assert probe["dbt"] == []
    with __import__("duckdb").connect(str(work / "warehouse.duckdb"), read_only=True) as con:
        [(rows,)] = con.execute("select count(*) from raw_servicetitan.business_units").fetchall()
    assert rows > 0  # it did sync


@pytest.mark.integration
def test_the_code_location_loads_dbt(simulator_env):
    env, work = simulator_env
    probe = _probe(
        "from servicetitan_pipeline.defs.definitions import defs\n"
        "result = len(list(defs.assets or []))",
        env,
        work,
    )
    assert "dagster_dbt" in probe["dbt"]
