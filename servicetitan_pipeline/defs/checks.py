"""Asset checks on the raw layer, driven by ``entities.ENTITIES``.

Per entity, for every tenant of the ``servicetitan`` resource (each connection of the
deployment; a plain ``ServiceTitanResource`` is one tenant), each tenant's rows apart: a check
passes when it passes for every tenant, its failure names the tenant(s), and its metadata has
the totals and one row per tenant (``per_tenant``; one tenant: its ``tenant_id``):

* ``id_unique_and_not_null`` (ERROR): the table's key holds -- one row per key (``id``, or
  ``(id, id_2)`` for an entity keyed by two fields: ``Entity.key``), no null key column.
* ``no_rejected_records`` (ERROR): ``raw_servicetitan._rejected`` holds nothing for this
  entity; a record that could not be loaded is data the warehouse does not have.
* ``modified_on_plausible`` (WARN), for entities whose records have an ordering field
  (``Entity.modified_field``: ``modifiedOn``, ``createdOn``): no stored record of this entity
  carries one that is not a plausible time (year 9999, ``infinity``, ``epoch``, after the
  server's now: see ``warehouse.schema.plausible_modified_on_sql``). Such records are loaded
  -- payload as sent, ``modified_on`` NULL, later versions replacing them by arrival -- but the
  source's clock or data is wrong, and whatever reads that field downstream should know.
* ``<field>_references_<entity>`` (WARN), one per ``Entity.references``: every non-null
  reference (a dotted path into the payload, e.g. ``job.id``) points at a stored record of the
  referenced entity. A warning, not an error: ServiceTitan itself holds some dangling
  references (e.g. records pointing at a merged or since-hidden record), and a sync of one
  entity can briefly run ahead of the entity it references.
"""

# No `from __future__ import annotations`: Dagster reads the check functions' resource
# annotations at definition time.
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import duckdb as duckdb_lib
from dagster_duckdb import DuckDBResource

from servicetitan_pipeline.defs.tenants import check_tenants
from servicetitan_pipeline.entities import ENTITIES, ENTITIES_BY_NAME, Entity, Reference
from servicetitan_pipeline.warehouse.schema import (
    RAW_SCHEMA,
    REJECTED_TABLE,
    REJECTED_TABLE_NAME,
    TENANT_ID,
    RecordFields,
    latest_plausible_modified_on,
    plausible_modified_on_sql,
    raw_table,
)

_SAMPLE = 10


def _table_exists(conn: duckdb_lib.DuckDBPyConnection, name: str) -> bool:
    (n,) = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [RAW_SCHEMA, name],
    ).fetchall()[0]
    return bool(n > 0)


def _json_path(dotted: str) -> str:
    """``job.id`` -> ``$.job.id`` (only plain identifiers: the path is inlined in SQL)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", dotted):
        raise ValueError(f"unsupported reference path {dotted!r}")
    return "$." + dotted


def reference_check_name(ref: Reference) -> str:
    """Check name of a reference, e.g. ``job_id_references_jobs``."""
    return f"{ref.field.replace('.', '_')}_references_{ref.entity}"


@dataclass(frozen=True)
class _TenantCheck:
    """One tenant's part of a check: passed, what it found, its metadata."""

    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


# Evaluates a check for one tenant ID on an open connection.
_Evaluate = Callable[[duckdb_lib.DuckDBPyConnection, int], _TenantCheck]


