"""One bad record, token or timestamp never stalls an entity, and never costs good data.

End to end against the hostile ServiceTitan (``tests/support/hostile_server.py``): a real
client syncs ``customers`` into a DuckDB file; each test runs the sync twice, as the schedule
would, and checks that both runs end quickly, that the good records are committed, that the bad
ones are in ``_rejected`` with a reason naming the record, and that the cursor moved on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hostile_server import DuplicateKey, HostileServer, PathologicalRecords

from servicetitan_pipeline.client import ServiceTitanClient
from servicetitan_pipeline.entities import get_entity
from servicetitan_pipeline.sync.engine import SyncResult, sync_entity

Start = Callable[..., HostileServer]
CUSTOMERS = get_entity("customers")
BOUND_SECONDS = 10.0  # a sync against any of these servers ends well within this


def sync_customers(server: HostileServer, database: Path) -> SyncResult:
    """One sync of customers from ``server`` into ``database``, within the time bound."""
    started = time.monotonic()
    with (
        ServiceTitanClient(server.connection_settings()) as client,
        duckdb.connect(str(database)) as conn,
    ):
        result = sync_entity(CUSTOMERS, client, conn, connection_name="hostile")
    assert time.monotonic() - started < BOUND_SECONDS
    return result


def query(database: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def stored_ids(database: Path) -> list[int]:
    return [i for (i,) in query(database, "SELECT id FROM raw_servicetitan.customers ORDER BY 1")]


def rejected(database: Path) -> list[tuple[str, str]]:
    return query(database, "SELECT entity, reason FROM raw_servicetitan._rejected ORDER BY 2")


def cursor(database: Path) -> str:
    ((value,),) = query(database, "SELECT cursor FROM raw_servicetitan._sync_state")
    return str(value)


# -- 12. records nested ~1,000 or 10,000 deep, a lone surrogate escape ------------------------


def test_12_unreadable_records_are_rejected_alone_and_the_cursor_moves_on(
    hostile_server: Start, tmp_path: Path
) -> None:
    server = hostile_server({"customers": PathologicalRecords()})
    database = tmp_path / "warehouse.duckdb"
    first = sync_customers(server, database)
    # The page was read once: a record that is not JSON is not a reason to retry the page.
    assert first.requests == 2 and first.retries == 0
    assert stored_ids(database) == [1, 2, 3, 4, 8]
    assert rejected(database) == [
        ("customers", "record 5 is nested deeper than a JSON parser reads (about 1,000 levels)"),
        ("customers", "record 6 is nested deeper than a JSON parser reads (about 1,000 levels)"),
        (
            "customers",
            "record 7 is not valid JSON: no low surrogate in string: line 1 column 94 (char 93)",
        ),
    ]
    assert cursor(database) == "t2" and first.counts.rejected == 3
    ((nested_text,),) = query(
        database, "SELECT payload FROM raw_servicetitan._rejected WHERE reason LIKE 'record 6 %'"
    )
    assert nested_text.startswith('{"id": 6, ') and nested_text.count("{") == 10_001  # as sent

    second = sync_customers(server, database)  # resumes from t2: no error, nothing lost
    assert second.requests == 1 and second.cursor == "t2"
    assert stored_ids(database) == [1, 2, 3, 4, 8] and len(rejected(database)) == 3


# -- 15. a record that repeats its key ---------------------------------------------------------


def test_15_a_record_that_repeats_its_id_is_rejected_and_its_neighbour_loads(
    hostile_server: Start, tmp_path: Path
) -> None:
    server = hostile_server({"customers": DuplicateKey()})
    database = tmp_path / "warehouse.duckdb"
    sync_customers(server, database)
    assert stored_ids(database) == [1, 2, 3, 6]
    ((entity, reason),) = rejected(database)
    assert entity == "customers" and reason == (
        "record 4 repeats the key 'id' (4, then 5): which record it is depends on the reader "
        "(DuckDB reads the first, most JSON parsers the last)"
    )
    ((text,),) = query(database, "SELECT payload FROM raw_servicetitan._rejected")
    assert text.startswith('{"id": 4, ') and text.endswith(', "id": 5}')  # as sent
    # Every column and the payload agree on every stored row (DuckDB reads the first key).
    assert query(
        database,
        "SELECT count(*) FROM raw_servicetitan.customers WHERE id <> (payload->>'$.id')::BIGINT",
    ) == [(0,)]
    assert cursor(database) == "t2"
    sync_customers(server, database)
    assert stored_ids(database) == [1, 2, 3, 6] and len(rejected(database)) == 1
