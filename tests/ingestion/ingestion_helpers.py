"""Helpers of the ingestion integration tests: resources for a simulator, a materialize
wrapper, and the comparison of the raw layer with the simulator's ground truth."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from servicetitan_pipeline.defs.checks import build_ingestion_checks
from servicetitan_pipeline.defs.ingestion import build_ingestion_assets, ingestion_run_config
from servicetitan_pipeline.defs.resources import ServiceTitanResource
from servicetitan_pipeline.entities import ENTITIES

ENTITY_NAMES = [e.name for e in ENTITIES]
ASSETS = build_ingestion_assets()
CHECKS = build_ingestion_checks()
# Small tenants with small export pages: every large entity spans several pages.
CUSTOMERS = 60
EXPORT_PAGE_SIZE = 40
# Small list pages so that list entities page too (they have tens of records).
LIST_PAGE_SIZE = 7


def resources(sim, database: Path | str, **overrides: Any) -> dict[str, Any]:
    """The two resources of an ingestion run against ``sim``, writing ``database``."""
    c = sim.config
    fields: dict[str, Any] = {
        "name": f"sim-{c.tenant_id}",
        "environment": "integration",
        "tenant_id": str(c.tenant_id),
        "client_id": c.client_id,
        "client_secret": c.client_secret,
        "app_key": c.app_key,
        "api_base_url": sim.base_url,
        "auth_url": sim.auth_url,
        "rate_limit_per_second": None,
    }
    fields.update(overrides)
    return {
        "servicetitan": ServiceTitanResource(**fields),
        "duckdb": DuckDBResource(database=str(database)),
    }


def run_config(full_refresh: bool = False, names=ENTITY_NAMES) -> dict:
    config = ingestion_run_config(names, full_refresh=full_refresh)
    for op in config["ops"].values():
        op["config"]["list_page_size"] = LIST_PAGE_SIZE
    return config


def sync(sim, database, *, full_refresh=False, checks=False, raise_on_error=True, **overrides):
    """Materialize every ingestion asset (optionally with the checks); returns the result."""
    return dg.materialize(
        [*ASSETS, *(CHECKS if checks else [])],
        resources=resources(sim, database, **overrides),
        run_config=run_config(full_refresh),
        raise_on_error=raise_on_error,
    )


def metadata(result) -> dict[str, dict[str, Any]]:
    """Materialization metadata per entity, as plain values."""
    out = {}
    for event in result.get_asset_materialization_events():
        md = event.materialization.metadata
        out[event.asset_key.path[-1]] = {k: v.value for k, v in md.items()}
    return out


def _ts(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_equals_truth(sim, database, entities=ENTITY_NAMES) -> dict[str, int]:
    """Every raw table holds exactly the simulator's current records for its tenant: the same
    ids, the complete payloads (so modifiedOn, active and the money strings too), and typed
    columns that agree with the payload. Returns the row count per entity."""
    tenant = sim.config.tenant_id
    counts = {}
    with duckdb.connect(str(database), read_only=True) as conn:
        for name in entities:
            truth = {r["id"]: r for r in sim.truth(name)}
            rows = conn.execute(
                f"SELECT id, modified_on, active, payload FROM raw_servicetitan.{name} "
                "WHERE _tenant_id = ?",
                [tenant],
            ).fetchall()
            stored = {}
            for rid, modified_on, active, payload in rows:
                record = json.loads(payload)
                assert rid == record["id"]
                assert modified_on == _ts(record.get("modifiedOn")), (name, rid)
                assert active is record.get("active"), (name, rid)
                stored[rid] = record
            assert len(rows) == len(stored), f"{name}: duplicated ids"
            missing = truth.keys() - stored.keys()
            extra = stored.keys() - truth.keys()
            assert not missing and not extra, (name, sorted(missing)[:5], sorted(extra)[:5])
            different = [i for i in truth if truth[i] != stored[i]]
            assert not different, (name, len(different), truth[different[0]], stored[different[0]])
            counts[name] = len(rows)
    return counts
