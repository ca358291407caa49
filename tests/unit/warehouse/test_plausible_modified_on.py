"""A far-future (or not really a date) modifiedOn never freezes a record or a cursor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from warehouse_helpers import as_page, rec, rows, write

from servicetitan_pipeline.warehouse import upsert
from servicetitan_pipeline.warehouse.schema import latest_plausible_modified_on
from servicetitan_pipeline.warehouse.upsert import PageCounts

# All read by DuckDB as timestamps; none is a time at which ServiceTitan edited a record.
IMPLAUSIBLE = ["9999-12-31T23:59:59Z", "infinity", "-infinity", "epoch", "10000-01-01"]
LATER_EDIT = "2024-06-01T12:00:00Z"


@pytest.mark.parametrize("stamp", IMPLAUSIBLE)
def test_an_implausible_modified_on_loads_as_unknown_and_the_later_edit_wins(conn, stamp):
    first = write(conn, [rec(1, stamp), rec(2)])
    assert (first.inserted, first.rejected, first.implausible_modified_on) == (2, 0, 1)
    stored = rows(conn)[1]
    assert stored[0] is None and stored[2]["modifiedOn"] == stamp  # the payload as sent
    assert first.max_modified_on == "2024-05-01T10:00:00Z"  # never the implausible one

    edit = write(conn, [rec(1, LATER_EDIT, name="edited")])
    assert (edit.updated, edit.unchanged) == (1, 0)
    assert rows(conn)[1][0] == datetime(2024, 6, 1, 12, tzinfo=UTC)
    assert rows(conn)[1][2]["name"] == "edited"


def test_a_page_of_only_implausible_stamps_moves_no_high_water(conn):
    c = write(conn, [rec(i, stamp) for i, stamp in enumerate(IMPLAUSIBLE)])
    assert c.max_modified_on is None and c.implausible_modified_on == len(IMPLAUSIBLE)
    total = PageCounts()
    total.add(c)
    total.add(write(conn, [rec(9, "2024-01-01T00:00:00Z")]))
    assert total.max_modified_on == "2024-01-01T00:00:00Z"
    assert total.implausible_modified_on == len(IMPLAUSIBLE)


def test_a_later_arrival_with_an_implausible_stamp_replaces_a_plausible_one(conn):
    # The later page is the newer version whatever its modifiedOn says; re-reading it again
    # writes nothing.
    write(conn, [rec(1, LATER_EDIT)])
    assert write(conn, [rec(1, "9999-12-31T23:59:59Z", name="later")]).updated == 1
    assert rows(conn)[1][2]["name"] == "later"
    assert write(conn, [rec(1, "9999-12-31T23:59:59Z", name="later")]).unchanged == 1


def test_a_stored_implausible_stamp_from_an_older_writer_no_longer_freezes_the_record(conn):
    write(conn, [rec(1), rec(2)])
    conn.execute(  # what this writer stored before it knew better
        "UPDATE raw_servicetitan.customers SET modified_on = '9999-12-31 23:59:59+00' WHERE id = 1"
    )
    c = write(conn, [rec(1, LATER_EDIT, name="edited"), rec(2, LATER_EDIT, name="edited")])
    assert (c.updated, c.unchanged) == (2, 0)
    assert {i: r[2]["name"] for i, r in rows(conn).items()} == {1: "edited", 2: "edited"}


def test_the_bound_is_the_source_clock_plus_a_day_and_never_later_than_ours():
    server = datetime(2024, 1, 1, tzinfo=UTC)
    assert latest_plausible_modified_on(server) == datetime(2024, 1, 2, tzinfo=UTC)
    ahead = datetime(9999, 1, 1, tzinfo=UTC)  # a server's Date cannot widen the bound
    assert latest_plausible_modified_on(ahead) < datetime(2100, 1, 1, tzinfo=UTC)


def test_a_stamp_after_the_servers_now_is_implausible(conn):
    c = upsert.write_page(
        conn,
        as_page([rec(1, "2024-01-03T00:00:00Z"), rec(2, "2024-01-01")]),
        entity="customers",
        tenant_id=1001,
        connection_name="main",
        source_now=datetime(2024, 1, 1, 12, tzinfo=UTC),
    )
    assert c.implausible_modified_on == 1 and c.max_modified_on == "2024-01-01"