def _md_cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _per_tenant(
    parts: Sequence[tuple[str, int, _TenantCheck]], severity: dg.AssetCheckSeverity
) -> dg.AssetCheckResult:
    """A check's result from its tenants' parts: passed when every tenant passed; the
    description names the tenants that did not; the metadata holds the numeric totals and a
    table of each tenant's own values. One tenant: its own part, with its ``tenant_id``."""
    if len(parts) == 1:
        ((_, tenant_id, part),) = parts
        return dg.AssetCheckResult(
            passed=part.passed,
            severity=severity,
            description=part.description,
            metadata={**part.metadata, "tenant_id": tenant_id},
        )
    failing = [(name, tid, p) for name, tid, p in parts if not p.passed]
    if failing:
        description = f"{len(failing)} of {len(parts)} tenants fail: " + "; ".join(
            f"{name} (tenant {tid}): {p.description}" for name, tid, p in failing
        )
    else:
        description = f"all {len(parts)} tenants pass: " + "; ".join(
            f"{name}: {p.description}" for name, _, p in parts
        )
    keys = list(parts[0][2].metadata)
    totals = {
        key: sum(p.metadata[key] for _, _, p in parts)
        for key in keys
        if all(isinstance(p.metadata.get(key), int) for _, _, p in parts)
    }
    header = "| connection | tenant_id | passed | " + " | ".join(keys) + " |"
    rule = "|" + " --- |" * (len(keys) + 3)
    rows = [
        f"| {_md_cell(name)} | {tid} | {p.passed} | "
        + " | ".join(_md_cell(p.metadata.get(k, "")) for k in keys)
        + " |"
        for name, tid, p in parts
    ]
    return dg.AssetCheckResult(
        passed=not failing,
        severity=severity,
        description=description,
        metadata={
            **totals,
            "tenants": len(parts),
            "tenants_failing": ", ".join(name for name, _, _ in failing),
            "per_tenant": dg.MetadataValue.md("\n".join([header, rule, *rows])),
        },
    )


def _for_each_tenant(
    context: dg.AssetCheckExecutionContext,
    conn: duckdb_lib.DuckDBPyConnection,
    evaluate: _Evaluate,
    severity: dg.AssetCheckSeverity,
) -> dg.AssetCheckResult:
    """``evaluate`` for every tenant of the run's ``servicetitan`` resource, combined."""
    parts = [
        (name, tenant_id, evaluate(conn, tenant_id))
        for name, tenant_id in check_tenants(context.resources.servicetitan)
    ]
    return _per_tenant(parts, severity)


def _not_loaded(entity: Entity) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False,
        description=f"{entity.raw_table} does not exist yet: materialize the asset first.",
    )


