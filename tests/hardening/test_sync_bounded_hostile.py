"""A sync against each misbehaving server ends bounded, with the good records committed.

End to end through ``sync.engine.sync_entity`` into a DuckDB file: the hostile server's first
export page (ids 1-3, ``continueFrom: t1``) is committed with its cursor, the misbehaviour
ends the sync within seconds with a clear error, and no secret reaches the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from hostile_server import (
    CLIENT_ID,
    FIRST_TOKEN,
    GIB,
    TENANT_ID,
    Behaviour,
    CyclingTokens,
    EmptyPages,
    GzipBomb,
    HostileServer,
    SameListPage,
    Slowloris,
    TruncatedTokenJson,
)

from servicetitan_pipeline.client import (
    InvalidResponseError,
    PaginationError,
    PagingLimits,
    ResponseLimitError,
    ResponseLimits,
    ServiceTitanClient,
    ServiceTitanError,
)
from servicetitan_pipeline.config import CONNECTION_ENV_VARS
from servicetitan_pipeline.defs.jobs import is_transient
from servicetitan_pipeline.defs.resources import (
    ServiceTitanResource,
    servicetitan_resource_from_env,
)
from servicetitan_pipeline.entities import get_entity
from servicetitan_pipeline.sync import engine
from servicetitan_pipeline.warehouse.state import read_sync_state

Start = Callable[..., HostileServer]
CUSTOMERS = get_entity("customers")
JOB_TYPES = get_entity("job_types")
BOUNDED_SECONDS = 10.0


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect(str(tmp_path / "hostile.duckdb"))
    yield c
    c.close()


def run_sync(
    server: HostileServer, conn: duckdb.DuckDBPyConnection, entity: str = "customers"
) -> BaseException:
    """Sync ``entity`` with tight limits; the error that ended it (the test expects one)."""
    client = ServiceTitanClient(
        server.connection_settings(),
        sleep=lambda seconds: None,  # retries of what *is* retryable: no need to wait here
        response_limits=ResponseLimits(max_body_bytes=16 << 20, deadline_seconds=1.5),
        paging_limits=PagingLimits(max_consecutive_empty_pages=10),
    )
    started = time.monotonic()
    with client, pytest.raises((ServiceTitanError, engine.SyncError)) as caught:
        engine.sync_entity(get_entity(entity), client, conn, connection_name="hostile")
    assert time.monotonic() - started < BOUNDED_SECONDS
    return caught.value


def ids(conn: duckdb.DuckDBPyConnection, entity: str = "customers") -> set[int]:
    return {i for (i,) in conn.execute(f"SELECT id FROM raw_servicetitan.{entity}").fetchall()}


def cursor(conn: duckdb.DuckDBPyConnection, entity: str = "customers") -> str | None:
    state = read_sync_state(conn, entity=entity, tenant_id=TENANT_ID)
    return state.cursor if state else None


@pytest.mark.parametrize(
    ("behaviour", "error_type", "committed", "committed_cursor"),
    [
        # 6: t1 -> t2 -> t1: the pages up to the repeat are kept.
        (CyclingTokens(), PaginationError, {1, 2, 3, 4, 5, 6}, FIRST_TOKEN),
        # 7: empty pages with new tokens: the first page, and the tokens of the empty ones.
        (EmptyPages(), PaginationError, {1, 2, 3}, "t12"),
        # 9: page 2 trickles in: page 1 is committed with its cursor, not left waiting in
        # its batch.
        (Slowloris(byte_interval=0.05), ResponseLimitError, {1, 2, 3}, FIRST_TOKEN),
        # 10: page 2 is a gzip bomb.
        (GzipBomb(size=GIB), ResponseLimitError, {1, 2, 3}, FIRST_TOKEN),
    ],
    ids=["6-cycling-tokens", "7-empty-pages", "9-slowloris", "10-gzip-bomb"],
)
def test_an_export_sync_ends_bounded_with_the_good_pages_committed(
    hostile_server: Start,
    conn: duckdb.DuckDBPyConnection,
    behaviour: Behaviour,
    error_type: type[ServiceTitanError],
    committed: set[int],
    committed_cursor: str,
) -> None:
    server = hostile_server({"customers": behaviour})
    error = run_sync(server, conn)
    assert isinstance(error, error_type)
    assert not is_transient(error)  # the job's retry policy would only meet it again
    assert server.export_path("customers") in str(error)
    assert ids(conn) == committed
    assert cursor(conn) == committed_cursor
    requests = server.api_requests(server.export_path("customers"))
    assert len(requests) <= 12  # bounded, and nothing that broke a bound was retried


def test_8_a_list_sync_ends_at_the_repeated_page_with_its_rows_kept(
    hostile_server: Start, conn: duckdb.DuckDBPyConnection
) -> None:
    server = hostile_server({"job_types": SameListPage()})
    error = run_sync(server, conn, "job_types")
    assert isinstance(error, PaginationError) and "same 3 records as page 1" in str(error)
    assert ids(conn, "job_types") == {1, 2, 3}
    # The pass did not complete: its high-water is not committed (the next pass re-reads).
    assert cursor(conn, "job_types") is None
    assert len(server.api_requests()) == 2


def test_3_a_truncated_token_answer_leaves_no_secret_in_the_warehouse(
    hostile_server: Start, conn: duckdb.DuckDBPyConnection
) -> None:
    server = hostile_server(token=TruncatedTokenJson())
    error = run_sync(server, conn)
    assert isinstance(error, engine.SyncError)
    assert isinstance(error.__cause__, InvalidResponseError)
    # Everything the sync stored, as text: rejects, cursors, rows.
    stored = [
        str(row)
        for table in ("_rejected", "_sync_state", "customers")
        for row in conn.execute(f"SELECT * FROM raw_servicetitan.{table}").fetchall()
    ]
    assert any("invalid JSON" in row for row in stored)  # the evidence is recorded...
    for secret in (server.access_token, server.client_secret, server.app_key, CLIENT_ID):
        assert secret not in str(error)
        assert all(secret not in row for row in stored)  # ...without the token


def test_9_pages_are_committed_while_a_slow_answer_trickles_in(
    hostile_server: Start, conn: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only once the deadline ends the request: a batch does not wait for a slow page."""
    monkeypatch.setattr(engine, "IDLE_COMMIT_SECONDS", 0.2)
    server = hostile_server({"customers": Slowloris(byte_interval=0.05)})
    reader = conn.cursor()  # a second connection: it sees only what is committed
    client = ServiceTitanClient(
        server.connection_settings(),
        sleep=lambda seconds: None,
        response_limits=ResponseLimits(deadline_seconds=30.0),
    )
    outcome: list[BaseException | None] = []

    def sync() -> None:
        try:
            engine.sync_entity(CUSTOMERS, client, conn, connection_name="hostile")
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=sync, daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 5.0
        seen: set[int] = set()
        while not seen and time.monotonic() < deadline:
            time.sleep(0.1)
            if reader.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'customers'"
            ).fetchone() != (0,):
                seen = {
                    i
                    for (i,) in reader.execute(
                        "SELECT id FROM raw_servicetitan.customers"
                    ).fetchall()
                }
        assert seen == {1, 2, 3}
        assert outcome == []  # page 2 is still arriving, a byte at a time
        (committed,) = reader.execute(
            "SELECT cursor FROM raw_servicetitan._sync_state"
        ).fetchone() or (None,)
        assert committed == FIRST_TOKEN
    finally:
        server.stop()  # cuts page 2: the sync ends
        worker.join(10.0)
        client.close()
        reader.close()
    assert not worker.is_alive()


