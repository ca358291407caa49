"""Tenants as Dagster partitions: one partition per connection of the deployment.

The ingestion assets are partitioned by connection name (the connections file's order), so the
UI materializes one tenant, several or all, and a backfill over a range of tenants runs as ONE
run (``BackfillPolicy.single_run``) that downloads them in parallel. This module holds the
small pieces the layers share:

* :func:`tenant_partitions` -- the partitions definition of a list of connection names;
* :func:`partition_range_tags` -- the run tags that make a run cover a range of tenants;
* :func:`run_tenant_names` -- the tenants a run covers (``None`` for an unpartitioned run);
* :func:`run_tenants` -- each tenant of a run with its resource, or the error its settings
  raised (a tenant with a missing variable fails alone, named);
* :func:`tenant_label` -- how failures and metadata name a tenant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from servicetitan_pipeline.client import ServiceTitanError
from servicetitan_pipeline.defs.resources import (
    ServiceTitanResource,
    ServiceTitanTenantsResource,
)

__all__ = [
    "TENANT_PARTITIONS_RANGE_TAGS",
    "RunTenant",
    "check_tenants",
    "partition_range_tags",
    "run_tenant_names",
    "run_tenants",
    "tenant_label",
    "tenant_partitions",
]


def tenant_partitions(names: Sequence[str]) -> dg.StaticPartitionsDefinition:
    """One partition per connection name, in the order given (the connections file's): the
    UI lists the tenants in that order and a range ``first...last`` follows it.

    Raises ``ValueError`` for an empty list or a name given twice (each names one tenant)."""
    keys = list(names)
    if not keys:
        raise ValueError("tenant_partitions needs at least one connection name")
    twice = sorted({name for name in keys if keys.count(name) > 1})
    if twice:
        raise ValueError(f"connection names given more than once: {', '.join(twice)}")
    return dg.StaticPartitionsDefinition(keys)


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    """The run tags of a run covering the tenants ``first`` to ``last`` (in partition order):
    what a single-run backfill of that range sets, and what ``dg.materialize(..., tags=...)``
    or a job's ``execute_in_process`` needs to run a range of tenants as one run."""
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


# The name the design first gave it (docs of issue #13); the same function.
TENANT_PARTITIONS_RANGE_TAGS = partition_range_tags


def run_tenant_names(context: dg.AssetExecutionContext) -> list[str] | None:
    """The connection names a run covers: its partition keys (one, or a range's), or
    ``None`` when the assets are not partitioned (the run covers the resource's tenants)."""
    if not (context.has_partition_key or context.has_partition_key_range):
        return None
    return list(context.partition_keys)


@dataclass(frozen=True)
class RunTenant:
    """One tenant of a run: its connection name, tenant ID (when known) and resource, or the
    error its settings raised (then ``resource`` is ``None``). ``credential_variables``: the
    names of the variables holding its credentials, when the connections file names them
    (credential field -> variable; empty for the single-tenant ``SERVICETITAN_*`` setup)."""

    name: str
    tenant_id: int | None
    resource: ServiceTitanResource | None
    error: ServiceTitanError | None = None
    credential_variables: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How failures name it: ``acme (tenant 1000001)``."""
        return tenant_label(self.name, self.tenant_id)


def tenant_label(name: str, tenant_id: int | None) -> str:
    """``acme (tenant 1000001)``, or just the name when the tenant ID is not known (a
    single-tenant setup whose ``SERVICETITAN_TENANT_ID`` is missing)."""
    return name if tenant_id is None else f"{name} (tenant {tenant_id})"


def run_tenants(
    resource: ServiceTitanResource | ServiceTitanTenantsResource,
    names: Sequence[str] | None = None,
) -> list[RunTenant]:
    """The tenants ``names`` (default: every connection of ``resource``), each with its own
    resource, in the order given.

    A tenant whose settings are not valid (a variable not set, a bad value) comes back with
    the ``SettingsError`` naming it and the variable, so that it fails alone while the other
    tenants run. A plain :class:`ServiceTitanResource` is one tenant; a name it is not raises
    ``dg.Failure`` (the run asked for a tenant this resource does not connect to), as does a
    name no connection of a tenants resource has.
    """
    if isinstance(resource, ServiceTitanResource):
        settings = resource.get_settings()
        unknown = [n for n in names or () if n != settings.name]
        if unknown:
            raise dg.Failure(
                description=f"the run covers tenant(s) {', '.join(unknown)}, but the "
                f"servicetitan resource connects to {settings.name!r} only",
                allow_retries=False,
            )
        return [RunTenant(settings.name, int(settings.tenant_id), resource)]
    chosen = resource.names() if names is None else list(names)
    unknown = [n for n in chosen if n not in resource.names()]
    if unknown:
        raise dg.Failure(
            description=f"no connection named {', '.join(map(repr, unknown))}; the "
            f"connections are: {', '.join(resource.names())}",
            allow_retries=False,
        )
    tenants = []
    for name in chosen:
        connection = resource.connection(name)
        variables = {} if connection.from_environment else connection.credential_variables()
        try:
            tenant = resource.resource(name)
        except ServiceTitanError as exc:  # SettingsError: names the connection and variable
            tenants.append(RunTenant(name, connection.tenant_id, None, exc, variables))
            continue
        tenant_id = int(tenant.get_settings().tenant_id)
        tenants.append(RunTenant(name, tenant_id, tenant, None, variables))
    return tenants


def check_tenants(
    resource: ServiceTitanResource | ServiceTitanTenantsResource,
) -> list[tuple[str, int]]:
    """(connection name, tenant ID) of every tenant of ``resource``, for what reads the
    warehouse only (the asset checks): a connection's tenant ID comes from the connections
    file, so no credential is read; the single-tenant setup's from ``SERVICETITAN_TENANT_ID``
    (a ``SettingsError`` naming it when it is not set)."""
    if isinstance(resource, ServiceTitanResource):
        settings = resource.get_settings()
        return [(settings.name, int(settings.tenant_id))]
    tenants = []
    for name in resource.names():
        tenant_id = resource.connection(name).tenant_id
        if tenant_id is None:
            tenant_id = int(resource.resource(name).get_settings().tenant_id)
        tenants.append((name, tenant_id))
    return tenants