def _build_id_check(entity: Entity) -> dg.AssetChecksDefinition:
    fields = RecordFields.of(entity)
    columns = fields.key_columns
    key = ", ".join(columns)
    # One key as a value: the id itself, or a struct of the key columns (for the sample).
    key_value = columns[0] if len(columns) == 1 else f"struct_pack({key})"
    any_null = " OR ".join(f"{c} IS NULL" for c in columns)
    all_set = " AND ".join(f"{c} IS NOT NULL" for c in columns)
    in_words = (
        "an id"
        if fields.key == ("id",)
        else f"its key {fields.describe_key()} (columns {', '.join(columns)})"
    )

    def evaluate(conn: duckdb_lib.DuckDBPyConnection, tenant_id: int) -> _TenantCheck:
        rows, null_ids, duplicate_ids, sample = conn.execute(
            f"""
            WITH t AS (SELECT {key} FROM {raw_table(entity.name)} WHERE {TENANT_ID} = ?),
            dup AS (
                SELECT {key_value} AS k FROM t WHERE {all_set}
                GROUP BY {key} HAVING count(*) > 1
            )
            SELECT (SELECT count(*) FROM t),
                   (SELECT count(*) FROM t WHERE {any_null}),
                   (SELECT count(*) FROM dup),
                   (SELECT list(k ORDER BY k)[1:{_SAMPLE}] FROM dup)
            """,
            [tenant_id],
        ).fetchall()[0]
        passed = null_ids == 0 and duplicate_ids == 0
        return _TenantCheck(
            passed,
            f"{rows} rows, keys ({key}) unique and not null"
            if passed
            else f"{null_ids} null keys and {duplicate_ids} duplicated keys ({key}) in "
            f"{entity.raw_table} for tenant {tenant_id}",
            {
                "rows": rows,
                "key_columns": key,
                "null_ids": null_ids,
                "duplicated_ids": duplicate_ids,
                "duplicated_id_sample": str(sample or []),
            },
        )

    @dg.asset_check(
        asset=dg.AssetKey(entity.asset_key_path),
        name="id_unique_and_not_null",
        description=f"Every row of {entity.raw_table} of each tenant has {in_words}, and no "
        "key appears twice for a tenant.",
        required_resource_keys={"servicetitan", "duckdb"},
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        duckdb: DuckDBResource = context.resources.duckdb
        with duckdb.get_connection() as conn:
            if not _table_exists(conn, entity.name):
                return _not_loaded(entity)
            return _for_each_tenant(context, conn, evaluate, dg.AssetCheckSeverity.ERROR)

    return _check


def _build_rejected_check(entity: Entity) -> dg.AssetChecksDefinition:
    def evaluate(conn: duckdb_lib.DuckDBPyConnection, tenant_id: int) -> _TenantCheck:
        rows = conn.execute(
            f"SELECT reason, count(*) FROM {REJECTED_TABLE} "
            f"WHERE {TENANT_ID} = ? AND entity = ? GROUP BY reason ORDER BY 2 DESC",
            [tenant_id, entity.name],
        ).fetchall()
        total = sum(n for _, n in rows)
        return _TenantCheck(
            total == 0,
            "no rejected records"
            if total == 0
            else f"{total} {entity.name} records/answers could not be loaded for tenant "
            f"{tenant_id}: "
            + "; ".join(f"{n} x {reason}" for reason, n in rows)
            + f" (see {REJECTED_TABLE})",
            {"rejected": total},
        )

    @dg.asset_check(
        asset=dg.AssetKey(entity.asset_key_path),
        name="no_rejected_records",
        description=f"Nothing from {entity.name} is waiting in {REJECTED_TABLE} for any "
        "tenant (records without a usable id or timestamp, or answers that were not valid "
        "JSON). Inspect them there; a full refresh clears them once the source is fixed.",
        required_resource_keys={"servicetitan", "duckdb"},
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        duckdb: DuckDBResource = context.resources.duckdb
        with duckdb.get_connection() as conn:
            if not _table_exists(conn, REJECTED_TABLE_NAME):
                return dg.AssetCheckResult(
                    passed=True, description="no rejected records", metadata={"rejected": 0}
                )
            return _for_each_tenant(context, conn, evaluate, dg.AssetCheckSeverity.ERROR)

    return _check


def _build_modified_on_check(entity: Entity) -> dg.AssetChecksDefinition:
    modified = entity.modified_field
    if modified is None:
        raise ValueError(f"{entity.name} has no modified_field to check")
    path = _json_path(modified)

    def evaluate(conn: duckdb_lib.DuckDBPyConnection, tenant_id: int) -> _TenantCheck:
        plausible = plausible_modified_on_sql("modified_on", latest_plausible_modified_on())
        # Sent but not trusted (NULL column, stamp in the payload), or stored implausible
        # by an older writer.
        flagged, sample = conn.execute(
            f"""
            WITH f AS (
                SELECT id FROM {raw_table(entity.name)}
                WHERE {TENANT_ID} = ? AND CASE WHEN modified_on IS NULL
                    THEN payload ->> '{path}' IS NOT NULL
                    ELSE {plausible} IS NULL END
            )
            SELECT count(*), list(id ORDER BY id)[1:{_SAMPLE}] FROM f
            """,
            [tenant_id],
        ).fetchall()[0]
        return _TenantCheck(
            flagged == 0,
            f"every {modified} is a plausible time"
            if flagged == 0
            else f"{flagged} {entity.name} records of tenant {tenant_id} were sent with a "
            f"{modified} that is not a plausible time (e.g. ids {sample}); they are loaded "
            f"with modified_on NULL and their payload as sent, and a later version replaces "
            f"them whatever its stamp. Ask ServiceTitan about the stamps.",
            {"implausible_modified_on": flagged, "sample_ids": str(sample or [])},
        )

    @dg.asset_check(
        asset=dg.AssetKey(entity.asset_key_path),
        name="modified_on_plausible",
        description=f"No {entity.name} record of any tenant was sent with a {modified} that "
        "is not a plausible time (year 9999, infinity, epoch, a future date). Such records are "
        "loaded with modified_on NULL (the payload keeps what was sent) and versioned by "
        "arrival, so nothing freezes; the warning says the source's data or clock is wrong.",
        required_resource_keys={"servicetitan", "duckdb"},
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        duckdb: DuckDBResource = context.resources.duckdb
        with duckdb.get_connection() as conn:
            if not _table_exists(conn, entity.name):
                return _not_loaded(entity)
            return _for_each_tenant(context, conn, evaluate, dg.AssetCheckSeverity.WARN)

    return _check


def _build_reference_check(entity: Entity, ref: Reference) -> dg.AssetChecksDefinition:
    target = ENTITIES_BY_NAME[ref.entity]
    if len(target.key) != 1:
        # One field cannot name a record keyed by two; such a reference needs both fields.
        raise ValueError(
            f"{entity.name}.{ref.field} references {target.name}, whose records are keyed by "
            f"{len(target.key)} fields {target.key}: a reference names one id"
        )
    path = _json_path(ref.field)

    def evaluate(conn: duckdb_lib.DuckDBPyConnection, tenant_id: int) -> _TenantCheck:
        # A reference resolves within its own tenant only: the same id in another tenant is
        # another record.
        checked, orphans, sample = conn.execute(
            f"""
            WITH refs AS (
                SELECT c.id, TRY_CAST(c.payload ->> '{path}' AS BIGINT) AS ref
                FROM {raw_table(entity.name)} c
                WHERE c.{TENANT_ID} = $tenant AND (c.payload ->> '{path}') IS NOT NULL
            ),
            orphans AS (
                SELECT r.id, r.ref FROM refs r
                WHERE r.ref IS NULL OR NOT EXISTS (
                    SELECT 1 FROM {raw_table(target.name)} p
                    WHERE p.{TENANT_ID} = $tenant AND p.id = r.ref)
            )
            SELECT (SELECT count(*) FROM refs), (SELECT count(*) FROM orphans),
                   (SELECT list(struct_pack(id := id, ref := ref) ORDER BY id)[1:{_SAMPLE}]
                    FROM orphans)
            """,
            {"tenant": tenant_id},
        ).fetchall()[0]
        return _TenantCheck(
            orphans == 0,
            f"all {checked} {entity.name}.{ref.field} references found in {target.name}"
            if orphans == 0
            else f"{orphans} of {checked} {entity.name} records point at a {target.name} "
            f"id ({ref.field}) that is not stored for tenant {tenant_id}",
            {
                "references_checked": checked,
                "dangling": orphans,
                "dangling_sample": str(sample or []),
            },
        )

    @dg.asset_check(
        asset=dg.AssetKey(entity.asset_key_path),
        name=reference_check_name(ref),
        description=f"Every {entity.name} record's `{ref.field}` (when set) is the "
        f"{target.key[0]} of a stored {target.name} record of the same tenant (warning).",
        required_resource_keys={"servicetitan", "duckdb"},
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        duckdb: DuckDBResource = context.resources.duckdb
        with duckdb.get_connection() as conn:
            if not _table_exists(conn, entity.name):
                return _not_loaded(entity)
            if not _table_exists(conn, target.name):
                return dg.AssetCheckResult(
                    passed=False,
                    severity=dg.AssetCheckSeverity.WARN,
                    description=f"{target.raw_table} is not loaded yet, so {entity.name}."
                    f"{ref.field} cannot be checked.",
                )
            return _for_each_tenant(context, conn, evaluate, dg.AssetCheckSeverity.WARN)

    return _check


def build_ingestion_checks(
    entities: Sequence[Entity] = ENTITIES,
) -> list[dg.AssetChecksDefinition]:
    """Every raw-layer asset check for ``entities`` (default: all of ``ENTITIES``)."""
    checks: list[dg.AssetChecksDefinition] = []
    for entity in entities:
        checks.append(_build_id_check(entity))
        checks.append(_build_rejected_check(entity))
        if entity.modified_field is not None:
            checks.append(_build_modified_on_check(entity))
        checks.extend(_build_reference_check(entity, ref) for ref in entity.references)
    return checks
