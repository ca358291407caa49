"""The technicians, payroll and labour fixture world (tenant 3000002): small enough that every
scorecard and labour-cost figure is worked by hand in test_kpi_technicians_fixture.py.

Built to hit what breaks naive SQL:

* splits of 66.67 / 33.33 on a $100.01 job and of 33.33 / 33.33 / 33.34 on a $10.00 job, whose
  exact shares leave a cent over (it goes to the largest remainder), and 50 / 50 on $75.25
  (a tie: the cent goes to the lower technician id), next to an inactive split;
* a job without splits credited to its sold-by technician, one with neither credited to
  nobody, and a canceled job with a split;
* an estimate sold by a technician other than the job's (the sale is the seller's), and
  sales opportunities with no seller (they stay with the job's technicians);
* a recall of a shared job, completed the next month: it counts against the original job's
  technicians, not the one sent;
* timesheets arriving one UTC day and finishing the next, one not arrived yet, one whose done
  time is before its arrival;
* a renewal membership term, a deleted membership, a membership sold by a non-technician;
* gross pay items that floating point gets wrong (0.10 + 0.20), a reimbursement and an
  inactive item, business units found through the job, the item's business unit name and
  the technician's home; an advance among the payroll adjustments.
"""

from __future__ import annotations

from typing import Any

from dbt_fixture_records import (
    appointment,
    appointment_assignment,
    business_unit,
    campaign,
    customer,
    estimate,
    estimate_item,
    invoice,
    job,
    job_split,
    job_timesheet,
    job_type,
    location,
    membership,
    technician,
)

TENANT = 3000002

HVAC = (10, "HVAC Service")
PLUMBING = (20, "Plumbing")
ANA = (100, "Ana Alvarez")
BOB = (200, "Bob Brown")
CY = (300, "Cy Chen")
OLGA = (40, "Olga Office")  # an office employee
CUSTOMER = (1, "Fixture Customer")
SERVICE = 1000  # job type without a sold threshold ($0)
INSTALL = 2000  # job type with a $500 sold threshold

_TS = "2026-01-01T12:00:00Z"


def _job(
    job_id: int,
    *,
    bu: tuple[int, str],
    job_type_id: int,
    status: str = "Completed",
    completed_on: str | None = None,
    sold_by: int | None = None,
    no_charge: bool = False,
    recall_for: int | None = None,
) -> dict[str, Any]:
    record = job(
        job_id,
        customer_id=CUSTOMER[0],
        location_id=11,
        business_unit_id=bu[0],
        job_type_id=job_type_id,
        campaign_id=500,
        status=status,
        completed_on=completed_on,
        sold_by=sold_by,
    )
    record.update(noCharge=no_charge, recallForId=recall_for)
    return record


def _invoice(
    invoice_id: int, job_id: int, bu: tuple[int, str], date: str, subtotal: str
) -> dict[str, Any]:
    return invoice(
        invoice_id,
        customer=CUSTOMER,
        business_unit=bu,
        job_id=job_id,
        invoice_date=date,
        due_date=date,
        sub_total=subtotal,
        sales_tax="0.00",
        total=subtotal,
        balance="0.00",
    )


def _timesheet(
    timesheet_id: int, job_id: int, tech: int, arrived: str | None, done: str | None
) -> dict[str, Any]:
    return job_timesheet(
        timesheet_id, job_id, tech, dispatched="2026-02-01T08:00:00Z", arrived=arrived, done=done
    )


def employee(employee_id: int, name: str, bu_id: int) -> dict[str, Any]:
    """An office employee (settings export schema)."""
    return {
        "id": employee_id,
        "userId": employee_id + 5000,
        "name": name,
        "role": "GeneralOffice",
        "roleIds": [2],
        "businessUnitId": bu_id,
        "managerId": None,
        "overtimeProfileId": None,
        "agentId": None,
        "aadUserId": None,
        "createdOn": _TS,
        "modifiedOn": _TS,
        "email": None,
        "phoneNumber": None,
        "loginName": name.split()[0].lower(),
        "home": None,
        "firstName": name.split()[0],
        "lastName": name.split()[-1],
        "hourlyRate": 25.0,
        "customFields": [],
        "active": True,
        "accountLocked": False,
        "permissions": [],
        "startDate": "2024-01-01T00:00:00Z",
        "terminationDate": None,
    }


