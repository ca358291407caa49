"""rpt_call_center and rpt_marketing_roi against figures computed in plain Python from the
simulator's ground truth (the session's `simulated_warehouse`: 150 customers synced, one
`dbt build`).

The Python side re-implements each report from its written definition
(models/reports/marketing/_marketing__reports.yml), not from the SQL: lead calls are active
inbound calls ServiceTitan classified Booked or Unbooked, booking rate = booked / (booked +
unbooked); leads are lead calls + CRM leads + bookings with each prospect counted once; revenue
is the pre-tax total of the job's active invoices (adjustments inherit the original's job) for
jobs completed in the month; cost is the daily cost x the days of the month. Counts and money
must agree exactly; rates (DOUBLE, rounded to 4 places) to the fourth place.
"""

from __future__ import annotations

import calendar
import re
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import duckdb
import pytest

pytestmark = pytest.mark.integration

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
LEAD_TYPES = ("Booked", "Unbooked")
TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$")


def _utc_date(timestamp: str | None) -> date | None:
    if not timestamp:
        return None
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(UTC).date()


def _month(day: date | None) -> date | None:
    return day.replace(day=1) if day else None


def _money(value: Any) -> Decimal:
    """A JSON money value (string or number) as the exact decimal of its text."""
    return Decimal(str(value)) if value not in (None, "") else ZERO


def _seconds(timespan: str | None) -> int:
    """A .NET TimeSpan `[d.]hh:mm:ss[.fffffff]` as whole seconds (half a second rounds up)."""
    if not timespan:
        return 0
    match = TIMESPAN.match(timespan)
    assert match, timespan
    days, hours, minutes, seconds = match.groups()
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + Decimal(seconds)
    return int(total.quantize(Decimal(1), ROUND_HALF_UP))


def _ref_id(value: dict[str, Any] | None) -> int | None:
    return value["id"] if value else None


def _rate(part: Decimal | int, whole: Decimal | int) -> float | None:
    return None if not whole else round(float(part) / float(whole), 4)


def _per(amount: Decimal, count: int) -> Decimal | None:
    return None if not count else (amount / count).quantize(CENT, ROUND_HALF_UP)


@pytest.fixture(scope="module")
def synced(simulated_warehouse) -> dict[str, Any]:
    return simulated_warehouse


def _rows(synced, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(synced["database"]), read_only=True) as con:
        result = con.execute(sql, [synced["tenant_id"]])
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _is_lead_call(call: dict[str, Any]) -> bool:
    return bool(call["active"]) and call["direction"] == "Inbound" and call["type"] in LEAD_TYPES


def _assert_same(reported: dict, expected: dict, rates: tuple[str, ...]) -> None:
    assert reported.keys() == expected.keys()
    for key, want in expected.items():
        got = reported[key]
        for column in rates:
            if want[column] is None:
                assert got[column] is None, (key, column)
            else:
                assert got[column] == pytest.approx(want[column], abs=1e-4), (key, column)
        exact = {c: v for c, v in want.items() if c not in rates}
        assert {c: got[c] for c in exact} == exact, key


def test_the_simulated_world_has_the_cases_the_definitions_rule_on(synced):
    truth = synced["truth"]
    calls = truth["calls"]
    inbound_types = {c["type"] for c in calls if c["direction"] == "Inbound"}
    assert {"Booked", "Unbooked", "Abandoned", "Excused", "NotLead"} <= inbound_types
    # outbound calls typed Unbooked or NotLead: never lead calls
    assert any(c["direction"] == "Outbound" and c["type"] for c in calls)
    assert any(c["agent"] is None for c in calls)
    # bookings that became a job a lead call booked: the prospect must be counted once
    booked_by_calls = {c["job"]["id"] for c in calls if _is_lead_call(c) and c.get("job")}
    assert any(b.get("jobId") in booked_by_calls for b in truth["bookings"])
    assert any(b.get("jobId") is None for b in truth["bookings"])
    assert any(_money(c["dailyCost"]) > 0 for c in truth["campaign_costs"])


