"""The sales reports against figures computed in plain Python from the simulator's ground truth
(the session's ``simulated_warehouse``: 150 customers, a few simulated days of change, every
entity synced, one `dbt build` aged at the simulated "now").

The Python side re-implements each report from its written definition (the models'
descriptions in _sales__reports.yml and int_job_outcomes' in _intermediate__models.yml), not
from the SQL, and compares to the cent:

* revenue as ServiceTitan counts it: active items of active invoices on an income (or unknown)
  account, a job's invoice on the job's completion date once completed, non-job and adjustment
  invoices on the invoice date, under the invoice's business unit (an adjustment's original's
  when it has none);
* conversion: opportunity, converted, sales opportunity and won per completed job, by the job
  type's sold threshold, counted by month for the company, each business unit and each sold-by
  technician; average ticket = invoice subtotal / completed jobs, half a cent away from zero;
* the estimate pipeline by business unit and age bucket at the simulated "now";
* cancel rate = canceled / (completed + canceled) by month and business unit, each canceled
  job dated and explained by its latest active cancel log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import duckdb
import pytest

pytestmark = pytest.mark.integration

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
INCOME_TYPES = ("income", "other income")
Record = dict[str, Any]


@pytest.fixture(scope="module")
def synced(simulated_warehouse: dict[str, Any]) -> dict[str, Any]:
    return simulated_warehouse


def _query(synced: dict[str, Any], sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(synced["database"]), read_only=True) as con:
        return con.execute(sql, [synced["tenant_id"]]).fetchall()


def _utc_date(timestamp: str | None) -> date | None:
    if not timestamp:
        return None
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(UTC).date()


def _month(day: date | None) -> date | None:
    return day.replace(day=1) if day else None


def _money(value: str | float | None) -> Decimal:
    """A money string, or a JSON number (the sales module's), exactly to the cent."""
    if value in (None, ""):
        return ZERO
    return Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)


def _divide(amount: Decimal, count: int) -> Decimal | None:
    """amount / count to the cent, half a cent away from zero (the reports' average ticket)."""
    return (amount / count).quantize(CENT, ROUND_HALF_UP) if count else None


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _same_rate(reported: float | None, expected: float | None) -> bool:
    """A report's rate (DOUBLE, rounded to 4 decimals) against the exact share."""
    if reported is None or expected is None:
        return reported is expected
    return abs(reported - expected) <= 0.00005 + 1e-12


def _split_rates(
    rows: dict[Any, tuple[Any, ...]], rate_positions: tuple[int, ...]
) -> tuple[dict[Any, tuple[Any, ...]], dict[Any, tuple[Any, ...]]]:
    """Rows without their rate columns, and the rates alone."""
    figures = {
        key: tuple(v for n, v in enumerate(row) if n not in rate_positions)
        for key, row in rows.items()
    }
    rates = {key: tuple(row[n] for n in rate_positions) for key, row in rows.items()}
    return figures, rates


def _assert_rates(
    reported: dict[Any, tuple[Any, ...]], expected: dict[Any, tuple[Any, ...]]
) -> None:
    wrong = {
        key: (reported[key], expected[key])
        for key in expected
        if not all(map(_same_rate, reported[key], expected[key]))
    }
    assert not wrong


def _by_id(records: Iterable[Record]) -> dict[int, Record]:
    return {r["id"]: r for r in records}


def _is_completed(job: Record | None) -> bool:
    return bool(job and job["active"] and job["jobStatus"] == "Completed")


def _is_canceled(job: Record) -> bool:
    return bool(job["active"] and job["jobStatus"] == "Canceled")


def _invoice_date(invoice: Record) -> date | None:
    return _utc_date(invoice.get("invoiceDate")) or _utc_date(invoice.get("createdOn"))


def _ref_id(reference: Record | None) -> int | None:
    return reference["id"] if reference else None


def test_the_world_has_the_cases_that_matter(synced):
    truth = synced["truth"]
    items = truth["invoice_items"]
    assert any(i["generalLedgerAccount"]["type"] == "Liability" for i in items)
    assert any(i["generalLedgerAccount"]["type"] == "Income" for i in items)
    # the items' accounts are in the list the gl_accounts endpoint serves
    accounts = _by_id(truth["gl_accounts"])
    assert {i["generalLedgerAccount"]["id"] for i in items} <= set(accounts)
    assert any(i.get("adjustmentToId") for i in truth["invoices"])
    statuses = {(e["status"] or {}).get("name") for e in truth["estimates"] if e["active"]}
    assert statuses == {"Open", "Sold", "Dismissed"}
    assert any(t.get("soldThreshold") for t in truth["job_types"])
    assert truth["job_canceled_logs"]


