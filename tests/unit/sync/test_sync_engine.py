"""The sync engine against a small fake ServiceTitan (httpx.MockTransport): the page shapes the
simulator does not produce -- duplicates across pages, shuffled pages, an empty final page, a
never-seen field, a record without an id, a body that is not JSON -- and the list-entity cursor.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import dagster as dg
import duckdb
import httpx
import pytest
from dagster_duckdb import DuckDBResource

from servicetitan_pipeline.client import (
    ConnectionSettings,
    ServiceTitanClient,
    ServiceTitanError,
)
from servicetitan_pipeline.defs import ingestion
from servicetitan_pipeline.defs.checks import build_ingestion_checks
from servicetitan_pipeline.defs.resources import ServiceTitanResource
from servicetitan_pipeline.entities import get_entity
from servicetitan_pipeline.sync import engine
from servicetitan_pipeline.warehouse import batch, upsert
from servicetitan_pipeline.warehouse.state import CURSOR_MODIFIED_ON, read_sync_state

TENANT = 4242
CUSTOMERS = get_entity("customers")
JOB_TYPES = get_entity("job_types")


class FakeServiceTitan:
    """Serves an export as a fixed list of pages (tokens t0, t1, ...) and a list endpoint."""

    def __init__(self, export_pages, list_records=()):
        self.export_pages = export_pages
        self.list_records = list(list_records)
        self.requests: list[httpx.Request] = []
        self.bad_body_for: str | None = None

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/connect/token"):
            return httpx.Response(200, json={"access_token": "tok-abc", "expires_in": 900})
        self.requests.append(request)
        q = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        if "/export/" in request.url.path:
            idx = int(q["from"][1:]) if "from" in q else 0
            if self.bad_body_for == f"t{idx}":
                return httpx.Response(200, content=b'{"hasMore": true, "data": [{"id": 1,')
            data = self.export_pages[idx] if idx < len(self.export_pages) else []
            has_more = idx + 1 < len(self.export_pages)
            nxt = f"t{idx + 1}" if has_more else f"t{len(self.export_pages)}"
            return httpx.Response(
                200, json={"hasMore": has_more, "continueFrom": nxt, "data": data}
            )
        page, size = int(q["page"]), int(q["pageSize"])
        recs = [
            r
            for r in self.list_records
            if "modifiedOnOrAfter" not in q or r["modifiedOn"] >= q["modifiedOnOrAfter"]
        ]
        chunk = recs[(page - 1) * size : page * size]
        return httpx.Response(
            200,
            json={
                "page": page,
                "pageSize": size,
                "hasMore": page * size < len(recs),
                "data": chunk,
            },
        )


def settings():
    return ConnectionSettings(
        name="fake",
        environment="integration",
        tenant_id=TENANT,
        client_id="cid",
        client_secret="secret-xyz",
        app_key="app-key-xyz",
        api_base_url="https://fake.test",
        auth_url="https://fake.test/connect/token",
        rate_limit_per_second=None,
        max_attempts=2,
    )


def make_client(fake):
    return ServiceTitanClient(
        settings(), transport=httpx.MockTransport(fake.handler), sleep=lambda s: None
    )


def rec(i, day, **extra):
    return {
        "id": i,
        "modifiedOn": f"2024-05-{day:02d}T08:00:00Z",
        "active": True,
        "name": f"n{i}-{day}",
        **extra,
    }


@pytest.fixture
def conn(tmp_path):
    c = duckdb.connect(str(tmp_path / "fake.duckdb"))
    yield c
    c.close()


def stored(conn, entity="customers"):
    return {
        i: json.loads(p)
        for i, p in conn.execute(
            f"SELECT id, payload FROM raw_servicetitan.{entity} WHERE _tenant_id = ?", [TENANT]
        ).fetchall()
    }


def sync(fake, conn, entity=CUSTOMERS, **kw):
    with make_client(fake) as client:
        return engine.sync_entity(entity, client, conn, connection_name="fake", **kw)


def test_duplicates_shuffled_pages_empty_final_page_new_field_and_missing_id(conn):
    pages = [
        [rec(3, 2), rec(1, 1), rec(2, 1)],
        # id 1 again with a newer version, id 2 again with an OLDER one (shuffled order).
        [rec(1, 5, brandNewField={"x": [1, 2]}), rec(2, 1, name="stale"), rec(4, 3)],
        [{"name": "no id at all"}, rec(5, 4), rec(3, 1, name="older-3")],
        [],  # empty final page
    ]
    fake = FakeServiceTitan(pages)
    r = sync(fake, conn)
    got = stored(conn)
    assert set(got) == {1, 2, 3, 4, 5}
    assert got[1] == rec(1, 5, brandNewField={"x": [1, 2]})  # new field kept verbatim
    assert got[2] == rec(2, 1)
    assert got[3] == rec(3, 2)
    c = r.counts
    assert (c.records, c.inserted, c.updated, c.rejected) == (9, 5, 1, 1)
    assert c.unchanged == 2
    assert r.pages == 4 and r.requests == 4 and r.cursor == "t4"
    assert r.row_count == 5
    rej = conn.execute("SELECT entity, reason, payload FROM raw_servicetitan._rejected").fetchall()
    assert rej == [("customers", "record has no id", '{"name":"no id at all"}')]

    # A second run resumes from the stored token: one request, nothing written.
    fake.requests.clear()
    r2 = sync(fake, conn)
    assert r2.requests == 1 and r2.pages == 1
    assert parse_qs(fake.requests[0].url.query.decode())["from"] == ["t4"]
    assert (r2.counts.inserted, r2.counts.updated) == (0, 0)


def test_invalid_json_is_recorded_then_fails_naming_entity_and_request(conn):
    fake = FakeServiceTitan([[rec(1, 1)], [rec(2, 1)], [rec(3, 1)]])
    fake.bad_body_for = "t1"
    with pytest.raises(engine.SyncError, match=r"customers: .*export/customers\?from=t1"):
        sync(fake, conn)
    # The page before the bad one is committed with its cursor.
    assert set(stored(conn)) == {1}
    assert read_sync_state(conn, entity="customers", tenant_id=TENANT).cursor == "t1"
    (reason, payload, request) = conn.execute(
        "SELECT reason, payload, request FROM raw_servicetitan._rejected"
    ).fetchone()
    assert reason.startswith("invalid response") and '"data": [{"id": 1,' in payload
    assert "from=t1" in request
    # Once the source answers properly, the sync resumes after page 1 and completes.
    fake.bad_body_for = None
    sync(fake, conn)
    assert set(stored(conn)) == {1, 2, 3}


def test_export_commits_in_batches_and_a_crash_mid_batch_loses_only_that_batch(conn, monkeypatch):
    # Batches of >= 4 rows: pages of 2 records -> a commit after every second page.
    monkeypatch.setattr(batch, "BATCH_MAX_ROWS", 4)
    pages = [[rec(2 * p + 1, 1), rec(2 * p + 2, 1)] for p in range(5)]  # ids 1..10, t0..t4
    fake = FakeServiceTitan(pages)
    real = batch.write_in_transaction
    calls = {"n": 0}

    def killed_on_page_4(*a, **k):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("killed while writing page 4")
        return real(*a, **k)

    monkeypatch.setattr(batch, "write_in_transaction", killed_on_page_4)
    with pytest.raises(KeyboardInterrupt):
        sync(fake, conn)
    # Pages 1-2 were one committed batch (cursor t2 = the token after page 2); page 3 was
    # written in the open batch that page 4 would have closed: rolled back with it.
    assert set(stored(conn)) == {1, 2, 3, 4}
    assert read_sync_state(conn, entity="customers", tenant_id=TENANT).cursor == "t2"

    monkeypatch.setattr(batch, "write_in_transaction", real)
    fake.requests.clear()
    r = sync(fake, conn)
    assert parse_qs(fake.requests[0].url.query.decode())["from"] == ["t2"]
    assert set(stored(conn)) == set(range(1, 11))
    assert (r.pages, r.counts.inserted, r.counts.unchanged) == (3, 6, 0)
    assert r.cursor == "t5"
    assert read_sync_state(conn, entity="customers", tenant_id=TENANT).cursor == r.cursor


def test_dead_responses_do_not_pile_up_while_a_batch_is_written(conn, monkeypatch):
    # Every httpx response is a reference cycle holding its body (18 MB for a page of
    # invoices); the page decoder allocates too few tracked objects for the collector's own
    # thresholds to free them, so the sync collects the young generation after each page.
    # Counted with weakref callbacks: holding the responses to count them would keep them.
    import gc
    import weakref

    fake = FakeServiceTitan([[rec(p, 1, blob="x" * 5000)] for p in range(1, 41)])
    alive = {"n": 0}
    refs = []

    def freed(_ref):
        alive["n"] -= 1

    def handler(request):
        response = fake.handler(request)
        alive["n"] += 1
        refs.append(weakref.ref(response, freed))
        return response

    live: list[int] = []
    real = batch.write_in_transaction

    def counting(*a, **k):
        live.append(alive["n"])
        return real(*a, **k)

    monkeypatch.setattr(batch, "write_in_transaction", counting)
    gc.collect()
    client = ServiceTitanClient(
        settings(), transport=httpx.MockTransport(handler), sleep=lambda s: None
    )
    with client:
        engine.sync_entity(CUSTOMERS, client, conn, connection_name="fake")
    # At most the token's and the one being downloaded: never the history of the batch.
    assert len(live) == 40 and max(live) <= 3, live


def test_export_api_failure_mid_batch_keeps_the_pages_written(conn, monkeypatch):
    fake = FakeServiceTitan([[rec(1, 1)], [rec(2, 1)], [rec(3, 1)], [rec(4, 1)]])
    real_handler = fake.handler

    def failing(request):
        if "from=t2" in request.url.query.decode():
            return httpx.Response(503, json={"title": "down"})
        return real_handler(request)

    fake.handler = failing
    with pytest.raises(ServiceTitanError):
        sync(fake, conn)
    # Pages 1 and 2 were in the open batch when the API gave up: committed with token t2.
    assert set(stored(conn)) == {1, 2}
    assert read_sync_state(conn, entity="customers", tenant_id=TENANT).cursor == "t2"
    fake.handler = real_handler
    sync(fake, conn)
    assert set(stored(conn)) == {1, 2, 3, 4}


def test_full_refresh_rebuilds(conn):
    fake = FakeServiceTitan([[rec(1, 1), rec(2, 1)], []])
    sync(fake, conn)
    conn.execute(
        "INSERT INTO raw_servicetitan.customers SELECT _tenant_id, 99, modified_on, active, "
        "payload, _connection, _loaded_at FROM raw_servicetitan.customers WHERE id = 1"
    )
    fake.requests.clear()
    r = sync(fake, conn, full_refresh=True)
    assert "from" not in parse_qs(fake.requests[0].url.query.decode())
    assert r.deleted_by_full_refresh == 3
    assert set(stored(conn)) == {1, 2}
    assert r.counts.inserted == 2


def test_list_entity_high_water_and_inactive_params(conn):
    records = [rec(i, 1 + i % 3) for i in range(1, 8)]
    fake = FakeServiceTitan([], records)
    r = sync(fake, conn, entity=JOB_TYPES, list_page_size=3)
    assert r.pages == 3 and r.counts.inserted == 7
    q = parse_qs(fake.requests[0].url.query.decode())
    assert q["active"] == ["Any"] and "modifiedOnOrAfter" not in q
    # High-water: the newest modifiedOn of the FIRST page (see _sync_list), not of the pass.
    first_page_max = max(x["modifiedOn"] for x in records[:3])
    assert r.cursor == first_page_max
    state = read_sync_state(conn, entity="job_types", tenant_id=TENANT)
    assert (state.cursor, state.cursor_kind) == (first_page_max, CURSOR_MODIFIED_ON)

    # Next run filters from it (inclusive); one record changed since.
    fake.list_records[0] = rec(1, 9, name="changed")
    fake.requests.clear()
    r = sync(fake, conn, entity=JOB_TYPES, list_page_size=5000)
    q = parse_qs(fake.requests[0].url.query.decode())
    assert q["modifiedOnOrAfter"] == [first_page_max]
    assert r.requests == 1 and r.counts.updated == 1 and r.counts.inserted == 0
    assert stored(conn, "job_types")[1]["name"] == "changed"
    assert r.cursor == "2024-05-09T08:00:00Z"


def test_list_pass_interrupted_keeps_old_high_water(conn, monkeypatch):
    records = [rec(i, 1 + i % 3) for i in range(1, 8)]
    fake = FakeServiceTitan([], records)
    real = upsert.write_page
    calls = {"n": 0}

    def crash_on_second_page(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        return real(*a, **k)

    monkeypatch.setattr(upsert, "write_page", crash_on_second_page)
    with pytest.raises(KeyboardInterrupt):
        sync(fake, conn, entity=JOB_TYPES, list_page_size=3)
    assert read_sync_state(conn, entity="job_types", tenant_id=TENANT) is None
    monkeypatch.setattr(upsert, "write_page", real)
    sync(fake, conn, entity=JOB_TYPES, list_page_size=3)
    assert stored(conn, "job_types") == {r["id"]: r for r in records}


class FakeResource(ServiceTitanResource):
    """The real resource, with its client talking to the fake server."""

    def get_client(self):  # type: ignore[override]
        return make_client(_FAKE)


_FAKE: FakeServiceTitan


def test_materialize_metadata_checks_and_failure(tmp_path):
    global _FAKE
    _FAKE = FakeServiceTitan([[rec(1, 1), {"id": "x"}], [rec(2, 2)], []])
    resources = {
        "servicetitan": FakeResource(
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
    assets = ingestion.build_ingestion_assets([CUSTOMERS])
    checks = build_ingestion_checks([CUSTOMERS])
    result = dg.materialize(
        [*assets, *checks],
        resources=resources,
        run_config=ingestion.ingestion_run_config(["customers"]),
        raise_on_error=False,
    )
    assert result.success
    (mat,) = result.asset_materializations_for_node("servicetitan_ingestion")
    md = {k: v.value for k, v in mat.metadata.items()}
    assert md["dagster/row_count"] == 2
    assert (md["rows_inserted"], md["rows_rejected"], md["pages"], md["requests"]) == (2, 1, 3, 3)
    assert md["cursor"] == "t3" and md["connection"] == "fake" and md["tenant_id"] == str(TENANT)
    evals = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evals["id_unique_and_not_null"].passed
    assert not evals["no_rejected_records"].passed
    assert evals["no_rejected_records"].severity == dg.AssetCheckSeverity.ERROR

    # A body that stays invalid: the asset fails with the entity and the request in the message.
    _FAKE = FakeServiceTitan([[rec(1, 1)], [rec(2, 2)]])
    _FAKE.bad_body_for = "t0"
    result = dg.materialize(
        assets,
        resources={**resources, "duckdb": DuckDBResource(database=str(tmp_path / "m2.duckdb"))},
        run_config=ingestion.ingestion_run_config(["customers"], full_refresh=True),
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert "customers" in message and "export/customers" in message
    assert "secret" not in message and "app-key" not in message
