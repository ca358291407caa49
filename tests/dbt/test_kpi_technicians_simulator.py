"""The technician scorecard and the labour cost share against figures computed in plain Python
from the simulator's ground truth (conftest ``simulated_warehouse``), re-implemented from the
reports' written definitions (_technicians__reports.yml, _payroll__models.yml), not from
their SQL: a job's invoice subtotal shared over its active splits by largest remainder in
cents (ties to the lower technician id), else to its sold-by technician; opportunity,
conversion and sales decisions by the job type's sold threshold; memberships by their sold-by
technician and start month, renewals left out; hours from arrival to done.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import duckdb
import pytest

pytestmark = pytest.mark.integration

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


def _instant(timestamp: str | None) -> datetime | None:
    if not timestamp:
        return None
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(UTC)


def _month(timestamp: str | None) -> date | None:
    instant = _instant(timestamp)
    return instant.date().replace(day=1) if instant else None


def _money(value: Any) -> Decimal:
    """A money string or JSON number, exactly as its text reads."""
    return Decimal(str(value)) if value not in (None, "") else ZERO


@pytest.fixture(scope="module")
def synced(simulated_warehouse) -> dict[str, Any]:
    return simulated_warehouse


def _query(synced, sql: str) -> list[tuple]:
    with duckdb.connect(str(synced["database"]), read_only=True) as con:
        return con.execute(sql, [synced["tenant_id"]]).fetchall()


def _job_subtotals(truth) -> dict[int, Decimal]:
    """Pre-tax revenue of each job's active invoices, an adjustment on its original's job."""
    invoices = {i["id"]: i for i in truth["invoices"]}
    subtotal: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for invoice in invoices.values():
        if not invoice["active"]:
            continue
        job = invoice.get("job")
        if not job and invoice.get("adjustmentToId") in invoices:
            job = invoices[invoice["adjustmentToId"]].get("job")
        if job:
            subtotal[job["id"]] += _money(invoice["total"]) - _money(invoice["salesTax"])
    return subtotal


def _split_credits(splits: list[dict], subtotal: Decimal) -> dict[int, Decimal]:
    """Largest-remainder shares, in cents, of ``subtotal`` over ``splits``."""
    cents = int(subtotal * 100)
    percents = [Decimal(str(s["split"])) for s in splits]
    total = sum(percents)
    if total > 0:
        numerators = [cents * int(p * 10000) for p in percents]
        denominator = int(total * 10000)
    else:
        numerators, denominator = [cents] * len(splits), len(splits)
    floors = [n // denominator for n in numerators]
    left_over = cents - sum(floors)
    order = sorted(
        range(len(splits)),
        key=lambda k: (
            -(numerators[k] - floors[k] * denominator),
            splits[k]["technicianId"],
            splits[k]["id"],
        ),
    )
    shares = list(floors)
    for k in order[:left_over]:
        shares[k] += 1
    credits: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for split, share in zip(splits, shares, strict=True):
        credits[split["technicianId"]] += Decimal(share) / 100
    return credits


def _job_credits(truth, subtotals) -> dict[int, dict[int, Decimal]]:
    """Job -> technician -> credited subtotal."""
    splits_by_job: dict[int, list[dict]] = defaultdict(list)
    for split in truth["job_splits"]:
        if split["active"] and split.get("technicianId") is not None:
            splits_by_job[split["jobId"]].append(split)
    credits: dict[int, dict[int, Decimal]] = {}
    for job in truth["jobs"]:
        subtotal = subtotals.get(job["id"], ZERO)
        if splits_by_job.get(job["id"]):
            credits[job["id"]] = dict(_split_credits(splits_by_job[job["id"]], subtotal))
        elif job.get("soldById") is not None:
            credits[job["id"]] = {job["soldById"]: subtotal}
    return credits


def _expected_scorecard(truth) -> dict[tuple[date, int], dict[str, Any]]:
    subtotals = _job_subtotals(truth)
    credits = _job_credits(truth, subtotals)
    thresholds = {t["id"]: _money(t.get("soldThreshold")) for t in truth["job_types"]}
    estimates_by_job: dict[int, list[dict]] = defaultdict(list)
    for estimate in truth["estimates"]:
        if estimate["active"] and estimate.get("jobId") is not None:
            estimates_by_job[estimate["jobId"]].append(estimate)
    technicians = {t["id"] for t in truth["technicians"]}

    rows: dict[tuple[date, int], dict[str, Any]] = defaultdict(
        lambda: {
            "completed_jobs": 0,
            "opportunities": 0,
            "converted_jobs": 0,
            "sales_opportunities": 0,
            "sales_won": 0,
            "split_revenue": ZERO,
            "memberships_sold": 0,
            "recalls_caused": 0,
            "worked_microseconds": 0,
        }
    )
    for job in truth["jobs"]:
        month = _month(job.get("completedOn"))
        if not (job["active"] and job["jobStatus"] == "Completed" and month):
            continue
        subtotal = subtotals.get(job["id"], ZERO)
        estimates = estimates_by_job.get(job["id"], [])
        sold = [e for e in estimates if e["status"]["name"] == "Sold"]
        sold_subtotal = sum((_money(e["subtotal"]) for e in sold), ZERO)
        threshold = thresholds.get(job.get("jobTypeId"), ZERO)
        # int_job_outcomes: a No Charge job is an opportunity once its invoice or its sold
        # estimates reach the threshold; converted is the invoice subtotal's alone; sales
        # opportunities are opportunities with estimates
        reached = max(subtotal, sold_subtotal) >= threshold
        opportunity = not job.get("noCharge") or reached
        converted = subtotal >= threshold
        for tech, credited in credits.get(job["id"], {}).items():
            row = rows[(month, tech)]
            row["completed_jobs"] += 1
            row["opportunities"] += opportunity
            row["converted_jobs"] += opportunity and converted
            row["split_revenue"] += credited
        if estimates and opportunity:
            sellers = {e["soldBy"] for e in estimates if e.get("soldBy") is not None}
            won = bool(sold) and sold_subtotal >= threshold
            for tech in sellers or credits.get(job["id"], {}):
                rows[(month, tech)]["sales_opportunities"] += 1
                rows[(month, tech)]["sales_won"] += won
        if job.get("recallForId") is not None:
            for tech in credits.get(job["recallForId"], {}):
                rows[(month, tech)]["recalls_caused"] += 1

    renewals = {m["renewedById"] for m in truth["memberships"] if m.get("renewedById")}
    for membership in truth["memberships"]:
        month = _month(membership.get("from"))
        if (
            membership["active"]
            and month
            and membership["id"] not in renewals
            and membership.get("soldById") in technicians
        ):
            rows[(month, membership["soldById"])]["memberships_sold"] += 1

    for sheet in truth["job_timesheets"]:
        arrived, done = _instant(sheet.get("arrivedOn")), _instant(sheet.get("doneOn"))
        if sheet["active"] and arrived and done and done >= arrived:
            month = arrived.date().replace(day=1)
            rows[(month, sheet["technicianId"])]["worked_microseconds"] += (done - arrived) // (
                timedelta(microseconds=1)
            )
    return rows


def test_the_scenario_has_what_the_scorecard_needs(synced):
    truth = synced["truth"]
    by_job: dict[int, int] = defaultdict(int)
    for split in truth["job_splits"]:
        by_job[split["jobId"]] += split["active"]
    assert any(n > 1 for n in by_job.values())  # shared jobs
    assert any(s["active"] and s.get("doneOn") for s in truth["job_timesheets"])
    assert any(e.get("soldBy") for e in truth["estimates"])
    assert any(m.get("renewedById") for m in truth["memberships"])


def test_technician_scorecard_matches_the_truth(synced):
    expected = _expected_scorecard(synced["truth"])
    rows = _query(
        synced,
        "select scorecard_month, technician_id, completed_jobs, opportunities, converted_jobs, "
        "conversion_rate, sales_opportunities, sales_won, close_rate, split_revenue, "
        "average_ticket, memberships_sold, recalls_caused, hours_worked, revenue_per_hour "
        "from rpt_technician_scorecard where tenant_id = ?",
    )
    actual = {(r[0], r[1]): r[2:] for r in rows}
    assert set(actual) == set(expected)
    for key, want in expected.items():
        (jobs, opps, converted, conversion, sales, won, close, revenue, ticket, members,
         recalls, hours, per_hour) = actual[key]  # fmt: skip
        assert (jobs, opps, converted) == (
            want["completed_jobs"],
            want["opportunities"],
            want["converted_jobs"],
        ), key
        assert (sales, won) == (want["sales_opportunities"], want["sales_won"]), key
        assert (members, recalls) == (want["memberships_sold"], want["recalls_caused"]), key
        assert revenue == want["split_revenue"], key
        assert conversion == (pytest.approx(converted / opps, abs=5e-5) if opps else None), key
        assert close == (pytest.approx(won / sales, abs=5e-5) if sales else None), key
        want_ticket = (
            (want["split_revenue"] / jobs).quantize(CENT, rounding=ROUND_HALF_UP) if jobs else None
        )
        assert ticket == want_ticket, key
        microseconds = want["worked_microseconds"]
        assert hours == (Decimal(microseconds) / 3_600_000_000).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        ), key
        want_per_hour = (
            (want["split_revenue"] * 3_600_000_000 / microseconds).quantize(
                CENT, rounding=ROUND_HALF_UP
            )
            if microseconds
            else None
        )
        assert per_hour == want_per_hour, key
    # the scenario moves every figure somewhere
    assert sum(w["split_revenue"] for w in expected.values()) > 0
    assert sum(w["memberships_sold"] for w in expected.values()) > 0
    assert sum(w["worked_microseconds"] for w in expected.values()) > 0


NOT_PAY_ADJUSTMENTS = {"Advance", "SoldAdvance", "CommissionBased"}


def _expected_labour_cost(truth) -> dict[tuple[date, int | None], dict[str, Decimal]]:
    """(month, business unit) -> gross pay, payroll adjustments and invoice-date revenue."""
    jobs = {j["id"]: j for j in truth["jobs"]}
    invoices = {i["id"]: i for i in truth["invoices"]}
    names: dict[str, list[int]] = defaultdict(list)
    for unit in truth["business_units"]:
        names[unit["name"]].append(unit["id"])
    unique_names = {name: ids[0] for name, ids in names.items() if len(ids) == 1}
    homes = {
        "Technician": {t["id"]: t.get("businessUnitId") for t in truth["technicians"]},
        "Employee": {e["id"]: e.get("businessUnitId") for e in truth["employees"]},
    }

    def invoice_unit(invoice_id: int | None) -> int | None:
        invoice = invoices.get(invoice_id)  # type: ignore[arg-type]
        if invoice is None:
            return None
        unit = invoice.get("businessUnit")
        if not unit and invoice.get("adjustmentToId") in invoices:
            unit = invoices[invoice["adjustmentToId"]].get("businessUnit")
        return unit["id"] if unit else None

    def home_unit(record: dict) -> int | None:
        return homes.get(record.get("employeeType"), {}).get(record.get("employeeId"))

    rows: dict[tuple[date, int | None], dict[str, Decimal]] = defaultdict(
        lambda: {"gross_pay": ZERO, "payroll_adjustments": ZERO, "revenue": ZERO}
    )
    for item in truth["gross_pay_items"]:
        month = _month(item.get("date"))
        if not item["active"] or item.get("grossPayItemType") == "Reimbursement" or not month:
            continue
        job = jobs.get(item.get("jobId"))  # type: ignore[arg-type]
        unit = next(
            (
                u
                for u in (
                    job.get("businessUnitId") if job else None,
                    invoice_unit(item.get("invoiceId")),
                    unique_names.get(item.get("businessUnitName")),  # type: ignore[arg-type]
                    home_unit(item),
                )
                if u is not None
            ),
            None,
        )
        rows[(month, unit)]["gross_pay"] += _money(item.get("amount"))
    for adjustment in truth["payroll_adjustments"]:
        month = _month(adjustment.get("postedOn"))
        kind = adjustment.get("type") or "Direct"
        if not adjustment["active"] or kind in NOT_PAY_ADJUSTMENTS or not month:
            continue
        unit = invoice_unit(adjustment.get("invoiceId"))
        if unit is None:
            unit = home_unit(adjustment)
        rows[(month, unit)]["payroll_adjustments"] += _money(adjustment.get("amount"))
    for invoice in invoices.values():
        month = _month(invoice.get("invoiceDate") or invoice.get("createdOn"))
        if invoice["active"] and month:
            revenue = _money(invoice["total"]) - _money(invoice["salesTax"])
            rows[(month, invoice_unit(invoice["id"]))]["revenue"] += revenue
    return rows


def test_labour_cost_share_matches_the_truth(synced):
    expected = _expected_labour_cost(synced["truth"])
    rows = _query(
        synced,
        "select report_month, business_unit_id, gross_pay, payroll_adjustments, labour_cost, "
        "revenue, labour_cost_share from rpt_labour_cost_share where tenant_id = ?",
    )
    actual = {(r[0], r[1]): r[2:] for r in rows}
    assert set(actual) == set(expected)
    for key, want in expected.items():
        gross_pay, adjustments, labour_cost, revenue, share = actual[key]
        assert (gross_pay, adjustments, revenue) == (
            want["gross_pay"],
            want["payroll_adjustments"],
            want["revenue"],
        ), key
        assert labour_cost == want["gross_pay"] + want["payroll_adjustments"], key
        if want["revenue"] > 0:
            exact = (want["gross_pay"] + want["payroll_adjustments"]) / want["revenue"]
            assert share == pytest.approx(float(exact), abs=5e-5), key
        else:
            assert share is None, key
    assert sum(w["gross_pay"] for w in expected.values()) > 0
    assert sum(w["payroll_adjustments"] for w in expected.values()) > 0
