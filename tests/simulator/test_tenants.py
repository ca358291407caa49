"""Several simulated tenants on one port: routing, isolation, and the demo tenants' configs."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sim_helpers import Api

from servicetitan_pipeline.entities import ENTITIES_BY_NAME
from servicetitan_pipeline.simulator import (
    DEMO_APP_KEY,
    DEMO_TENANT_ID,
    FaultConfig,
    SimulatedTenants,
    Simulator,
    SimulatorConfig,
    demo_tenant_configs,
    start_simulator,
    start_tenants,
)
from servicetitan_pipeline.simulator.store import encode_token

REPO = Path(__file__).resolve().parents[2]
A, B = DEMO_TENANT_ID, DEMO_TENANT_ID + 1
CUSTOMERS = ENTITIES_BY_NAME["customers"]


@pytest.fixture(scope="module")
def served() -> Iterator[SimulatedTenants]:
    """Two small demo tenants on one port, for read-only tests (export pages of 40)."""
    with start_tenants(demo_tenant_configs(2, customers=(50, 30), export_page_size=40)) as s:
        yield s


@pytest.fixture
def fresh_served() -> Iterator[SimulatedTenants]:
    """Two small tenants of one's own, for tests that advance clocks or inject faults."""
    with start_tenants(demo_tenant_configs(2, customers=40, seed=5)) as s:
        yield s


def _apis(served: SimulatedTenants) -> Iterator[tuple[Api, Api]]:
    a, b = Api(served.tenants[A]), Api(served.tenants[B])
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def apis(served: SimulatedTenants) -> Iterator[tuple[Api, Api]]:
    yield from _apis(served)


@pytest.fixture
def fresh_apis(fresh_served: SimulatedTenants) -> Iterator[tuple[Api, Api]]:
    yield from _apis(fresh_served)


def _ids(records: list[dict]) -> set[int]:
    return {r["id"] for r in records}


def test_two_tenants_on_one_port_each_serve_their_own_data(
    served: SimulatedTenants, apis: tuple[Api, Api]
) -> None:
    assert list(served.tenants) == [A, B]
    for sim in served.tenants.values():
        assert (sim.base_url, sim.auth_url, sim.port) == (
            served.base_url,
            served.auth_url,
            served.port,
        )
    sim_a, sim_b = served.tenants[A], served.tenants[B]
    for name in ("customers", "jobs", "invoices"):
        truth_a, truth_b = sim_a.truth(name), sim_b.truth(name)
        assert truth_a != truth_b
        # Every world numbers its records from the same bases: the ids collide across
        # tenants, which is what a pipeline keyed by id alone would get wrong.
        assert _ids(truth_a) & _ids(truth_b), name
    for api, sim in zip(apis, (sim_a, sim_b), strict=True):
        records, _ = api.export_all(CUSTOMERS.export_path(sim.config.tenant_id))
        assert _ids(records) == _ids(sim.truth("customers"))


