"""One bad record, token or timestamp never stalls an entity, and never costs good data.

End to end against the hostile ServiceTitan (``tests/support/hostile_server.py``): a real
client syncs ``customers`` into a DuckDB file; each test runs the sync twice, as the schedule
would, and checks that both runs end quickly, that the good records are committed, that the bad
ones are in ``_rejected`` with a reason naming the record, and that the cursor moved on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource
from hostile_resources import hostile_resource
from hostile_server import (
    FUTURE_MODIFIED_ON,
    LATER_EDIT,
    NORMAL,
    NUL_TOKEN,
    Behaviour,
    Call,
    DuplicateKey,
    FutureModifiedOn,
    HostileServer,
    NulToken,
    PathologicalRecords,
    Reply,
    export_page,
    json_reply,
    list_page,
    problem,
    record,
)

from servicetitan_pipeline.client import ApiError, ServiceTitanClient
from servicetitan_pipeline.defs.checks import build_ingestion_checks
from servicetitan_pipeline.defs.ingestion import build_ingestion_assets, ingestion_run_config
from servicetitan_pipeline.entities import get_entity
from servicetitan_pipeline.sync.engine import SyncResult, sync_entity

Start = Callable[..., HostileServer]
CUSTOMERS = get_entity("customers")
BOUND_SECONDS = 10.0  # a sync against any of these servers ends well within this


def sync_customers(server: HostileServer, database: Path, entity: str = "customers") -> SyncResult:
    """One sync of ``entity`` from ``server`` into ``database``, within the time bound."""
    started = time.monotonic()
    try:
        with (
            ServiceTitanClient(server.connection_settings()) as client,
            duckdb.connect(str(database)) as conn,
        ):
            return sync_entity(get_entity(entity), client, conn, connection_name="hostile")
    finally:
        assert time.monotonic() - started < BOUND_SECONDS


def materialize_customers(server: HostileServer, database: Path) -> dg.ExecuteInProcessResult:
    """``dagster.materialize`` of the customers asset and its checks, as a UI run does it."""
    resource = hostile_resource(server)
    started = time.monotonic()
    result = dg.materialize(
        [*build_ingestion_assets([CUSTOMERS]), *build_ingestion_checks([CUSTOMERS])],
        resources={"servicetitan": resource, "duckdb": DuckDBResource(database=str(database))},
        run_config=ingestion_run_config(["customers"]),
        raise_on_error=False,
    )
    assert time.monotonic() - started < 3 * BOUND_SECONDS  # Dagster's own start-up included
    return result


def evaluation(result: dg.ExecuteInProcessResult, check: str) -> dg.AssetCheckEvaluation:
    (found,) = [e for e in result.get_asset_check_evaluations() if e.check_name == check]
    return found


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (event,) = result.asset_materializations_for_node("servicetitan_ingestion")
    return {k: v.value for k, v in event.metadata.items()}


def query(database: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def stored_ids(database: Path, entity: str = "customers") -> list[int]:
    return [i for (i,) in query(database, f"SELECT id FROM raw_servicetitan.{entity} ORDER BY 1")]


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


# -- 13. a NUL character in continueFrom -------------------------------------------------------


@dataclass(frozen=True)
class NulTokenThenAnError(Behaviour):
    """NulToken, except that the first request from the NUL token is refused (400): the run
    stops right after committing the NUL cursor, and the next run must resume from it."""

    def answer(self, call: Call) -> Reply:
        if call.kind == "export" and call.from_token == NUL_TOKEN and call.seen == 1:
            return problem(400, "hostile server: come back later")
        return NulToken().answer(call)


def test_13_a_nul_in_continue_from_round_trips_and_the_good_page_is_committed(
    hostile_server: Start, tmp_path: Path
) -> None:
    server = hostile_server({"customers": NulTokenThenAnError()})
    database = tmp_path / "warehouse.duckdb"
    with pytest.raises(ApiError) as failure:
        sync_customers(server, database)
    # The failure names the entity's path and the token, escaped.
    assert "/export/customers?from=t2%00tail failed: HTTP 400" in str(failure.value)
    # Pages 1 and 2 are committed with the cursor that follows them: the NUL token, exactly.
    assert stored_ids(database) == [1, 2, 3, 4, 5, 6]
    assert cursor(database) == NUL_TOKEN == "t2\x00tail"

    second = sync_customers(server, database)
    assert server.api_requests()[-1].query == {"from": [NUL_TOKEN]}  # sent back as it came
    assert second.cursor == "t3" and stored_ids(database) == list(range(1, 10))
    assert rejected(database) == []


@dataclass(frozen=True)
class EndsOnANulToken(Behaviour):
    """The last page's ``continueFrom`` holds a NUL: a run ends with it as its cursor."""

    def answer(self, call: Call) -> Reply:
        if call.kind != "export":
            return NORMAL.answer(call)
        if call.from_token == NUL_TOKEN:
            return json_reply(export_page([], continue_from=NUL_TOKEN, has_more=False))
        data = [record(i) for i in (4, 5, 6)]
        return json_reply(export_page(data, continue_from=NUL_TOKEN, has_more=False))