def _expected_revenue(truth: dict[str, list[Record]]) -> dict[tuple[Any, ...], tuple[Decimal, ...]]:
    invoices = _by_id(truth["invoices"])
    jobs = _by_id(truth["jobs"])
    account_types = {a["id"]: a.get("type") for a in truth["gl_accounts"]}
    rows: dict[tuple[Any, ...], list[Decimal]] = defaultdict(lambda: [ZERO] * 4)
    for item in truth["invoice_items"]:
        invoice = invoices.get(item["invoiceId"])
        if not item["active"] or invoice is None or not invoice["active"]:
            continue
        account = item.get("generalLedgerAccount") or {}
        account_type = account.get("type") or account_types.get(account.get("id"))
        if account_type is not None and account_type.strip().lower() not in INCOME_TYPES:
            continue
        business_unit = _ref_id(invoice.get("businessUnit"))
        original = invoices.get(invoice.get("adjustmentToId") or 0)
        if business_unit is None and original is not None:
            business_unit = _ref_id(original.get("businessUnit"))
        own_job = _ref_id(invoice.get("job"))
        if invoice.get("adjustmentToId"):
            kind, day = 2, _invoice_date(invoice)
        elif own_job is None:
            kind, day = 1, _invoice_date(invoice)
        else:
            job = jobs.get(own_job)
            if not _is_completed(job):
                continue
            kind, day = 0, _utc_date(job["completedOn"]) if job else None
        total = _money(item["total"])
        row = rows[(_month(day), business_unit)]
        row[kind] += total
        if account_type is None:
            row[3] += total
    return {key: (*parts, parts[0] + parts[1] + parts[2]) for key, parts in rows.items()}


def test_revenue_as_servicetitan_counts_it_matches_the_truth(synced):
    expected = _expected_revenue(synced["truth"])
    reported = {
        (month, bu): tuple(parts)
        for month, bu, *parts in _query(
            synced,
            "select revenue_month, business_unit_id, completed_job_revenue, non_job_revenue, "
            "adjustment_revenue, unmapped_revenue, total_revenue "
            "from rpt_revenue_servicetitan where tenant_id = ?",
        )
    }
    assert reported == expected
    # the deposits are on the invoices but not revenue: the two revenue views differ by them
    # (and by invoices of jobs not yet completed, and by invoice vs completion month)
    deposits = sum(
        (
            _money(i["total"])
            for i in synced["truth"]["invoice_items"]
            if i["generalLedgerAccount"]["type"] == "Liability" and i["active"]
        ),
        ZERO,
    )
    assert deposits > 0


def _job_outcomes(truth: dict[str, list[Record]]) -> dict[int, dict[str, Any]]:
    """Each completed job's decisions, as int_job_outcomes' description defines them."""
    invoices = _by_id(truth["invoices"])
    thresholds = {t["id"]: _money(t.get("soldThreshold")) for t in truth["job_types"]}
    subtotal: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for invoice in truth["invoices"]:
        if not invoice["active"]:
            continue
        job_id = _ref_id(invoice.get("job"))
        original = invoices.get(invoice.get("adjustmentToId") or 0)
        if job_id is None and original is not None:
            job_id = _ref_id(original.get("job"))
        if job_id is not None:
            subtotal[job_id] += _money(invoice["total"]) - _money(invoice.get("salesTax"))
    estimates: dict[int, list[Record]] = defaultdict(list)
    for estimate in truth["estimates"]:
        if estimate["active"] and estimate.get("jobId"):
            estimates[estimate["jobId"]].append(estimate)
    outcomes = {}
    for job in truth["jobs"]:
        if not _is_completed(job):
            continue
        threshold = thresholds.get(job["jobTypeId"], ZERO)
        invoiced = subtotal[job["id"]]
        sold = [e for e in estimates[job["id"]] if (e["status"] or {}).get("name") == "Sold"]
        sold_total = sum((_money(e["subtotal"]) for e in sold), ZERO)
        reached = max(invoiced, sold_total) >= threshold
        opportunity = not job.get("noCharge") or reached
        sales_opportunity = opportunity and bool(estimates[job["id"]])
        outcomes[job["id"]] = {
            "month": _month(_utc_date(job["completedOn"])),
            "business_unit": job.get("businessUnitId"),
            "technician": job.get("soldById"),
            "subtotal": invoiced,
            "opportunity": opportunity,
            "converted": invoiced >= threshold,
            "sales_opportunity": sales_opportunity,
            "won": sales_opportunity and bool(sold) and sold_total >= threshold,
            "won_subtotal": sold_total
            if sales_opportunity and sold and sold_total >= threshold
            else ZERO,
        }
    return outcomes


