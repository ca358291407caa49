"""End-to-end tests: the `servicetitan-pipeline` CLI in a subprocess, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "servicetitan-pipeline")

# A client secret no other test uses, so that finding it anywhere means it leaked.
LEAK_CANARY_SECRET = "cs1.e2e-Canary-7f3a9c1d5b"


def _clean_env(**overrides: str) -> dict[str, str]:
    """The environment of a CLI run: no inherited SERVICETITAN_* or DAGSTER_HOME settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SERVICETITAN_") and k != "DAGSTER_HOME"
    }
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "False"
    env.update(overrides)
    return env


def _run_cli(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def simulator_env(tmp_path):
    """A running simulator with a canary client secret, and the env that points the CLI at it."""
    from servicetitan_pipeline.simulator import SimulatorConfig, start_simulator

    config = SimulatorConfig(customers=120, seed=7, client_secret=LEAK_CANARY_SECRET)
    with start_simulator(config) as sim:
        env = _clean_env(
            SERVICETITAN_CONNECTION_NAME="e2e",
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
        (tmp_path / "dagster_home").mkdir()
        yield sim, env


@pytest.fixture
def run_cli():
    """Run `servicetitan-pipeline ARGS...` in a subprocess: run_cli(*args, env=, cwd=, timeout=)."""
    return _run_cli


@pytest.fixture
def clean_env():
    """An environment without inherited SERVICETITAN_* / DAGSTER_HOME: clean_env(**overrides)."""
    return _clean_env


@pytest.fixture
def canary_secret():
    """The client secret the simulator_env fixture uses: finding it anywhere means a leak."""
    return LEAK_CANARY_SECRET