def test_each_clients_token_works_on_its_own_tenant_only(
    served: SimulatedTenants, apis: tuple[Api, Api]
) -> None:
    api_a, api_b = apis
    assert api_a.token != api_b.token
    for api, own, other in ((api_a, A, B), (api_b, B, A)):
        assert api.get(CUSTOMERS.list_path(own)).status_code == 200
        refused = api.get(CUSTOMERS.list_path(other))
        # The token authenticates, but was issued for another tenant: no access there.
        assert refused.status_code == 403, refused.text
        assert f"no access to tenant {other}" in refused.json()["title"]
        assert api.get(f"/reporting/v2/tenant/{own}/report-categories").status_code == 200
        assert api.get(f"/reporting/v2/tenant/{other}/report-categories").status_code == 403
    # HTTP Basic credentials route by their user name the same way.
    config_b = served.tenants[B].config
    basic = base64.b64encode(f"{config_b.client_id}:{config_b.client_secret}".encode()).decode()
    answer = api_a.http.post(
        "/connect/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    token = answer.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "ST-App-Key": DEMO_APP_KEY}
    assert api_a.http.get(CUSTOMERS.list_path(B), headers=headers).status_code == 200
    assert api_a.http.get(CUSTOMERS.list_path(A), headers=headers).status_code == 403


def test_unknown_clients_and_tenants_are_answered_as_servicetitan_does(
    served: SimulatedTenants, apis: tuple[Api, Api]
) -> None:
    api_a, _ = apis
    config_a, config_b = served.tenants[A].config, served.tenants[B].config

    def token(client_id: str, secret: str) -> httpx.Response:
        form = {"grant_type": "client_credentials", "client_id": client_id}
        return api_a.http.post("/connect/token", data={**form, "client_secret": secret})

    for client_id, secret in (
        ("cid.nobody", config_a.client_secret),
        # One tenant's client id with the other's secret is refused too.
        (config_a.client_id, config_b.client_secret),
    ):
        refused = token(client_id, secret)
        assert (refused.status_code, refused.json()) == (400, {"error": "invalid_client"})
    assert token(config_b.client_id, config_b.client_secret).status_code == 200
    unknown = api_a.get(CUSTOMERS.list_path(DEMO_TENANT_ID + 99))
    assert unknown.status_code == 403 and "no access to tenant" in unknown.json()["title"]
    assert api_a.get(CUSTOMERS.list_path("abc")).status_code == 400
    bad_token = {"Authorization": "Bearer nope", "ST-App-Key": DEMO_APP_KEY}
    for tenant in (A, B, DEMO_TENANT_ID + 99):
        assert api_a.http.get(CUSTOMERS.list_path(tenant), headers=bad_token).status_code == 401
    wrong_key = {"Authorization": f"Bearer {api_a.token}", "ST-App-Key": "ak1.other"}
    assert api_a.http.get(CUSTOMERS.list_path(A), headers=wrong_key).status_code == 401


def test_advancing_or_faulting_one_tenant_leaves_the_other_untouched(
    fresh_served: SimulatedTenants, fresh_apis: tuple[Api, Api]
) -> None:
    sim_a, sim_b = fresh_served.tenants[A], fresh_served.tenants[B]
    api_a, api_b = fresh_apis
    clock_a, customers_a = sim_a.clock, sim_a.truth("customers")
    customers_b = sim_b.truth("customers")
    summary = sim_b.advance(48)
    assert summary["entities"]["customers"]["created"] >= 1
    assert sim_b.truth("customers") != customers_b
    assert (sim_a.clock, sim_a.truth("customers")) == (clock_a, customers_a)
    # Each answer is dated by its own tenant's clock.
    date_a = api_a.get(CUSTOMERS.list_path(A)).headers["Date"]
    date_b = api_b.get(CUSTOMERS.list_path(B)).headers["Date"]
    assert date_a != date_b
    sim_b.set_faults(FaultConfig(error_429_rate=1.0))
    assert api_b.get(CUSTOMERS.list_path(B)).status_code == 429
    assert api_a.get(CUSTOMERS.list_path(A)).status_code == 200
    assert sim_b.stats["fault_429"] == 1 and sim_a.stats["fault_429"] == 0
    assert sim_a.faults == FaultConfig()
    # Expiring one tenant's tokens leaves the other's working.
    sim_b.set_faults(FaultConfig())
    assert sim_b.expire_tokens() >= 1
    assert api_b.get(CUSTOMERS.list_path(B)).status_code == 401
    assert api_a.get(CUSTOMERS.list_path(A)).status_code == 200


def test_control_endpoints_pick_a_tenant_by_query(
    fresh_served: SimulatedTenants, fresh_apis: tuple[Api, Api]
) -> None:
    http = fresh_apis[0].http
    sim_a, sim_b = fresh_served.tenants[A], fresh_served.tenants[B]
    assert http.get("/_simulator/status").json()["tenantId"] == A
    assert http.get("/_simulator/status", params={"tenant": B}).json()["tenantId"] == B
    missing = http.get("/_simulator/status", params={"tenant": DEMO_TENANT_ID + 99})
    assert missing.status_code == 404 and str(B) in missing.json()["title"]
    truth = http.get("/_simulator/truth/customers", params={"tenant": B}).json()
    assert truth == sim_b.truth("customers") != sim_a.truth("customers")
    clock_a = sim_a.clock
    http.post("/_simulator/advance", params={"tenant": B}, json={"hours": 24})
    assert sim_a.clock == clock_a != sim_b.clock
    http.post("/_simulator/faults", params={"tenant": B}, json={"error_5xx_rate": 1.0})
    assert sim_b.faults.error_5xx_rate == 1.0 and sim_a.faults.error_5xx_rate == 0.0
    listed = http.get("/_simulator/tenants").json()
    assert [(t["tenantId"], t["clientId"]) for t in listed] == [
        (A, sim_a.config.client_id),
        (B, sim_b.config.client_id),
    ]
    assert "secret" not in str(listed)


def test_export_continuation_tokens_are_refused_on_another_tenant(
    apis: tuple[Api, Api],
) -> None:
    api_a, api_b = apis
    first = api_a.get(CUSTOMERS.export_path(A)).json()
    assert first["hasMore"]
    token = first["continueFrom"]
    assert api_a.get(CUSTOMERS.export_path(A), **{"from": token}).status_code == 200
    refused = api_b.get(CUSTOMERS.export_path(B), **{"from": token})
    assert refused.status_code == 400 and "from" in refused.json()["errors"]
    # Tokens of earlier versions (no tenant in them) still work, on either tenant.
    legacy = encode_token("customers", 1)
    for api, tenant in ((api_a, A), (api_b, B)):
        assert api.get(CUSTOMERS.export_path(tenant), **{"from": legacy}).status_code == 200


def test_demo_tenant_configs() -> None:
    configs = demo_tenant_configs(3)
    # The first demo tenant is the single-tenant demo's, exactly.
    assert configs[0] == SimulatorConfig()
    assert [c.tenant_id for c in configs] == [A, B, DEMO_TENANT_ID + 2]
    assert [c.client_id for c in configs] == ["cid.demo", "cid.demo2", "cid.demo3"]
    assert [c.client_secret for c in configs] == [
        "cs1.demo-secret",
        "cs1.demo-secret2",
        "cs1.demo-secret3",
    ]
    assert {c.app_key for c in configs} == {DEMO_APP_KEY}
    assert [c.seed for c in configs] == [42, 43, 44]
    assert len({c.customers for c in configs}) == 3
    sized = demo_tenant_configs(2, customers=[70, 70], export_page_size=10)
    assert [(c.customers, c.export_page_size) for c in sized] == [(70, 10), (70, 10)]
    with pytest.raises(ValueError, match="client_id"):
        demo_tenant_configs(2, client_id="cid.x")
    with pytest.raises(ValueError, match="3 sizes for 2"):
        demo_tenant_configs(2, customers=[1, 2, 3])
    with pytest.raises(ValueError, match="distinct tenant_ids"):
        start_tenants([SimulatorConfig(customers=5), SimulatorConfig(customers=5)])


def test_one_server_for_one_or_many_tenants_and_stopping_frees_the_port() -> None:
    sim = start_simulator(SimulatorConfig(customers=10, seed=3))
    # A single simulator is a one-tenant server.
    assert sim._serving is not None and list(sim._serving.tenants) == [DEMO_TENANT_ID]
    sim.stop()
    served = start_tenants(demo_tenant_configs(2, customers=10))
    port, thread = served.port, served.thread
    with pytest.raises(RuntimeError, match="already being served"):
        SimulatedTenants([served.tenants[A]], host="127.0.0.1", port=0)
    # Stopping a member stops the server they share.
    served.tenants[B].stop()
    assert thread is not None and not thread.is_alive()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    with pytest.raises(RuntimeError, match="not started"):
        _ = served.tenants[A].base_url
    # A stopped member can be served again, on its own.
    with served.tenants[A] as alone:
        assert isinstance(alone, Simulator) and alone.port != 0


@pytest.mark.timeout(60)
def test_cli_serves_several_tenants_on_one_port() -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    command = "import sys; from servicetitan_pipeline.cli import main; sys.exit(main())"
    args = ["simulator", "--port", "0", "--customers", "20", "--tenants", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-c", command, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        deadline = time.monotonic() + 45
        while not any("Serving" in line for line in lines) and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        output = "".join(lines)
        urls = [line.split(":", 1)[1].strip() for line in lines if "API base URL" in line]
        assert len(urls) == 1 and proc.poll() is None, output
        for text in (str(A), str(B), "cid.demo2", "cs1.demo-secret2", DEMO_APP_KEY):
            assert text in output
        answer = httpx.post(
            urls[0] + "/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "cid.demo2",
                "client_secret": "cs1.demo-secret2",
            },
        )
        headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        headers["ST-App-Key"] = DEMO_APP_KEY
        assert httpx.get(urls[0] + CUSTOMERS.list_path(B), headers=headers).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