def test_sales_conversion_matches_the_truth(synced):
    outcomes = _job_outcomes(synced["truth"])
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for outcome in outcomes.values():
        groups[(outcome["month"], "company", None)].append(outcome)
        groups[(outcome["month"], "business_unit", outcome["business_unit"])].append(outcome)
        groups[(outcome["month"], "technician", outcome["technician"])].append(outcome)
    expected = {}
    for key, jobs in groups.items():
        revenue = sum((j["subtotal"] for j in jobs), ZERO)
        opportunities = sum(j["opportunity"] for j in jobs)
        converted = sum(j["opportunity"] and j["converted"] for j in jobs)
        sales_opportunities = sum(j["sales_opportunity"] for j in jobs)
        won = sum(j["won"] for j in jobs)
        expected[key] = (
            len(jobs),
            revenue,
            _divide(revenue, len(jobs)),
            opportunities,
            converted,
            _ratio(converted, opportunities),
            sales_opportunities,
            won,
            _ratio(won, sales_opportunities),
            sum((j["won_subtotal"] for j in jobs), ZERO),
        )
    reported = {
        (month, dimension, dimension_id): tuple(figures)
        for month, dimension, dimension_id, *figures in _query(
            synced,
            "select completed_month, dimension, dimension_id, completed_jobs, "
            "completed_revenue, average_ticket, opportunities, converted_jobs, "
            "conversion_rate, sales_opportunities, sales_won, close_rate, "
            "won_estimate_subtotal from rpt_sales_conversion where tenant_id = ?",
        )
    }
    reported_figures, reported_rates = _split_rates(reported, (5, 8))
    expected_figures, expected_rates = _split_rates(expected, (5, 8))
    assert reported_figures == expected_figures
    _assert_rates(reported_rates, expected_rates)
    # the world has jobs on both sides of a sold threshold and estimates won and lost
    company = [v for (_, dimension, _), v in expected.items() if dimension == "company"]
    assert sum(v[3] for v in company) > sum(v[4] for v in company) > 0  # some not converted
    assert sum(v[6] for v in company) > sum(v[7] for v in company) > 0  # some not won


def _age_bucket(age: int) -> str:
    for limit, bucket in ((7, "0-7"), (30, "8-30"), (60, "31-60"), (90, "61-90")):
        if age <= limit:
            return bucket
    return "90+"


def test_estimate_pipeline_matches_the_truth(synced):
    truth = synced["truth"]
    jobs = _by_id(truth["jobs"])
    as_of: date = synced["as_of"]
    expected: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, ZERO, 0, ZERO, 0, ZERO])
    for estimate in truth["estimates"]:
        status = (estimate["status"] or {}).get("name")
        if not estimate["active"] or status not in ("Open", "Sold", "Dismissed"):
            continue
        job = jobs.get(estimate.get("jobId") or 0)
        business_unit = estimate.get("businessUnitId") or (job or {}).get("businessUnitId")
        created = _utc_date(estimate["createdOn"])
        assert created is not None
        row = expected[(business_unit, _age_bucket((as_of - created).days))]
        slot = ("Open", "Sold", "Dismissed").index(status) * 2
        row[slot] += 1
        row[slot + 1] += _money(estimate["subtotal"])
    reported = {
        (bu, bucket): list(figures)
        for bu, bucket, *figures in _query(
            synced,
            "select business_unit_id, age_bucket, open_count, open_subtotal, sold_count, "
            "sold_subtotal, dismissed_count, dismissed_subtotal "
            "from rpt_estimate_pipeline where tenant_id = ?",
        )
    }
    assert reported == dict(expected)
    [(as_of_date,)] = _query(
        synced, "select distinct as_of_date from rpt_estimate_pipeline where tenant_id = ?"
    )
    assert as_of_date == as_of


def _latest_cancel_logs(truth: dict[str, list[Record]]) -> dict[int, Record]:
    latest: dict[int, Record] = {}
    for log in truth["job_canceled_logs"]:
        if not log["active"]:
            continue
        current = latest.get(log["jobId"])
        if current is None or (log["createdOn"], log["id"]) > (current["createdOn"], current["id"]):
            latest[log["jobId"]] = log
    return latest


def test_job_cancellations_match_the_truth(synced):
    truth = synced["truth"]
    logs = _latest_cancel_logs(truth)
    counts: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    reasons: dict[tuple[Any, ...], int] = defaultdict(int)
    for job in truth["jobs"]:
        if _is_completed(job):
            counts[(_month(_utc_date(job["completedOn"])), job.get("businessUnitId"))][0] += 1
        elif _is_canceled(job):
            log = logs.get(job["id"])
            month = _month(_utc_date(log["createdOn"] if log else job["modifiedOn"]))
            counts[(month, job.get("businessUnitId"))][1] += 1
            reasons[(month, job.get("businessUnitId"), log["reasonId"] if log else None)] += 1
    expected = {
        key: (completed, canceled, _ratio(canceled, completed + canceled))
        for key, (completed, canceled) in counts.items()
    }
    reported = {
        (month, bu): tuple(figures)
        for month, bu, *figures in _query(
            synced,
            "select outcome_month, business_unit_id, completed_jobs, canceled_jobs, cancel_rate "
            "from rpt_job_cancellations where tenant_id = ?",
        )
    }
    reported_figures, reported_rates = _split_rates(reported, (2,))
    expected_figures, expected_rates = _split_rates(expected, (2,))
    assert reported_figures == expected_figures
    _assert_rates(reported_rates, expected_rates)
    assert sum(c for _, c, _ in expected.values()) > 0
    reported_reasons = {
        (month, bu, reason): jobs
        for month, bu, reason, jobs in _query(
            synced,
            "select canceled_month, business_unit_id, cancel_reason_id, canceled_jobs "
            "from rpt_job_cancel_reasons where tenant_id = ?",
        )
    }
    assert reported_reasons == dict(reasons)
