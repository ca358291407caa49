"""The raw layer for entities whose records are not keyed by ``id``, ordered by ``modifiedOn``
or flagged by ``active``: two-field keys (``id``, ``id_2``), ``employeeId``, ``createdOn``,
no ordering field, no active flag (``warehouse.schema.RecordFields``)."""

from __future__ import annotations

import json

import duckdb
import pytest
from warehouse_helpers import T1, T2, RecordsBatchWriter

from servicetitan_pipeline.entities import get_entity
from servicetitan_pipeline.sync.pages import prepare_page
from servicetitan_pipeline.warehouse import upsert
from servicetitan_pipeline.warehouse.schema import (
    RecordFields,
    ensure_entity_table,
    stored_key_columns,
)
from servicetitan_pipeline.warehouse.state import read_sync_state

RATINGS = RecordFields(key=("jobId", "technicianId"))
PAYROLL = RecordFields(key=("employeeId",))
HISTORY = RecordFields(key=("jobId",), modified=None, active=None)
STATUS_CHANGES = RecordFields(modified="createdOn", active=None)


def rating(job, tech, score, mod="2024-05-01T10:00:00Z", **extra):
    return {"jobId": job, "technicianId": tech, "rating": score, "modifiedOn": mod, **extra}


def write(conn, entity, fields, records, *, tenant=T1, cursor=None):
    kwargs = {} if cursor is None else {"cursor": cursor}
    return upsert.write_page(
        conn,
        prepare_page(records, fields),
        entity=entity,
        tenant_id=tenant,
        connection_name="main",
        fields=fields,
        **kwargs,
    )


def stored(conn, entity, tenant=T1):
    """{key: (modified_on, active, payload)} of one tenant's rows, key a tuple of its columns."""
    key_columns = stored_key_columns(conn, entity)
    keys = ", ".join(key_columns)
    return {
        tuple(row[: len(key_columns)]): (row[-3], row[-2], json.loads(row[-1]))
        for row in conn.execute(
            f"SELECT {keys}, modified_on, active, payload FROM raw_servicetitan.{entity} "
            "WHERE _tenant_id = ?",
            [tenant],
        ).fetchall()
    }


def loaded_at(conn, entity):
    (value,) = conn.execute(f"SELECT max(_loaded_at) FROM raw_servicetitan.{entity}").fetchall()[0]
    return value


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def test_a_two_field_key_adds_id_2_to_the_table_and_its_primary_key(conn):
    ensure_entity_table(conn, "technician_ratings")  # the entity table's key: jobId, technicianId
    cols = conn.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'raw_servicetitan' AND table_name = 'technician_ratings' "
        "ORDER BY ordinal_position"
    ).fetchall()
    assert [c[0] for c in cols] == [
        "_tenant_id",
        "id",
        "id_2",
        "modified_on",
        "active",
        "payload",
        "_connection",
        "_loaded_at",
    ]
    assert cols[2] == ("id_2", "BIGINT", "NO")
    # The same (tenant, id) with another id_2 is another row; the same triple is refused.
    insert = (
        "INSERT INTO raw_servicetitan.technician_ratings "
        "VALUES (1, 5, {}, NULL, NULL, '{{}}', 'c', now())"
    )
    conn.execute(insert.format(7))
    conn.execute(insert.format(8))
    with pytest.raises(duckdb.ConstraintException):
        conn.execute(insert.format(7))
    # Tables of one-field entities keep the one-column key (no migration of old warehouses).
    assert stored_key_columns(conn, "customers") == ("id",)
    ensure_entity_table(conn, "payroll_settings")
    assert stored_key_columns(conn, "payroll_settings") == ("id",)


def test_a_table_keyed_otherwise_than_its_entity_is_refused_by_name(conn):
    with pytest.raises(ValueError, match=r"raw_servicetitan\.\"customers\" is keyed by id but "):
        ensure_entity_table(conn, "customers", RATINGS)


def test_record_fields_come_from_the_entity_table_and_refuse_bad_keys():
    assert RecordFields.of(get_entity("technician_ratings")) == RATINGS
    assert RecordFields.of(get_entity("job_history")) == HISTORY
    assert RecordFields.for_entity_name("reviews").key == ("internalId",)
    assert RecordFields.for_entity_name("not_an_entity") == RecordFields()
    with pytest.raises(ValueError, match="1 to 2 fields"):
        RecordFields(key=("a", "b", "c"))
    with pytest.raises(ValueError, match="twice"):
        RecordFields(key=("jobId", "jobId"))