def gross_pay_item(
    item_id: int,
    employee: tuple[int, str],
    employee_type: str,
    item_type: str,
    amount: float,
    date: str,
    *,
    job_id: int | None = None,
    business_unit_name: str | None = None,
    active: bool = True,
) -> dict[str, Any]:
    """A gross pay item (payroll export schema); amounts are JSON numbers, as the API sends."""
    return {
        "id": item_id,
        "employeeId": employee[0],
        "employeeType": employee_type,
        "businessUnitName": business_unit_name,
        "payrollId": 9,
        "employeePayrollId": f"P-{employee[0]}",
        "date": f"{date}T00:00:00Z",
        "activity": "Working",
        "activityCodeId": None,
        "activityCode": None,
        "amount": amount,
        "amountAdjustment": 0.0,
        "payoutBusinessUnitName": business_unit_name,
        "grossPayItemType": item_type,
        "startedOn": None,
        "endedOn": None,
        "paidDurationHours": 2.5 if item_type == "TimesheetTime" else None,
        "paidTimeType": "Regular" if item_type == "TimesheetTime" else None,
        "sourceEntityId": None,
        "jobId": job_id,
        "jobNumber": str(job_id) if job_id else None,
        "jobTypeName": None,
        "projectNumber": None,
        "projectId": None,
        "invoiceId": None,
        "invoiceNumber": None,
        "invoiceItemId": None,
        "customerId": CUSTOMER[0] if job_id else None,
        "customerName": CUSTOMER[1] if job_id else None,
        "locationId": 11 if job_id else None,
        "locationName": None,
        "locationAddress": None,
        "locationZip": None,
        "zoneName": None,
        "taxZoneName": None,
        "laborTypeId": None,
        "laborTypeCode": None,
        "budgetCodeId": None,
        "isPrevailingWageJob": False,
        "memo": None,
        "createdOn": f"{date}T20:00:00Z",
        "modifiedOn": f"{date}T20:00:00Z",
        "active": active,
    }


def payroll_adjustment(
    adjustment_id: int,
    employee: tuple[int, str],
    employee_type: str,
    adjustment_type: str,
    amount: float,
    posted: str,
    *,
    invoice_id: int | None = None,
) -> dict[str, Any]:
    """A payroll adjustment (payroll export schema)."""
    return {
        "id": adjustment_id,
        "employeeType": employee_type,
        "employeeId": employee[0],
        "postedOn": f"{posted}T12:00:00Z",
        "amount": amount,
        "memo": None,
        "activityCodeId": None,
        "invoiceId": invoice_id,
        "hours": None,
        "rate": None,
        "quantity": None,
        "type": adjustment_type,
        "createdOn": f"{posted}T12:00:00Z",
        "modifiedOn": f"{posted}T12:00:00Z",
        "active": True,
    }


