"""Hand-built ServiceTitan records (export shapes of the OpenAPI specs) for the dbt tests.

Small enough to compute every report figure by hand (the expected values live in
test_dbt_build_fixture.py, next to the arithmetic behind them), and built to hit the cases that
break naive SQL:

* money that floating point gets wrong: items "0.10" + "0.20" must sum to exactly 0.30, and an
  average ticket of 775.005 must round to 775.01;
* an inactive (voided) invoice with a large total, an inactive line item on an active invoice,
  an inactive payment, an inactive job and a refund;
* an adjustment invoice (a credit) that carries no job and no business unit, so it must inherit
  the original invoice's;
* a customer merged into another, whose invoices, jobs and payments must roll up to the survivor;
* a customer name with an apostrophe and an emoji;
* a completion time with a -05:00 offset that falls on the next UTC day;
* an AR due date exactly 90 days before the as-of date (61-90 bucket, not 90+);
* a second tenant reusing the same ids, which must never mix with the first.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson

from servicetitan_pipeline.entities import ENTITIES as ALL_ENTITIES
from servicetitan_pipeline.entities import get_entity
from servicetitan_pipeline.warehouse.schema import (
    ENTITY_COLUMNS,
    RAW_SCHEMA,
    TENANT_ID,
    ensure_entity_table,
    raw_table,
)

TENANT = 1000001
OTHER_TENANT = 2000002
CONNECTION = "fixture"
# The moment the fixture's rows were "loaded": the AR aging is computed as of its UTC date.
LOADED_AT = datetime(2026, 3, 31, 6, 0, tzinfo=UTC)
AS_OF_DATE = "2026-03-31"

ENTITIES = (
    "business_units",
    "technicians",
    "job_types",
    "campaigns",
    "customers",
    "locations",
    "jobs",
    "appointments",
    "invoices",
    "invoice_items",
    "payments",
)

_TS = "2025-06-01T12:00:00Z"


def _address(street: str) -> dict[str, Any]:
    return {
        "street": street,
        "unit": None,
        "city": "Austin",
        "state": "TX",
        "zip": "78701",
        "country": "USA",
        "latitude": 30.2672,
        "longitude": -97.7431,
    }


def business_unit(bu_id: int, name: str) -> dict[str, Any]:
    return {
        "id": bu_id,
        "active": True,
        "name": name,
        "officialName": f"{name} LLC",
        "email": None,
        "currency": "USD",
        "phoneNumber": None,
        "defaultTaxRate": 0.0825,
        "address": {**_address("1 Main St"), "isManualCoordinates": False, "isMilitary": False},
        "trade": {"id": 1, "name": "HVAC"},
        "division": None,
        "tagTypeIds": [],
        "createdOn": _TS,
        "modifiedOn": _TS,
        "externalData": [],
    }


def technician(tech_id: int, name: str, bu_id: int) -> dict[str, Any]:
    return {
        "id": tech_id,
        "userId": tech_id + 5000,
        "name": name,
        "roleIds": [1],
        "businessUnitId": bu_id,
        "mainZoneId": None,
        "zoneIds": [],
        "createdOn": _TS,
        "modifiedOn": _TS,
        "email": None,
        "phoneNumber": None,
        "loginName": name.split()[0].lower(),
        "home": None,
        "dailyGoal": 1500.0,
        "isManagedTech": True,
        "licenseType": "ManagedTech",
        "customFields": [{"typeId": 77, "name": "Shirt size", "value": "L"}],
        "active": True,
        "burdenRate": 12.5,
        "team": "Field",
        "status": "Idle",
        "commissionRate": 0.05,
        "hourlyRate": 32.0,
        "soldByRate": 0.02,
        "positions": ["Service"],
        "skills": [],
        "firstName": name.split()[0],
        "lastName": name.split()[-1],
    }


def job_type(jt_id: int, name: str) -> dict[str, Any]:
    return {
        "id": jt_id,
        "name": name,
        "businessUnitIds": [10, 20],
        "skills": [],
        "tagTypeIds": [],
        "priority": "Normal",
        "duration": 3600,
        "soldThreshold": None,
        "class": "Service",
        "summary": name,
        "noCharge": False,
        "enforceRecurringServiceEventSelection": None,
        "invoiceSignaturesRequired": False,
        "modifiedOn": _TS,
        "createdOn": _TS,
        "externalData": [],
        "active": True,
        "isSmartDispatched": False,
    }


def campaign(c_id: int, name: str) -> dict[str, Any]:
    return {
        "id": c_id,
        "name": name,
        "modifiedOn": _TS,
        "createdOn": _TS,
        "active": True,
        "isDefaultCampaign": None,
        "category": {"id": 1, "name": "Digital", "active": True},
        "source": "Web",
        "otherSource": None,
        "businessUnit": None,
        "medium": "CPC",
        "otherMedium": None,
        "campaignPhoneNumbers": [],
    }


def customer(
    c_id: int,
    name: str,
    *,
    customer_type: str = "Residential",
    active: bool = True,
    merged_to: int | None = None,
    balance: float = 0.0,
) -> dict[str, Any]:
    return {
        "id": c_id,
        "active": active,
        "name": name,
        "type": customer_type,
        "address": _address(f"{c_id} Elm St"),
        "customFields": [{"typeId": 55, "name": "Gate code", "value": f"#{c_id}0"}],
        "balance": balance,
        "taxExempt": False,
        "tagTypeIds": [3],
        "doNotMail": False,
        "doNotService": False,
        "nationalAccount": False,
        "createdOn": "2025-01-10T15:00:00Z",
        "createdById": 1,
        "modifiedOn": _TS,
        "mergedToId": merged_to,
        "paymentTermId": None,
        "creditLimit": None,
        "creditLimitBalance": None,
        "externalData": [],
    }


def location(loc_id: int, customer_id: int) -> dict[str, Any]:
    return {
        "taxZoneId": None,
        "id": loc_id,
        "customerId": customer_id,
        "active": True,
        "name": f"Location {loc_id}",
        "address": _address(f"{loc_id} Oak Ave"),
        "customFields": [],
        "createdOn": _TS,
        "createdById": 1,
        "modifiedOn": _TS,
        "mergedToId": None,
        "zoneId": None,
        "taxExempt": False,
        "tagTypeIds": [],
        "externalData": [],
    }


def job(
    job_id: int,
    *,
    customer_id: int,
    location_id: int,
    business_unit_id: int,
    job_type_id: int,
    campaign_id: int,
    status: str,
    completed_on: str | None = None,
    sold_by: int | None = None,
    active: bool = True,
) -> dict[str, Any]:
    return {
        "summary": "<p>No cooling</p>",
        "customFields": [{"typeId": 91, "name": "Warranty", "value": "No"}],
        "externalData": [],
        "id": job_id,
        "jobNumber": str(job_id),
        "projectId": None,
        "customerId": customer_id,
        "locationId": location_id,
        "jobStatus": status,
        "completedOn": completed_on,
        "businessUnitId": business_unit_id,
        "jobTypeId": job_type_id,
        "priority": "Normal",
        "campaignId": campaign_id,
        "appointmentCount": 1,
        "firstAppointmentId": job_id * 10,
        "lastAppointmentId": job_id * 10,
        "recallForId": None,
        "warrantyId": None,
        "jobGeneratedLeadSource": None,
        "noCharge": False,
        "notificationsEnabled": True,
        "createdOn": "2026-01-02T09:00:00Z",
        "createdById": 1,
        "modifiedOn": _TS,
        "tagTypeIds": [],
        "leadCallId": None,
        "partnerLeadCallId": None,
        "bookingId": None,
        "soldById": sold_by,
        "customerPo": "",
        "invoiceId": 0,
        "membershipId": None,
        "total": None,
        "createdFromEstimateId": None,
        "estimateIds": [],
        "active": active,
    }


def appointment(job_id: int, customer_id: int, status: str) -> dict[str, Any]:
    return {
        "id": job_id * 10,
        "jobId": job_id,
        "appointmentNumber": f"{job_id}-1",
        "start": "2026-01-15T14:00:00Z",
        "end": "2026-01-15T16:30:00Z",
        "arrivalWindowStart": "2026-01-15T14:00:00Z",
        "arrivalWindowEnd": "2026-01-15T16:00:00Z",
        "status": status,
        "specialInstructions": None,
        "createdOn": "2026-01-02T09:00:00Z",
        "modifiedOn": _TS,
        "customerId": customer_id,
        "unused": False,
        "createdById": 1,
        "isConfirmed": True,
        "active": True,
    }


def invoice(
    invoice_id: int,
    *,
    customer: tuple[int, str],
    business_unit: tuple[int, str] | None,
    job_id: int | None,
    invoice_date: str,
    due_date: str,
    sub_total: str,
    sales_tax: str,
    total: str,
    balance: str,
    active: bool = True,
    adjustment_to: int | None = None,
    configuration: str = "JobInvoice",
) -> dict[str, Any]:
    return {
        "summary": None,
        "items": [],
        "customFields": [{"name": "PO required", "value": "No"}],
        "active": active,
        "discountTotal": "0.00",
        "importId": None,
        "exportId": None,
        "materialSkuId": None,
        "membershipId": None,
        "paidOn": None,
        "invoiceConfiguration": configuration,
        "id": invoice_id,
        "syncStatus": "Pending",
        "budgetCodeId": None,
        "referenceNumber": f"INV-{invoice_id}",
        "invoiceDate": f"{invoice_date}T00:00:00Z",
        "dueDate": f"{due_date}T00:00:00Z",
        "subTotal": sub_total,
        "salesTax": sales_tax,
        "salesTaxCode": {"id": 1, "name": "Austin", "taxRate": 0.0825},
        "taxZoneId": None,
        "total": total,
        "balance": balance,
        "invoiceType": None,
        "customer": {"id": customer[0], "name": customer[1]},
        "customerAddress": {
            k: v for k, v in _address("9 Bill St").items() if k not in ("latitude", "longitude")
        },
        "location": {"id": 11, "name": "Location 11"},
        "locationAddress": None,
        "businessUnit": (
            {"id": business_unit[0], "name": business_unit[1]} if business_unit else None
        ),
        "termName": "Due on receipt",
        "createdBy": "office",
        "batch": None,
        "depositedOn": None,
        "createdOn": f"{invoice_date}T10:00:00Z",
        # invoices may omit modifiedOn (the raw column is then null)
        "modifiedOn": None,
        "adjustmentToId": adjustment_to,
        "job": {"id": job_id, "number": str(job_id), "type": "AC Tune-Up"} if job_id else None,
        "projectId": None,
        "royalty": None,
        "employeeInfo": None,
        "commissionEligibilityDate": None,
        "sentStatus": "Sent",
        "reviewStatus": "Reviewed",
        "assignedTo": None,
    }


def invoice_item(
    item_id: int,
    invoice_id: int,
    total: str,
    *,
    item_type: str = "Service",
    active: bool = True,
) -> dict[str, Any]:
    return {
        "id": item_id,
        "description": "<p>Labor</p>",
        "quantity": "1.0000",
        "cost": "0.00",
        "totalCost": "0.00",
        "price": total,
        "type": item_type,
        "skuName": f"SKU-{item_id}",
        "skuId": 700 + item_id,
        "total": total,
        "inventory": False,
        "taxable": True,
        "isChargeable": True,
        "generalLedgerAccount": {
            "id": 4000,
            "name": "Service Income",
            "number": "4000",
            "type": "Income",
            "detailType": "Service",
        },
        "costOfSaleAccount": None,
        "assetAccount": None,
        "membershipTypeId": 0,
        "itemGroup": None,
        "displayName": f"Item {item_id}",
        "soldHours": None,
        "createdOn": _TS,
        "modifiedOn": _TS,
        "serviceDate": None,
        "order": item_id,
        "businessUnit": None,
        "createdById": 1,
        "addOn": False,
        "memberPrice": None,
        "technicianId": None,
        "active": active,
        "invoiceId": invoice_id,
    }


def payment(
    payment_id: int,
    *,
    customer: tuple[int, str],
    total: str,
    date: str,
    applied: Iterable[tuple[int, str]],
    active: bool = True,
    refunded_payment_id: int | None = None,
    payment_type: str = "Check",
) -> dict[str, Any]:
    return {
        "active": active,
        "appliedTo": [
            {
                "appliedAmount": amount,
                "appliedBy": "office",
                "appliedId": payment_id * 100 + n,
                "appliedOn": f"{date}T12:00:00Z",
                "appliedTo": invoice_id,
                "appliedToReferenceNumber": f"INV-{invoice_id}",
            }
            for n, (invoice_id, amount) in enumerate(applied)
        ],
        "authCode": None,
        "batch": None,
        "businessUnit": {"id": 10, "name": "HVAC Service"},
        "checkNumber": None,
        "createdBy": "office",
        "createdOn": f"{date}T12:00:00Z",
        "customer": {"id": customer[0], "name": customer[1]},
        "customFields": [],
        "date": f"{date}T12:00:00Z",
        "deposit": None,
        "generalLedgerAccount": None,
        "id": payment_id,
        "memo": None,
        "modifiedOn": f"{date}T12:00:00Z",
        "referenceNumber": f"PAY-{payment_id}",
        "refundedPaymentId": refunded_payment_id,
        "syncStatus": "Pending",
        "total": total,
        "type": payment_type,
        "typeId": "3",
        "unappliedAmount": "0.00",
    }


OBRIEN = (1, "O'Brien 🔧 Heating & Air")
ACME_OLD = (2, "Acme Corp")
ACME = (3, "Acme Corporation")
ZED = (4, "Zed Residential")
HVAC = (10, "HVAC Service")
PLUMBING = (20, "Plumbing")


def tenant_records() -> dict[str, list[dict[str, Any]]]:
    """The main tenant: every entity, with the tricky cases listed in the module docstring."""
    return {
        "business_units": [business_unit(*HVAC), business_unit(*PLUMBING)],
        "technicians": [technician(100, "Ana Alvarez", 10), technician(200, "Bob Brown", 20)],
        "job_types": [job_type(1000, "AC Tune-Up"), job_type(2000, "Water Heater Install")],
        "campaigns": [campaign(500, "Google Ads"), campaign(600, "Referral")],
        "customers": [
            customer(*OBRIEN, balance=49.0),
            # merged into Acme Corporation: inactive, with mergedToId
            customer(*ACME_OLD, customer_type="Commercial", active=False, merged_to=3),
            customer(*ACME, customer_type="Commercial", balance=970.64),
            customer(*ZED, balance=75.5),
            customer(5, "Nobody Yet"),
        ],
        "locations": [location(11, 1), location(13, 3)],
        "jobs": [
            # completed 20:30 at -05:00 = 01:30 UTC the next day: completed_date 2026-01-16
            job(
                101,
                customer_id=1,
                location_id=11,
                business_unit_id=10,
                job_type_id=1000,
                campaign_id=500,
                status="Completed",
                completed_on="2026-01-15T20:30:00-05:00",
                sold_by=100,
            ),
            # on the merged-away customer
            job(
                102,
                customer_id=2,
                location_id=13,
                business_unit_id=20,
                job_type_id=2000,
                campaign_id=600,
                status="Completed",
                completed_on="2026-02-10T23:59:59.999Z",
                sold_by=200,
            ),
            job(
                103,
                customer_id=3,
                location_id=13,
                business_unit_id=20,
                job_type_id=2000,
                campaign_id=600,
                status="Canceled",
            ),
            job(
                104,
                customer_id=1,
                location_id=11,
                business_unit_id=10,
                job_type_id=1000,
                campaign_id=500,
                status="Scheduled",
            ),
            # no sold-by technician: "Unattributed"
            job(
                105,
                customer_id=3,
                location_id=13,
                business_unit_id=10,
                job_type_id=1000,
                campaign_id=500,
                status="Completed",
                completed_on="2026-02-10T08:00:00Z",
            ),
            # deleted in ServiceTitan: counts nowhere
            job(
                106,
                customer_id=1,
                location_id=11,
                business_unit_id=10,
                job_type_id=1000,
                campaign_id=500,
                status="Completed",
                completed_on="2026-02-11T08:00:00Z",
                sold_by=100,
                active=False,
            ),
        ],
        "appointments": [
            appointment(101, 1, "Done"),
            appointment(102, 2, "Done"),
            appointment(103, 3, "Canceled"),
            appointment(104, 1, "Scheduled"),
            appointment(105, 3, "Done"),
        ],
        "invoices": [
            invoice(
                1001,
                customer=OBRIEN,
                business_unit=HVAC,
                job_id=101,
                invoice_date="2026-01-15",
                due_date="2026-02-14",
                sub_total="100.30",
                sales_tax="8.02",
                total="108.32",
                balance="0.00",
            ),
            invoice(
                1002,
                customer=ACME_OLD,
                business_unit=PLUMBING,
                job_id=102,
                invoice_date="2026-02-10",
                due_date="2026-02-10",
                sub_total="1500.00",
                sales_tax="0.00",
                total="1500.00",
                balance="970.00",
            ),
            # credit adjustment of 1002 with no job and no business unit: inherits them
            invoice(
                1003,
                customer=ACME_OLD,
                business_unit=None,
                job_id=None,
                invoice_date="2026-03-05",
                due_date="2026-03-05",
                sub_total="-200.00",
                sales_tax="0.00",
                total="-200.00",
                balance="-200.00",
                adjustment_to=1002,
            ),
            # voided: a big total that must not show up anywhere but fct_invoices
            invoice(
                1004,
                customer=OBRIEN,
                business_unit=HVAC,
                job_id=101,
                invoice_date="2026-01-20",
                due_date="2026-01-20",
                sub_total="999.99",
                sales_tax="0.00",
                total="999.99",
                balance="999.99",
                active=False,
            ),
            invoice(
                1005,
                customer=ACME,
                business_unit=HVAC,
                job_id=105,
                invoice_date="2026-02-10",
                due_date="2026-04-09",
                sub_total="250.01",
                sales_tax="20.63",
                total="270.64",
                balance="200.64",
            ),
            # membership invoice without items, due exactly 90 days before the as-of date
            invoice(
                1006,
                customer=OBRIEN,
                business_unit=HVAC,
                job_id=None,
                invoice_date="2025-12-01",
                due_date="2025-12-31",
                sub_total="49.00",
                sales_tax="0.00",
                total="49.00",
                balance="49.00",
                configuration="MembershipInvoice",
            ),
            invoice(
                1007,
                customer=ZED,
                business_unit=PLUMBING,
                job_id=None,
                invoice_date="2025-11-15",
                due_date="2025-11-15",
                sub_total="75.50",
                sales_tax="0.00",
                total="75.50",
                balance="75.50",
                configuration="CounterSales",
            ),
            # the empty invoice ServiceTitan opens with every job (job 104 is still scheduled):
            # active, $0, not counted as an invoice
            invoice(
                1008,
                customer=OBRIEN,
                business_unit=HVAC,
                job_id=104,
                invoice_date="2026-01-02",
                due_date="2026-01-02",
                sub_total="0.00",
                sales_tax="0.00",
                total="0.00",
                balance="0.00",
            ),
        ],
        "invoice_items": [
            invoice_item(1, 1001, "0.10", item_type="Material"),
            invoice_item(2, 1001, "0.20", item_type="Material"),
            invoice_item(3, 1001, "100.00"),
            # deleted line on an active invoice: must not count
            invoice_item(9, 1001, "5.00", active=False),
            invoice_item(4, 1002, "1500.00", item_type="Equipment"),
            invoice_item(5, 1003, "-200.00", item_type="PriceModifier"),
            invoice_item(6, 1004, "999.99"),
            invoice_item(7, 1005, "250.01"),
            invoice_item(8, 1007, "75.50", item_type="Material"),
        ],
        "payments": [
            payment(
                1,
                customer=OBRIEN,
                total="108.32",
                date="2026-01-16",
                applied=[(1001, "108.32")],
                payment_type="Credit Card",
            ),
            payment(
                2, customer=ACME_OLD, total="500.00", date="2026-02-11", applied=[(1002, "500.00")]
            ),
            # voided payment
            payment(
                3,
                customer=ACME,
                total="300.00",
                date="2026-02-12",
                applied=[(1005, "300.00")],
                active=False,
            ),
            # refund of part of payment 1
            payment(
                4,
                customer=OBRIEN,
                total="-10.00",
                date="2026-01-20",
                applied=[],
                refunded_payment_id=1,
            ),
            # one payment over two invoices
            payment(
                5,
                customer=ACME,
                total="100.00",
                date="2026-03-20",
                applied=[(1005, "70.00"), (1002, "30.00")],
            ),
        ],
    }


def other_tenant_records() -> dict[str, list[dict[str, Any]]]:
    """A second tenant in the same file, reusing the first tenant's ids."""
    return {
        "business_units": [business_unit(10, "Other HVAC")],
        "customers": [customer(1, "Other Tenant Customer")],
        "invoices": [
            invoice(
                1001,
                customer=(1, "Other Tenant Customer"),
                business_unit=(10, "Other HVAC"),
                job_id=None,
                invoice_date="2026-01-15",
                due_date="2026-01-15",
                sub_total="5.00",
                sales_tax="0.00",
                total="5.00",
                balance="5.00",
                configuration="CounterSales",
            ),
        ],
        "invoice_items": [invoice_item(1, 1001, "5.00")],
    }


