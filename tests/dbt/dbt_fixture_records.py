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
from servicetitan_pipeline.warehouse.schema import ENTITY_COLUMNS, ensure_entity_table, raw_table

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
    load both tenants."""
    columns = ", ".join(name for name, _ in ENTITY_COLUMNS)
    placeholders = ", ".join("?" for _ in ENTITY_COLUMNS)
    with duckdb.connect(database) as con:
        # every entity's raw table, empty unless the fixture has records for it: every staging
        # model reads its own
        for entity in (*ENTITIES, *(e.name for e in ALL_ENTITIES if e.name not in ENTITIES)):
            ensure_entity_table(con, entity)
        for tenant, records in ((TENANT, tenant_records()), (OTHER_TENANT, other_tenant_records())):
            for entity, rows in records.items():
                con.executemany(
                    f"INSERT INTO {raw_table(entity)} ({columns}) VALUES ({placeholders})",
                    [
                        (
                            tenant,
                            row["id"],
                            row.get("modifiedOn"),
                            row.get("active", True),
                            # the JSON text exactly as an API would send it (UTF-8, not escaped)
                            orjson.dumps(row).decode(),
                            CONNECTION,
                            LOADED_AT,
                        )
                        for row in rows
                    ],
                )
