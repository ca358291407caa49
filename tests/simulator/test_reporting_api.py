"""The simulator's Reporting API: categories, reports, descriptions, paged data from its world,
the 5-a-minute limit per report, auth and tenant rules, and answers valid against the spec."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import jsonschema
import pytest
from sim_helpers import Api, official_spec_dir
from test_schema import _format_checker, openapi_to_json_schema

from servicetitan_pipeline.simulator import FaultConfig, Simulator, SimulatorConfig, start_simulator
from servicetitan_pipeline.simulator.reporting import (
    REPORTS,
    job_outcomes,
    revenue_rows,
    split_amounts,
    technician_rows,
)

SPEC = official_spec_dir() / "reporting-v2.json"
FROM, TO = "2024-01-01", "2026-11-01"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    """A small tenant without the per-report limit, so tests can page freely."""
    with start_simulator(
        SimulatorConfig(customers=150, seed=7, report_requests_per_minute=None)
    ) as s:
        yield s


@pytest.fixture(scope="module")
def api(sim: Simulator) -> Iterator[Api]:
    client = Api(sim)
    yield client
    client.close()


def base(sim: Simulator) -> str:
    return f"/reporting/v2/tenant/{sim.config.tenant_id}"


def post_data(api: Api, category: str, report_id: int, parameters: Any, **query: Any):
    return api.http.post(
        f"{base(api.sim)}/report-category/{category}/reports/{report_id}/data",
        params=query,
        content=json.dumps({"parameters": parameters}),
        headers={**api.headers, "Content-Type": "application/json"},
    )


def dates(start: str = FROM, end: str = TO) -> list[dict[str, str]]:
    return [{"name": "From", "value": start}, {"name": "To", "value": end}]


def all_rows(api: Api, category: str, report_id: int, page_size: int) -> list[list[Any]]:
    rows: list[list[Any]] = []
    page = 1
    while True:
        body = post_data(api, category, report_id, dates(), page=page, pageSize=page_size).json()
        rows += body["data"]
        if not body["hasMore"]:
            return rows
        page += 1


def truth(sim: Simulator, entities: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    return {name: sim.truth(name) for name in entities}


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.name)
def test_data_pages_hold_the_figures_computed_from_the_worlds_records(api, sim, report):
    served = all_rows(api, report.category, report.report_id, page_size=40)
    expected = report.compute(truth(sim, report.reads), dt.date(2024, 1, 1), dt.date(2026, 11, 1))
    assert served == expected
    assert len(served) > 40  # paged: more than one page
    assert {row[0][:4] for row in served} >= {"2024", "2025", "2026"}


def test_revenue_rows_add_up_by_the_definition(sim):
    """The report's total is every counted item's total: checked against a sum written here."""
    records = truth(sim, REPORTS[0].reads)
    rows = revenue_rows(records, dt.date(2000, 1, 1), dt.date(2100, 1, 1))
    # each row: completed-job + non-job + adjustment == total, unmapped within the total
    for row in rows:
        assert Decimal(str(row[3])) + Decimal(str(row[4])) + Decimal(str(row[5])) == Decimal(
            str(row[7])
        )
    jobs = {j["id"]: j for j in records["jobs"]}
    completed_job_items = sum(
        (
            Decimal(item["total"])
            for invoice in records["invoices"]
            if invoice["active"]
            and invoice.get("adjustmentToId") is None
            and invoice.get("job")
            and jobs.get(invoice["job"]["id"], {}).get("jobStatus") == "Completed"
            and jobs[invoice["job"]["id"]]["active"]
            for item in invoice["items"]
            # income accounts only: the world posts deposits to a Liability account
            if "income" in ((item.get("generalLedgerAccount") or {}).get("type") or "").lower()
        ),
        Decimal(0),
    )
    assert sum((Decimal(str(r[3])) for r in rows), Decimal(0)) == completed_job_items
    assert completed_job_items > 0


def test_technician_rows_credit_each_jobs_subtotal_exactly(sim):
    """All split revenue together is the subtotal of every completed job credited to someone
    (through its splits, or its soldById): no cent lost or made by the rounding."""
    records = truth(sim, REPORTS[1].reads)
    rows = technician_rows(records, dt.date(2000, 1, 1), dt.date(2100, 1, 1))
    split_jobs = {s["jobId"] for s in records["job_splits"] if s["active"]}
    credited = [
        outcome
        for job_id, outcome in job_outcomes(records).items()
        if job_id in split_jobs or next(j for j in records["jobs"] if j["id"] == job_id)["soldById"]
    ]
    assert credited
    assert sum((Decimal(str(r[8])) for r in rows), Decimal(0)) == sum(
        (o.invoice_subtotal for o in credited), Decimal(0)
    )
    # A job counts once per technician credited: at least once per credited job in all.
    assert sum(r[3] for r in rows) >= len(credited)
    # converted implies an opportunity, won a sales opportunity (sales go to the estimates'
    # sellers, who need not be the job's credited technicians)
    assert all(r[5] <= r[4] <= r[3] and r[7] <= r[6] for r in rows)


def test_split_amounts_sum_exactly_and_round_deterministically():
    # (split id, technician id, percent). 100.00 in thirds: 33.33 each, the cent left to the
    # lowest technician id.
    thirds = [(30, 3, Decimal(1)), (10, 1, Decimal(1)), (20, 2, Decimal(1))]
    assert split_amounts(Decimal("100.00"), thirds) == [
        Decimal("33.33"),
        Decimal("33.34"),
        Decimal("33.33"),
    ]
    # 10.01 at 70/30: 7.007 and 3.003 -> 7.00 + 3.00, the cent to the larger remainder (70%).
    assert split_amounts(Decimal("10.01"), [(1, 5, Decimal(70)), (2, 6, Decimal(30))]) == [
        Decimal("7.01"),
        Decimal("3.00"),
    ]
    # percentages adding up to 0 share equally; a credit shares too, adding up exactly
    assert split_amounts(Decimal("1.00"), [(1, 1, Decimal(0)), (2, 2, Decimal(0))]) == [
        Decimal("0.50"),
        Decimal("0.50"),
    ]
    credit = split_amounts(Decimal("-0.05"), [(1, 1, Decimal(50)), (2, 2, Decimal(50))])
    assert sum(credit) == Decimal("-0.05")


def test_categories_reports_and_descriptions(api, sim):
    categories = api.get(f"{base(sim)}/report-categories").json()
    assert {c["id"] for c in categories["data"]} >= {"accounting", "technician"}
    listed = api.get(f"{base(sim)}/report-category/accounting/reports", includeTotal="true").json()
    assert [r["id"] for r in listed["data"]] == [1001] and listed["totalCount"] == 1
    described = api.get(f"{base(sim)}/report-category/technician/reports/2001").json()
    assert [p["name"] for p in described["parameters"]] == ["From", "To"]
    assert {f["name"]: f["dataType"] for f in described["fields"]}["SplitRevenue"] == "Number"
    assert api.get(f"{base(sim)}/report-category/nothing/reports").status_code == 404
    assert api.get(f"{base(sim)}/report-category/accounting/reports/2001").status_code == 404


@pytest.mark.skipif(not SPEC.is_file(), reason=f"the official {SPEC.name} is not at {SPEC}")
def test_answers_validate_against_the_official_reporting_spec(api, sim):
    document = json.loads(SPEC.read_text("utf-8"))
    schemas = {n: openapi_to_json_schema(s) for n, s in document["components"]["schemas"].items()}

    def problems(schema: str, instance: Any) -> list[str]:
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"#/components/schemas/{schema}", "components": {"schemas": schemas}},
            format_checker=_format_checker(),
        )
        return [e.message for e in validator.iter_errors(instance)]

    answers = {
        "PaginatedResponse_Of_Reporting.V2.ReportCategoryListItem": api.get(
            f"{base(sim)}/report-categories"
        ),
        "PaginatedResponse_Of_Reporting.V2.ReportListItem": api.get(
            f"{base(sim)}/report-category/technician/reports"
        ),
        "Reporting.V2.ReportResponse": api.get(
            f"{base(sim)}/report-category/accounting/reports/1001"
        ),
        "Reporting.V2.ReportDataResponse": post_data(api, "accounting", 1001, dates(), pageSize=3),
    }
    for schema, response in answers.items():
        assert response.status_code == 200, response.text
        assert problems(schema, response.json()) == [], schema
    assert problems("Reporting.V2.ReportDataResponse", {"data": []})  # the validator bites
    error = post_data(api, "accounting", 1001, dates()[:1])
    assert error.status_code == 400 and problems("ApiErrorResponse", error.json()) == []


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ([{"name": "From", "value": FROM}], "To"),
        ([{"name": "From", "value": "soon"}, {"name": "To", "value": TO}], "From"),
        ([*dates(), {"name": "Unknown", "value": 1}], "parameters"),
        ([{"name": "From", "value": TO}, {"name": "To", "value": FROM}], "To"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(api, parameters, field):
    response = post_data(api, "accounting", 1001, parameters)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_auth_tenant_method_and_page_rules(api, sim):
    path = f"{base(sim)}/report-category/accounting/reports/1001/data"
    body = json.dumps({"parameters": dates()})
    assert api.http.post(path, content=body).status_code == 401
    other = path.replace(str(sim.config.tenant_id), "999")
    assert api.http.post(other, content=body, headers=api.headers).status_code == 403
    assert api.get(path).status_code == 405  # data is POSTed
    assert post_data(api, "accounting", 1001, dates(), pageSize=25001).status_code == 400


def test_the_limit_is_five_requests_of_a_report_a_minute_then_429_with_retry_after():
    with start_simulator(SimulatorConfig(customers=5, seed=3)) as small:
        api = Api(small)
        answers = [post_data(api, "accounting", 1001, dates()).status_code for _ in range(5)]
        assert answers == [200] * 5
        limited = post_data(api, "accounting", 1001, dates())
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert "Try again in" in limited.json()["title"]
        # another report has its own five
        assert post_data(api, "technician", 2001, dates()).status_code == 200
        api.close()


def test_denied_reporting_scope_and_faults_apply():
    config = SimulatorConfig(customers=5, seed=3, denied_modules=frozenset({"reporting"}))
    with start_simulator(config) as denied:
        api = Api(denied)
        assert post_data(api, "accounting", 1001, dates()).status_code == 403
        api.close()
    with start_simulator(SimulatorConfig(customers=5, seed=3)) as faulty:
        api = Api(faulty)
        faulty.set_faults(FaultConfig(error_5xx_rate=1.0))
        assert post_data(api, "accounting", 1001, dates()).status_code >= 500
        api.close()


def test_an_invalid_body_is_a_400(api, sim):
    path = f"{base(sim)}/report-category/accounting/reports/1001/data"
    response = api.http.post(path, content=b"{not json", headers=api.headers)
    assert response.status_code == 400
    assert isinstance(response, httpx.Response)
