"""Simulator -> ingestion assets -> DuckDB -> `dbt build`, with report figures checked against
numbers computed independently, in plain Python, from the simulator's ground truth.

The Python side below re-implements the report definitions from their descriptions (not from
the SQL): revenue = total - sales tax of active invoices, adjustments included; completed job =
active job with status Completed; merged customers roll up into their survivor; AR aging by
days past the due date. If either side drifts from the documented rules, the figures differ.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pytest

pytestmark = pytest.mark.integration

ZERO = Decimal("0.00")


def _utc_date(timestamp: str | None) -> date | None:
    if not timestamp:
        return None
    parsed = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return parsed.astimezone(UTC).date()


def _money(text: str | None) -> Decimal:
    return Decimal(text) if text not in (None, "") else ZERO


@pytest.fixture(scope="module")
def synced(simulated_warehouse) -> dict[str, Any]:
    """The session's simulated tenant, synced and built (conftest ``simulated_warehouse``)."""
    return simulated_warehouse


def _query(synced, sql: str) -> list[tuple]:
    with duckdb.connect(str(synced["database"]), read_only=True) as con:
        return con.execute(sql, [synced["tenant_id"]]).fetchall()


def _survivor_map(customers: list[dict]) -> dict[int, int]:
    merged_to = {c["id"]: c.get("mergedToId") for c in customers}

    def resolve(customer_id: int) -> int:
        seen = set()
        while merged_to.get(customer_id) and customer_id not in seen:
            seen.add(customer_id)
            target = merged_to[customer_id]
            if target not in merged_to:
                break
            customer_id = target
        return customer_id

    return {c_id: resolve(c_id) for c_id in merged_to}


def _active_invoices(synced) -> list[dict]:
    return [i for i in synced["truth"]["invoices"] if i["active"]]


def test_the_scenario_has_the_cases_that_matter(synced):
    truth = synced["truth"]
    assert any(c.get("mergedToId") for c in truth["customers"])
    assert any(i.get("adjustmentToId") for i in truth["invoices"])
    assert any(not i["active"] for i in truth["invoices"])


def test_invoice_totals_match_the_truth_to_the_cent(synced):
    invoices = synced["truth"]["invoices"]
    [(count, total, active_total)] = _query(
        synced,
        "select count(*), sum(total), sum(total) filter (where is_active) "
        "from fct_invoices where tenant_id = ?",
    )
    assert count == len(invoices)
    assert total == sum((_money(i["total"]) for i in invoices), ZERO)
    assert active_total == sum((_money(i["total"]) for i in _active_invoices(synced)), ZERO)


def test_revenue_by_month_and_business_unit(synced):
    expected: dict[tuple[date, int], Decimal] = defaultdict(lambda: ZERO)
    for invoice in _active_invoices(synced):
        day = _utc_date(invoice["invoiceDate"]) or _utc_date(invoice["createdOn"])
        month = day.replace(day=1)
        revenue = _money(invoice["total"]) - _money(invoice["salesTax"])
        expected[(month, invoice["businessUnit"]["id"])] += revenue
    rows = _query(
        synced,
        "select revenue_month, business_unit_id, revenue "
        "from rpt_revenue_by_month_business_unit where tenant_id = ?",
    )
    assert {(m, bu): r for m, bu, r in rows} == dict(expected)


def test_ar_aging_totals(synced):
    as_of = synced["as_of"]
    survivors = _survivor_map(synced["truth"]["customers"])
    buckets = ("current", "1-30", "31-60", "61-90", "90+")
    expected: dict[int, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(buckets, ZERO))
    for invoice in _active_invoices(synced):
        balance = _money(invoice["balance"])
        if balance == 0:
            continue
        due = _utc_date(invoice["dueDate"]) or _utc_date(invoice["invoiceDate"])
        days = (as_of - due).days
        bucket = (
            "current"
            if days <= 0
            else "1-30"
            if days <= 30
            else "31-60"
            if days <= 60
            else "61-90"
            if days <= 90
            else "90+"
        )
        customer = survivors.get(invoice["customer"]["id"], invoice["customer"]["id"])
        expected[customer][bucket] += balance
    rows = _query(
        synced,
        "select customer_id, as_of_date, current_balance, past_due_1_30, past_due_31_60, "
        "past_due_61_90, past_due_over_90 from rpt_ar_aging where tenant_id = ?",
    )
    assert {r[1] for r in rows} == {as_of}
    actual = {r[0]: dict(zip(buckets, r[2:], strict=True)) for r in rows}
    assert actual == {c: dict(b) for c, b in expected.items()}
    assert sum(sum(b.values()) for b in actual.values()) > 0  # the scenario has receivables


