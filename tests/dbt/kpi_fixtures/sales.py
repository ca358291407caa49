"""The sales domain's hand-worked world (tenant 3000001): revenue as ServiceTitan counts it,
conversion and close rate, the estimate pipeline and cancellations.

Built so that each rule moves a figure that a wrong rule would get wrong, and every figure is
worked by hand in tests/dbt/test_kpi_sales_fixture.py:

* revenue: a deposit item on a Liability account (not revenue), an item without an account
  (counted, and shown as unmapped), an item whose account type only gl_accounts knows, an
  inactive item, an inactive invoice, a job invoice dated the month after the job's
  completion, a job still in progress (its invoice is not revenue yet), a non-job invoice and
  an adjustment that inherits its original's business unit;
* conversion: a job type sold threshold of $100 and one of $1,000, a No Charge job that
  reached its threshold (an opportunity again) and one that did not, a sold and a dismissed
  estimate on one job, an estimate sold below the threshold, and an average ticket of half a
  cent (430.01 / 2);
* the pipeline: estimates of every status in four age buckets, one without a business unit
  (it takes its job's), one without a job, one inactive;
* cancellations: a job canceled twice (the later log decides), one canceled without a log,
  an inactive log, and an inactive completed job that counts nowhere.

Every record is loaded at dbt_fixture_records.LOADED_AT (2026-03-31), the as-of date of the
estimates' age.
"""

from __future__ import annotations

from typing import Any

from dbt_fixture_records import (
    business_unit,
    campaign,
    customer,
    estimate,
    estimate_item,
    invoice,
    invoice_item,
    job,
    job_type,
    location,
    technician,
)

TENANT = 3000001

HVAC = (10, "HVAC Service")
PLUMBING = (20, "Plumbing")
ANA = (100, "Ana Alvarez")
BOB = (200, "Bob Brown")
ALPHA = (1, "Alpha Home")
BETA = (2, "Beta Home")  # merged into GAMMA
GAMMA = (3, "Gamma Home")

SERVICE_CALL = 1000  # sold threshold $100
INSTALL = 2000  # sold threshold $1,000
WEB = 1

# gl_accounts
SERVICE_INCOME = 4000
CUSTOMER_DEPOSITS = 2300

OPEN = (0, "Open")
SOLD = (1, "Sold")
DISMISSED = (2, "Dismissed")

_TS = "2025-06-01T12:00:00Z"


def _job_type(jt_id: int, name: str, sold_threshold: float) -> dict[str, Any]:
    return {**job_type(jt_id, name), "soldThreshold": sold_threshold}


def _job(
    job_id: int,
    *,
    business_unit_id: int,
    job_type_id: int,
    status: str,
    completed_on: str | None = None,
    sold_by: int | None = None,
    no_charge: bool = False,
    active: bool = True,
    customer_id: int = ALPHA[0],
    modified_on: str = _TS,
) -> dict[str, Any]:
    record = job(
        job_id,
        customer_id=customer_id,
        location_id=11,
        business_unit_id=business_unit_id,
        job_type_id=job_type_id,
        campaign_id=WEB,
        status=status,
        completed_on=completed_on,
        sold_by=sold_by,
        active=active,
    )
    return {**record, "noCharge": no_charge, "modifiedOn": modified_on}


def _invoice(
    invoice_id: int,
    *,
    job_id: int | None,
    business_unit: tuple[int, str] | None,
    invoice_date: str,
    sub_total: str,
    sales_tax: str = "0.00",
    active: bool = True,
    adjustment_to: int | None = None,
) -> dict[str, Any]:
    total = f"{float(sub_total) + float(sales_tax):.2f}"
    return invoice(
        invoice_id,
        customer=ALPHA,
        business_unit=business_unit,
        job_id=job_id,
        invoice_date=invoice_date,
        due_date=invoice_date,
        sub_total=sub_total,
        sales_tax=sales_tax,
        total=total,
        balance="0.00",
        active=active,
        adjustment_to=adjustment_to,
        configuration="JobInvoice" if job_id else "CounterSales",
    )


def _item(
    item_id: int,
    invoice_id: int,
    total: str,
    *,
    account: dict[str, Any] | str | None = "income",
    active: bool = True,
) -> dict[str, Any]:
    """An invoice item; ``account`` is the item's generalLedgerAccount: the builder's Income
    account by default, or the given object, or None (the item names no account)."""
    record = invoice_item(item_id, invoice_id, total, active=active)
    if account != "income":
        record["generalLedgerAccount"] = account
    return record