def test_13_a_nul_cursor_survives_dagster_and_the_next_run(
    hostile_server: Start, tmp_path: Path
) -> None:
    server = hostile_server({"customers": EndsOnANulToken()})
    database = tmp_path / "warehouse.duckdb"
    first = materialize_customers(server, database)
    # Shown escaped (Dagster's Postgres storage refuses a NUL in text); exact in DuckDB.
    assert first.success and metadata(first)["cursor"] == "t2\\x00tail"
    assert cursor(database) == NUL_TOKEN and stored_ids(database) == [1, 2, 3, 4, 5, 6]
    second = materialize_customers(server, database)
    assert second.success and metadata(second)["rows_unchanged"] == 0
    assert server.api_requests()[-1].query == {"from": [NUL_TOKEN]}


# -- 14. a modifiedOn in year 9999 (or infinity, epoch, 10000-01-01) ---------------------------


def test_14_a_far_future_modified_on_never_freezes_an_export_record_and_is_flagged(
    hostile_server: Start, tmp_path: Path
) -> None:
    server = hostile_server({"customers": FutureModifiedOn()})
    database = tmp_path / "warehouse.duckdb"
    result = materialize_customers(server, database)
    assert result.success
    md = metadata(result)
    assert md["cursor"] == "t3" and md["rows_rejected"] == 0
    assert md["rows_implausible_modified_on"] == len(FUTURE_MODIFIED_ON)
    # The later page's real edit is stored, whatever the earlier stamp said.
    edited = query(
        database,
        "SELECT id, modified_on, payload ->> '$.name', payload ->> '$.modifiedOn' "
        "FROM raw_servicetitan.customers WHERE id >= 4 ORDER BY id",
    )
    assert [(i, str(on), name, sent) for i, on, name, sent in edited] == [
        (i, "2024-06-01 12:00:00+00:00", f"Edited {i}", LATER_EDIT) for i in (4, 5, 6, 7)
    ]
    # The check warns about such stamps while they are stored; the real edit replaced them.
    assert evaluation(result, "modified_on_plausible").passed


@dataclass(frozen=True)
class FutureStampsOnly(Behaviour):
    """FutureModifiedOn, but the run ends on the page of far-future stamps."""

    def answer(self, call: Call) -> Reply:
        reply = FutureModifiedOn().answer(call)
        if call.kind == "export" and call.from_token != "t1":
            return json_reply(export_page([], continue_from="t2", has_more=False))
        return reply


def test_14_stored_far_future_stamps_are_flagged_by_the_asset_check(
    hostile_server: Start, tmp_path: Path
) -> None:
    server = hostile_server({"customers": FutureStampsOnly()})
    database = tmp_path / "warehouse.duckdb"
    result = materialize_customers(server, database)
    assert result.success
    sent = query(
        database,
        "SELECT payload ->> '$.modifiedOn' FROM raw_servicetitan.customers "
        "WHERE modified_on IS NULL ORDER BY id",
    )
    assert [s for (s,) in sent] == list(FUTURE_MODIFIED_ON)  # the payload as sent
    flagged = evaluation(result, "modified_on_plausible")
    assert not flagged.passed and flagged.severity == dg.AssetCheckSeverity.WARN
    assert flagged.metadata["implausible_modified_on"].value == len(FUTURE_MODIFIED_ON)
    assert flagged.description.startswith("4 customers records of tenant 1234567 were sent")


@dataclass(frozen=True)
class FarFutureOnAList(Behaviour):
    """A list endpoint whose first pass holds a record stamped in year 9999; a pass from a
    plausible high-water gets record 1's real later edit."""

    def answer(self, call: Call) -> Reply:
        if call.kind != "list":
            return NORMAL.answer(call)
        after = call.query.get("modifiedOnOrAfter")
        if after is None:
            data = [record(1), record(2, modifiedOn="9999-12-31T23:59:59Z"), record(3)]
        elif after.startswith("9999"):
            data = []  # what ServiceTitan answers from a high-water in the far future
        else:
            data = [record(1, modifiedOn=LATER_EDIT, name="Edited 1")]
        return json_reply(list_page(data, page=call.page, page_size=call.page_size, has_more=False))


def test_14_a_far_future_modified_on_never_becomes_the_list_high_water(
    hostile_server: Start, tmp_path: Path
) -> None:
    server = hostile_server({"job_types": FarFutureOnAList()})
    database = tmp_path / "warehouse.duckdb"
    first = sync_customers(server, database, "job_types")
    assert first.cursor == "2024-01-01T00:03:00Z"  # record 3's, not record 2's year 9999
    assert first.counts.implausible_modified_on == 1
    sync_customers(server, database, "job_types")
    assert query(
        database, "SELECT payload ->> '$.name' FROM raw_servicetitan.job_types WHERE id = 1"
    ) == [("Edited 1",)]
