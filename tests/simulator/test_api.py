"""The simulator answers as ServiceTitan does: auth, errors, list filters and paging."""

from __future__ import annotations

import time
from datetime import datetime

import httpx
import pytest
from sim_helpers import Api

from servicetitan_pipeline.entities import ENTITIES_BY_NAME
from servicetitan_pipeline.simulator import (
    DEMO_APP_KEY,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_TENANT_ID,
    FaultConfig,
    SimulatorConfig,
)

CUSTOMERS = ENTITIES_BY_NAME["customers"]


def _problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"type", "title", "status", "traceId", "errors"}
    assert body["status"] == status
    assert body["traceId"]
    return body


def test_demo_credentials_are_the_documented_defaults() -> None:
    config = SimulatorConfig()
    assert (config.tenant_id, config.client_id, config.client_secret, config.app_key) == (
        1000001,
        "cid.demo",
        "cs1.demo-secret",
        "ak1.demo",
    )
    assert (
        config.tenant_id,
        config.client_id,
        config.client_secret,
        config.app_key,
    ) == (DEMO_TENANT_ID, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_APP_KEY)


def test_token_endpoint_speaks_oauth_client_credentials(api: Api) -> None:
    c = api.sim.config
    ok = api.http.post(
        "/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": c.client_id,
            "client_secret": c.client_secret,
        },
    )
    assert ok.status_code == 200
    body = ok.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    # HTTP Basic client authentication works too.
    basic = api.http.post(
        "/connect/token",
        data={"grant_type": "client_credentials"},
        auth=(c.client_id, c.client_secret),
    )
    assert basic.status_code == 200
    wrong = api.http.post(
        "/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": c.client_id,
            "client_secret": "nope",
        },
    )
    assert (wrong.status_code, wrong.json()) == (400, {"error": "invalid_client"})
    grant = api.http.post(
        "/connect/token", data={"grant_type": "password", "client_id": c.client_id}
    )
    assert (grant.status_code, grant.json()) == (400, {"error": "unsupported_grant_type"})
    missing = api.http.post("/connect/token", data={"grant_type": "client_credentials"})
    assert (missing.status_code, missing.json()) == (400, {"error": "invalid_request"})


def test_auth_and_routing_errors(api: Api) -> None:
    tenant = api.sim.config.tenant_id
    path = CUSTOMERS.list_path(tenant)
    _problem(api.http.get(path), 401)
    _problem(
        api.http.get(path, headers={"Authorization": "Bearer forged", "ST-App-Key": DEMO_APP_KEY}),
        401,
    )
    _problem(api.http.get(path, headers={"Authorization": f"Bearer {api.token}"}), 401)
    _problem(
        api.http.get(
            path, headers={"Authorization": f"Bearer {api.token}", "ST-App-Key": "ak1.wrong"}
        ),
        401,
    )
    body = _problem(api.get(CUSTOMERS.list_path(tenant + 1)), 403)
    assert str(tenant + 1) in body["title"]
    _problem(api.get(f"/crm/v2/tenant/{tenant}/unicorns"), 404)
    _problem(api.get(f"/crm/v3/tenant/{tenant}/customers"), 404)
    # ServiceTitan has no export of job types (nor a list of invoice items).
    _problem(api.get(f"/jpm/v2/tenant/{tenant}/export/job-types"), 404)
    _problem(api.get(f"/accounting/v2/tenant/{tenant}/invoice-items"), 404)
    _problem(api.http.get("/nowhere"), 404)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"pageSize": 5001}, "pageSize"),
        ({"pageSize": 0}, "pageSize"),
        ({"page": 0}, "page"),
        ({"page": "two"}, "page"),
        ({"modifiedOnOrAfter": "last tuesday"}, "modifiedOnOrAfter"),
        ({"modifiedBefore": "2026-13-45"}, "modifiedBefore"),
        ({"active": "Maybe"}, "active"),
        ({"includeTotal": "perhaps"}, "includetotal"),
    ],
)
def test_bad_list_parameters_are_400s_naming_the_field(api: Api, params: dict, field: str) -> None:
    body = _problem(api.get(CUSTOMERS.list_path(api.sim.config.tenant_id), **params), 400)
    assert [k.lower() for k in body["errors"]] == [field.lower()]


def test_bad_export_tokens_are_400s(api: Api) -> None:
    tenant = api.sim.config.tenant_id
    path = CUSTOMERS.export_path(tenant)
    _problem(api.get(path, **{"from": "garbage!!"}), 400)
    # A token of another entity, and one from "the future" (another tenant's database).
    jobs_token = api.get(ENTITIES_BY_NAME["jobs"].export_path(tenant)).json()["continueFrom"]
    _problem(api.get(path, **{"from": jobs_token}), 400)
    from servicetitan_pipeline.simulator.store import encode_token

    _problem(api.get(path, **{"from": encode_token("customers", 10**12)}), 400)


def test_expired_tokens_are_401_then_a_new_token_works(fresh_api: Api) -> None:
    sim = fresh_api.sim
    sim.set_faults(FaultConfig(token_ttl_seconds=1))
    fresh_api.token = fresh_api.new_token()
    path = CUSTOMERS.list_path(sim.config.tenant_id)
    assert fresh_api.get(path).status_code == 200
    time.sleep(1.1)
    assert "expired" in _problem(fresh_api.get(path), 401)["title"]
    fresh_api.token = fresh_api.new_token()
    assert fresh_api.get(path).status_code == 200
    assert sim.expire_tokens() >= 1
    _problem(fresh_api.get(path), 401)


