"""Running against the embedded simulator, shared by ``demo`` and ``dev``.

Starts a group of simulated tenants on one simulator on loopback, describes them as a user's
own would be (a connections file naming the variables that hold each tenant's credentials,
and a settings file holding them, both in ``DAGSTER_HOME``: ``check`` and ``sync`` in another
shell reach the same simulator with ``--env-file``), points this process at them, and gives
them a fresh DuckDB file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Final

from servicetitan_pipeline.config import (
    AR_AS_OF_DATE_ENV,
    CONNECTION_ENV_VARS,
    CONNECTIONS_FILE_ENV,
    DUCKDB_PATH_ENV,
    REPORTS_FILE_ENV,
)
from servicetitan_pipeline.simulator import (
    SimulatedTenants,
    Simulator,
    SimulatorConfig,
    start_tenants,
)
from servicetitan_pipeline.simulator.reporting import DEMO_REPORTS_FILE


def follow_simulated_clock(sim: Simulator) -> None:
    """Age receivables as of the simulator's "now", not the wall clock.

    The simulated tenant lives at its own date (it starts on a fixed day so that a seed always
    gives the same data); AR aging defaults to the load date, which would age every invoice
    by however long ago that fixed day was.
    """
    os.environ[AR_AS_OF_DATE_ENV] = sim.clock[:10]


class DemoDatabaseError(RuntimeError):
    """The demo's DuckDB file holds data the demo must not delete."""


def reset_demo_database(database: Path, tenant_id: int | Iterable[int]) -> None:
    """Delete the demo's previous DuckDB file, unless it holds another tenant's data
    (``tenant_id``: the simulated tenant, or the tenants of a simulated group).

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
        ours = {tenant_id} if isinstance(tenant_id, int) else set(tenant_id)
        others = tenants - ours
        if others:
            raise DemoDatabaseError(
                f"{database} holds data of tenant(s) {sorted(others)}, not the simulator's: "
                "the demo will not delete it. Pass --duckdb-path with another file."
            )
        database.unlink()
    for sidecar in (Path(f"{database}.wal"), Path(f"{database}.lock")):
        sidecar.unlink(missing_ok=True)
    database.parent.mkdir(parents=True, exist_ok=True)


# --- several simulated tenants: the group the demo and `make dev` show ------------------------

# The demo group's connections, in the connections file's order (the partitions' order).
DEMO_CONNECTION_NAMES: Final = ("north-hvac", "south-plumbing")
CONNECTIONS_FILE_NAME: Final = "servicetitan_connections.toml"
# Written to DAGSTER_HOME with it: the settings (the credentials), for `--env-file`.
SIMULATOR_SETTINGS_FILE: Final = "simulator.env"
# One app, several tenants: the app key is the one variable every connection shares.
GROUP_APP_KEY_ENV: Final = CONNECTION_ENV_VARS["app_key"]


def tenant_variable(position: int, field_name: str) -> str:
    """``SERVICETITAN_TENANT_2_CLIENT_SECRET``: the variable of the ``position``-th tenant's
    credential ``field_name`` (``client_id`` or ``client_secret``)."""
    return f"SERVICETITAN_TENANT_{position}_{field_name.upper()}"


def group_connections_toml(group: SimulatedTenants, names: Sequence[str]) -> str:
    """The connections file of the simulated ``group`` (its tenants named ``names``, in
    order): variable names only, and the simulator's URLs."""
    lines = [
        "# Written by servicetitan-pipeline for its simulator: the simulated group's tenants.",
        "# Only the names of the variables holding the credentials are here; see simulator.env.",
        "[defaults]",
        'environment = "integration"',
        f'app_key_env = "{GROUP_APP_KEY_ENV}"',
        f'api_base_url = "{group.base_url}"',
        f'auth_url = "{group.auth_url}"',
    ]
    for position, (name, sim) in enumerate(zip(names, group.tenants.values(), strict=True), 1):
        lines += [
            "",
            "[[connections]]",
            f'name = "{name}"',
            f"tenant_id = {sim.config.tenant_id}",
            f'client_id_env = "{tenant_variable(position, "client_id")}"',
            f'client_secret_env = "{tenant_variable(position, "client_secret")}"',
        ]
    return "\n".join(lines) + "\n"


def group_settings(
    group: SimulatedTenants, database: Path, connections_file: Path
) -> dict[str, str]:
    """The settings (variable -> value) of the simulated group: the connections file, each
    tenant's credentials under the names the file gives, the shared app key, the warehouse."""
    settings = {CONNECTIONS_FILE_ENV: str(connections_file)}
    for position, sim in enumerate(group.tenants.values(), start=1):
        settings[tenant_variable(position, "client_id")] = sim.config.client_id
        settings[tenant_variable(position, "client_secret")] = sim.config.client_secret
        settings[GROUP_APP_KEY_ENV] = sim.config.app_key
    settings[DUCKDB_PATH_ENV] = str(database)
    # The reports the simulator serves (a user's own list names reports it does not have).
    settings[REPORTS_FILE_ENV] = str(DEMO_REPORTS_FILE)
    return settings


def write_group_files(
    home: Path, group: SimulatedTenants, database: Path, names: Sequence[str], *, by: str
) -> tuple[Path, Path, dict[str, str]]:
    """Write the group's connections file and its settings file (``.env``-style, for
    ``--env-file``) into ``home``; returns both paths and the settings.

    The simulator's credentials are fixed, public test values; nothing secret is written.
    """
    home.mkdir(parents=True, exist_ok=True)
    connections = home / CONNECTIONS_FILE_NAME
    connections.write_text(group_connections_toml(group, names), encoding="utf-8")
    settings_file = home / SIMULATOR_SETTINGS_FILE
    settings = group_settings(group, database, connections)
    lines = [
        f"# Written by `servicetitan-pipeline {by}`: the connections to its simulated tenants.",
        f"# Use it with `servicetitan-pipeline check --env-file {settings_file}` (or sync) "
        "while the simulator runs.",
        *(f"{name}={value}" for name, value in settings.items()),
    ]
    settings_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return connections, settings_file, settings


@contextlib.contextmanager
def simulated_group(
    configs: Sequence[SimulatorConfig],
    database: Path,
    home: Path,
    *,
    names: Sequence[str] = DEMO_CONNECTION_NAMES,
    port: int = 0,
    by: str = "demo",
) -> Iterator[SimulatedTenants]:
    """One simulator serving the tenants of ``configs``, named ``names``; its connections
    and settings files written into ``home``, this process pointed at them (the single-tenant
    ``SERVICETITAN_*`` connection settings cleared: the connections file lists the tenants),
    and a fresh ``database``.

    Raises:
        DemoDatabaseError: ``database`` holds data of a tenant not in the group.
    """
    with start_tenants(configs, port=port) as group:
        _, _, settings = write_group_files(home, group, database, names, by=by)
        for variable in CONNECTION_ENV_VARS.values():
            os.environ.pop(variable, None)
        os.environ.update(settings)
        follow_simulated_clock(next(iter(group.tenants.values())))
        reset_demo_database(database, set(group.tenants))
        yield group
