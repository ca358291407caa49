"""Faults on demand: each kind behaves as configured, reproducibly, and never corrupts data."""

from __future__ import annotations

import email.utils
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
import pytest
from sim_helpers import Api

from servicetitan_pipeline.entities import ENTITIES_BY_NAME
from servicetitan_pipeline.simulator import FaultConfig

CUSTOMERS = ENTITIES_BY_NAME["customers"]


def _path(api: Api) -> str:
    return CUSTOMERS.export_path(api.sim.config.tenant_id)


@pytest.mark.parametrize("mode", ["seconds", "http-date", "none"])
def test_429_with_each_kind_of_retry_after(fresh_api: Api, mode: str) -> None:
    fresh_api.sim.set_faults(
        FaultConfig(error_429_rate=1.0, retry_after=mode, retry_after_seconds=3)
    )
    response = fresh_api.get(_path(fresh_api))
    assert response.status_code == 429
    body = response.json()
    assert body["status"] == 429 and "Try again in 3 seconds" in body["title"]
    header = response.headers.get("Retry-After")
    if mode == "seconds":
        assert header == "3"
    elif mode == "http-date":
        # On the server's clock (the simulated one, which the answer's Date carries), as a
        # client reads it.
        when = email.utils.parsedate_to_datetime(header).timestamp()
        date = email.utils.parsedate_to_datetime(response.headers["Date"]).timestamp()
        assert 0 < when - date <= 4
    else:
        assert header is None


def test_5xx(fresh_api: Api) -> None:
    fresh_api.sim.set_faults(FaultConfig(error_5xx_rate=1.0))
    statuses = {fresh_api.get(_path(fresh_api)).status_code for _ in range(20)}
    assert statuses <= {500, 502, 503, 504} and len(statuses) > 1


def test_dropped_connection(fresh_api: Api) -> None:
    fresh_api.sim.set_faults(FaultConfig(drop_connection_rate=1.0))
    with pytest.raises(httpx.RemoteProtocolError):
        fresh_api.get(_path(fresh_api))
    fresh_api.sim.set_faults(FaultConfig())
    assert fresh_api.get(_path(fresh_api)).status_code == 200  # the client reconnects


def test_truncated_and_invalid_json(fresh_api: Api) -> None:
    fresh_api.sim.set_faults(FaultConfig(truncated_json_rate=1.0))
    truncated = fresh_api.get(_path(fresh_api))
    assert truncated.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(truncated.content)
    fresh_api.sim.set_faults(FaultConfig(invalid_json_rate=1.0))
    invalid = fresh_api.get(_path(fresh_api))
    assert invalid.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(invalid.content)


def test_slow_answers(fresh_api: Api) -> None:
    fresh_api.sim.set_faults(FaultConfig(slow_rate=1.0, slow_seconds=0.3))
    started = time.perf_counter()
    assert fresh_api.get(_path(fresh_api)).status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_latency_delays_every_api_answer_and_concurrent_ones_overlap(fresh_api: Api) -> None:
    sim = fresh_api.sim
    sim.set_faults(FaultConfig(latency_seconds=0.3, error_429_rate=0.5, seed=0))
    path = CUSTOMERS.list_path(sim.config.tenant_id)

    def timed(client: httpx.Client) -> tuple[int, float]:
        started = time.perf_counter()
        status = client.get(path, params={"pageSize": 1}, headers=fresh_api.headers).status_code
        return status, time.perf_counter() - started

    clients = [httpx.Client(base_url=sim.base_url, timeout=30) for _ in range(4)]
    try:
        # Each request pays the latency, errors included; the faults still draw.
        answers = [timed(c) for c in clients]
        assert {status for status, _ in answers} == {200, 429}
        assert all(seconds >= 0.3 for _, seconds in answers)
        # Four at once wait side by side (a real API's latency is per request).
        with ThreadPoolExecutor(4) as pool:
            started = time.perf_counter()
            concurrent = list(pool.map(timed, clients))
            wall = time.perf_counter() - started
        assert all(seconds >= 0.3 for _, seconds in concurrent)
        assert wall < 4 * 0.3
    finally:
        for c in clients:
            c.close()
    assert "fault_slow" not in sim.stats
    # The token endpoint and the controls are not delayed.
    started = time.perf_counter()
    fresh_api.new_token()
    fresh_api.http.get("/_simulator/status")
    assert time.perf_counter() - started < 0.3


