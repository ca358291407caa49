"""The group domain's hand-worked world: two companies of one group (tenants 4000001 and
4000002) whose records use the SAME ids (business unit 10, customer 1, jobs 501-503, invoices
601-603, payments 701-702), so any join or sum that forgets the tenant mixes them, and a
connection renamed between two syncs.

* Acme Heating & Air (4000001), one connection name throughout: a job invoice in January paid
  in January; two in February, one of them paid in March (open at the end of February, so the
  AR of February adds the payment back) and one still open, whose completed jobs average
  (200.00 + 100.01) / 2 = 150.005 -> 150.01; in March a voided invoice (counts nowhere), a
  non-job invoice, and an inactive payment (neither collected nor added back to the AR).
* Bolt Plumbing (4000002): its business units, customers and locations were first synced on
  2026-03-01 as "Bolt Plumbing (trial)"; the connection was then renamed, and everything else
  synced at the fixture's load time (2026-03-31) as "Bolt Plumbing". A February job invoice
  paid in two payments (February and March), a credit adjustment to it in March (March's
  revenue, and the February job's revenue), a March job invoice still open, a $0 invoice on a
  completed job (a job, not an invoice) and a refund (payments collected are netted).

Every figure is worked by hand in tests/dbt/test_dbt_tenants.py. The AR as-of date of both is
2026-03-31 (their invoices' load date).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dbt_fixture_records import (
    LOADED_AT,
    business_unit,
    campaign,
    customer,
    invoice,
    job,
    job_type,
    location,
    payment,
)

from kpi_fixtures import Load

ACME = 4000001
BOLT = 4000002
ACME_NAME = "Acme Heating & Air"
BOLT_NAME = "Bolt Plumbing"
BOLT_OLD_NAME = "Bolt Plumbing (trial)"
# Bolt's first sync, under its old connection name
BOLT_FIRST_LOAD = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)

BU = (10, "Service")
CUSTOMER = (1, "Pat Customer")
LOCATION = 11
JOB_TYPE = 1
CAMPAIGN = 1


def _job(job_id: int, status: str, completed_on: str | None) -> dict[str, Any]:
    return job(
        job_id,
        customer_id=CUSTOMER[0],
        location_id=LOCATION,
        business_unit_id=BU[0],
        job_type_id=JOB_TYPE,
        campaign_id=CAMPAIGN,
        status=status,
        completed_on=completed_on,
    )


def _invoice(
    invoice_id: int,
    job_id: int | None,
    day: str,
    sub_total: str,
    sales_tax: str,
    total: str,
    balance: str,
    **kwargs: Any,
) -> dict[str, Any]:
    return invoice(
        invoice_id,
        customer=CUSTOMER,
        business_unit=BU if job_id else None,
        job_id=job_id,
        invoice_date=day,
        due_date=day,
        sub_total=sub_total,
        sales_tax=sales_tax,
        total=total,
        balance=balance,
        **kwargs,
    )


def _reference_records() -> dict[str, list[dict[str, Any]]]:
    return {
        "business_units": [business_unit(*BU)],
        "customers": [customer(*CUSTOMER)],
        "locations": [location(LOCATION, CUSTOMER[0])],
    }


def acme_records() -> dict[str, list[dict[str, Any]]]:
    """Acme Heating & Air, one sync."""
    return {
        **_reference_records(),
        "job_types": [job_type(JOB_TYPE, "Repair")],
        "campaigns": [campaign(CAMPAIGN, "Web")],
        "jobs": [
            _job(501, "Completed", "2026-01-20T15:00:00Z"),
            _job(502, "Completed", "2026-02-10T15:00:00Z"),
            _job(503, "Completed", "2026-02-25T15:00:00Z"),
            _job(504, "InProgress", None),
        ],
        "invoices": [
            _invoice(601, 501, "2026-01-20", "100.00", "8.25", "108.25", "0.00"),
            _invoice(602, 502, "2026-02-10", "200.00", "16.50", "216.50", "0.00"),
            _invoice(603, 503, "2026-02-25", "100.01", "0.00", "100.01", "100.01"),
            # voided: counts in no month, owes nothing
            _invoice(604, 504, "2026-03-03", "999.00", "0.00", "999.00", "999.00", active=False),
            # a counter sale: revenue and an invoice, no job
            _invoice(
                605,
                None,
                "2026-03-15",
                "50.00",
                "4.13",
                "54.13",
                "54.13",
                configuration="CounterSales",
            ),
        ],
        "payments": [
            payment(
                701, customer=CUSTOMER, total="108.25", date="2026-01-25", applied=[(601, "108.25")]
            ),
            payment(
                702, customer=CUSTOMER, total="216.50", date="2026-03-05", applied=[(602, "216.50")]
            ),
            # inactive (deleted): not collected, and not added back to February's AR of 603
            payment(
                703,
                customer=CUSTOMER,
                total="100.01",
                date="2026-03-10",
                applied=[(603, "100.01")],
                active=False,
            ),
        ],
    }


def bolt_records() -> dict[str, list[dict[str, Any]]]:
    """Bolt Plumbing's second sync (after the rename): everything but its reference data."""
    return {
        "job_types": [job_type(JOB_TYPE, "Drain cleaning")],
        "campaigns": [campaign(CAMPAIGN, "Radio")],
        "jobs": [
            _job(501, "Completed", "2026-02-03T15:00:00Z"),
            _job(502, "Completed", "2026-03-20T15:00:00Z"),
            _job(503, "Completed", "2026-03-21T15:00:00Z"),
        ],
        "invoices": [
            # 433.00 - 420.00 (payment 701) - 13.00 (payment 702) = 0.00 open
            _invoice(601, 501, "2026-02-03", "400.00", "33.00", "433.00", "0.00"),
            _invoice(602, 502, "2026-03-20", "250.00", "20.63", "270.63", "270.63"),
            # the $0 invoice ServiceTitan opens with a job
            _invoice(603, 503, "2026-03-21", "0.00", "0.00", "0.00", "0.00"),
            # a credit to 601 in March: no job of its own, it takes 601's (job 501)
            _invoice(
                606, None, "2026-03-02", "-20.00", "0.00", "-20.00", "-20.00", adjustment_to=601
            ),
        ],
        "payments": [
            payment(
                701, customer=CUSTOMER, total="420.00", date="2026-02-04", applied=[(601, "420.00")]
            ),
            payment(
                702, customer=CUSTOMER, total="13.00", date="2026-03-10", applied=[(601, "13.00")]
            ),
            payment(
                704,
                customer=CUSTOMER,
                total="-50.00",
                date="2026-03-25",
                applied=[],
                refunded_payment_id=701,
            ),
        ],
    }


def loads() -> list[Load]:
    """Acme's one sync; Bolt's two, under its old name and then its new one."""
    return [
        Load(ACME, ACME_NAME, LOADED_AT, acme_records()),
        Load(BOLT, BOLT_OLD_NAME, BOLT_FIRST_LOAD, _reference_records()),
        Load(BOLT, BOLT_NAME, LOADED_AT, bolt_records()),
    ]
