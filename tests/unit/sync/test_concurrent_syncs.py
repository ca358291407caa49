"""Several entities synced at once into one DuckDB file (``sync.concurrent``), against a fake
ServiceTitan (httpx.MockTransport): they really overlap, each lands exactly, one entity's
failure stops no other, each counts its own requests, log lines reach the caller on its own
thread, and DuckDB's writer settings are bounded while they run and restored after."""

from __future__ import annotations

import json
import threading
from collections import Counter
from urllib.parse import parse_qs

import duckdb
import httpx
import pytest

from servicetitan_pipeline.client import (
    ConnectionSettings,
    PermissionDeniedError,
    ServiceTitanClient,
)
from servicetitan_pipeline.entities import get_entity
from servicetitan_pipeline.sync.concurrent import EntitySyncs, largest_first
from servicetitan_pipeline.warehouse import session

TENANT = 4343
EXPORTED = ("customers", "locations", "jobs")


def _records(entity: str, n: int) -> list[dict]:
    return [
        {"id": i, "modifiedOn": f"2024-05-01T08:{i % 60:02d}:00Z", "active": True, "e": entity}
        for i in range(1, n + 1)
    ]


class FakeTenant:
    """Export endpoints of a few entities (pages of 3 records, tokens t0, t1, ...), and the
    job types list. ``forbidden``: entities answered with 403. ``rendezvous``: the entities
    whose first page waits until all of them asked for one (proof that they overlap)."""

    def __init__(self, sizes: dict[str, int], *, forbidden=(), rendezvous=()):
        self.data = {name: _records(name, n) for name, n in sizes.items()}
        self.forbidden = set(forbidden)
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._barrier = threading.Barrier(len(rendezvous)) if rendezvous else None
        self._waiting = set(rendezvous)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/connect/token"):
            return httpx.Response(200, json={"access_token": "tok-abc", "expires_in": 900})
        q = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        entity = request.url.path.rsplit("/", 1)[1].replace("-", "_")
        entity = {"job_types": "job_types"}.get(entity, entity)
        with self._lock:
            self.requests[entity] += 1
            first_wait = entity in self._waiting
            self._waiting.discard(entity)
        if first_wait and self._barrier is not None:
            self._barrier.wait(timeout=20)  # BrokenBarrierError if they never overlap
        if entity in self.forbidden:
            return httpx.Response(403, json={"title": "Forbidden", "status": 403})
        records = self.data[entity]
        if "/export/" in request.url.path:
            idx = int(q["from"][1:]) if "from" in q else 0
            chunk = records[idx * 3 : idx * 3 + 3]
            has_more = (idx + 1) * 3 < len(records)
            return httpx.Response(
                200, json={"hasMore": has_more, "continueFrom": f"t{idx + 1}", "data": chunk}
            )
        page, size = int(q["page"]), int(q["pageSize"])
        chunk = records[(page - 1) * size : page * size]
        return httpx.Response(
            200,
            json={
                "page": page,
                "pageSize": size,
                "hasMore": page * size < len(records),
                "data": chunk,
            },
        )


def _client(fake: FakeTenant) -> ServiceTitanClient:
    settings = ConnectionSettings(
        name="fake",
        environment="integration",
        tenant_id=TENANT,
        client_id="cid",
        client_secret="secret-xyz",
        app_key="app-key-xyz",
        api_base_url="https://fake.test",
        auth_url="https://fake.test/connect/token",
        rate_limit_per_second=None,
        max_attempts=1,
    )
    return ServiceTitanClient(
        settings, transport=httpx.MockTransport(fake.handler), sleep=lambda s: None
    )


class RecordingLog:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.threads: set[int] = set()

    def info(self, msg: str, /) -> None:
        self.lines.append(msg)
        self.threads.add(threading.get_ident())

    def debug(self, msg: str, /) -> None:
        self.info(msg)


@pytest.fixture
def conn(tmp_path):
    c = duckdb.connect(str(tmp_path / "concurrent.duckdb"))
    yield c
    c.close()


def _stored_ids(conn, entity: str) -> list[int]:
    rows = conn.execute(
        f"SELECT id, payload FROM raw_servicetitan.{entity} WHERE _tenant_id = ? ORDER BY id",
        [TENANT],
    ).fetchall()
    assert all(json.loads(p)["e"] == entity for _, p in rows)
    return [i for i, _ in rows]


def _run(conn, fake, names, *, workers=2, log=None, **kw):
    log = log or RecordingLog()
    with _client(fake) as client:
        syncs = EntitySyncs(conn, client, connection_name="fake", workers=workers, **kw)
        return list(syncs.run([get_entity(n) for n in names], log=log)), log


