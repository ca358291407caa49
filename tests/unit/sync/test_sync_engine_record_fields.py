"""The sync engine for entities that are not keyed by ``id``, ordered by ``modifiedOn`` or
flagged by ``active``, that send query parameters with their export, or that are read whole
on every run (``SyncMode.LIST_FULL``) -- against the fake ServiceTitan of test_sync_engine."""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import parse_qs

import dagster as dg
import duckdb
import httpx
import pytest
import test_sync_engine as base
from dagster_duckdb import DuckDBResource
from test_sync_engine import TENANT, FakeServiceTitan, make_client

from servicetitan_pipeline.client import ServiceTitanClient
from servicetitan_pipeline.defs import ingestion
from servicetitan_pipeline.defs.checks import build_ingestion_checks
from servicetitan_pipeline.entities import Reference, SyncMode, get_entity
from servicetitan_pipeline.sync import engine
from servicetitan_pipeline.warehouse import batch
from servicetitan_pipeline.warehouse.state import CURSOR_FULL_LIST, read_sync_state

ASSIGNMENTS = get_entity("appointment_assignments")  # export_params active=Any
RATINGS = get_entity("technician_ratings")  # key (jobId, technicianId)
HISTORY = get_entity("job_history")  # key jobId, no modifiedOn, no active
REVIEWS = get_entity("reviews")  # LIST_FULL, key internalId, no modifiedOn, no active
ARRIVAL_WINDOWS = get_entity("arrival_windows")  # LIST_FULL with active=Any, no modifiedOn
CUSTOMERS = get_entity("customers")

SERVER_DATE = "Wed, 01 May 2024 12:00:00 GMT"


@pytest.fixture
def conn(tmp_path):
    c = duckdb.connect(str(tmp_path / "fake.duckdb"))
    yield c
    c.close()


def sync(fake, conn, entity, **kw):
    with make_client(fake) as client:
        return engine.sync_entity(entity, client, conn, connection_name="fake", **kw)


def queries(fake) -> list[dict[str, list[str]]]:
    return [parse_qs(r.url.query.decode()) for r in fake.requests]


def stored(conn, entity, key=("id",)):
    """{key: payload} of the tenant's rows, key a value or a tuple of the key columns."""
    columns = ", ".join(key)
    return {
        (row[0] if len(key) == 1 else tuple(row[:-1])): json.loads(row[-1])
        for row in conn.execute(
            f"SELECT {columns}, payload FROM raw_servicetitan.{entity} WHERE _tenant_id = ?",
            [TENANT],
        ).fetchall()
    }


def loaded_at(conn, entity):
    return dict(conn.execute(f"SELECT id, _loaded_at FROM raw_servicetitan.{entity}").fetchall())


def test_export_params_are_sent_with_every_export_request(conn):
    def assignment(i):
        return {"id": i, "modifiedOn": "2024-05-01T10:00:00Z", "active": i % 2 == 0}

    fake = FakeServiceTitan([[assignment(1), assignment(2)], [assignment(3)], []])
    r = sync(fake, conn, ASSIGNMENTS)
    assert r.requests == 3 and r.counts.inserted == 3
    sent = queries(fake)
    assert all(q["active"] == ["Any"] for q in sent), sent
    assert "from" not in sent[0] and [q["from"] for q in sent[1:]] == [["t1"], ["t2"]]
    # ...and on the next run, from the stored token.
    fake.requests.clear()
    sync(fake, conn, ASSIGNMENTS)
    assert queries(fake) == [{"active": ["Any"], "from": ["t3"]}]
    # An entity without export_params sends none.
    fake.requests.clear()
    sync(fake, conn, CUSTOMERS)
    assert all("active" not in q for q in queries(fake))


def rating(job, tech, score, day=1):
    return {
        "jobId": job,
        "technicianId": tech,
        "rating": score,
        "modifiedOn": f"2024-05-{day:02d}T10:00:00Z",
        "active": True,
    }