def create_raw_layer(database: str) -> None:
    """Create the raw layer (the writer's own DDL, ``warehouse.schema``) in ``database`` and
    load both tenants, and each KPI domain's own tenant(s) (``kpi_fixtures``)."""
    from kpi_fixtures import domain_loads, domain_tenants

    tenants = (
        (TENANT, {**tenant_records(), **kpi_tenant_records()}),
        (OTHER_TENANT, {**other_tenant_records(), **kpi_other_tenant_records()}),
        *domain_tenants().items(),
    )
    with duckdb.connect(database) as con:
        # every entity's raw table, empty unless the fixture has records for it: every staging
        # model reads its own
        for entity in ALL_ENTITIES:
            ensure_fixture_raw_table(con, entity.name)
        for tenant, records in tenants:
            for entity, rows in records.items():
                insert_fixture_records(con, tenant, entity, rows)
        for load in domain_loads():
            for entity, rows in load.records.items():
                insert_fixture_records(
                    con,
                    load.tenant,
                    entity,
                    rows,
                    connection=load.connection,
                    loaded_at=load.loaded_at,
                )


# --------------------------------------------------------------------------------------------
# The KPI entities (estimates, calls, memberships, payroll splits and timesheets, ...): records
# shaped exactly like their export (or list) schemas, on the main tenant's jobs, customers,
# technicians and campaigns above. Built to hit what breaks naive staging SQL:
#
# * estimate items nested in the estimate, money as JSON numbers that floating point gets
#   wrong (0.1 + 0.2 + 100.0 must be exactly 100.30), an estimate without items and one whose
#   `items` is null;
# * call durations as .NET TimeSpans, with fractional seconds and a day part;
# * job splits of 66.67 + 33.33 that must sum to exactly 100, and an inactive split beside
#   the active ones;
# * a job history with no entries, and entries out of date order;
# * technician ratings keyed by (jobId, technicianId), without an id;
# * the second tenant reusing the same ids.
# --------------------------------------------------------------------------------------------