def records() -> dict[str, list[dict[str, Any]]]:
    install = job_type(INSTALL, "Install")
    install["soldThreshold"] = 500.0
    renewed = membership(
        7001, customer_id=1, status="Expired", start="2025-02-03", end="2026-02-03", renewed_by=7002
    )
    renewal = membership(7002, customer_id=1, status="Active", start="2026-02-03", end="2027-02-03")
    sold_by_csr = membership(
        7005, customer_id=1, status="Active", start="2026-02-16", end="2027-02-16"
    )
    sold_by_csr["soldById"] = OLGA[0]
    return {
        "business_units": [business_unit(*HVAC), business_unit(*PLUMBING)],
        "technicians": [
            technician(*ANA, HVAC[0]),
            technician(*BOB, HVAC[0]),
            technician(*CY, PLUMBING[0]),
        ],
        "employees": [employee(*OLGA, PLUMBING[0])],
        "job_types": [job_type(SERVICE, "Service"), install],
        "campaigns": [campaign(500, "Google Ads")],
        "customers": [customer(*CUSTOMER)],
        "locations": [location(11, CUSTOMER[0])],
        "jobs": [
            # shared 66.67 / 33.33, a dismissed estimate with no seller
            _job(101, bu=HVAC, job_type_id=SERVICE, completed_on="2026-02-10T15:00:00Z"),
            # no splits: Bob's as its sold-by; the estimate on it was sold by Ana
            _job(
                102,
                bu=HVAC,
                job_type_id=SERVICE,
                completed_on="2026-02-12T11:00:00Z",
                sold_by=BOB[0],
            ),
            # three-way split, under the $500 threshold, an open estimate; completed in March
            _job(103, bu=PLUMBING, job_type_id=INSTALL, completed_on="2026-03-01T03:00:00Z"),
            # 50 / 50 on an odd cent, beside an inactive split of Cy's
            _job(104, bu=HVAC, job_type_id=SERVICE, completed_on="2026-03-05T16:00:00Z"),
            # Cy's recall of job 101: No Charge, $0, against a $500 threshold
            _job(
                105,
                bu=HVAC,
                job_type_id=INSTALL,
                completed_on="2026-03-10T16:00:00Z",
                sold_by=CY[0],
                no_charge=True,
                recall_for=101,
            ),
            # canceled, with a split: counts for nobody
            _job(106, bu=HVAC, job_type_id=SERVICE, status="Canceled"),
            # completed with revenue but no split and no sold-by: credited to nobody
            _job(107, bu=HVAC, job_type_id=SERVICE, completed_on="2026-02-25T16:00:00Z"),
        ],
        "appointments": [appointment(j, CUSTOMER[0], "Done") for j in (101, 102, 103, 104, 105)],
        "invoices": [
            _invoice(1101, 101, HVAC, "2026-02-10", "100.01"),
            _invoice(1102, 102, HVAC, "2026-02-12", "250.00"),
            _invoice(1103, 103, PLUMBING, "2026-03-01", "10.00"),
            _invoice(1104, 104, HVAC, "2026-03-05", "75.25"),
            _invoice(1107, 107, HVAC, "2026-02-25", "40.00"),
        ],
        "job_splits": [
            job_split(1, 101, ANA[0], 66.67),
            job_split(2, 101, BOB[0], 33.33),
            job_split(3, 103, ANA[0], 33.33),
            job_split(4, 103, BOB[0], 33.33),
            job_split(5, 103, CY[0], 33.34),
            job_split(6, 104, BOB[0], 50.0),
            job_split(7, 104, ANA[0], 50.0),
            job_split(8, 104, CY[0], 100.0, active=False),
            job_split(9, 106, ANA[0], 100.0),
        ],
        "estimates": [
            estimate(
                8001,
                job_id=101,
                customer_id=1,
                status=(2, "Dismissed"),
                items=[estimate_item(1, 50.0)],
                subtotal=50.0,
            ),
            estimate(
                8002,
                job_id=102,
                customer_id=1,
                status=(1, "Sold"),
                items=[estimate_item(2, 250.0)],
                subtotal=250.0,
                sold_by=ANA[0],
                sold_on="2026-02-12T10:00:00Z",
            ),
            estimate(
                8003,
                job_id=103,
                customer_id=1,
                status=(0, "Open"),
                items=[estimate_item(3, 900.0)],
                subtotal=900.0,
            ),
        ],
        "job_timesheets": [
            _timesheet(1, 101, ANA[0], "2026-02-10T13:00:00Z", "2026-02-10T15:30:00Z"),
            _timesheet(2, 101, BOB[0], "2026-02-10T13:15:00Z", "2026-02-10T15:00:00Z"),
            _timesheet(3, 102, BOB[0], "2026-02-12T09:00:00Z", "2026-02-12T10:20:00Z"),
            # arrives on 28 February (UTC), done on 1 March: February's hours
            _timesheet(4, 103, ANA[0], "2026-02-28T23:00:00Z", "2026-03-01T01:00:00Z"),
            # dispatched, not arrived yet
            _timesheet(5, 104, ANA[0], None, None),
            # done before arrived: no hours rather than negative ones
            _timesheet(6, 103, CY[0], "2026-02-20T10:00:00Z", "2026-02-20T09:00:00Z"),
        ],
        "appointment_assignments": [
            appointment_assignment(1, 101, ANA, "Done"),
            appointment_assignment(2, 101, BOB, "Done"),
            appointment_assignment(3, 104, CY, "Scheduled", active=False),
        ],
        "memberships": [
            # sold by Ana (the builder's soldById 100) in February 2025, renewed by 7002
            renewed,
            renewal,
            membership(7003, customer_id=1, status="Active", start="2026-02-15", end="2027-02-15"),
            membership(7004, customer_id=1, status="Deleted", start="2026-02-20", end="2027-02-20"),
            sold_by_csr,
        ],
        "gross_pay_items": [
            gross_pay_item(1, ANA, "Technician", "TimesheetTime", 80.0, "2026-02-10", job_id=101),
            gross_pay_item(
                2, BOB, "Technician", "InvoiceRelatedBonus", 25.5, "2026-02-12", job_id=102
            ),
            gross_pay_item(
                3, OLGA, "Employee", "Salary", 1000.0, "2026-02-15", business_unit_name="Plumbing"
            ),
            gross_pay_item(4, ANA, "Technician", "Reimbursement", 30.0, "2026-02-10", job_id=101),
            gross_pay_item(5, BOB, "Technician", "CustomBonus", 500.0, "2026-02-12", active=False),
            gross_pay_item(
                6, CY, "Technician", "CustomBonus", 0.1, "2026-02-20", business_unit_name="Nowhere"
            ),
            gross_pay_item(
                7, CY, "Technician", "CustomBonus", 0.2, "2026-02-21", business_unit_name="Nowhere"
            ),
        ],
        "payroll_adjustments": [
            payroll_adjustment(1, ANA, "Technician", "Direct", 50.0, "2026-02-11", invoice_id=1101),
            payroll_adjustment(2, BOB, "Technician", "Advance", 200.0, "2026-02-13"),
            payroll_adjustment(3, OLGA, "Employee", "MonthlyBonus", 100.0, "2026-02-28"),
        ],
    }
