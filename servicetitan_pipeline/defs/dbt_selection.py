"""Which selected dbt models a run rebuilds: nothing changed, nothing rebuilt.

A model is rebuilt when one of these holds, else left out of ``dbt build`` with its reason:

* it was never built: no materialization in the Dagster instance, or its relation is not in
  the warehouse (a new warehouse file, a model dropped by hand);
* its definition changed: the code version of its asset (dagster-dbt's hash of the model's
  SQL) differs from the one its last materialization recorded;
* a raw table it reads (directly or through models) gained or changed rows since its last
  build: an ingestion materialization with inserted, updated, deactivated or fully refreshed
  rows, recorded after the model's last materialization -- this run's ingestion step, or an
  earlier run's that built no dbt (``sync --no-dbt``, a failed build);
* a model it reads is rebuilt in this run, or was rebuilt after it (in another run).

Why this and not Dagster's declarative automation (``AutomationCondition.eager()`` and
friends): those conditions are evaluated by the asset daemon, which launches *separate* runs;
the CLI's in-process sync and the schedule's one run (sync, then dbt, then the analysts'
copy, under one warehouse lock order) would lose their single run. And an automation
condition sees that an upstream asset was *materialized*, not whether its table changed: the
ingestion assets are materialized by every sync, changed or not, so "newly updated" would
rebuild everything hourly. The ingestion step records exactly what changed (its rows_*
metadata), so the dbt step reads that from the instance and selects what is downstream of it.

Nothing here imports ``dagster_dbt``: the CLI's summary imports the metadata keys below
without paying for dbt-core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CHANGED_ROW_COUNTS",
    "MISSING_UPSTREAM_KEY",
    "NOT_REBUILT_KEY",
    "LastBuild",
    "models_to_rebuild",
    "rows_changed",
]

# Metadata of the observation recorded on a model left out of a build: the tables it lacks.
MISSING_UPSTREAM_KEY = "missing_upstream_tables"
# Metadata of the observation recorded on a model not rebuilt because nothing it reads changed.
NOT_REBUILT_KEY = "not_rebuilt_reason"
# An ingestion materialization's counts that mean its raw table changed (defs.ingestion_outcomes).
CHANGED_ROW_COUNTS = (
    "rows_inserted",
    "rows_updated",
    "rows_deactivated",
    "rows_deleted_by_full_refresh",
)


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def rows_changed(metadata: Mapping[str, Any]) -> bool:
    """Whether an ingestion materialization's metadata says its raw table gained or changed
    rows. A materialization without the counts (reported by hand from the UI, written by
    another tool) is taken as a change: better one rebuild too many than a stale mart."""
    if any(key not in metadata for key in CHANGED_ROW_COUNTS[:3]):
        return True
    if _plain(metadata.get("full_refresh")) is True:
        return True
    return any(int(_plain(metadata.get(key)) or 0) > 0 for key in CHANGED_ROW_COUNTS)


@dataclass(frozen=True)
class LastBuild:
    """A model's last materialization in the Dagster instance."""

    storage_id: int  # the event log's order: later events have larger ids
    code_version: str | None


@dataclass(frozen=True)
class _Node:
    resource_type: str
    parents: tuple[str, ...]
    ephemeral: bool


def models_to_rebuild(
    manifest: Mapping[str, Any],
    *,
    selected: Iterable[str],
    code_versions: Mapping[str, str | None],
    last_builds: Mapping[str, LastBuild | None],
    last_change: Callable[[str], int | None],
    existing: Callable[[str], bool],
) -> dict[str, str]:
    """Each model of ``selected`` (dbt unique ids) that must be rebuilt -> why.

    ``code_versions``: each model's current code version; ``last_builds``: its last
    materialization (None: never); ``last_change(source_id)``: the storage id of the latest
    materialization of that source's raw table that changed rows (None: none recorded);
    ``existing(model_id)``: whether the model's relation is in the warehouse.
    """
    nodes: dict[str, _Node] = {
        uid: _Node(
            resource_type=node["resource_type"],
            parents=tuple(node.get("depends_on", {}).get("nodes", ())),
            ephemeral=node.get("config", {}).get("materialized") == "ephemeral",
        )
        for uid, node in manifest["nodes"].items()
    }
    sources = set(manifest["sources"])
    chosen = set(selected)
    reasons: dict[str, str | None] = {}

    def newer_upstream(parents: Iterable[str], since: int, seen: set[str]) -> str | None:
        """Why something ``parents`` lead to changed after storage id ``since`` (or None)."""
        for parent in parents:
            if parent in seen:
                continue
            seen.add(parent)
            if parent in sources:
                changed_at = last_change(parent)
                if changed_at is not None and changed_at > since:
                    return f"{_short(parent)} changed since its last build"
                continue
            node = nodes.get(parent)
            if node is None or node.resource_type != "model":
                continue
            if node.ephemeral:  # inlined into its readers: what it reads is theirs
                why = newer_upstream(node.parents, since, seen)
                if why:
                    return why
                continue
            if parent in chosen and reason_for(parent):
                return f"it reads {_short(parent)}, rebuilt in this run"
            built = last_builds.get(parent)
            if built is not None and built.storage_id > since:
                return f"it reads {_short(parent)}, rebuilt after it"
        return None

    def reason_for(uid: str) -> str | None:
        if uid in reasons:
            return reasons[uid]
        reasons[uid] = None  # dbt's graph has no cycles; this only ends recursion
        node = nodes[uid]
        built = last_builds.get(uid)
        why: str | None
        if built is None:
            why = "never built"
        elif not node.ephemeral and not existing(uid):
            why = "its relation is not in the warehouse"
        elif built.code_version != code_versions.get(uid):
            why = "its definition changed"
        else:
            why = newer_upstream(node.parents, built.storage_id, set())
        reasons[uid] = why
        return why

    return {uid: why for uid in sorted(chosen) if (why := reason_for(uid))}


def _short(unique_id: str) -> str:
    """``source.servicetitan_pipeline.servicetitan.jobs`` -> ``servicetitan.jobs``;
    ``model.servicetitan_pipeline.fct_jobs`` -> ``fct_jobs``."""
    parts = unique_id.split(".")
    return ".".join(parts[2:]) if parts[0] == "source" else parts[-1]