KPI_ENTITIES = (
    "estimates",
    "calls",
    "leads",
    "bookings",
    "memberships",
    "membership_status_changes",
    "job_splits",
    "job_timesheets",
    "appointment_assignments",
    "job_history",
    "campaign_costs",
    "technician_ratings",
)


def estimate_item(
    item_id: int, total: float, *, qty: float = 1.0, sku: str = "Labor"
) -> dict[str, Any]:
    return {
        "id": item_id,
        "sku": {
            "id": 800 + item_id,
            "name": f"SKU-{sku}",
            "displayName": sku,
            "type": "Service",
            "soldHours": 1.5,
            "generalLedgerAccountId": 4000,
            "generalLedgerAccountName": "Service Income",
            "modifiedOn": _TS,
        },
        "skuAccount": "4000",
        "description": f"<p>{sku}</p>",
        "membershipTypeId": None,
        "qty": qty,
        "unitRate": round(total / qty, 4),
        "total": total,
        "unitCost": 0.0,
        "totalCost": 0.0,
        "itemGroupName": "",
        "itemGroupRootId": None,
        "createdOn": _TS,
        "modifiedOn": _TS,
        "chargeable": True,
        "invoiceItemId": None,
        "budgetCodeId": None,
    }


def estimate(
    estimate_id: int,
    *,
    job_id: int,
    customer_id: int,
    status: tuple[int, str],
    items: list[dict[str, Any]] | None,
    subtotal: float,
    tax: float = 0.0,
    sold_by: int | None = None,
    sold_on: str | None = None,
    active: bool = True,
) -> dict[str, Any]:
    return {
        "id": estimate_id,
        "jobId": job_id,
        "projectId": None,
        "locationId": 11,
        "customerId": customer_id,
        "name": f"Option {estimate_id}",
        "jobNumber": str(job_id),
        "status": {"value": status[0], "name": status[1]},
        "reviewStatus": "None",
        "summary": "<p>Replace the condenser</p>",
        "createdOn": "2026-01-15T14:30:00Z",
        "modifiedOn": "2026-01-15T16:00:00Z",
        "soldOn": sold_on,
        "soldBy": sold_by,
        "active": active,
        "items": items,
        "externalLinks": [{"name": "Proposal", "url": "https://example.com/p/1"}],
        "subtotal": subtotal,
        "tax": tax,
        "businessUnitId": 10,
        "businessUnitName": "HVAC Service",
        "isRecommended": estimate_id % 2 == 1,
        "budgetCodeId": None,
        "isChangeOrder": False,
        "proposalTagName": None,
    }