# --------------------------------------------------------------------------------------------
# Two-field keys
# --------------------------------------------------------------------------------------------


def test_a_two_field_key_upserts_by_both_fields(conn):
    ensure_entity_table(conn, "technician_ratings", RATINGS)
    c = write(
        conn, "technician_ratings", RATINGS, [rating(1, 10, 9), rating(1, 11, 7), rating(2, 10, 5)]
    )
    assert (c.inserted, c.updated, c.unchanged) == (3, 0, 0)
    c = write(
        conn,
        "technician_ratings",
        RATINGS,
        [
            rating(1, 10, 3, "2024-05-02T10:00:00Z"),  # newer: replaces (1, 10) only
            rating(1, 11, 1, "2024-04-01T10:00:00Z"),  # older: no write
            rating(2, 11, 8),  # same jobId, new technician: a new row
        ],
    )
    assert (c.inserted, c.updated, c.unchanged) == (1, 1, 1)
    got = stored(conn, "technician_ratings")
    assert {k: v[2]["rating"] for k, v in got.items()} == {
        (1, 10): 3,
        (1, 11): 7,
        (2, 10): 5,
        (2, 11): 8,
    }
    # The other tenant's same keys are its own rows.
    write(conn, "technician_ratings", RATINGS, [rating(1, 10, 0)], tenant=T2)
    assert stored(conn, "technician_ratings", T2)[(1, 10)][2]["rating"] == 0
    assert stored(conn, "technician_ratings")[(1, 10)][2]["rating"] == 3


def test_a_page_repeating_a_key_pair_collapses_to_its_newest_listing(conn):
    ensure_entity_table(conn, "technician_ratings", RATINGS)
    c = write(
        conn,
        "technician_ratings",
        RATINGS,
        [
            rating(1, 10, 1, "2024-05-01T00:00:00Z"),
            rating(1, 10, 3, "2024-05-03T00:00:00Z"),  # the newest version of (1, 10)
            rating(1, 10, 2, "2024-05-02T00:00:00Z"),
            rating(1, 11, 4),  # shares jobId with the repeats, not their key
            rating(2, 10, 5),  # shares technicianId
        ],
    )
    assert (c.records, c.inserted, c.unchanged) == (5, 3, 2)
    got = stored(conn, "technician_ratings")
    assert {k: v[2]["rating"] for k, v in got.items()} == {(1, 10): 3, (1, 11): 4, (2, 10): 5}


def test_batches_of_a_two_field_key_split_pages_by_pairs(conn):
    ensure_entity_table(conn, "technician_ratings", RATINGS)
    writer = RecordsBatchWriter(
        conn,
        entity="technician_ratings",
        tenant_id=T1,
        connection_name="main",
        fields=RATINGS,
        max_rows=3,
    )
    # Pairs all distinct although jobIds repeat: the page is split at the row group boundary.
    first = [rating(1, t, t) for t in (1, 2)]
    second = [rating(1, 3, 3), rating(2, 1, 4), rating(2, 2, 5)]
    writer.write(prepare_page(first, RATINGS), "t1")
    writer.write(prepare_page(second, RATINGS), "t2")
    assert writer.commits == 1  # the head of page 2 closed the first batch with cursor t1
    assert read_sync_state(conn, entity="technician_ratings", tenant_id=T1).cursor == "t1"
    assert len(stored(conn.cursor(), "technician_ratings")) == 3
    writer.commit()
    assert read_sync_state(conn, entity="technician_ratings", tenant_id=T1).cursor == "t2"
    assert set(stored(conn, "technician_ratings")) == {(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)}

    # A page repeating a pair is not split (its newest listing must win within the page).
    repeating = [rating(3, 1, 1), rating(3, 1, 2, "2024-06-01T00:00:00Z"), rating(3, 2, 3)]
    writer.write(prepare_page([rating(4, 1, 1), rating(4, 2, 1)], RATINGS), "t3")
    writer.write(prepare_page(repeating, RATINGS), "t4")
    assert writer.commits == 3  # the whole repeating page went into the batch of page 3
    assert read_sync_state(conn, entity="technician_ratings", tenant_id=T1).cursor == "t4"
    assert stored(conn, "technician_ratings")[(3, 1)][2]["rating"] == 2


# --------------------------------------------------------------------------------------------
# One key field other than id, no ordering field, createdOn, no active flag
# --------------------------------------------------------------------------------------------