def test_list_returns_active_records_unless_asked(api: Api) -> None:
    tenant = api.sim.config.tenant_id
    truth = api.sim.truth("customers")
    active = {r["id"] for r in truth if r["active"]}
    inactive = {r["id"] for r in truth if not r["active"]}
    assert active and inactive
    path = CUSTOMERS.list_path(tenant)
    assert {r["id"] for r in api.list_all(path)} == active
    assert {r["id"] for r in api.list_all(path, active="True")} == active
    assert {r["id"] for r in api.list_all(path, active="False")} == inactive
    assert {r["id"] for r in api.list_all(path, active="any")} == active | inactive
    # Invoices and payments filter with activeState.
    invoices = api.sim.truth("invoices")
    inv_path = ENTITIES_BY_NAME["invoices"].list_path(tenant)
    inactive_invoices = {r["id"] for r in invoices if not r["active"]}
    assert inactive_invoices
    assert {r["id"] for r in api.list_all(inv_path, activeState="InactiveOnly")} == (
        inactive_invoices
    )
    assert len(api.list_all(inv_path, activeState="All")) == len(invoices)
    assert len(api.list_all(inv_path)) == len(invoices) - len(inactive_invoices)


def test_list_and_export_shapes_differ_where_the_spec_says(api: Api) -> None:
    tenant = api.sim.config.tenant_id
    jobs = ENTITIES_BY_NAME["jobs"]
    listed = api.get(jobs.list_path(tenant), pageSize=5).json()["data"]
    exported = api.get(jobs.export_path(tenant)).json()["data"]
    assert listed and all("active" not in job for job in listed)
    assert exported and all(isinstance(job["active"], bool) for job in exported)
    # Money: strings on invoices, items and payments; numbers on customers.
    invoice = api.get(ENTITIES_BY_NAME["invoices"].list_path(tenant)).json()["data"][0]
    assert all(isinstance(invoice[k], str) for k in ("subTotal", "salesTax", "total", "balance"))
    customer = api.get(CUSTOMERS.list_path(tenant)).json()["data"][0]
    assert isinstance(customer["balance"], float)


def test_pagination_covers_every_record_once(api: Api) -> None:
    path = CUSTOMERS.list_path(api.sim.config.tenant_id)
    expected = sorted(r["id"] for r in api.sim.truth("customers"))
    seen: list[int] = []
    page = 1
    while True:
        body = api.get(path, page=page, pageSize=37, active="Any", includeTotal="true").json()
        assert (body["page"], body["pageSize"], body["totalCount"]) == (page, 37, len(expected))
        assert len(body["data"]) <= 37
        seen += [r["id"] for r in body["data"]]
        if not body["hasMore"]:
            break
        assert len(body["data"]) == 37
        page += 1
    assert seen == expected  # ordered by id, each once
    beyond = api.get(path, page=page + 1, pageSize=37, active="Any").json()
    assert beyond["data"] == [] and beyond["hasMore"] is False
    default = api.get(path).json()
    assert default["pageSize"] == 50 and len(default["data"]) == 50
    assert default["totalCount"] is None


def test_list_modified_and_created_filters(api: Api) -> None:
    path = CUSTOMERS.list_path(api.sim.config.tenant_id)
    truth = api.sim.truth("customers")
    cut = "2026-03-01T00:00:00Z"
    cut_dt = datetime.fromisoformat("2026-03-01T00:00:00+00:00")

    def ts(value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    after = {r["id"] for r in truth if ts(r["modifiedOn"]) >= cut_dt}
    before = {r["id"] for r in truth if ts(r["modifiedOn"]) < cut_dt}
    assert after and before
    assert {r["id"] for r in api.list_all(path, active="Any", modifiedOnOrAfter=cut)} == after
    assert {r["id"] for r in api.list_all(path, active="Any", modifiedBefore=cut)} == before
    # A date without a time, and an offset, are read as ServiceTitan reads them.
    assert {r["id"] for r in api.list_all(path, active="Any", modifiedOnOrAfter="2026-03-01")} == (
        after
    )
    shifted = api.list_all(path, active="Any", modifiedOnOrAfter="2026-03-01T02:00:00+02:00")
    assert {r["id"] for r in shifted} == after
    created = {r["id"] for r in truth if ts(r["createdOn"]) >= cut_dt}
    assert {r["id"] for r in api.list_all(path, active="Any", createdOnOrAfter=cut)} == created
    ids = sorted(after)[:3]
    by_ids = api.get(path, ids=",".join(map(str, ids)), active="Any").json()["data"]
    assert [r["id"] for r in by_ids] == ids


def test_list_only_entities_have_no_export(api: Api) -> None:
    tenant = api.sim.config.tenant_id
    for name in ("job_types", "campaigns"):
        entity = ENTITIES_BY_NAME[name]
        records = api.list_all(entity.list_path(tenant), **entity.list_inactive_params)
        assert len(records) == len(api.sim.truth(name))
        assert any(not r["active"] for r in records)