def test_the_response_size_setting_reaches_the_runs_client_and_stops_a_gzip_bomb(
    hostile_server: Start, conn: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = hostile_server({"customers": GzipBomb(size=GIB)})
    settings = server.connection_settings()
    for field_name, env_name in CONNECTION_ENV_VARS.items():
        monkeypatch.setenv(env_name, str(getattr(settings, field_name)))
    monkeypatch.setenv("SERVICETITAN_MAX_RESPONSE_MB", "2")
    caught: list[BaseException] = []

    @dg.asset
    def customers(servicetitan: ServiceTitanResource) -> None:
        try:
            engine.sync_entity(CUSTOMERS, servicetitan.get_client(), conn, connection_name="h")
        except ResponseLimitError as exc:
            caught.append(exc)

    started = time.monotonic()
    # The run's resource, wired from the environment as definitions.py does.
    resource = servicetitan_resource_from_env(rate_limit_per_second=None, max_attempts=2)
    assert dg.materialize([customers], resources={"servicetitan": resource}).success
    assert time.monotonic() - started < BOUNDED_SECONDS
    (error,) = caught
    assert f"more than {2 << 20} bytes once decoded" in str(error)
    assert "raise SERVICETITAN_MAX_RESPONSE_MB / max_response_mb" in str(error)
    assert ids(conn) == {1, 2, 3} and cursor(conn) == FIRST_TOKEN
