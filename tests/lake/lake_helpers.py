"""Helpers of the DuckLake tests: a lake's contents compared with a simulator's truth."""

from __future__ import annotations

import json
from collections.abc import Sequence

import duckdb
from ingestion_helpers import _ts, record_key, truth_by_key

from servicetitan_pipeline.entities import get_entity
from servicetitan_pipeline.warehouse.lake import LakeSettings, connect_lake
from servicetitan_pipeline.warehouse.schema import RecordFields, stored_key_columns


def assert_lake_equals_truth(sim, lake: LakeSettings, entities: Sequence[str]) -> dict[str, int]:
    """Every raw table of the lake holds exactly ``sim``'s current records for its tenant
    (keys, whole payloads, typed columns as the payload says), as
    ``ingestion_helpers.assert_equals_truth`` checks a file. Returns rows per entity."""
    tenant = sim.config.tenant_id
    counts = {}
    with connect_lake(lake, read_only=True) as conn:
        for name in entities:
            fields = RecordFields.of(get_entity(name))
            truth = truth_by_key(sim, name)
            rows = conn.execute(
                f"SELECT {', '.join(fields.key_columns)}, modified_on, active, payload "
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
            assert stored.keys() == truth.keys(), (name, len(stored), len(truth))
            different = [k for k in truth if truth[k] != stored[k]]
            assert not different, (name, len(different))
            counts[name] = len(rows)
    return counts


def duplicated_keys(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per raw table of the lake, how many rows repeat a (tenant, key): 0 everywhere when
    nothing was doubled."""
    tables = [
        t
        for (t,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "'raw_servicetitan' AND table_type = 'BASE TABLE' AND NOT starts_with(table_name, '_')"
        ).fetchall()
    ]
    found = {}
    for t in tables:
        key = ", ".join(("_tenant_id", *stored_key_columns(conn, t)))
        (dups,) = conn.execute(
            f"SELECT count(*) - count(DISTINCT ({key})) FROM raw_servicetitan.{t}"
        ).fetchall()[0]
        found[t] = int(dups)
    return found