def test_call_center_matches_the_truth(synced):
    expected: dict[tuple, dict[str, Any]] = defaultdict(
        lambda: {
            "total_calls": 0,
            "inbound_calls": 0,
            "outbound_calls": 0,
            "lead_calls": 0,
            "booked_calls": 0,
            "unbooked_calls": 0,
            "abandoned_calls": 0,
            "excused_calls": 0,
            "not_lead_calls": 0,
            "unclassified_calls": 0,
            "total_duration_seconds": 0,
            "lead_call_duration_seconds": 0,
        }
    )
    by_type = {
        "Booked": "booked_calls",
        "Unbooked": "unbooked_calls",
        "Abandoned": "abandoned_calls",
        "Excused": "excused_calls",
        "NotLead": "not_lead_calls",
        None: "unclassified_calls",
    }
    for call in synced["truth"]["calls"]:
        if not call["active"]:
            continue
        key = (_utc_date(call["createdOn"]), _ref_id(call["agent"]), _ref_id(call["campaign"]))
        row = expected[key]
        seconds = _seconds(call["duration"])
        row["total_calls"] += 1
        row["total_duration_seconds"] += seconds
        if call["direction"] == "Outbound":
            row["outbound_calls"] += 1
            continue
        row["inbound_calls"] += 1
        row[by_type[call["type"]]] += 1
        if _is_lead_call(call):
            row["lead_calls"] += 1
            row["lead_call_duration_seconds"] += seconds
    for row in expected.values():
        row["booking_rate"] = _rate(
            row["booked_calls"], row["booked_calls"] + row["unbooked_calls"]
        )

    reported = {
        (r.pop("call_date"), r.pop("agent_id"), r.pop("campaign_id")): r
        for r in _rows(
            synced,
            "select * exclude (tenant_id, connection_name, agent_name, campaign_name) "
            "from rpt_call_center "
            "where tenant_id = ?",
        )
    }
    assert sum(r["lead_calls"] for r in expected.values()) > 20
    _assert_same(reported, dict(expected), rates=("booking_rate",))


def _job_subtotals(truth: dict[str, list[dict]]) -> dict[int, Decimal]:
    """Pre-tax revenue (total - sales tax) of each job's active invoices; an adjustment that
    names no job counts on the job of the invoice it adjusts."""
    invoices = {i["id"]: i for i in truth["invoices"]}
    subtotals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for invoice in invoices.values():
        if not invoice["active"]:
            continue
        job_id = _ref_id(invoice.get("job"))
        original = invoices.get(invoice.get("adjustmentToId"))
        if job_id is None and original is not None:
            job_id = _ref_id(original.get("job"))
        if job_id is not None:
            subtotals[job_id] += _money(invoice["total"]) - _money(invoice.get("salesTax"))
    return subtotals


