"""Running against the embedded simulator, shared by ``demo`` and ``dev``.

Starts a simulated tenant on loopback, points the ``SERVICETITAN_*`` settings of this process
at it, gives it a fresh DuckDB file, and can write those settings to a file so that ``check``
and ``sync`` in another shell can use the same simulator.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from servicetitan_pipeline.config import (
    AR_AS_OF_DATE_ENV,
    CONNECTION_ENV_VARS,
    DUCKDB_PATH_ENV,
    REPORTS_FILE_ENV,
)
from servicetitan_pipeline.simulator import Simulator, SimulatorConfig, start_simulator
from servicetitan_pipeline.simulator.reporting import DEMO_REPORTS_FILE


def simulator_settings(sim: Simulator, database: Path, *, connection_name: str) -> dict[str, str]:
    """The settings (variable -> value) of a connection to ``sim`` writing ``database``."""
    connection = {
        "name": connection_name,
        "environment": "integration",
        "tenant_id": str(sim.config.tenant_id),
        "client_id": sim.config.client_id,
        "client_secret": sim.config.client_secret,
        "app_key": sim.config.app_key,
        "api_base_url": sim.base_url,
        "auth_url": sim.auth_url,
    }
    settings = {CONNECTION_ENV_VARS[field]: value for field, value in connection.items()}
    settings[DUCKDB_PATH_ENV] = str(database)
    # The reports the simulator serves (a user's own list names reports it does not have).
    settings[REPORTS_FILE_ENV] = str(DEMO_REPORTS_FILE)
    return settings


def point_environment_at(sim: Simulator, database: Path, *, connection_name: str) -> None:
    """Set the SERVICETITAN_* variables (read by the Dagster resources) to the simulator."""
    os.environ.update(simulator_settings(sim, database, connection_name=connection_name))
    follow_simulated_clock(sim)


def follow_simulated_clock(sim: Simulator) -> None:
    """Age receivables as of the simulator's "now", not the wall clock.

    The simulated tenant lives at its own date (it starts on a fixed day so that a seed always
    gives the same data); AR aging defaults to the load date, which would age every invoice
    by however long ago that fixed day was.
    """
    os.environ[AR_AS_OF_DATE_ENV] = sim.clock[:10]


def write_settings_file(
    path: Path, sim: Simulator, database: Path, *, connection_name: str
) -> None:
    """Write the simulator's connection as a ``.env``-style file, for ``--env-file``.

    The simulator's credentials are fixed, public test values; nothing secret is written.
    """
    lines = [
        "# Written by `servicetitan-pipeline dev`: the connection to its simulator. Use it with",
        f"# `servicetitan-pipeline check --env-file {path}` (or sync) while `make dev` runs.",
    ]
    settings = simulator_settings(sim, database, connection_name=connection_name)
    lines += [f"{name}={value}" for name, value in settings.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@contextlib.contextmanager
def simulated_tenant(
    config: SimulatorConfig, database: Path, *, connection_name: str
) -> Iterator[Simulator]:
    """A running simulator, this process pointed at it, and a fresh ``database`` for it.

    Raises:
        DemoDatabaseError: ``database`` holds another tenant's data (it is left alone).
    """
    with start_simulator(config) as sim:
        point_environment_at(sim, database, connection_name=connection_name)
        reset_demo_database(database, sim.config.tenant_id)
        yield sim


class DemoDatabaseError(RuntimeError):
    """The demo's DuckDB file holds data the demo must not delete."""


def reset_demo_database(database: Path, tenant_id: int) -> None:
    """Delete the demo's previous DuckDB file, unless it holds another tenant's data.

    A simulator restarts from its seed, so a warehouse synced from an earlier simulator (whose
    clock has moved) cannot be continued incrementally: the demo always starts afresh.
    """
    import duckdb

    from servicetitan_pipeline.warehouse.schema import SYNC_STATE_TABLE, TENANT_ID

    if database.exists():
        try:
            with duckdb.connect(str(database), read_only=True) as con:
                tenants = {
                    row[0]
                    for row in con.execute(
                        f"select distinct {TENANT_ID} from {SYNC_STATE_TABLE}"
                    ).fetchall()
                }
        except duckdb.Error:
            tenants = set()
        others = tenants - {tenant_id}
        if others:
            raise DemoDatabaseError(
                f"{database} holds data of tenant(s) {sorted(others)}, not the simulator's: "
                "the demo will not delete it. Pass --duckdb-path with another file."
            )
        database.unlink()
    for sidecar in (Path(f"{database}.wal"), Path(f"{database}.lock")):
        sidecar.unlink(missing_ok=True)
    database.parent.mkdir(parents=True, exist_ok=True)