def call(
    call_id: int,
    *,
    direction: str,
    duration: str,
    call_type: str | None,
    job_id: int | None = None,
    campaign: tuple[int, str] | None = (500, "Google Ads"),
) -> dict[str, Any]:
    return {
        "id": call_id,
        "duration": duration,
        "from": "+15125550100" if direction == "Inbound" else "+15125550199",
        "to": "+15125550199" if direction == "Inbound" else "+15125550100",
        "direction": direction,
        "status": "Completed",
        "type": call_type,
        "recordingUrl": None,
        "voiceMailPath": None,
        "createdOn": "2026-01-10T15:00:00Z",
        "modifiedOn": "2026-01-10T15:10:00Z",
        "reason": {"id": 40, "name": "New service"} if call_type == "Booked" else None,
        "customer": {"id": OBRIEN[0], "name": OBRIEN[1]},
        "location": {"id": 11, "name": "Location 11"},
        "campaign": {"id": campaign[0], "name": campaign[1]} if campaign else None,
        "job": {"id": job_id, "number": str(job_id)} if job_id else None,
        "agent": {"id": 30, "name": "Carla CSR"},
        "createdBy": {"id": 30, "name": "Carla CSR"} if direction == "Outbound" else None,
        "excuseMemo": "",
        "tag": "",
        "active": True,
        "lead": None,
    }