def test_a_two_field_key_through_repeats_shuffles_and_split_batches(conn, monkeypatch):
    monkeypatch.setattr(batch, "BATCH_MAX_ROWS", 3)
    pages = [
        [rating(1, 10, 1), rating(1, 11, 2)],
        # A page repeating a pair (newest listed first) is never split; (2, 10) is new.
        [rating(1, 10, 9, day=3), rating(2, 10, 3), rating(1, 10, 5, day=2)],
        # (1, 11) again, older: no write; split across the batch boundary.
        [rating(3, 10, 4), rating(1, 11, 0, day=1), rating(3, 11, 6), rating(4, 10, 7)],
        [],
    ]
    fake = FakeServiceTitan(pages)
    r = sync(fake, conn, RATINGS)
    got = stored(conn, "technician_ratings", ("id", "id_2"))
    assert {k: v["rating"] for k, v in got.items()} == {
        (1, 10): 9,
        (1, 11): 2,
        (2, 10): 3,
        (3, 10): 4,
        (3, 11): 6,
        (4, 10): 7,
    }
    c = r.counts
    assert (c.records, c.inserted, c.updated, c.rejected) == (9, 6, 1, 0)
    assert c.unchanged == 2
    assert read_sync_state(conn, entity="technician_ratings", tenant_id=TENANT).cursor == "t4"


def test_a_record_without_a_two_field_key_is_rejected_naming_the_field(conn):
    fake = FakeServiceTitan([[rating(1, 10, 1), {"jobId": 2, "rating": 3}]])
    r = sync(fake, conn, RATINGS)
    assert (r.counts.inserted, r.counts.rejected) == (1, 1)
    (reason,) = conn.execute("SELECT reason FROM raw_servicetitan._rejected").fetchone()
    assert reason == "record has no technicianId"


def test_an_entity_without_modified_on_updates_by_payload_and_rereads_write_nothing(conn):
    def history(job, *events):
        return {"jobId": job, "history": [{"id": e, "eventType": f"e{e}"} for e in events]}

    fake = FakeServiceTitan([[history(1, 11), history(2, 21)], [history(3)]])
    r = sync(fake, conn, HISTORY)
    assert (r.counts.inserted, r.row_count) == (3, 3)
    (modified_on, active) = conn.execute(
        "SELECT max(modified_on), bool_or(active) FROM raw_servicetitan.job_history"
    ).fetchone()
    assert (modified_on, active) == (None, None)
    before = loaded_at(conn, "job_history")

    # The export repeats job 1 unchanged (includeRecentChanges does) and job 2 with a new
    # event: only job 2 is written.
    fake.export_pages.append([history(1, 11), history(2, 21, 22)])
    r = sync(fake, conn, HISTORY)
    assert (r.counts.inserted, r.counts.updated, r.counts.unchanged) == (0, 1, 1)
    after = loaded_at(conn, "job_history")
    assert after[1] == before[1] and after[3] == before[3] and after[2] > before[2]
    assert stored(conn, "job_history")[2] == history(2, 21, 22)


def review(internal_id, stars, **extra):
    return {"internalId": internal_id, "reviewStatus": "Published", "stars": stars, **extra}


def dated(fake):
    """The fake's answers, each with ServiceTitan's ``Date`` header."""

    def handler(request: httpx.Request) -> httpx.Response:
        response = fake.handler(request)
        response.headers["Date"] = SERVER_DATE
        return response

    return handler


