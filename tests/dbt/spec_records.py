"""Records of any entity built from its OpenAPI schema, for the staging models' tests.

Every field the schema declares gets a value of its type and format, the way ServiceTitan
writes them (``2026-03-01T12:00:00Z``, a TimeSpan ``01:30:00``, money strings ``"12.35"``),
enums take one of the spec's values (a different one per record, so accepted-values tests see
several), arrays hold one item and objects are filled field by field. The variant number makes
records differ (ids, enum choice) without randomness.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from servicetitan_pipeline.entities import Entity
from servicetitan_pipeline.openapi import ModuleSpec, modules

# Deep enough for every nested shape the staging models read (they flatten one level).
MAX_DEPTH = 4


def _resolve(spec: ModuleSpec, schema: Mapping[str, Any]) -> Mapping[str, Any]:
    resolved = spec.resolve(schema)
    all_of = resolved.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:
        return _resolve(spec, all_of[0])
    return resolved


def value_for(spec: ModuleSpec, schema: Mapping[str, Any], variant: int, depth: int = 0) -> Any:
    """A value valid against ``schema``."""
    schema = _resolve(spec, schema)
    if "enum" in schema:
        values = schema["enum"]
        return values[variant % len(values)]
    kind = schema.get("type")
    fmt = schema.get("format")
    if kind == "integer":
        return 1000 + variant
    if kind == "number":
        # a value that floating point cannot hold exactly, to show the casts stay exact
        return 12.35 + variant
    if kind == "boolean":
        return variant % 2 == 0
    if kind == "string":
        return {
            "date-time": f"2026-03-0{1 + variant % 9}T12:30:00Z",
            "date": f"2026-03-0{1 + variant % 9}",
            "duration": "01:30:00",
        }.get(fmt, f"{12.35 + variant:.2f}")
    if kind == "array":
        if depth >= MAX_DEPTH:
            return []
        return [value_for(spec, schema.get("items", {}), variant, depth + 1)]
    if kind == "object" or "properties" in schema:
        if depth >= MAX_DEPTH:
            return {}
        return {
            name: value_for(spec, prop, variant, depth + 1)
            for name, prop in schema.get("properties", {}).items()
        }
    return None


def spec_record(entity: Entity, record_id: int, variant: int) -> dict[str, Any]:
    """One record of ``entity`` with every field of its record schema, keyed ``record_id``."""
    spec = modules()[entity.module]
    record = value_for(spec, spec.schema(entity.record_schema), variant)
    assert isinstance(record, dict)
    for position, key_field in enumerate(entity.key):
        record[key_field] = record_id + position
    if entity.active_field is not None:
        record[entity.active_field] = variant % 3 != 2
    return record
