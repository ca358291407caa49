"""The engine's progress hook, through ``sync.concurrent.TenantSyncs`` against fake
ServiceTitan tenants (httpx.MockTransport): every page is counted as it is written, list
entities ask for and carry ServiceTitan's ``totalCount`` while exports carry none, each tenant
and entity has its own entry, a failed sync is marked failed, and the progress lines reach
the caller's log on the calling thread. And: every list endpoint the entity table uses takes
``includeTotal``, as the bundled OpenAPI documents say."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs

import duckdb
import httpx
import pytest

from servicetitan_pipeline.client import ConnectionSettings, ServiceTitanClient
from servicetitan_pipeline.entities import ENTITIES, SyncMode, get_entity
from servicetitan_pipeline.openapi import module
from servicetitan_pipeline.sync.concurrent import TenantSync, TenantSyncs
from servicetitan_pipeline.sync.engine import LIST_TOTAL_PARAMS
from servicetitan_pipeline.sync.progress import ProgressLines, SyncProgress

EXPORT_PAGE = 3


class FakeTenant:
    """Export pages of 3 records for ``exported``; the job types list in pages of the asked
    size, with ``totalCount`` when asked ``includeTotal=true`` (as ServiceTitan answers).
    ``forbidden``: entities answered with 403."""

    def __init__(self, tenant_id: int, exported: dict[str, int], job_types: int, forbidden=()):
        self.tenant_id = tenant_id
        self.exported = exported
        self.job_types = job_types
        self.forbidden = set(forbidden)
        self.list_queries: list[dict[str, str]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/connect/token"):
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 900})
        q = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        entity = request.url.path.rsplit("/", 1)[1].replace("-", "_")
        if entity in self.forbidden:
            return httpx.Response(403, json={"title": "Forbidden", "status": 403})
        if "/export/" in request.url.path:
            n = int(q["from"]) if "from" in q else 0
            count = self.exported[entity]
            chunk = [
                {"id": i, "modifiedOn": "2024-05-01T08:00:00Z", "active": True}
                for i in range(n * EXPORT_PAGE + 1, min(count, (n + 1) * EXPORT_PAGE) + 1)
            ]
            more = (n + 1) * EXPORT_PAGE < count
            return httpx.Response(
                200, json={"hasMore": more, "continueFrom": str(n + 1), "data": chunk}
            )
        self.list_queries.append(q)
        page, size = int(q["page"]), int(q["pageSize"])
        ids = range((page - 1) * size + 1, min(self.job_types, page * size) + 1)
        total = self.job_types if q.get("includeTotal") == "true" else None
        return httpx.Response(
            200,
            json={
                "page": page,
                "pageSize": size,
                "hasMore": page * size < self.job_types,
                "totalCount": total,
                "data": [
                    {"id": i, "modifiedOn": "2024-05-01T08:00:00Z", "active": True} for i in ids
                ],
            },
        )


def _client(fake: FakeTenant) -> ServiceTitanClient:
    settings = ConnectionSettings(
        name=f"t{fake.tenant_id}",
        environment="integration",
        tenant_id=fake.tenant_id,
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
    c = duckdb.connect(str(tmp_path / "progress.duckdb"))
    yield c
    c.close()


def test_every_page_is_counted_per_tenant_and_entity_with_totals_only_from_lists(conn):
    north = FakeTenant(1001, {"customers": 7}, job_types=5)
    south = FakeTenant(1002, {"customers": 4}, job_types=2, forbidden=("job_types",))
    entities = [get_entity("customers"), get_entity("job_types")]
    model = SyncProgress()
    log = RecordingLog()
    with _client(north) as north_client, _client(south) as south_client:
        syncs = TenantSyncs(
            conn,
            [
                TenantSync("north", north_client, entities),
                TenantSync("south", south_client, entities),
            ],
            list_page_size=2,
        )
        outcomes = list(syncs.run(log=log, progress=ProgressLines(model, every_seconds=0)))
    assert sorted((o.connection_name, o.entity.name, o.error is None) for o in outcomes) == [
        ("north", "customers", True),
        ("north", "job_types", True),
        ("south", "customers", True),
        ("south", "job_types", False),
    ]
    by_item = {(s.connection_name, s.entity): s for s in model.snapshot()}
    assert len(by_item) == 4  # one entry each
    customers = by_item["north", "customers"]
    assert (customers.records, customers.pages, customers.total) == (7, 3, None)
    assert customers.finished and not customers.failed
    job_types = by_item["north", "job_types"]
    assert (job_types.records, job_types.pages, job_types.total) == (5, 3, 5)
    assert by_item["south", "customers"].records == 4
    assert by_item["south", "job_types"].failed
    # Asked on every page of the list walk; the export requests are not list queries.
    assert north.list_queries and all(q["includeTotal"] == "true" for q in north.list_queries)
    # Final lines (every_seconds 0 and finals on) in the caller's log, on the caller's thread.
    assert "north: customers: done: 7 records, 3 pages" in "\n".join(log.lines)
    assert any(line.startswith("south: job_types: failed after") for line in log.lines)
    assert log.threads == {threading.get_ident()}


def test_without_a_model_the_sync_runs_as_before(conn):
    fake = FakeTenant(1001, {"customers": 4}, job_types=1)
    with _client(fake) as client:
        syncs = TenantSyncs(conn, [TenantSync("north", client, [get_entity("customers")])])
        (outcome,) = list(syncs.run(log=RecordingLog()))
    assert outcome.result is not None and outcome.result.counts.records == 4


@pytest.mark.parametrize(
    "entity", [e for e in ENTITIES if e.sync_mode is not SyncMode.EXPORT], ids=lambda e: e.name
)
def test_every_list_endpoint_takes_include_total(entity):
    spec = module(entity.module)
    path = entity.list_path("{tenant}").removeprefix(spec.path_prefix)
    parameters = spec.operations[path].parameters
    for name in LIST_TOTAL_PARAMS:
        assert name in parameters, f"{entity.name}: {path} has no {name} parameter"