def membership(
    membership_id: int,
    *,
    customer_id: int,
    status: str,
    start: str,
    end: str | None,
    renewed_by: int | None = None,
    canceled_on: str | None = None,
) -> dict[str, Any]:
    return {
        "id": membership_id,
        "createdOn": f"{start}T09:00:00Z",
        "createdById": 1,
        "modifiedOn": _TS,
        "followUpOn": "0001-01-01T00:00:00Z",
        "cancellationDate": canceled_on,
        "from": f"{start}T00:00:00Z",
        "nextScheduledBillDate": "2026-04-01T00:00:00Z" if status == "Active" else None,
        "to": f"{end}T00:00:00Z" if end else None,
        "billingFrequency": "Monthly",
        "renewalBillingFrequency": "Annual",
        "status": status,
        "followUpStatus": "NotAttempted",
        "active": status != "Deleted",
        "initialDeferredRevenue": 199.99,
        "duration": 12,
        "renewalDuration": 12,
        "businessUnitId": 10,
        "customerId": customer_id,
        "membershipTypeId": 300,
        "activatedById": 1,
        "activatedFromId": None,
        "billingTemplateId": None,
        "cancellationBalanceInvoiceId": None,
        "cancellationInvoiceId": 1009 if canceled_on else None,
        "followUpCustomStatusId": None,
        "locationId": 11,
        "paymentMethodId": None,
        "paymentTypeId": None,
        "recurringLocationId": None,
        "renewalMembershipTaskId": None,
        "renewedById": renewed_by,
        "soldById": 100,
        "customerPo": None,
        "importId": None,
        "memo": None,
        "customFields": [{"typeId": 92, "name": "Referred by", "value": "Neighbour"}],
    }