def _expected_marketing(truth: dict[str, list[dict]]) -> dict[tuple, dict[str, Any]]:
    figures = (
        "lead_calls",
        "crm_leads",
        "booking_leads",
        "booked_calls",
        "booked_jobs",
        "completed_jobs",
        "converted_jobs",
    )
    expected: dict[tuple, dict[str, Any]] = defaultdict(
        lambda: {
            **dict.fromkeys(figures, 0),
            "completed_revenue": ZERO,
            "campaign_cost": ZERO,
        }
    )
    jobs = truth["jobs"]

    # lead calls, and the jobs they booked (the call's job, else a job naming it leadCallId)
    job_naming_call: dict[int, int] = {}
    for job in sorted(jobs, key=lambda j: j["id"], reverse=True):
        if job.get("leadCallId"):
            job_naming_call[job["leadCallId"]] = job["id"]
    lead_call_ids, jobs_booked_by_lead_calls = set(), set()
    for call in truth["calls"]:
        if not _is_lead_call(call):
            continue
        lead_call_ids.add(call["id"])
        booked_job = _ref_id(call.get("job")) or job_naming_call.get(call["id"])
        if booked_job is not None:
            jobs_booked_by_lead_calls.add(booked_job)
        row = expected[(_ref_id(call["campaign"]), _month(_utc_date(call["createdOn"])))]
        row["lead_calls"] += 1
        row["booked_calls"] += call["type"] == "Booked"

    # CRM leads and bookings, each prospect once: a lead call's contact is the call's, a
    # booking a live CRM lead was converted into is the lead's
    bookings = {b["id"]: b for b in truth["bookings"]}
    claimed_bookings = {
        lead["bookingId"] for lead in truth["leads"] if lead["active"] and lead.get("bookingId")
    }
    for lead in truth["leads"]:
        booking_job = (bookings.get(lead.get("bookingId")) or {}).get("jobId")
        if (
            lead["active"]
            and lead.get("callId") not in lead_call_ids
            and booking_job not in jobs_booked_by_lead_calls
        ):
            expected[(lead["campaignId"], _month(_utc_date(lead["createdOn"])))]["crm_leads"] += 1
    for booking in bookings.values():
        if (
            booking["active"]
            and booking["id"] not in claimed_bookings
            and booking.get("jobId") not in jobs_booked_by_lead_calls
        ):
            key = (booking.get("campaignId"), _month(_utc_date(booking["createdOn"])))
            expected[key]["booking_leads"] += 1

    # jobs: booked in the month they were created, completed in the month they completed
    subtotals = _job_subtotals(truth)
    thresholds = {t["id"]: _money(t.get("soldThreshold")) for t in truth["job_types"]}
    for job in jobs:
        if not job["active"]:
            continue
        created = _month(_utc_date(job["createdOn"]))
        if created is not None:
            expected[(job.get("campaignId"), created)]["booked_jobs"] += 1
        completed = _month(_utc_date(job.get("completedOn")))
        if job["jobStatus"] != "Completed" or completed is None:
            continue
        row = expected[(job.get("campaignId"), completed)]
        subtotal = subtotals.get(job["id"], ZERO)
        row["completed_jobs"] += 1
        row["completed_revenue"] += subtotal
        threshold = thresholds.get(job.get("jobTypeId"), ZERO)
        # converted: the invoice subtotal alone reaches the sold threshold (int_job_outcomes)
        row["converted_jobs"] += subtotal >= threshold

    # costs: the daily cost over the month's days
    for cost in truth["campaign_costs"]:
        if not 1 <= cost["month"] <= 12:
            continue
        days = calendar.monthrange(cost["year"], cost["month"])[1]
        key = (cost["campaignId"], date(cost["year"], cost["month"], 1))
        expected[key]["campaign_cost"] += _money(cost["dailyCost"]) * days

    for row in expected.values():
        leads = row["lead_calls"] + row["crm_leads"] + row["booking_leads"]
        revenue, cost = row["completed_revenue"], row["campaign_cost"]
        row.update(
            leads=leads,
            booking_rate=_rate(row["booked_calls"], row["lead_calls"]),
            roi=_rate(revenue, cost),
            net_roi=_rate(revenue - cost, cost),
            cost_per_lead=_per(cost, leads),
            cost_per_lead_call=_per(cost, row["lead_calls"]),
        )
    return dict(expected)


def test_marketing_roi_matches_the_truth(synced):
    expected = _expected_marketing(synced["truth"])
    reported = {
        (r.pop("campaign_id"), r.pop("report_month")): r
        for r in _rows(
            synced,
            "select * exclude (tenant_id, connection_name, campaign_name) from rpt_marketing_roi "
            "where tenant_id = ?",
        )
    }
    assert sum(r["completed_revenue"] for r in expected.values()) > 0
    assert sum(r["booking_leads"] for r in expected.values()) > 0
    _assert_same(reported, expected, rates=("booking_rate", "roi", "net_roi"))
