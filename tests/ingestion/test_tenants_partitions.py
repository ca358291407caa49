"""The tenant partitions (``defs.tenants``) and the partitioned ingestion assets' definition:
no server, no database."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from servicetitan_pipeline.client.connections import TenantConnection
from servicetitan_pipeline.defs.ingestion import build_ingestion_assets
from servicetitan_pipeline.defs.resources import (
    ServiceTitanResource,
    servicetitan_tenants_from_connections,
)
from servicetitan_pipeline.defs.tenants import (
    check_tenants,
    partition_range_tags,
    run_tenants,
    tenant_partitions,
)
from servicetitan_pipeline.entities import get_entity


def _connection(name: str, tenant_id: int, n: int) -> TenantConnection:
    return TenantConnection(
        name=name,
        environment="integration",
        tenant_id=tenant_id,
        client_id_env=f"SERVICETITAN_TENANT_{n}_CLIENT_ID",
        client_secret_env=f"SERVICETITAN_TENANT_{n}_CLIENT_SECRET",
        app_key_env="SERVICETITAN_APP_KEY",
    )


def test_partitions_keep_the_files_order_and_refuse_a_name_twice():
    assert tenant_partitions(["zeta", "alpha", "mid"]).get_partition_keys() == [
        "zeta",
        "alpha",
        "mid",
    ]
    with pytest.raises(ValueError, match="alpha"):
        tenant_partitions(["alpha", "beta", "alpha"])
    with pytest.raises(ValueError, match="at least one"):
        tenant_partitions([])


def test_range_tags_are_dagsters_own():
    assert partition_range_tags("a", "c") == {
        ASSET_PARTITION_RANGE_START_TAG: "a",
        ASSET_PARTITION_RANGE_END_TAG: "c",
    }


def test_partitioned_assets_are_one_single_run_backfill_multi_asset():
    (assets,) = build_ingestion_assets([get_entity("customers")], tenants=["acme", "bolt"])
    assert assets.partitions_def == tenant_partitions(["acme", "bolt"])
    assert assets.backfill_policy == dg.BackfillPolicy.single_run()
    spec = next(iter(assets.specs))
    assert "Partitioned by tenant" in (spec.description or "")
    assert "acme, bolt" in (spec.description or "")
    (unpartitioned,) = build_ingestion_assets([get_entity("customers")])
    assert unpartitioned.partitions_def is None
    assert "Partitioned" not in (next(iter(unpartitioned.specs)).description or "")


def test_a_tenant_with_a_missing_variable_comes_back_with_its_error(monkeypatch):
    monkeypatch.setenv("SERVICETITAN_TENANT_1_CLIENT_ID", "cid.one")
    monkeypatch.setenv("SERVICETITAN_TENANT_1_CLIENT_SECRET", "cs1.one-secret")
    monkeypatch.setenv("SERVICETITAN_APP_KEY", "ak1.shared")
    monkeypatch.delenv("SERVICETITAN_TENANT_2_CLIENT_ID", raising=False)
    monkeypatch.delenv("SERVICETITAN_TENANT_2_CLIENT_SECRET", raising=False)
    resource = servicetitan_tenants_from_connections(
        [_connection("one", 11, 1), _connection("two", 22, 2)]
    )
    one, two = run_tenants(resource)
    assert one.error is None and one.resource is not None and one.tenant_id == 11
    assert one.credential_variables["client_secret"] == "SERVICETITAN_TENANT_1_CLIENT_SECRET"
    assert two.resource is None and two.label == "two (tenant 22)"
    assert "SERVICETITAN_TENANT_2_CLIENT_ID" in str(two.error)
    # the checks need no credential: the tenant IDs come from the connections
    assert check_tenants(resource) == [("one", 11), ("two", 22)]
    with pytest.raises(dg.Failure, match="no connection named 'three'"):
        run_tenants(resource, ["one", "three"])


def test_a_plain_resource_is_its_one_tenant():
    resource = ServiceTitanResource(
        name="solo",
        environment="integration",
        tenant_id="77",
        client_id="cid.solo",
        client_secret="cs1.solo-secret",
        app_key="ak1.solo",
    )
    (solo,) = run_tenants(resource, ["solo"])
    assert (solo.name, solo.tenant_id, solo.resource) == ("solo", 77, resource)
    with pytest.raises(dg.Failure, match="connects to 'solo' only"):
        run_tenants(resource, ["other"])