def membership_status_change(
    change_id: int, membership_id: int, old: str, new: str, on: str
) -> dict[str, Any]:
    return {
        "id": change_id,
        "oldStatus": old,
        "newStatus": new,
        "note": None,
        "createdOn": on,
        "createdById": 1,
        "membershipId": membership_id,
    }


def job_split(
    split_id: int, job_id: int, technician_id: int, split: float, *, active: bool = True
) -> dict[str, Any]:
    return {
        "id": split_id,
        "jobId": job_id,
        "technicianId": technician_id,
        "split": split,
        "createdOn": "2026-01-15T16:30:00Z",
        "modifiedOn": "2026-01-15T16:30:00Z",
        "active": active,
    }


def job_timesheet(
    timesheet_id: int,
    job_id: int,
    technician_id: int,
    *,
    dispatched: str | None,
    arrived: str | None,
    done: str | None,
    canceled: str | None = None,
) -> dict[str, Any]:
    return {
        "id": timesheet_id,
        "jobId": job_id,
        "appointmentId": job_id * 10,
        "technicianId": technician_id,
        "dispatchedOn": dispatched,
        "arrivedOn": arrived,
        "canceledOn": canceled,
        "doneOn": done,
        "createdOn": "2026-01-15T13:40:00Z",
        "modifiedOn": "2026-01-15T16:10:00Z",
        "active": True,
    }


def appointment_assignment(
    assignment_id: int,
    job_id: int,
    technician: tuple[int, str],
    status: str,
    *,
    active: bool = True,
) -> dict[str, Any]:
    return {
        "id": assignment_id,
        "technicianId": technician[0],
        "technicianName": technician[1],
        "assignedById": 1,
        "assignedOn": "2026-01-14T17:00:00Z",
        "status": status,
        "isPaused": False,
        "jobId": job_id,
        "appointmentId": job_id * 10,
        "createdOn": "2026-01-14T17:00:00Z",
        "modifiedOn": "2026-01-15T16:10:00Z",
        "active": active,
    }


def job_history(job_id: int, events: list[tuple[int, str, str, int | None]]) -> dict[str, Any]:
    return {
        "jobId": job_id,
        "history": [
            {
                "id": event_id,
                "employeeId": employee_id,
                "eventType": event_type,
                "date": date,
                "usedSchedulingTool": "Manual",
            }
            for event_id, event_type, date, employee_id in events
        ],
    }


def campaign_cost(
    cost_id: int, campaign_id: int, year: int, month: int, daily_cost: float
) -> dict[str, Any]:
    return {
        "id": cost_id,
        "campaignId": campaign_id,
        "year": year,
        "month": month,
        "dailyCost": daily_cost,
    }


def technician_rating(job_id: int, technician_id: int, rating: float) -> dict[str, Any]:
    return {
        "jobId": job_id,
        "technicianId": technician_id,
        "rating": rating,
        "createdOn": "2026-01-16T10:00:00Z",
        "modifiedOn": "2026-01-16T10:00:00Z",
        "active": True,
    }


def lead(
    lead_id: int,
    status: str,
    *,
    call_id: int | None = None,
    booking_id: int | None = None,
    dismissed: bool = False,
) -> dict[str, Any]:
    return {
        "summary": "Water heater leaking",
        "callReasonId": None,
        "callId": call_id,
        "bookingId": booking_id,
        "manualCallId": None,
        "leadUrl": f"https://go.servicetitan.com/#/Lead/{lead_id}",
        "leadCustomerName": "Dana Díaz",
        "leadPhone": "+15125550123",
        "leadEmail": None,
        "leadStreet": "5 Elm St",
        "leadUnit": None,
        "leadCity": "Austin",
        "leadState": "TX",
        "leadZip": "78702",
        "leadCountry": "USA",
        "captureSource": "Phone",
        "id": lead_id,
        "status": status,
        "priority": "High",
        "customerId": None,
        "locationId": None,
        "businessUnitId": 20,
        "jobTypeId": 2000,
        "campaignId": 600,
        "followUpDate": "2026-02-01T15:00:00Z",
        "createdById": 30,
        "createdOn": "2026-01-20T15:00:00Z",
        "modifiedOn": "2026-01-21T15:00:00Z",
        "tagTypeIds": [1, 2],
        "dismissingReasonId": 77 if dismissed else None,
        "active": True,
    }