def _estimate(
    estimate_id: int,
    *,
    job_id: int | None,
    status: tuple[int, str],
    totals: list[float],
    subtotal: float,
    created_on: str,
    business_unit_id: int | None,
    sold_by: int | None = None,
    sold_on: str | None = None,
    active: bool = True,
) -> dict[str, Any]:
    record = estimate(
        estimate_id,
        job_id=job_id or 0,
        customer_id=BETA[0],
        status=status,
        items=[estimate_item(estimate_id * 10 + n, t) for n, t in enumerate(totals, start=1)],
        subtotal=subtotal,
        sold_by=sold_by,
        sold_on=sold_on,
        active=active,
    )
    return {
        **record,
        "jobId": job_id,
        "jobNumber": str(job_id) if job_id else None,
        "createdOn": created_on,
        "businessUnitId": business_unit_id,
        "businessUnitName": None,
    }


def _gl_account(account_id: int, name: str, account_type: str) -> dict[str, Any]:
    return {
        "id": account_id,
        "name": name,
        "number": str(account_id),
        "description": None,
        "type": account_type,
        "subtype": None,
        "active": True,
        "createdOn": _TS,
        "modifiedOn": _TS,
        "source": "ManuallyCreated",
        "defaultAccountType": None,
        "isIntacctGroup": False,
        "isIntacctBankAccount": False,
    }


def _cancel_reason(reason_id: int, name: str) -> dict[str, Any]:
    return {"id": reason_id, "name": name, "active": True, "createdOn": _TS, "modifiedOn": _TS}


def _cancel_log(
    log_id: int, job_id: int, reason_id: int, created_on: str, *, active: bool = True
) -> dict[str, Any]:
    return {
        "id": log_id,
        "jobId": job_id,
        "reasonId": reason_id,
        "memo": "Customer called to cancel.",
        "createdById": 1,
        "createdOn": created_on,
        "active": active,
    }


