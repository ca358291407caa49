"""Helpers of the multi-tenant ingestion tests: several simulated tenants, their connections
(credentials in ``SERVICETITAN_TENANT_<N>_*`` variables, only the names in the connections),
the partitioned assets, and a run over a range of tenants.

The tenants are served by one simulator on one port (``simulator.server.start_tenants``),
as ServiceTitan serves every tenant from one API: a token request goes to the tenant of its
client id, a request to the tenant of its path, and a token is good only on its own tenant.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource
from ingestion_helpers import LIST_PAGE_SIZE

from servicetitan_pipeline.client.connections import TenantConnection
from servicetitan_pipeline.defs.checks import build_ingestion_checks
from servicetitan_pipeline.defs.ingestion import build_ingestion_assets, ingestion_run_config
from servicetitan_pipeline.defs.resources import servicetitan_tenants_from_connections
from servicetitan_pipeline.defs.tenants import partition_range_tags
from servicetitan_pipeline.entities import get_entity
from servicetitan_pipeline.simulator import SimulatorConfig, start_tenants
from servicetitan_pipeline.simulator.server import Simulator

# A handful of entities: an export entity with many records and references (customers,
# jobs, invoices) and a small list (business units).
ENTITY_NAMES = ("business_units", "customers", "jobs", "invoices")
ENTITIES = [get_entity(name) for name in ENTITY_NAMES]
EXPORT_PAGE_SIZE = 40
FIRST_TENANT_ID = 1_000_001


def tenant_configs(n: int, customers: Sequence[int] = (40, 55, 30)) -> list[SimulatorConfig]:
    """``n`` small tenants: tenant IDs 1000001, 1000002, ...; each its own credentials, seed
    and size, so their data differ, while every world numbers its records from the same base
    (overlapping ids: a collision between tenants would show)."""
    return [
        SimulatorConfig(
            customers=customers[i % len(customers)],
            seed=101 + 17 * i,
            tenant_id=FIRST_TENANT_ID + i,
            client_id=f"cid.test{i + 1}",
            client_secret=f"cs1.test-secret{i + 1}",
            app_key="ak1.test",  # several tenants share one app
            export_page_size=EXPORT_PAGE_SIZE,
            generation_workers=1,
        )
        for i in range(n)
    ]


@dataclass(frozen=True)
class SimTenant:
    """A simulated tenant and its connection name (``t1``, ``t2``, ...)."""

    name: str
    sim: Simulator
    api_base_url: str
    auth_url: str

    @property
    def tenant_id(self) -> int:
        return self.sim.config.tenant_id


@contextlib.contextmanager
def simulated_tenants(configs: Sequence[SimulatorConfig]) -> Iterator[list[SimTenant]]:
    """Serve the tenants of ``configs`` from one simulator on one port, as ServiceTitan serves
    every tenant from one API (each tenant its own credentials and data)."""
    with start_tenants(configs) as served:
        yield [
            SimTenant(f"t{n}", sim, served.base_url, served.auth_url)
            for n, sim in enumerate(served.tenants.values(), start=1)
        ]


def variable(n: int, field: str) -> str:
    """``SERVICETITAN_TENANT_<N>_<FIELD>``: the variable a connection names."""
    return f"SERVICETITAN_TENANT_{n}_{field.upper()}"


def connections(tenants: Sequence[SimTenant]) -> list[TenantConnection]:
    """The connections of ``tenants`` (variable names only, as the connections file has)."""
    return [
        TenantConnection(
            name=t.name,
            environment="integration",
            tenant_id=t.tenant_id,
            client_id_env=variable(n, "client_id"),
            client_secret_env=variable(n, "client_secret"),
            app_key_env=variable(n, "app_key"),
            api_base_url=t.api_base_url,
            auth_url=t.auth_url,
            rate_limit_per_second=None,
        )
        for n, t in enumerate(tenants, start=1)
    ]


def environment(
    tenants: Sequence[SimTenant], secrets: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The variables holding each tenant's credentials; ``secrets``: connection name ->
    a client secret to use instead of the simulator's (a wrong one)."""
    env = {}
    for n, t in enumerate(tenants, start=1):
        c = t.sim.config
        env[variable(n, "client_id")] = c.client_id
        env[variable(n, "client_secret")] = (secrets or {}).get(t.name, c.client_secret)
        env[variable(n, "app_key")] = c.app_key
    return env


def assets(tenants: Sequence[SimTenant]) -> list[dg.AssetsDefinition]:
    """The ingestion assets of ``ENTITIES``, partitioned by the tenants' names."""
    return build_ingestion_assets(ENTITIES, tenants=[t.name for t in tenants])


def run_config(full_refresh: bool = False) -> dict[str, Any]:
    """The run config of a sync of ``ENTITIES`` (small list pages, so lists page too)."""
    config = ingestion_run_config(ENTITY_NAMES, full_refresh=full_refresh)
    for op in config["ops"].values():
        op["config"]["list_page_size"] = LIST_PAGE_SIZE
    return config


def sync_range(
    tenants: Sequence[SimTenant],
    database: Path,
    instance: dg.DagsterInstance,
    *,
    covered: Sequence[SimTenant] | None = None,
    full_refresh: bool = False,
    checks: bool = False,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    """One run over the tenants ``covered`` (default: all): a contiguous range of the
    partitions, as a single-run backfill of that range runs it; one tenant: its partition."""
    covered = list(covered or tenants)
    config = run_config(full_refresh)
    resources: dict[str, Any] = {
        "servicetitan": servicetitan_tenants_from_connections(connections(tenants)),
        "duckdb": DuckDBResource(database=str(database)),
    }
    return dg.materialize(
        [*assets(tenants), *(build_ingestion_checks(ENTITIES) if checks else [])],
        resources=resources,
        run_config=config,
        instance=instance,
        partition_key=covered[0].name if len(covered) == 1 else None,
        tags=partition_range_tags(covered[0].name, covered[-1].name) if len(covered) > 1 else None,
        raise_on_error=raise_on_error,
    )


def configs_with(configs: Sequence[SimulatorConfig], **changes: Any) -> list[SimulatorConfig]:
    """``configs``, each with ``changes``."""
    return [replace(c, **changes) for c in configs]