def test_a_full_list_is_read_whole_every_run_kept_and_dated(conn):
    fake = FakeServiceTitan([], [review(i, i % 5) for i in range(1, 8)])
    client = ServiceTitanClient(
        base.settings(), transport=httpx.MockTransport(dated(fake)), sleep=lambda s: None
    )
    with client:

        def run():
            fake.requests.clear()
            return engine.sync_entity(
                REVIEWS, client, conn, connection_name="fake", list_page_size=3
            )

        r = run()
        assert (r.pages, r.requests, r.counts.inserted) == (3, 3, 7)
        # No modifiedOnOrAfter, and reviews need no inactive parameter (includeTotal: the
        # totalCount a progress display shows).
        assert all(set(q) == {"page", "pageSize", "includeTotal"} for q in queries(fake))
        state = read_sync_state(conn, entity="reviews", tenant_id=TENANT)
        assert (state.cursor, state.cursor_kind) == ("2024-05-01T12:00:00+00:00", CURSOR_FULL_LIST)
        assert r.cursor == state.cursor
        before = loaded_at(conn, "reviews")

        # No change at the source: every page read again, no row written.
        r = run()
        assert (r.pages, r.counts.inserted, r.counts.updated, r.counts.unchanged) == (3, 0, 0, 7)
        assert loaded_at(conn, "reviews") == before

        # A review disappears from the list, another changes: the first is kept, not deleted.
        del fake.list_records[0]
        fake.list_records[0] = review(2, 5, response="Thanks!")
        r = run()
        assert (r.counts.inserted, r.counts.updated, r.counts.unchanged) == (0, 1, 5)
        got = stored(conn, "reviews")
        assert set(got) == set(range(1, 8)) and got[2] == review(2, 5, response="Thanks!")
        assert got[1] == review(1, 1)


def test_a_full_list_sends_its_inactive_params_and_dates_by_this_clock_without_a_date(conn):
    windows = [{"id": i, "start": "08:00", "duration": 4, "active": i != 2} for i in (1, 2)]
    fake = FakeServiceTitan([], windows)
    r = sync(fake, conn, ARRIVAL_WINDOWS)
    assert queries(fake)[0]["active"] == ["Any"]
    assert "modifiedOnOrAfter" not in queries(fake)[0]
    assert r.counts.inserted == 2
    state = read_sync_state(conn, entity="arrival_windows", tenant_id=TENANT)
    assert state.cursor_kind == CURSOR_FULL_LIST and state.cursor.endswith("+00:00")


def test_a_list_entity_without_an_ordering_field_to_follow_is_refused_by_name(conn):
    odd = dataclasses.replace(
        get_entity("job_types"), modified_field=None, sync_mode=SyncMode.LIST_INCREMENTAL
    )
    with pytest.raises(ValueError, match=r"entity job_types: .*use SyncMode\.LIST_FULL"):
        sync(FakeServiceTitan([]), conn, odd)


def test_checks_go_by_the_entity_key_and_skip_modified_on_without_one(tmp_path):
    base._FAKE = FakeServiceTitan([[rating(1, 10, 1), rating(1, 11, 2), rating(2, 10, 3)]])
    resources = {
        "servicetitan": base.FakeResource(
            name="fake",
            environment="integration",
            tenant_id=str(TENANT),
            client_id="c",
            client_secret="s",
            app_key="k",
            api_base_url="https://fake.test",
            auth_url="https://fake.test/connect/token",
        ),
        "duckdb": DuckDBResource(database=str(tmp_path / "m.duckdb")),
    }
    result = dg.materialize(
        [*ingestion.build_ingestion_assets([RATINGS]), *build_ingestion_checks([RATINGS])],
        resources=resources,
        run_config=ingestion.ingestion_run_config(["technician_ratings"]),
    )
    evals = {e.check_name: e for e in result.get_asset_check_evaluations()}
    key_check = evals["id_unique_and_not_null"]
    # Three rows share jobIds and technicianIds, never a pair: the key holds.
    assert key_check.passed and key_check.metadata["key_columns"].value == "id, id_2"
    assert key_check.metadata["rows"].value == 3
    assert evals["modified_on_plausible"].passed

    names = {c.name for check in build_ingestion_checks([HISTORY]) for c in check.check_specs}
    assert "modified_on_plausible" not in names and "id_unique_and_not_null" in names


def test_a_reference_to_an_entity_keyed_by_two_fields_is_refused_by_name():
    odd = dataclasses.replace(CUSTOMERS, references=(Reference("ratingId", "technician_ratings"),))
    with pytest.raises(ValueError, match=r"customers\.ratingId references technician_ratings"):
        build_ingestion_checks([odd])