def records() -> dict[str, list[dict[str, Any]]]:
    return {
        "business_units": [business_unit(*HVAC), business_unit(*PLUMBING)],
        "technicians": [technician(*ANA, HVAC[0]), technician(*BOB, PLUMBING[0])],
        "job_types": [
            _job_type(SERVICE_CALL, "Service Call", 100.0),
            _job_type(INSTALL, "Install", 1000.0),
        ],
        "campaigns": [campaign(WEB, "Web")],
        "customers": [
            customer(*ALPHA),
            customer(*BETA, active=False, merged_to=GAMMA[0]),
            customer(*GAMMA),
        ],
        "locations": [location(11, ALPHA[0])],
        "gl_accounts": [
            _gl_account(SERVICE_INCOME, "Service Income", "Income"),
            _gl_account(CUSTOMER_DEPOSITS, "Customer Deposits", "Liability"),
        ],
        "jobs": [
            # converted (350.00 >= 100) and won (sold 1,200 >= 100)
            _job(
                101,
                business_unit_id=HVAC[0],
                job_type_id=SERVICE_CALL,
                status="Completed",
                completed_on="2026-01-10T15:00:00Z",
                sold_by=ANA[0],
            ),
            # completed on the last evening of January (UTC), invoiced on February 1st
            _job(
                102,
                business_unit_id=HVAC[0],
                job_type_id=SERVICE_CALL,
                status="Completed",
                completed_on="2026-01-31T23:30:00Z",
                sold_by=ANA[0],
            ),
            # No Charge, but its invoice (1,500) reached the 1,000 threshold: an opportunity
            _job(
                103,
                business_unit_id=PLUMBING[0],
                job_type_id=INSTALL,
                status="Completed",
                completed_on="2026-02-15T12:00:00Z",
                sold_by=BOB[0],
                no_charge=True,
            ),
            # No Charge, invoice 200 and sold estimate 600 both below 1,000: no opportunity
            _job(
                104,
                business_unit_id=PLUMBING[0],
                job_type_id=INSTALL,
                status="Completed",
                completed_on="2026-02-20T12:00:00Z",
                no_charge=True,
            ),
            # in progress: its invoice is not ServiceTitan revenue yet
            _job(105, business_unit_id=HVAC[0], job_type_id=SERVICE_CALL, status="InProgress"),
            # canceled twice: the February log decides
            _job(106, business_unit_id=HVAC[0], job_type_id=SERVICE_CALL, status="Canceled"),
            # canceled without a log: dated by its last modification
            _job(
                107,
                business_unit_id=PLUMBING[0],
                job_type_id=INSTALL,
                status="Canceled",
                modified_on="2026-02-10T08:00:00Z",
            ),
            _job(108, business_unit_id=PLUMBING[0], job_type_id=INSTALL, status="Canceled"),
            # deleted: counts nowhere
            _job(
                109,
                business_unit_id=HVAC[0],
                job_type_id=SERVICE_CALL,
                status="Completed",
                completed_on="2026-01-12T12:00:00Z",
                sold_by=ANA[0],
                active=False,
            ),
        ],
        "invoices": [
            _invoice(
                5101,
                job_id=101,
                business_unit=HVAC,
                invoice_date="2026-01-10",
                sub_total="350.00",
                sales_tax="24.75",
            ),
            _invoice(
                5102, job_id=102, business_unit=HVAC, invoice_date="2026-02-01", sub_total="80.01"
            ),
            _invoice(
                5103,
                job_id=103,
                business_unit=PLUMBING,
                invoice_date="2026-02-15",
                sub_total="1500.00",
            ),
            _invoice(
                5104,
                job_id=104,
                business_unit=PLUMBING,
                invoice_date="2026-02-20",
                sub_total="200.00",
            ),
            _invoice(
                5105, job_id=105, business_unit=HVAC, invoice_date="2026-02-25", sub_total="400.00"
            ),
            # voided: counts nowhere
            _invoice(
                5106,
                job_id=103,
                business_unit=PLUMBING,
                invoice_date="2026-02-15",
                sub_total="700.00",
                active=False,
            ),
            # a counter sale without a job
            _invoice(
                5201,
                job_id=None,
                business_unit=PLUMBING,
                invoice_date="2026-02-05",
                sub_total="120.00",
            ),
            # a credit on 5101, without a business unit of its own: HVAC's, in February
            _invoice(
                5202,
                job_id=None,
                business_unit=None,
                invoice_date="2026-02-10",
                sub_total="-30.00",
                adjustment_to=5101,
            ),
        ],
        "invoice_items": [
            _item(51011, 5101, "300.00"),
            # a deposit on a Liability account: on the invoice, not revenue
            _item(
                51012,
                5101,
                "50.00",
                account={
                    "id": CUSTOMER_DEPOSITS,
                    "name": "Customer Deposits",
                    "number": "2300",
                    "type": "Liability",
                    "detailType": "OtherCurrentLiabilities",
                },
            ),
            # no account at all: counted, and shown as unmapped
            _item(51021, 5102, "80.01", account=None),
            # the item does not say its account's type: gl_accounts does (Income)
            _item(
                51031,
                5103,
                "1500.00",
                account={
                    "id": SERVICE_INCOME,
                    "name": None,
                    "number": None,
                    "type": None,
                    "detailType": None,
                },
            ),
            _item(51041, 5104, "200.00"),
            _item(51051, 5105, "400.00"),
            _item(51061, 5106, "700.00"),
            _item(52011, 5201, "120.00"),
            # deleted from the invoice: counts nowhere
            _item(52012, 5201, "999.00", active=False),
            _item(52021, 5202, "-30.00"),
        ],
        "estimates": [
            _estimate(
                301,
                job_id=101,
                status=SOLD,
                totals=[700.0, 500.0],
                subtotal=1200.0,
                created_on="2026-01-10T14:00:00Z",
                business_unit_id=HVAC[0],
                sold_by=ANA[0],
                sold_on="2026-01-12T10:00:00Z",
            ),
            _estimate(
                302,
                job_id=101,
                status=DISMISSED,
                totals=[800.0],
                subtotal=800.0,
                created_on="2026-01-10T14:00:00Z",
                business_unit_id=HVAC[0],
            ),
            # no business unit of its own: its job's (Plumbing); items 0.1 + 0.2 + 499.7
            _estimate(
                303,
                job_id=103,
                status=OPEN,
                totals=[0.1, 0.2, 499.7],
                subtotal=500.0,
                created_on="2026-03-28T09:00:00Z",
                business_unit_id=None,
            ),
            _estimate(
                304,
                job_id=104,
                status=SOLD,
                totals=[600.0],
                subtotal=600.0,
                created_on="2026-02-20T09:00:00Z",
                business_unit_id=PLUMBING[0],
                sold_by=BOB[0],
                sold_on="2026-02-20T11:00:00Z",
            ),
            # deleted: counts nowhere
            _estimate(
                305,
                job_id=105,
                status=OPEN,
                totals=[900.0],
                subtotal=900.0,
                created_on="2026-02-25T09:00:00Z",
                business_unit_id=HVAC[0],
                active=False,
            ),
            # outside any job
            _estimate(
                306,
                job_id=None,
                status=OPEN,
                totals=[250.0],
                subtotal=250.0,
                created_on="2025-11-01T09:00:00Z",
                business_unit_id=PLUMBING[0],
            ),
        ],
        "job_cancel_reasons": [
            _cancel_reason(1, "Customer rescheduled"),
            _cancel_reason(2, "Found another company"),
        ],
        "job_canceled_logs": [
            _cancel_log(701, 106, 1, "2026-01-20T10:00:00Z"),
            _cancel_log(702, 106, 2, "2026-02-03T10:00:00Z"),
            _cancel_log(703, 108, 1, "2026-02-12T10:00:00Z"),
            # deleted: its reason and date do not count
            _cancel_log(704, 108, 2, "2026-03-01T10:00:00Z", active=False),
        ],
    }
