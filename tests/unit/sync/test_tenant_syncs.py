"""Several tenants synced at once into one DuckDB file (``sync.concurrent.TenantSyncs``),
against fake ServiceTitan tenants (httpx.MockTransport) with overlapping record ids: the
same entity of two tenants is written at once with the real upsert and full-refresh code and
each lands exactly; the scheduler interleaves tenants and keeps to its caps; a tenant whose
secret is refused asks for a token once and fails alone, each of its entities with the same
error."""

from __future__ import annotations

import json
import threading
from collections import Counter
from urllib.parse import parse_qs

import duckdb
import httpx
import pytest

from servicetitan_pipeline.client import (
    AuthenticationError,
    ConnectionSettings,
    ServiceTitanClient,
)
from servicetitan_pipeline.entities import get_entity
from servicetitan_pipeline.sync import concurrent
from servicetitan_pipeline.sync.concurrent import (
    TenantSync,
    TenantSyncs,
    interleaved,
)
from servicetitan_pipeline.sync.engine import SyncResult
from servicetitan_pipeline.warehouse import batch

EXPORTED = ("customers", "locations", "jobs")
PAGE = 3


class FakeTenant:
    """One tenant's export endpoints (pages of 3, tokens v1.0, v1.1, ...). Every tenant numbers
    its records from 1, as the simulator's worlds do; each record says whose it is (``t``).
    ``refused``: the token endpoint answers 401. ``rendezvous``: a barrier the first page
    request of each entity in ``rendezvous_entities`` waits at (shared between tenants: proof
    that their syncs of that entity overlap)."""

    def __init__(
        self,
        tenant_id: int,
        sizes: dict[str, int],
        *,
        refused: bool = False,
        refuse_after: int | None = None,
        rendezvous: threading.Barrier | None = None,
        rendezvous_entities: tuple[str, ...] = (),
    ) -> None:
        self.tenant_id = tenant_id
        self.sizes = dict(sizes)
        self.version = 1
        self.refused = refused
        # After this many API requests the app's access is revoked: API requests answer 401
        # and the token endpoint refuses (credentials withdrawn mid-run).
        self.refuse_after = refuse_after
        self.requests: Counter[str] = Counter()
        self.token_requests = 0
        self._lock = threading.Lock()
        self._barrier = rendezvous
        self._waiting = set(rendezvous_entities)

    def records(self, entity: str) -> list[dict]:
        return [
            {
                "id": i,
                "modifiedOn": f"2024-05-0{self.version}T08:{i % 60:02d}:00Z",
                "active": True,
                "e": entity,
                "t": self.tenant_id,
                "v": self.version,
            }
            for i in range(1, self.sizes[entity] + 1)
        ]

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/connect/token"):
            with self._lock:
                self.token_requests += 1
            if self.refused:
                return httpx.Response(401, json={"error": "invalid_client"})
            return httpx.Response(200, json={"access_token": f"tok-{self.tenant_id}"})
        assert f"/tenant/{self.tenant_id}/" in request.url.path  # its own client, its tenant
        q = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        entity = request.url.path.rsplit("/", 1)[1]
        with self._lock:
            self.requests[entity] += 1
            if self.refuse_after is not None and sum(self.requests.values()) > self.refuse_after:
                self.refused = True
        if self.refused:
            return httpx.Response(401, json={"title": "Unauthorized", "status": 401})
        with self._lock:
            first_wait = entity in self._waiting
            self._waiting.discard(entity)
        if first_wait and self._barrier is not None:
            self._barrier.wait(timeout=20)  # BrokenBarrierError if they never overlap
        records = self.records(entity)
        # Tokens "v<version>.<page>": every record changed since an older version's token.
        version, _, idx_text = q.get("from", f"v{self.version}.0")[1:].partition(".")
        idx = int(idx_text) if int(version) == self.version else 0
        chunk = records[idx * PAGE : idx * PAGE + PAGE]
        has_more = (idx + 1) * PAGE < len(records)
        token = f"v{self.version}.{idx + 1}"
        return httpx.Response(200, json={"hasMore": has_more, "continueFrom": token, "data": chunk})

    def client(self) -> ServiceTitanClient:
        settings = ConnectionSettings(
            name=f"fake-{self.tenant_id}",
            environment="integration",
            tenant_id=self.tenant_id,
            client_id=f"cid-{self.tenant_id}",
            client_secret=f"secret-{self.tenant_id}",
            app_key="app-key-shared",
            api_base_url="https://fake.test",
            auth_url="https://fake.test/connect/token",
            rate_limit_per_second=None,
            max_attempts=1,
        )
        return ServiceTitanClient(
            settings, transport=httpx.MockTransport(self.handler), sleep=lambda s: None
        )


class RecordingLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str, /) -> None:
        self.lines.append(msg)

    def debug(self, msg: str, /) -> None:
        self.info(msg)


@pytest.fixture
def conn(tmp_path):
    c = duckdb.connect(str(tmp_path / "tenants.duckdb"))
    yield c
    c.close()


def _run(conn, fakes, names=EXPORTED, *, full_refresh=None, log=None, **kw):
    clients = [fake.client() for fake in fakes]
    try:
        tenants = [
            TenantSync(f"conn-{f.tenant_id}", c, [get_entity(n) for n in names], full_refresh or {})
            for f, c in zip(fakes, clients, strict=True)
        ]
        syncs = TenantSyncs(conn, tenants, list_page_size=50, **kw)
        return list(syncs.run(log=log or RecordingLog()))
    finally:
        for client in clients:
            client.close()


def _stored(conn, fake: FakeTenant, entity: str) -> dict[int, dict]:
    rows = conn.execute(
        f"SELECT id, _connection, payload FROM raw_servicetitan.{entity} WHERE _tenant_id = ?",
        [fake.tenant_id],
    ).fetchall()
    assert {c for _, c, _ in rows} <= {f"conn-{fake.tenant_id}"}
    return {i: json.loads(p) for i, _, p in rows}


def _assert_exact(conn, fake: FakeTenant, names=EXPORTED) -> None:
    for name in names:
        stored = _stored(conn, fake, name)
        assert stored == {r["id"]: r for r in fake.records(name)}, (fake.tenant_id, name)


