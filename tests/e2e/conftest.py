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


def simulator_cli_env(sim, tmp_path: Path) -> dict[str, str]:
    """The clean environment that points the CLI at ``sim``, with a warehouse and a Dagster
    home in ``tmp_path``."""
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
    return env


@pytest.fixture
def cli_env_for():
    """``simulator_cli_env``: the CLI's environment for a simulator of the test's own."""
    return simulator_cli_env


@pytest.fixture
def simulator_env(tmp_path):
    """A running simulator with a canary client secret, and the env that points the CLI at it."""
    from servicetitan_pipeline.simulator import SimulatorConfig, start_simulator

    config = SimulatorConfig(customers=120, seed=7, client_secret=LEAK_CANARY_SECRET)
    with start_simulator(config) as sim:
        yield sim, simulator_cli_env(sim, tmp_path)


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


# The two tenants of the multi-tenant tests: (connection name, customers, seed, client secret).
TWO_TENANTS = (
    ("north", 60, 11, LEAK_CANARY_SECRET),
    ("south", 40, 12, "cs1.e2e-south-secret"),
)


def _two_simulated_tenants(stack):
    """{name: (base_url, auth_url, Simulator)}: the two tenants on one simulator, with their own
    credentials (one app key) and overlapping record ids, as ServiceTitan serves tenants."""
    from servicetitan_pipeline.simulator import SimulatorConfig, start_tenants

    configs = [
        SimulatorConfig(
            customers=customers,
            seed=seed,
            tenant_id=1000001 + i,
            client_id=f"cid.e2e-{name}",
            client_secret=secret,
        )
        for i, (name, customers, seed, secret) in enumerate(TWO_TENANTS)
    ]
    served = stack.enter_context(start_tenants(configs))
    return {
        name: (served.base_url, served.auth_url, served.tenants[config.tenant_id])
        for (name, *_), config in zip(TWO_TENANTS, configs, strict=True)
    }


@pytest.fixture
def two_tenants_env(tmp_path):
    """Two simulated tenants listed in a connections file, sharing one app key; yields
    ({name: Simulator}, env). The credentials are in env under the names the file gives."""
    import contextlib

    with contextlib.ExitStack() as stack:
        tenants = _two_simulated_tenants(stack)
        lines = [
            "[defaults]",
            'environment = "integration"',
            'app_key_env = "E2E_GROUP_APP_KEY"',
        ]
        env = _clean_env(
            SERVICETITAN_DUCKDB_PATH=str(tmp_path / "warehouse.duckdb"),
            DAGSTER_HOME=str(tmp_path / "dagster_home"),
        )
        for position, (name, (base_url, auth_url, sim)) in enumerate(tenants.items(), start=1):
            prefix = f"E2E_TENANT_{position}"
            lines += [
                "",
                "[[connections]]",
                f'name = "{name}"',
                f"tenant_id = {sim.config.tenant_id}",
                f'client_id_env = "{prefix}_CLIENT_ID"',
                f'client_secret_env = "{prefix}_CLIENT_SECRET"',
                f'api_base_url = "{base_url}"',
                f'auth_url = "{auth_url}"',
            ]
            env[f"{prefix}_CLIENT_ID"] = sim.config.client_id
            env[f"{prefix}_CLIENT_SECRET"] = sim.config.client_secret
            env["E2E_GROUP_APP_KEY"] = sim.config.app_key
        path = tmp_path / "connections.toml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        env["SERVICETITAN_CONNECTIONS_FILE"] = str(path)
        (tmp_path / "dagster_home").mkdir()
        yield {name: sim for name, (_, _, sim) in tenants.items()}, env