def booking(booking_id: int, status: str, *, job_id: int | None = None) -> dict[str, Any]:
    return {
        "summary": "AC not cooling",
        "id": booking_id,
        "source": "Web form",
        "createdOn": "2026-01-01T18:00:00Z",
        "name": "Ellis Evans",
        "address": {
            "street": "8 Pine Rd",
            "unit": None,
            "city": "Austin",
            "state": "TX",
            "zip": "78703",
            "country": "USA",
        },
        "customerType": "Residential",
        "start": "2026-01-03T15:00:00Z",
        "campaignId": 500,
        "businessUnitId": 10,
        "isFirstTimeClient": True,
        "uploadedImages": ["https://example.com/img/1.jpg"],
        "isSendConfirmationEmail": False,
        "status": status,
        "dismissingReasonId": 78 if status == "Dismissed" else None,
        "jobId": job_id,
        "externalId": f"WEB-{booking_id}",
        "priority": None,
        "jobTypeId": 1000,
        "bookingProviderId": 3,
        "modifiedOn": "2026-01-02T09:00:00Z",
        "active": True,
    }


ANA = (100, "Ana Alvarez")
BOB = (200, "Bob Brown")


def kpi_tenant_records() -> dict[str, list[dict[str, Any]]]:
    """The main tenant's records of the KPI entities (the cases in the section comment).

    Every optional field the spec allows to be null is set on at least one record (the
    ``{**record, ...}`` overrides), so that each staging column is read from a real value."""
    return {
        "estimates": [
            # sold: items 0.1 + 0.2 + 100.0 = 100.30 exactly
            {
                **estimate(
                    9001,
                    job_id=101,
                    customer_id=1,
                    status=(1, "Sold"),
                    items=[
                        {**estimate_item(1, 0.1, sku="Filter"), "membershipTypeId": 300},
                        estimate_item(2, 0.2, sku="Gasket"),
                        # sold: the invoice item it became (invoice 1001's item 3)
                        {
                            **estimate_item(3, 100.0, qty=2.0),
                            "invoiceItemId": 3,
                            "itemGroupRootId": 3,
                            "budgetCodeId": 7,
                        },
                    ],
                    subtotal=100.3,
                    tax=8.02,
                    sold_by=100,
                    sold_on="2026-01-15T15:45:00Z",
                ),
                "projectId": 42,
                "budgetCodeId": 7,
                "proposalTagName": "Best",
            },
            estimate(
                9002,
                job_id=101,
                customer_id=1,
                status=(2, "Dismissed"),
                items=[estimate_item(4, 1499.99, sku="Condenser")],
                subtotal=1499.99,
            ),
            estimate(9003, job_id=103, customer_id=3, status=(0, "Open"), items=[], subtotal=0.0),
            estimate(
                9004,
                job_id=104,
                customer_id=1,
                status=(0, "Open"),
                items=None,
                subtotal=0.0,
                active=False,
            ),
        ],
        "calls": [
            {
                **call(
                    7001, direction="Inbound", duration="00:04:05", call_type="Booked", job_id=101
                ),
                "recordingUrl": "https://example.com/rec/7001.mp3",
            },
            call(7002, direction="Outbound", duration="00:00:30", call_type=None, campaign=None),
            # .NET TimeSpan fractions: 754.4 s is 754 s
            {
                **call(
                    7003, direction="Inbound", duration="00:12:34.4000000", call_type="Unbooked"
                ),
                "lead": {"id": 6003},
            },
            # a day part: 1 d 2 h 3 min 4 s (a line left open)
            {
                **call(7004, direction="Inbound", duration="1.02:03:04", call_type="Abandoned"),
                "voiceMailPath": "https://example.com/vm/7004.wav",
            },
        ],
        "leads": [
            {
                **lead(6001, "Converted", booking_id=5001),
                "customerId": 3,
                "locationId": 13,
            },
            {
                **lead(6002, "Dismissed", dismissed=True),
                "manualCallId": 12,
                "callReasonId": 40,
            },
            {
                **lead(6003, "Open", call_id=7003),
                "leadEmail": "dana@example.com",
                "leadUnit": "Apt 2",
            },
        ],
        "bookings": [
            booking(5001, "Converted", job_id=104),
            booking(5002, "Dismissed"),
            {
                **booking(5003, "New"),
                "priority": "Urgent",
                "address": {
                    "street": "1 Congress Ave",
                    "unit": "Suite 100",
                    "city": "Austin",
                    "state": "TX",
                    "zip": "78701",
                    "country": "USA",
                },
            },
        ],
        "memberships": [
            {
                **membership(
                    8001, customer_id=1, status="Active", start="2025-06-01", end="2026-05-31"
                ),
                "activatedFromId": 3,
                "renewalMembershipTaskId": 55,
                "billingTemplateId": 66,
                "followUpCustomStatusId": 5,
                "paymentMethodId": 9,
                "paymentTypeId": 3,
                "recurringLocationId": 11,
                "customerPo": "PO-8001",
                "memo": "Gate code 1234",
                "importId": "legacy-17",
            },
            # expired, renewed by 8003
            membership(
                8002,
                customer_id=3,
                status="Expired",
                start="2024-03-01",
                end="2025-02-28",
                renewed_by=8003,
            ),
            {
                **membership(
                    8003,
                    customer_id=3,
                    status="Canceled",
                    start="2025-03-01",
                    end="2026-02-28",
                    canceled_on="2025-10-15T00:00:00Z",
                ),
                "cancellationBalanceInvoiceId": 1010,
            },
        ],
        "membership_status_changes": [
            membership_status_change(8101, 8002, "Active", "Expired", "2025-03-01T00:00:00Z"),
            membership_status_change(8102, 8003, "Active", "Suspended", "2025-09-01T00:00:00Z"),
            {
                **membership_status_change(
                    8103, 8003, "Suspended", "Canceled", "2025-10-15T00:00:00Z"
                ),
                "note": "Customer moved away",
            },
        ],
        "job_splits": [
            job_split(1, 101, 100, 60.0),
            job_split(2, 101, 200, 40.0),
            job_split(3, 102, 200, 100.0),
            # replaced by split 3: inactive, must not count
            job_split(4, 102, 100, 50.0, active=False),
            # 66.67 + 33.33: exactly 100 only in decimal arithmetic
            job_split(5, 105, 100, 66.67),
            job_split(6, 105, 200, 33.33),
        ],
        "job_timesheets": [
            job_timesheet(
                1,
                101,
                100,
                dispatched="2026-01-15T13:40:00Z",
                arrived="2026-01-15T14:05:00Z",
                done="2026-01-15T16:10:00Z",
            ),
            job_timesheet(
                2,
                102,
                200,
                dispatched="2026-01-15T13:30:00Z",
                arrived="2026-01-15T14:00:00Z",
                done="2026-01-15T16:00:00Z",
            ),
            job_timesheet(
                3,
                103,
                200,
                dispatched=None,
                arrived=None,
                done=None,
                canceled="2026-01-15T12:00:00Z",
            ),
        ],
        "appointment_assignments": [
            appointment_assignment(1, 101, ANA, "Done"),
            # unassigned before the visit: kept, inactive
            appointment_assignment(2, 101, BOB, "Scheduled", active=False),
            appointment_assignment(3, 102, BOB, "Done"),
            appointment_assignment(4, 104, ANA, "Scheduled"),
        ],
        "job_history": [
            # entries not in date order: first/last come from the dates
            job_history(
                101,
                [
                    (1, "Job Booked", "2026-01-02T09:00:00Z", 30),
                    (3, "Technician Arrived", "2026-01-15T14:05:00Z", 100),
                    (2, "Technician Dispatched", "2026-01-15T13:40:00Z", None),
                    (4, "Job Completed", "2026-01-16T01:30:00Z", 100),
                ],
            ),
            job_history(
                103,
                [
                    (5, "Job Booked", "2026-01-02T09:00:00Z", 30),
                    (6, "Job Canceled", "2026-01-15T12:00:00Z", 30),
                ],
            ),
            job_history(104, []),
        ],
        "campaign_costs": [
            campaign_cost(1, 500, 2026, 1, 12.5),
            campaign_cost(2, 500, 2026, 2, 12.5),
            campaign_cost(3, 600, 2025, 12, 0.1),
        ],
        "technician_ratings": [
            technician_rating(101, 100, 9.0),
            technician_rating(101, 200, 7.5),
            technician_rating(102, 200, 10.0),
        ],
    }