def _job_revenue(synced) -> dict[int, Decimal]:
    revenue: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for invoice in _active_invoices(synced):
        if invoice.get("job"):
            revenue[invoice["job"]["id"]] += _money(invoice["total"]) - _money(invoice["salesTax"])
    return revenue


def _completed_jobs(synced) -> list[dict]:
    return [j for j in synced["truth"]["jobs"] if j["active"] and j["jobStatus"] == "Completed"]


def test_daily_kpis(synced):
    job_revenue = _job_revenue(synced)
    jobs_completed: dict[date, int] = defaultdict(int)
    completed_revenue: dict[date, Decimal] = defaultdict(lambda: ZERO)
    for job in _completed_jobs(synced):
        day = _utc_date(job["completedOn"])
        jobs_completed[day] += 1
        completed_revenue[day] += job_revenue[job["id"]]
    invoiced: dict[date, Decimal] = defaultdict(lambda: ZERO)
    for invoice in _active_invoices(synced):
        day = _utc_date(invoice["invoiceDate"]) or _utc_date(invoice["createdOn"])
        invoiced[day] += _money(invoice["total"]) - _money(invoice["salesTax"])
    collected: dict[date, Decimal] = defaultdict(lambda: ZERO)
    for payment in synced["truth"]["payments"]:
        if payment["active"]:
            collected[_utc_date(payment["date"])] += _money(payment["total"])

    rows = _query(
        synced,
        "select kpi_date, jobs_completed, completed_job_revenue, average_ticket, "
        "revenue_invoiced, payments_collected from rpt_daily_kpis where tenant_id = ?",
    )
    for day, n_jobs, job_rev, ticket, rev_invoiced, paid in rows:
        assert n_jobs == jobs_completed.get(day, 0), day
        assert job_rev == completed_revenue.get(day, ZERO), day
        assert rev_invoiced == invoiced.get(day, ZERO), day
        assert paid == collected.get(day, ZERO), day
        if n_jobs:
            exact = completed_revenue[day] / n_jobs
            assert abs(ticket - exact) <= Decimal("0.005"), day
    reported_days = {r[0] for r in rows}
    # every day with activity is reported (days in between are zeros)
    assert set(jobs_completed) | set(invoiced) | set(collected) <= reported_days
    assert sum(r[1] for r in rows) == len(_completed_jobs(synced))


def test_technician_performance(synced):
    job_revenue = _job_revenue(synced)
    expected: dict[tuple[int | None, date], list] = defaultdict(lambda: [0, ZERO])
    for job in _completed_jobs(synced):
        month = _utc_date(job["completedOn"]).replace(day=1)
        key = (job.get("soldById"), month)
        expected[key][0] += 1
        expected[key][1] += job_revenue[job["id"]]
    rows = _query(
        synced,
        "select technician_id, completed_month, completed_jobs, revenue "
        "from rpt_technician_performance where tenant_id = ?",
    )
    assert {(t, m): [n, r] for t, m, n, r in rows} == dict(expected)


def test_customer_lifetime_value_of_survivors(synced):
    survivors = _survivor_map(synced["truth"]["customers"])
    lifetime: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for invoice in _active_invoices(synced):
        customer = survivors.get(invoice["customer"]["id"], invoice["customer"]["id"])
        lifetime[customer] += _money(invoice["total"]) - _money(invoice["salesTax"])
    rows = _query(
        synced,
        "select customer_id, lifetime_revenue from rpt_customer_lifetime_value where tenant_id = ?",
    )
    actual = dict(rows)
    # one row per surviving customer, none for merged-away ones
    assert set(actual) == {c for c, s in survivors.items() if c == s}
    assert {c: v for c, v in actual.items() if v != 0} == {
        c: v for c, v in lifetime.items() if v != 0
    }
