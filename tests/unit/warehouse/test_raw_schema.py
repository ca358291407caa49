"""The raw layer's DDL: the contract's tables and columns."""

from __future__ import annotations

import duckdb
import pytest

from servicetitan_pipeline.warehouse.schema import ensure_entity_table


def test_ddl_matches_contract(conn):
    cols = conn.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'raw_servicetitan' AND table_name = 'customers' "
        "ORDER BY ordinal_position"
    ).fetchall()
    assert cols == [
        ("_tenant_id", "BIGINT", "NO"),
        ("id", "BIGINT", "NO"),
        ("modified_on", "TIMESTAMP WITH TIME ZONE", "YES"),
        ("active", "BOOLEAN", "YES"),
        ("payload", "JSON", "NO"),
        ("_connection", "VARCHAR", "NO"),
        ("_loaded_at", "TIMESTAMP WITH TIME ZONE", "NO"),
    ]
    # Idempotent.
    ensure_entity_table(conn, "customers")
    with pytest.raises(duckdb.ConstraintException):
        conn.execute(
            "INSERT INTO raw_servicetitan.customers VALUES (1, 1, NULL, NULL, '{}', 'c', now()),"
            " (1, 1, NULL, NULL, '{}', 'c', now())"
        )


def test_rejects_bad_entity_names(conn):
    with pytest.raises(ValueError):
        ensure_entity_table(conn, 'x"; DROP TABLE y; --')