def test_requests_per_second_cap(fresh_api: Api) -> None:
    fresh_api.sim.set_faults(FaultConfig(rate_limit_rps=5))
    path = CUSTOMERS.list_path(fresh_api.sim.config.tenant_id)
    answers = [fresh_api.get(path, pageSize=1) for _ in range(12)]
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [200] * 5
    assert statuses.count(429) >= 5
    limited = next(a for a in answers if a.status_code == 429)
    assert limited.headers["Retry-After"] == "1"
    time.sleep(1.05)
    assert fresh_api.get(path, pageSize=1).status_code == 200


def test_faults_are_seeded(fresh_api: Api) -> None:
    path = CUSTOMERS.list_path(fresh_api.sim.config.tenant_id)

    def run() -> list[int]:
        fresh_api.sim.set_faults(FaultConfig(seed=99, error_429_rate=0.3, error_5xx_rate=0.2))
        return [fresh_api.get(path, pageSize=1).status_code for _ in range(30)]

    first, second = run(), run()
    assert first == second
    assert 200 in first and 429 in first and any(s >= 500 for s in first)


def test_token_endpoint_is_spared_unless_asked(fresh_api: Api) -> None:
    sim = fresh_api.sim
    sim.set_faults(FaultConfig(error_5xx_rate=1.0))
    assert fresh_api.new_token()
    sim.set_faults(FaultConfig(error_5xx_rate=1.0, faults_on_token_endpoint=True))
    with pytest.raises(httpx.HTTPStatusError):
        fresh_api.new_token()


def test_faults_never_corrupt_data_or_tokens(fresh_api: Api) -> None:
    sim = fresh_api.sim
    # Invoice items: the entity with the most pages (about 15 of 80 records here).
    path = ENTITIES_BY_NAME["invoice_items"].export_path(sim.config.tenant_id)
    sim.set_faults(FaultConfig.uniform(0.6, seed=5, slow_seconds=0.01))
    failures = 0
    for _walk in range(3):  # three complete exports through the faults
        records: dict[int, dict] = {}
        token = None
        for _ in range(400):
            params = {"from": token} if token else {}
            try:
                response = fresh_api.get(path, **params)
                body = orjson.loads(response.content) if response.status_code == 200 else None
            except (httpx.TransportError, orjson.JSONDecodeError):
                body = None
            if body is None:
                failures += 1
                continue
            records.update({r["id"]: r for r in body["data"]})
            token = body["continueFrom"]
            if not body["hasMore"]:
                break
        assert records == {r["id"]: r for r in sim.truth("invoice_items")}
    assert failures >= 5
    assert sim.stats["fault_429"] and sim.stats["fault_5xx"]
    sim.set_faults(FaultConfig())
    assert fresh_api.get(path).status_code == 200  # the token survived every fault


def test_fault_config_validation() -> None:
    with pytest.raises(ValueError):
        FaultConfig(error_429_rate=1.5)
    with pytest.raises(ValueError):
        FaultConfig(retry_after="later")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FaultConfig.from_dict({"error_rate": 0.1})
    with pytest.raises(ValueError, match="latency_seconds"):
        FaultConfig(latency_seconds=-1)
    uniform = FaultConfig.uniform(0.2)
    total = sum(
        getattr(uniform, f)
        for f in (
            "error_429_rate",
            "error_5xx_rate",
            "drop_connection_rate",
            "truncated_json_rate",
            "slow_rate",
        )
    )
    assert total == pytest.approx(0.2)
