"""The server itself: keep-alive, concurrency, control endpoints, clean stop, the CLI."""

from __future__ import annotations

import email.utils
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sim_helpers import Api

from servicetitan_pipeline.entities import ENTITIES_BY_NAME
from servicetitan_pipeline.simulator import SimulatorConfig, start_simulator

REPO = Path(__file__).resolve().parents[2]


def test_keep_alive_serves_many_requests_on_one_connection(api: Api) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", api.sim.port, timeout=10)
    path = ENTITIES_BY_NAME["customers"].list_path(api.sim.config.tenant_id)
    conn.request("GET", path, headers=api.headers)
    conn.getresponse().read()
    sock = conn.sock
    for _ in range(5):
        conn.request("GET", path + "?pageSize=3", headers=api.headers)
        response = conn.getresponse()
        assert response.status == 200 and response.version == 11
        response.read()
        assert conn.sock is sock  # not reconnected
    conn.close()


def test_concurrent_clients_get_consistent_pages(api: Api) -> None:
    path = ENTITIES_BY_NAME["invoice_items"].export_path(api.sim.config.tenant_id)
    expected = api.get(path).content

    def fetch(_: int) -> bytes:
        with httpx.Client(base_url=api.sim.base_url, timeout=30) as client:
            return client.get(path, headers=api.headers).content

    with ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(fetch, range(24)))
    assert all(b == expected for b in bodies)


def test_control_endpoints(fresh_api: Api) -> None:
    http = fresh_api.http
    summary = http.post("/_simulator/advance", json={"hours": 24}).json()
    assert summary["hours"] == 24 and summary["clock"] == fresh_api.sim.clock
    assert summary["entities"]["customers"]["created"] >= 1
    truth = http.get("/_simulator/truth/invoice_items").json()
    assert truth == fresh_api.sim.truth("invoice_items")
    assert http.get("/_simulator/truth/unicorns").status_code == 404
    faults = http.post("/_simulator/faults", json={"error_429_rate": 1.0, "seed": 4}).json()
    assert faults["error_429_rate"] == 1.0 and fresh_api.sim.faults.seed == 4
    assert http.get("/_simulator/faults").json() == faults
    path = ENTITIES_BY_NAME["jobs"].export_path(fresh_api.sim.config.tenant_id)
    assert fresh_api.get(path).status_code == 429
    assert http.post("/_simulator/faults", json={"bogus": 1}).status_code == 400
    assert http.post("/_simulator/advance", json={"hours": -1}).status_code == 400
    http.post("/_simulator/faults", json={})
    assert fresh_api.get(path).status_code == 200


def test_stops_cleanly_and_frees_the_port() -> None:
    sim = start_simulator(SimulatorConfig(customers=20, seed=1))
    port = sim.port
    client = httpx.Client(base_url=sim.base_url)  # a keep-alive connection left open
    assert client.get("/_simulator/faults").status_code == 200
    thread = sim._thread
    sim.stop()
    assert thread is not None and not thread.is_alive()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    client.close()


@pytest.mark.timeout(60)
def test_cli_serves_and_prints_how_to_connect() -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            # The console script's entry point (`servicetitan-pipeline simulator ...`).
            "-c",
            "import sys; from servicetitan_pipeline.cli import main; sys.exit(main())",
            "simulator",
            "--port",
            "0",
            "--customers",
            "30",
            "--client-secret",
            "cs1.other",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        # A thread reads the output: select() on a buffered pipe misses lines already read
        # into the buffer (the banner comes in one write).
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        deadline = time.monotonic() + 45
        while not any("Serving" in line for line in lines) and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        urls = [line.split(":", 1)[1].strip() for line in lines if "API base URL" in line]
        assert urls and proc.poll() is None, "".join(lines)
        base_url = urls[0]
        output = "".join(lines)
        assert "cid.demo" in output and "cs1.other" in output and "ak1.demo" in output
        token = httpx.post(
            base_url + "/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "cid.demo",
                "client_secret": "cs1.other",
            },
        )
        assert token.status_code == 200
        answer = httpx.get(
            base_url + "/crm/v2/tenant/1000001/export/customers",
            headers={
                "Authorization": f"Bearer {token.json()['access_token']}",
                "ST-App-Key": "ak1.demo",
            },
        )
        assert len(answer.json()["data"]) == 30
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_date_header_carries_the_simulated_clock(fresh_api: Api) -> None:
    """A real server's Date is its own now; the simulator's is the simulated now."""
    sim = fresh_api.sim
    tenant = sim.config.tenant_id

    def server_date(response: httpx.Response) -> datetime:
        return email.utils.parsedate_to_datetime(response.headers["Date"])

    clock = datetime.fromisoformat(sim.clock.replace("Z", "+00:00"))
    answer = fresh_api.get(f"/crm/v2/tenant/{tenant}/customers")
    assert server_date(answer) == clock.replace(microsecond=0)
    # Every answer carries it: errors, the token endpoint and the controls too.
    assert server_date(fresh_api.http.get(f"/crm/v2/tenant/{tenant}/customers")) == clock
    sim.advance(hours=30)
    later = fresh_api.http.get("/_simulator/status")
    assert server_date(later) == clock + timedelta(hours=30)
    assert later.json()["clock"] == sim.clock