def test_tenants_writing_the_same_tables_at_once_each_land_exactly(conn, monkeypatch):
    # Every page its own transaction, so the tenants' transactions on one table interleave.
    monkeypatch.setattr(batch, "BATCH_MAX_ROWS", PAGE)
    sizes = {"customers": 18, "locations": 12, "jobs": 9}
    meet = threading.Barrier(3)
    fakes = [
        FakeTenant(t, sizes, rendezvous=meet, rendezvous_entities=("customers",))
        for t in (101, 202, 303)
    ]
    # Three tenants' customers at once (the barrier breaks unless all three overlap).
    outcomes = _run(conn, fakes, workers_per_tenant=2, max_workers=6)
    assert [o.error for o in outcomes] == [None] * 9
    for fake in fakes:
        _assert_exact(conn, fake)
    by = {(o.tenant_id, o.entity.name): o for o in outcomes}
    assert by[(202, "customers")].connection_name == "conn-202"
    assert by[(202, "customers")].result.counts.inserted == 18
    assert by[(303, "jobs")].result.requests == -(-9 // PAGE)

    # The sources change; an incremental run and a full refresh of the same tables, side by
    # side (one tenant deletes its rows while the others upsert theirs), then every tenant
    # refreshed at once.
    for fake in fakes:
        fake.version = 2
        fake.sizes["customers"] += 6
    meet.reset()
    for fake in fakes:
        fake._waiting = {"customers"}
    outcomes = _run(conn, fakes, full_refresh={"customers": True}, max_workers=6)
    assert [o.error for o in outcomes] == [None] * 9
    for fake in fakes:
        _assert_exact(conn, fake)
    refreshed = {(o.tenant_id, o.entity.name): o.result for o in outcomes}
    assert refreshed[(101, "customers")].deleted_by_full_refresh == 18
    assert refreshed[(101, "customers")].counts.inserted == 24
    state = conn.execute(
        "SELECT _tenant_id, count(*) FROM raw_servicetitan._sync_state GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert state == [(101, 3), (202, 3), (303, 3)]


def test_items_interleave_tenants_largest_entity_first():
    a = [get_entity(n) for n in ("customers", "jobs", "locations")]
    b = [get_entity(n) for n in ("customers", "jobs")]
    c = [get_entity("customers")]
    order = [(n, e.name) for n, e in interleaved([a, b, c])]
    assert order == [
        (0, "customers"),
        (1, "customers"),
        (2, "customers"),
        (0, "jobs"),
        (1, "jobs"),
        (0, "locations"),
    ]


def test_the_scheduler_keeps_to_the_per_tenant_and_total_caps(conn, monkeypatch):
    """With 3 tenants of 4 entities, 2 per tenant and 5 in all: the first wave is exactly the
    first two entities of the first two tenants and the first of the third (interleaved), and
    no more than 2 of a tenant or 5 in all ever run at once."""
    names = ("customers", "locations", "jobs", "invoices")
    first_wave = 5
    wave = threading.Barrier(first_wave)
    lock = threading.Lock()
    running: Counter[int] = Counter()
    peaks: Counter[int] = Counter()
    peak_total = 0
    started: list[tuple[int, str]] = []

    def fake_sync(entity, client, conn, *, connection_name, **kw) -> SyncResult:
        nonlocal peak_total
        tenant = client.tenant_id
        with lock:
            started.append((tenant, entity.name))
            running[tenant] += 1
            peaks[tenant] = max(peaks[tenant], running[tenant])
            peak_total = max(peak_total, sum(running.values()))
            in_first_wave = len(started) <= first_wave
        if in_first_wave:
            wave.wait(timeout=20)  # breaks unless five run at once
        with lock:
            running[tenant] -= 1
        return SyncResult(entity.name, tenant, connection_name, "export", False)

    monkeypatch.setattr(concurrent, "sync_entity", fake_sync)
    fakes = [FakeTenant(t, dict.fromkeys(names, 1)) for t in (1, 2, 3)]
    outcomes = _run(conn, fakes, names, workers_per_tenant=2, max_workers=first_wave)
    assert all(o.error is None for o in outcomes) and len(outcomes) == 12
    # ties on a first sync: the entity table's order (customers, locations, jobs, invoices)
    assert set(started[:first_wave]) == {
        (1, "customers"),
        (2, "customers"),
        (3, "customers"),
        (1, "locations"),
        (2, "locations"),
    }
    assert max(peaks.values()) == 2
    assert peak_total == first_wave
    assert Counter(t for t, _ in started) == {1: 4, 2: 4, 3: 4}


def test_a_refused_secret_costs_one_token_request_and_fails_that_tenant_alone(conn):
    good, bad = (
        FakeTenant(11, {"customers": 7, "locations": 4, "jobs": 2}),
        FakeTenant(22, {"customers": 7, "locations": 4, "jobs": 2}, refused=True),
    )
    log = RecordingLog()
    outcomes = _run(conn, [good, bad], log=log, workers_per_tenant=2)
    failed = [o for o in outcomes if o.error is not None]
    assert {o.tenant_id for o in failed} == {22}
    assert sorted(o.entity.name for o in failed) == sorted(EXPORTED)
    # one token request, one error: the others never asked, and carry the same exception
    assert bad.token_requests == 1
    assert sum(bad.requests.values()) == 0
    assert len({id(o.error) for o in failed}) == 1
    assert isinstance(failed[0].error, AuthenticationError)
    assert sum(o.skipped for o in failed) == len(EXPORTED) - 1
    assert "secret-22" not in str(failed[0].error)
    _assert_exact(conn, good)
    assert not _stored(conn, bad, "customers")
    # several tenants: each relayed line says whose it is
    assert log.lines and all(line.startswith(("conn-11: ", "conn-22: ")) for line in log.lines)


def test_credentials_withdrawn_mid_run_stop_the_tenants_remaining_entities(conn):
    sizes = {"customers": 12, "locations": 6, "jobs": 6}
    good, bad = FakeTenant(11, sizes), FakeTenant(22, sizes, refuse_after=2)
    outcomes = _run(conn, [good, bad], workers_per_tenant=1)
    failed = [o for o in outcomes if o.error is not None]
    assert {o.tenant_id for o in failed} == {22}
    (first,) = [o for o in failed if not o.skipped]
    assert first.entity.name == "customers"  # the largest starts first, and fails on page 3
    assert isinstance(first.error, AuthenticationError)
    # the others never started: the same error, no request of theirs
    assert sorted(o.entity.name for o in failed if o.skipped) == ["jobs", "locations"]
    assert all(o.error is first.error for o in failed)
    assert set(bad.requests) == {"customers"}
    _assert_exact(conn, good)
    # what the failed entity committed before is kept (resumed from there next time)
    assert len(_stored(conn, bad, "customers")) == 2 * PAGE


def test_one_tenant_given_twice_is_refused(conn):
    fake = FakeTenant(5, {"customers": 1})
    with fake.client() as first, fake.client() as second:
        tenants = [
            TenantSync("a", first, [get_entity("customers")]),
            TenantSync("b", second, [get_entity("customers")]),
        ]
        with pytest.raises(ValueError, match="tenant ID 5 given twice"):
            TenantSyncs(conn, tenants)
