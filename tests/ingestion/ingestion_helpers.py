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
from servicetitan_pipeline.entities import ENTITIES, SyncMode, get_entity
from servicetitan_pipeline.warehouse.schema import RecordFields

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


def record_key(name: str, record: dict[str, Any]) -> tuple[int, ...]:
    """A record's key by its entity's key fields (``(id,)``, ``(employeeId,)``, ``(jobId,
    technicianId)``), as the raw table's key columns hold it."""
    return tuple(record[field] for field in get_entity(name).key)


def truth_by_key(sim, name: str) -> dict[tuple[int, ...], dict[str, Any]]:
    """The simulator's current records of an entity, by their key."""
    return {record_key(name, r): r for r in sim.truth(name)}


def changed_since(name: str, old: dict, new: dict) -> tuple[set, set, set]:
    """(inserted, updated, deactivated) keys between two truths of an entity: what a sync in
    between must count. Updated: a record whose content changed (for an entity with an
    ordering field the simulator moves it with every change, so the two agree); deactivated:
    updated from active to inactive, for an entity with an active flag."""
    entity = get_entity(name)
    inserted = new.keys() - old.keys()
    updated = {k for k in old.keys() & new.keys() if old[k] != new[k]}
    flag = entity.active_field
    deactivated = (
        {k for k in updated if old[k].get(flag) is True and new[k].get(flag) is False}
        if flag
        else set()
    )
    return inserted, updated, deactivated


def idle_requests(name: str, rows: int) -> int:
    """How many requests a sync with no change at the source costs an entity: one (the export's
    last token, or the list from its high-water), or, for a list read whole on every run,
    one per page of ``LIST_PAGE_SIZE`` records (a single request at the default page size)."""
    if get_entity(name).sync_mode is SyncMode.LIST_FULL:
        return max(1, -(-rows // LIST_PAGE_SIZE))
    return 1


def assert_equals_truth(sim, database, entities=ENTITY_NAMES) -> dict[str, int]:
    """Every raw table holds exactly the simulator's current records for its tenant: the same
    keys, the complete payloads (so the ordering field, the active flag and the money strings
    too), and typed columns that agree with the payload by the entity's own fields (key
    columns, ``modified_on`` from its ordering field or NULL, ``active`` from its active flag
    or NULL). Returns the row count per entity."""
    tenant = sim.config.tenant_id
    counts = {}
    with duckdb.connect(str(database), read_only=True) as conn:
        for name in entities:
            fields = RecordFields.of(get_entity(name))
            truth = truth_by_key(sim, name)
            key_columns = ", ".join(fields.key_columns)
            rows = conn.execute(
                f"SELECT {key_columns}, modified_on, active, payload "
                f"FROM raw_servicetitan.{name} WHERE _tenant_id = ?",
                [tenant],
            ).fetchall()
            stored = {}
            for row in rows:
                key, (modified_on, active, payload) = tuple(row[:-3]), row[-3:]
                record = json.loads(payload)
                assert key == record_key(name, record), (name, key)
                modified = record.get(fields.modified) if fields.modified else None
                assert modified_on == _ts(modified), (name, key)
                assert active is (record.get(fields.active) if fields.active else None), (name, key)
                stored[key] = record
            assert len(rows) == len(stored), f"{name}: duplicated keys"
            missing = truth.keys() - stored.keys()
            extra = stored.keys() - truth.keys()
            assert not missing and not extra, (name, sorted(missing)[:5], sorted(extra)[:5])
            different = [k for k in truth if truth[k] != stored[k]]
            assert not different, (name, len(different), truth[different[0]], stored[different[0]])
            counts[name] = len(rows)
    return counts