def test_a_key_field_other_than_id_fills_id_and_is_named_in_rejects(conn):
    ensure_entity_table(conn, "payroll_settings", PAYROLL)
    records = [
        {"employeeId": 7, "modifiedOn": "2024-05-01T10:00:00Z", "active": True, "rate": "30.00"},
        {"id": 8, "modifiedOn": "2024-05-01T10:00:00Z", "active": True},  # no employeeId
        {"employeeId": "9", "modifiedOn": "2024-05-01T10:00:00Z"},
    ]
    c = write(conn, "payroll_settings", PAYROLL, records)
    assert (c.inserted, c.rejected) == (1, 2)
    assert stored(conn, "payroll_settings")[(7,)][2]["rate"] == "30.00"
    reasons = conn.execute(
        "SELECT reason FROM raw_servicetitan._rejected WHERE entity = 'payroll_settings' "
        "ORDER BY reason"
    ).fetchall()
    assert reasons == [("employeeId is not a 64-bit integer",), ("record has no employeeId",)]


def test_without_an_ordering_field_a_changed_payload_is_the_newer_version(conn):
    ensure_entity_table(conn, "job_history", HISTORY)
    history = [
        {"jobId": 1, "history": [{"id": 11, "eventType": "Job Booked"}]},
        # A modifiedOn the entity does not order by is payload, not the column.
        {"jobId": 2, "history": [], "modifiedOn": "2024-05-01T10:00:00Z", "active": False},
    ]
    c = write(conn, "job_history", HISTORY, history)
    assert (c.inserted, c.implausible_modified_on, c.max_modified_on) == (2, 0, None)
    got = stored(conn, "job_history")
    assert got[(2,)][:2] == (None, None)  # modified_on and active NULL
    assert got[(2,)][2] == history[1]
    before = loaded_at(conn, "job_history")

    c = write(conn, "job_history", HISTORY, history)  # a re-read with no change
    assert (c.inserted, c.updated, c.unchanged) == (0, 0, 2)
    assert loaded_at(conn, "job_history") == before

    changed = {"jobId": 1, "history": [*history[0]["history"], {"id": 12, "eventType": "Done"}]}
    c = write(conn, "job_history", HISTORY, [changed, history[1]])
    assert (c.inserted, c.updated, c.unchanged) == (0, 1, 1)
    assert stored(conn, "job_history")[(1,)][2] == changed


def test_created_on_orders_immutable_events(conn):
    ensure_entity_table(conn, "membership_status_changes", STATUS_CHANGES)
    events = [
        {"id": 1, "createdOn": "2024-05-01T10:00:00Z", "status": "Active", "active": "x"},
        {"id": 2, "createdOn": "2024-05-03T10:00:00Z", "status": "Canceled"},
        {"id": 3, "createdOn": 20240501, "status": "Expired"},
        {"id": 4, "createdOn": "not a time", "status": "Suspended"},
    ]
    c = write(conn, "membership_status_changes", STATUS_CHANGES, events, cursor="tok")
    assert (c.inserted, c.rejected) == (2, 2)
    assert c.max_modified_on == "2024-05-03T10:00:00Z"
    got = stored(conn, "membership_status_changes")
    assert str(got[(1,)][0]) == "2024-05-01 10:00:00+00:00" and got[(1,)][1] is None
    reasons = conn.execute(
        "SELECT reason FROM raw_servicetitan._rejected "
        "WHERE entity = 'membership_status_changes' ORDER BY reason"
    ).fetchall()
    assert reasons == [
        ("createdOn is not a timestamp string",),
        ("createdOn is not a valid timestamp",),
    ]
    # Re-read: the same createdOn writes nothing.
    c = write(conn, "membership_status_changes", STATUS_CHANGES, events[:2])
    assert (c.inserted, c.updated, c.unchanged) == (0, 0, 2)


def test_without_an_active_flag_active_is_null_and_nothing_counts_as_deactivated(conn):
    fields = RecordFields(active=None)
    ensure_entity_table(conn, "purchase_orders", fields)
    record = {"id": 1, "modifiedOn": "2024-05-01T10:00:00Z", "active": True, "status": "Open"}
    write(conn, "purchase_orders", fields, [record])
    later = {**record, "modifiedOn": "2024-05-02T10:00:00Z", "active": False, "status": "Canceled"}
    c = write(conn, "purchase_orders", fields, [later])
    assert (c.updated, c.deactivated) == (1, 0)
    assert stored(conn, "purchase_orders")[(1,)][1:] == (None, later)
