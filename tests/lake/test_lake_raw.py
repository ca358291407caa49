"""The raw layer on a DuckLake: the same version rule and counts as the DuckDB file, cursors
committed with their rows, a conflicted commit replayed, readers on the last snapshot."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from decimal import Decimal

import duckdb
import pytest

from servicetitan_pipeline.config import ConfigError
from servicetitan_pipeline.defs.resources import WarehouseResource
from servicetitan_pipeline.sync.pages import prepare_page
from servicetitan_pipeline.warehouse import upsert
from servicetitan_pipeline.warehouse.lake import LakeSettings, connect_lake, is_lake_connection
from servicetitan_pipeline.warehouse.reports import (
    REPORT_FIELDS_TABLE,
    ReportWindow,
    delete_report,
    ensure_report_table,
    replace_window,
    report_columns,
    typed_rows,
)
from servicetitan_pipeline.warehouse.schema import SYNC_STATE_TABLE
from servicetitan_pipeline.warehouse.state import read_sync_state
from servicetitan_pipeline.warehouse.writer import EntityWriter

pytestmark = pytest.mark.integration

T1, T2 = 1001, 2002
OLD, NOW, NEWER = "2024-05-01T10:00:00Z", "2024-05-02T10:00:00Z", "2024-05-03T10:00:00Z"


def rec(i: int, mod: str | None, name: str = "v1", active: bool = True) -> dict[str, object]:
    return {"id": i, "modifiedOn": mod, "active": active, "name": name}


def stored(conn: duckdb.DuckDBPyConnection, tenant: int = T1) -> dict[int, str]:
    rows = conn.execute(
        "SELECT id, payload FROM raw_servicetitan.customers WHERE _tenant_id = ? ORDER BY id",
        [tenant],
    ).fetchall()
    return {i: json.loads(p)["name"] for i, p in rows}


@pytest.fixture(params=["file", "lake"])
def warehouse(request, tmp_path):
    """A connection to an empty warehouse: the DuckDB file, or a DuckLake on PostgreSQL."""
    if request.param == "file":
        conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    else:
        conn = connect_lake(request.getfixturevalue("lake"))
    yield conn
    conn.close()


def test_the_version_rule_and_its_counts_are_the_files_in_a_lake(warehouse):
    writer = EntityWriter(warehouse, entity="customers", tenant_id=T1, connection_name="main")
    first = [rec(1, NOW), rec(2, NOW), rec(3, NOW), rec(4, None), rec(5, None)]
    with writer.export_batches() as batch:
        counts = batch.write(prepare_page(first), "tok-1")
    assert (counts.inserted, counts.updated, counts.unchanged) == (5, 0, 0)

    # newer / same / older / unknown-and-changed / unknown-and-same / new / deactivated
    second = [
        rec(1, NEWER, "v2"),
        rec(2, NOW, "v2"),
        rec(3, OLD, "v2"),
        rec(4, None, "v2"),
        rec(5, None),
        rec(6, NOW),
        rec(7, NEWER, active=False),
    ]
    with writer.export_batches() as batch:
        counts = batch.write(prepare_page(second), "tok-2")
    assert (counts.inserted, counts.updated, counts.unchanged, counts.deactivated) == (2, 2, 3, 0)
    assert counts.max_modified_on == NEWER
    assert stored(warehouse) == {1: "v2", 2: "v1", 3: "v1", 4: "v2", 5: "v1", 6: "v1", 7: "v1"}
    assert writer.stored_cursor() == "tok-2"

    # A deactivation is an update counted as such; a replay of the same page writes nothing.
    again = writer.write_page_keeping_cursor(prepare_page([rec(2, NEWER, "v3", active=False)]))
    assert (again.updated, again.deactivated) == (1, 1)
    replay = writer.write_page_keeping_cursor(prepare_page(second))
    assert (replay.inserted, replay.updated, replay.unchanged) == (0, 0, 7)
    assert writer.stored_cursor() == "tok-2"  # kept

    assert writer.reset() == 7
    assert writer.stored_cursor() is None
    assert writer.row_count() == 0


def test_a_lake_has_no_keys_and_keeps_cursors_as_appended_rows(lake):
    with connect_lake(lake) as conn:
        assert is_lake_connection(conn)
        writer = EntityWriter(conn, entity="customers", tenant_id=T1, connection_name="main")
        for n in range(3):
            with writer.export_batches() as batch:
                batch.write(prepare_page([rec(n, NOW)]), f"tok-{n}")
        assert writer.stored_cursor() == "tok-2"
        # One row per key in `_sync_state` (a view), as in the file; the log keeps each commit.
        assert conn.execute(f"SELECT count(*) FROM {SYNC_STATE_TABLE}").fetchall() == [(1,)]
        log = conn.execute("SELECT count(*) FROM raw_servicetitan._sync_state_log").fetchall()
        assert log == [(3,)]
        # No primary key in the lake: the upsert goes by MERGE, not ON CONFLICT.
        assert conn.execute(
            "SELECT count(*) FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
        ).fetchall() == [(0,)]


def test_a_commit_that_conflicts_is_replayed_whole_and_logged_once(lake, caplog):
    """Two writers update rows of one table for different tenants at once: the later commit
    conflicts in DuckLake and is replayed from the pages in memory, with its cursor."""
    with connect_lake(lake) as a, connect_lake(lake) as b:
        wa = EntityWriter(a, entity="customers", tenant_id=T1, connection_name="a")
        wb = EntityWriter(b, entity="customers", tenant_id=T2, connection_name="b")
        for writer in (wa, wb):
            with writer.export_batches() as batch:
                batch.write(prepare_page([rec(1, OLD), rec(2, OLD)]), "first")
        later = wb.export_batches()
        later.max_rows = later.max_bytes = 10**9
        later.write(prepare_page([rec(1, NOW, "b2")]), "b-page-1")  # open, not committed
        later.write(prepare_page([rec(3, NOW, "b3")]), "b-page-2")
        # Meanwhile the other tenant's update commits (deleting from the same table).
        wa.write_page_keeping_cursor(prepare_page([rec(2, NOW, "a2")]))
        with caplog.at_level(logging.WARNING, logger="servicetitan_pipeline.warehouse.lake"):
            later.commit()
        retries = [r.getMessage() for r in caplog.records if "commit conflict" in r.getMessage()]
        assert retries and "customers (tenant 2002), 2 page(s)" in retries[0], retries
        assert stored(a, T2) == {1: "b2", 2: "v1", 3: "b3"}
        assert stored(a, T1) == {1: "v1", 2: "a2"}
        assert read_sync_state(a, entity="customers", tenant_id=T2).cursor == "b-page-2"


def test_a_reader_sees_the_last_committed_snapshot_never_a_partial_batch(lake: LakeSettings):
    with connect_lake(lake) as conn:
        writer = EntityWriter(conn, entity="customers", tenant_id=T1, connection_name="main")
        with writer.export_batches() as batch:
            batch.write(prepare_page([rec(i, NOW) for i in range(10)]), "one")
        with connect_lake(lake, read_only=True) as analyst:
            analyst.execute("BEGIN TRANSACTION")
            count = "SELECT count(*) FROM raw_servicetitan.customers"
            assert analyst.execute(count).fetchall() == [(10,)]
            batch = writer.export_batches()
            batch.max_rows = batch.max_bytes = 10**9
            batch.write(prepare_page([rec(i, NOW) for i in range(10, 20)]), "two")
            with connect_lake(lake, read_only=True) as during:
                assert during.execute(count).fetchall() == [(10,)]  # not the open batch
            batch.write(prepare_page([rec(i, NOW) for i in range(20, 30)]), "three")
            batch.commit()
            assert analyst.execute(count).fetchall() == [(10,)]  # its snapshot, kept
            analyst.execute("COMMIT")
            assert analyst.execute(count).fetchall() == [(30,)]
        with connect_lake(lake, read_only=True) as later:
            assert later.execute(count).fetchall() == [(30,)]
            state = read_sync_state(later, entity="customers", tenant_id=T1)
            assert state is not None and state.cursor == "three"


def test_write_page_decides_the_dialect_by_itself(lake):
    with connect_lake(lake) as conn:
        EntityWriter(conn, entity="customers", tenant_id=T1, connection_name="main")
        page = prepare_page([rec(1, NOW)])
        counts = upsert.write_page(
            conn, page, entity="customers", tenant_id=T1, connection_name="main", cursor="c"
        )
        again = upsert.write_page(
            conn,
            prepare_page([rec(1, NEWER, "v2")]),
            entity="customers",
            tenant_id=T1,
            connection_name="main",
            cursor="d",
        )
        assert (counts.inserted, again.updated) == (1, 1)
        assert stored(conn) == {1: "v2"}
        assert read_sync_state(conn, entity="customers", tenant_id=T1).cursor == "d"


def test_report_tables_on_a_lake_replace_windows_and_fields(lake):
    fields = [
        {"name": "Date", "label": "Date", "dataType": "Date"},
        {"name": "TotalRevenue", "label": "Total Revenue", "dataType": "Number"},
    ]
    columns = report_columns(fields)

    def window(rows: list[list[object]]) -> ReportWindow:
        return ReportWindow(
            start=dt.date(2026, 1, 1),
            end=dt.date(2026, 1, 10),
            rows=typed_rows(columns, ["Date", "TotalRevenue"], rows, report="revenue"),
            pages=[b'{"data": []}'],
            category="accounting",
            report_id=1001,
            parameters=[],
        )

    loaded = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    with connect_lake(lake) as conn:
        for _ in range(2):  # the second time, every field is replaced by itself
            ensure_report_table(conn, "revenue", columns)
        fields_stored = f"SELECT count(*) FROM {REPORT_FIELDS_TABLE} WHERE report = 'revenue'"
        assert conn.execute(fields_stored).fetchall() == [(2,)]
        replace_window(conn, "revenue", T1, window([["2026-01-02", "10.50"]]), loaded_at=loaded)
        replace_window(conn, "revenue", T2, window([["2026-01-03", "7"]]), loaded_at=loaded)
        again = window([["2026-01-02", "11.00"], ["2026-01-04", "1"]])
        assert replace_window(conn, "revenue", T1, again, loaded_at=loaded) == 1
        revenue = "SELECT _tenant_id, total_revenue FROM raw_servicetitan.report_revenue"
        assert sorted(conn.execute(revenue + " ORDER BY ALL").fetchall()) == [
            (T1, Decimal("1.00")),
            (T1, Decimal("11.00")),
            (T2, Decimal("7.00")),
        ]
        assert delete_report(conn, "revenue", T1) == 2
        assert conn.execute(revenue).fetchall() == [(T2, Decimal("7.00"))]


def test_a_catalog_out_of_reach_or_with_a_password_is_refused_at_once_by_name(tmp_path):
    nowhere = LakeSettings(
        catalog=f"host={tmp_path / 'no-server'} user=postgres dbname=lake",
        data_path=f"{tmp_path}/",
    )
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"^SERVICETITAN_DUCKLAKE_CATALOG: cannot attach"):
        connect_lake(nowhere)
    assert time.monotonic() - started < 30  # one attempt, no retry loop
    secret = "s3cr3t-Canary"
    resource = WarehouseResource(database=":memory:", lake_catalog=f"host=db password={secret}")
    with pytest.raises(ConfigError, match=r"SERVICETITAN_DUCKLAKE_CATALOG: holds a password") as e:
        resource.get_connection().__enter__()
    assert secret not in str(e.value)