def kpi_other_tenant_records() -> dict[str, list[dict[str, Any]]]:
    """The second tenant, reusing the first tenant's ids (estimate, history, rating)."""
    return {
        "estimates": [
            estimate(
                9001,
                job_id=101,
                customer_id=1,
                status=(0, "Open"),
                items=[estimate_item(1, 5.0)],
                subtotal=5.0,
            )
        ],
        "job_history": [job_history(101, [(1, "Job Booked", "2026-01-02T09:00:00Z", None)])],
        "technician_ratings": [technician_rating(101, 100, 3.0)],
    }


def ensure_fixture_raw_table(con: duckdb.DuckDBPyConnection, entity: str) -> None:
    """The writer's raw table of ``entity``. An entity with a two-field key needs ``id_2`` in
    the table and its primary key; where the writer's DDL does not make them yet, the table is
    made here with them, the writer's columns otherwise unchanged."""
    ensure_entity_table(con, entity)
    if len(get_entity(entity).key) == 1:
        return
    table = raw_table(entity)
    [(has_id_2,)] = con.execute(
        "SELECT count(*) > 0 FROM duckdb_columns() "
        "WHERE schema_name = ? AND table_name = ? AND column_name = 'id_2'",
        [RAW_SCHEMA, entity],
    ).fetchall()
    if has_id_2:
        return
    columns = [f"{name} {ddl}" for name, ddl in ENTITY_COLUMNS]
    columns.insert(2, "id_2 BIGINT NOT NULL")
    con.execute(f"DROP TABLE {table}")
    con.execute(f"CREATE TABLE {table} ({', '.join(columns)}, PRIMARY KEY ({TENANT_ID}, id, id_2))")


def insert_fixture_records(
    con: duckdb.DuckDBPyConnection,
    tenant: int,
    entity: str,
    rows: list[dict[str, Any]],
    *,
    connection: str = CONNECTION,
    loaded_at: datetime = LOADED_AT,
) -> None:
    """Insert ``rows`` as the writer stores them: the key fields the entity table names in
    ``id`` (and ``id_2``), its ordering and active fields, the JSON text as sent, loaded by
    ``connection`` at ``loaded_at``."""
    spec = get_entity(entity)
    key_columns = ("id", "id_2")[: len(spec.key)]
    columns = (
        TENANT_ID,
        *key_columns,
        "modified_on",
        "active",
        "payload",
        "_connection",
        "_loaded_at",
    )
    placeholders = ", ".join("?" for _ in columns)
    con.executemany(
        f"INSERT INTO {raw_table(entity)} ({', '.join(columns)}) VALUES ({placeholders})",
        [
            (
                tenant,
                *(row[field] for field in spec.key),
                row.get(spec.modified_field) if spec.modified_field else None,
                row.get(spec.active_field, True) if spec.active_field else None,
                # the JSON text exactly as an API would send it (UTF-8, not escaped)
                orjson.dumps(row).decode(),
                connection,
                loaded_at,
            )
            for row in rows
        ],
    )