def test_entities_overlap_and_each_lands_exactly_with_its_own_request_count(conn):
    sizes = {"customers": 10, "locations": 7, "jobs": 4}
    # customers and locations both wait at their first page until the other one asks: with
    # one at a time, the barrier would break.
    fake = FakeTenant(sizes, rendezvous=("customers", "locations"))
    outcomes, _ = _run(conn, fake, EXPORTED)
    assert [o.error for o in outcomes] == [None, None, None]
    for outcome in outcomes:
        name = outcome.entity.name
        assert _stored_ids(conn, name) == list(range(1, sizes[name] + 1))
        assert outcome.result is not None
        assert outcome.result.counts.inserted == sizes[name]
        # pages of 3 records: ceil(n / 3) requests (and the token request is the client's)
        assert outcome.result.requests == fake.requests[name] == -(-sizes[name] // 3)


def test_one_entity_failing_stops_no_other(conn):
    fake = FakeTenant({"customers": 5, "locations": 4, "jobs": 2}, forbidden=("locations",))
    outcomes, _ = _run(conn, fake, EXPORTED)
    by_name = {o.entity.name: o for o in outcomes}
    assert isinstance(by_name["locations"].error, PermissionDeniedError)
    assert by_name["locations"].result is None
    assert _stored_ids(conn, "customers") == [1, 2, 3, 4, 5]
    assert _stored_ids(conn, "jobs") == [1, 2]


def test_log_lines_reach_the_caller_on_its_own_thread(conn):
    fake = FakeTenant({"customers": 4, "locations": 4})
    log = RecordingLog()
    _run(conn, fake, ("customers", "locations"), log=log)
    assert log.threads == {threading.get_ident()}
    assert any("customers" in line for line in log.lines)
    assert any("locations" in line for line in log.lines)


def test_writer_settings_are_bounded_while_syncing_and_restored_after(conn):
    conn.execute("SET memory_limit = '2GiB'; SET threads = 2")
    seen: list[tuple[str, int]] = []

    class Probe(RecordingLog):
        def info(self, msg: str, /) -> None:
            super().info(msg)
            (limit, threads) = conn.execute(
                "SELECT current_setting('memory_limit'), current_setting('threads')"
            ).fetchone()
            seen.append((str(limit), int(threads)))

    _run(
        conn, FakeTenant({"customers": 4, "locations": 4}), ("customers", "locations"), log=Probe()
    )
    assert seen, "no log line was relayed"
    for limit, threads in seen:
        assert threads == session.WRITER_THREADS
        assert session._size_bytes(limit) <= 2 * session.WRITER_MEMORY_LIMIT_BYTES
    (limit, threads) = conn.execute(
        "SELECT current_setting('memory_limit'), current_setting('threads')"
    ).fetchone()
    assert (session._size_bytes(str(limit)), int(threads)) == (2 * 2**30, 2)


def test_full_refresh_applies_to_the_entities_it_names(conn):
    fake = FakeTenant({"customers": 4, "locations": 4})
    _run(conn, fake, ("customers", "locations"))
    outcomes, _ = _run(conn, fake, ("customers", "locations"), full_refresh={"customers": True})
    by_name = {o.entity.name: o.result for o in outcomes}
    assert by_name["customers"].deleted_by_full_refresh == 4
    assert by_name["customers"].counts.inserted == 4
    assert by_name["locations"].deleted_by_full_refresh == 0
    assert by_name["locations"].counts.inserted == 0


def test_one_worker_syncs_them_one_after_another(conn):
    fake = FakeTenant({"customers": 4, "locations": 4, "jobs": 4})
    outcomes, _ = _run(conn, fake, EXPORTED, workers=1)
    assert all(o.error is None for o in outcomes)
    assert sum(fake.requests.values()) == 6


def test_the_largest_entities_start_first(conn):
    fake = FakeTenant({"customers": 2, "locations": 9, "jobs": 5})
    _run(conn, fake, EXPORTED)
    # the stored rows decide; ties (no table yet) keep the entity table's order
    names = ["job_types", "customers", "jobs", "locations", "business_units"]
    ranked = [e.name for e in largest_first(conn, [get_entity(n) for n in names])]
    assert ranked == ["locations", "jobs", "customers", "business_units", "job_types"]


def test_a_client_view_counts_its_own_requests_and_adds_them_to_the_client():
    fake = FakeTenant({"customers": 6, "locations": 3})
    with _client(fake) as client:
        first, second = client.with_own_stats(), client.with_own_stats()
        list(first.iter_export(get_entity("customers").export_path(TENANT)))
        list(second.iter_export(get_entity("locations").export_path(TENANT)))
        assert first.stats.requests == 2
        assert second.stats.requests == 1
        assert client.stats.requests == 3
