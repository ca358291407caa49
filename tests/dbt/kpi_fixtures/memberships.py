"""The memberships, recurring services and purchasing fixture tenant, worked by hand.

Loaded (like every record of the fixture warehouse) at 2026-03-31 06:00 UTC, so the as-of date
of the membership and recurring service reports is 2026-03-31. What it is built to break:

* a membership renewed (5001 -> 5002, ``renewedById``): the renewal is not a new sale, and the
  member is retained through it in the month the first term expired;
* a cancellation and an expiry without renewal, each on its status change's date;
* a suspension and reactivation on the same day (5005, 2026-01-31: still active that night),
  and a suspension still current (5005 in March: suspended, not active);
* a deleted membership (5006), never counted;
* a membership sold on an invoiced job (4002), and one without a business unit (5007: the
  "Unassigned" conversion row);
* a no-charge job below its job type's sold threshold (not an opportunity) and a canceled job;
* recurring service events done, overdue (one with a canceled job, one with an open job),
  dismissed, due on the as-of day (not overdue), inactive, and one whose due time has a -05:00
  offset that moves it into the next UTC month;
* purchase order item money as JSON numbers (0.1 + 0.2 + 100.0 must be exactly 100.30), and an
  order without items.
"""

from __future__ import annotations

from typing import Any

from dbt_fixture_records import (
    business_unit,
    campaign,
    customer,
    invoice,
    invoice_item,
    job,
    job_type,
    location,
    membership,
    membership_status_change,
)

TENANT = 3000004

BU_NORTH = 41
BU_SOUTH = 42
GOLD = 401
SILVER = 402
JOB_TYPE_SERVICE = 451
JOB_TYPE_WARRANTY = 452  # soldThreshold 100: a no-charge job below it is no opportunity
CUSTOMER = 461
LOCATION = 471
SPRING_TUNE_UP = 601
FALL_TUNE_UP = 602
VENDOR = 851


def _membership(
    membership_id: int,
    *,
    membership_type: int,
    business_unit_id: int | None,
    status: str,
    start: str,
    end: str | None,
    renewed_by: int | None = None,
    canceled_on: str | None = None,
) -> dict[str, Any]:
    record = membership(
        membership_id,
        customer_id=CUSTOMER,
        status=status,
        start=start,
        end=end,
        renewed_by=renewed_by,
        canceled_on=canceled_on,
    )
    record.update(
        membershipTypeId=membership_type,
        businessUnitId=business_unit_id,
        locationId=LOCATION,
        cancellationInvoiceId=None,
    )
    return record


def _at_our_location(record: dict[str, Any]) -> dict[str, Any]:
    """The shared invoice builder bills location 11; this tenant's location is LOCATION."""
    record["location"] = {"id": LOCATION, "name": f"Location {LOCATION}"}
    return record


def _membership_type(type_id: int, name: str) -> dict[str, Any]:
    return {
        "id": type_id,
        "name": name,
        "active": True,
        "discount": 15.0,
        "discountMode": "Basic",
        "locationTarget": "SingleLocation",
        "revenueRecognitionMode": "Deferred",
        "autoCalculateInvoiceTemplates": False,
        "useMembershipPricingTable": True,
        "showMembershipSavings": True,
        "createdOn": "2024-01-01T00:00:00Z",
        "createdById": 1,
        "modifiedOn": "2024-01-01T00:00:00Z",
        "importId": None,
        "billingTemplateId": None,
        "displayName": name,
        "discounts": [],
        "durationBilling": [
            {
                "duration": 12,
                "billingFrequency": "Monthly",
                "salePrice": 16.95,
                "billingPrice": 16.95,
                "renewalPrice": 16.95,
            }
        ],
        "recurringServices": [],
        "tagTypeIds": [],
    }


def _job(
    job_id: int,
    *,
    business_unit_id: int,
    status: str,
    completed_on: str | None = None,
    job_type_id: int = JOB_TYPE_SERVICE,
    no_charge: bool = False,
) -> dict[str, Any]:
    record = job(
        job_id,
        customer_id=CUSTOMER,
        location_id=LOCATION,
        business_unit_id=business_unit_id,
        job_type_id=job_type_id,
        campaign_id=1,
        status=status,
        completed_on=completed_on,
    )
    record["noCharge"] = no_charge
    return record


def _recurring_service_type(type_id: int, name: str) -> dict[str, Any]:
    return {
        "id": type_id,
        "name": name,
        "active": True,
        "recurrenceType": "Seasonal",
        "recurrenceInterval": 1,
        "recurrenceMonths": ["March"],
        "durationType": "Continuous",
        "durationLength": None,
        "invoiceTemplateId": None,
        "businessUnitId": BU_NORTH,
        "jobTypeId": JOB_TYPE_SERVICE,
        "priority": "Normal",
        "campaignId": 1,
        "jobSummary": None,
        "createdOn": "2024-01-01T00:00:00Z",
        "createdById": 1,
        "modifiedOn": "2024-01-01T00:00:00Z",
        "importId": None,
    }


def _recurring_service(
    service_id: int, *, type_id: int, membership_id: int, name: str
) -> dict[str, Any]:
    return {
        "id": service_id,
        "name": name,
        "active": True,
        "createdOn": "2026-01-10T09:00:00Z",
        "createdById": 1,
        "modifiedOn": "2026-01-10T09:00:00Z",
        "importId": None,
        "membershipId": membership_id,
        "locationId": LOCATION,
        "recurringServiceTypeId": type_id,
        "durationType": "Continuous",
        "durationLength": None,
        "from": "2026-01-10T00:00:00Z",
        "to": None,
        "memo": None,
        "invoiceTemplateId": None,
        "invoiceTemplateForFollowingYearsId": None,
        "firstVisitComplete": False,
        "activatedFromId": None,
        "allocation": 50.0,
        "businessUnitId": BU_NORTH,
        "jobTypeId": JOB_TYPE_SERVICE,
        "campaignId": 1,
        "priority": "Normal",
        "jobSummary": None,
        "recurrenceType": "Seasonal",
        "recurrenceInterval": 1,
        "recurrenceMonths": ["March"],
        "recurrenceDaysOfWeek": [],
        "recurrenceWeek": "None",
        "recurrenceDayOfNthWeek": None,
        "recurrenceDaysOfMonth": [],
        "jobStartTime": "08:00:00",
        "estimatedPayrollCost": None,
        "tagTypeIds": [],
        "preferredTechnicianIds": [],
    }


def _event(
    event_id: int,
    *,
    service_id: int,
    due: str,
    status: str = "NotAttempted",
    job_id: int | None = None,
    active: bool = True,
) -> dict[str, Any]:
    return {
        "id": event_id,
        "locationRecurringServiceId": service_id,
        "locationRecurringServiceName": f"Tune-up {service_id}",
        "membershipId": None,
        "membershipName": None,
        "status": status,
        "date": due,
        "createdOn": "2026-01-10T09:00:00Z",
        "createdById": 1,
        "modifiedOn": "2026-01-10T09:00:00Z",
        "jobId": job_id,
        "active": active,
    }


def _po_item(item_id: int, total: float, *, quantity: float = 1.0) -> dict[str, Any]:
    return {
        "id": item_id,
        "skuId": 9000 + item_id,
        "description": "Capacitor 45/5",
        "createdOn": "2026-03-02T10:00:00Z",
        "modifiedOn": "2026-03-02T10:00:00Z",
        "skuName": "Capacitor",
        "skuCode": f"CAP-{item_id}",
        "skuType": "Material",
        "vendorPartNumber": f"VP-{item_id}",
        "quantity": quantity,
        "quantityReceived": quantity,
        "cost": total / quantity,
        "total": total,
        "serialNumbers": [],
        "status": "Received",
        "chargeable": True,
        "budgetCodeId": None,
    }


def _purchase_order(
    po_id: int,
    *,
    items: list[dict[str, Any]],
    tax: float,
    shipping: float,
    total: float,
    status: str = "Received",
) -> dict[str, Any]:
    return {
        "id": po_id,
        "number": f"PO-{po_id}",
        "invoiceId": None,
        "jobId": None,
        "projectId": None,
        "status": status,
        "typeId": 1,
        "vendorId": VENDOR,
        "technicianId": None,
        "shipTo": {
            "street": "1 Depot Rd",
            "unit": None,
            "city": "Austin",
            "state": "TX",
            "zip": "78701",
            "country": "USA",
        },
        "businessUnitId": BU_NORTH,
        "inventoryLocationId": None,
        "batchId": None,
        "budgetCodeId": None,
        "vendorDocumentNumber": None,
        "date": "2026-03-02T10:00:00Z",
        "requiredOn": None,
        "sentOn": "2026-03-02T11:00:00Z",
        "receivedOn": "2026-03-05T15:00:00Z",
        "createdOn": "2026-03-02T10:00:00Z",
        "modifiedOn": "2026-03-05T15:00:00Z",
        "total": total,
        "tax": tax,
        "shipping": shipping,
        "summary": "Stock for the spring tune-ups",
        "items": items,
        "customFields": [],
    }


def _vendor() -> dict[str, Any]:
    return {
        "id": VENDOR,
        "name": "Ferguson Supply",
        "active": True,
        "createdOn": "2024-01-01T00:00:00Z",
        "modifiedOn": "2024-01-01T00:00:00Z",
    }


def _inventory_bill(bill_id: int, *, purchase_order_id: int, amount: str) -> dict[str, Any]:
    return {
        "id": bill_id,
        "purchaseOrderId": purchase_order_id,
        "syncStatus": "Posted",
        "referenceNumber": f"BILL-{bill_id}",
        "vendorNumber": "FS-1",
        "summary": "Bill for PO",
        "billDate": "2026-03-06T00:00:00Z",
        "billAmount": amount,
        "taxAmount": "8.25",
        "shippingAmount": "15.00",
        "createdBy": "Office",
        "createdOn": "2026-03-06T09:00:00Z",
        "modifiedOn": "2026-03-06T09:00:00Z",
        "termName": "Net 30",
        "dueDate": "2026-04-05T00:00:00Z",
        "shipToDescription": None,
        "postDate": None,
        "batch": None,
        "businessUnit": {"id": BU_NORTH, "name": "North"},
        "taxZone": None,
        "vendor": {"id": VENDOR, "name": "Ferguson Supply"},
        "shipTo": None,
        "budgetCodeId": None,
        "items": [],
        "customFields": [],
        "jobId": None,
        "jobNumber": None,
        "active": True,
    }


def records() -> dict[str, list[dict[str, Any]]]:
    warranty = job_type(JOB_TYPE_WARRANTY, "Warranty visit")
    warranty["soldThreshold"] = 100.0
    return {
        "business_units": [business_unit(BU_NORTH, "North"), business_unit(BU_SOUTH, "South")],
        "job_types": [job_type(JOB_TYPE_SERVICE, "Service call"), warranty],
        "campaigns": [campaign(1, "Yard signs")],
        "customers": [customer(CUSTOMER, "Ana Member")],
        "locations": [location(LOCATION, CUSTOMER)],
        "jobs": [
            _job(
                4001,
                business_unit_id=BU_NORTH,
                status="Completed",
                completed_on="2026-02-10T15:00:00Z",
            ),
            _job(
                4002,
                business_unit_id=BU_NORTH,
                status="Completed",
                completed_on="2026-02-20T15:00:00Z",
            ),
            # no charge and $0 against a threshold of $100: not an opportunity
            _job(
                4003,
                business_unit_id=BU_NORTH,
                status="Completed",
                completed_on="2026-03-05T15:00:00Z",
                job_type_id=JOB_TYPE_WARRANTY,
                no_charge=True,
            ),
            _job(4004, business_unit_id=BU_NORTH, status="Canceled"),
            _job(
                4005,
                business_unit_id=BU_SOUTH,
                status="Completed",
                completed_on="2026-03-12T15:00:00Z",
            ),
            _job(
                4006,
                business_unit_id=BU_NORTH,
                status="Completed",
                completed_on="2026-03-25T15:00:00Z",
            ),
            _job(4007, business_unit_id=BU_NORTH, status="Scheduled"),
        ],
        # the sale of membership 5004 on job 4002 (every tenant with completed jobs invoices them)
        "invoices": [
            _at_our_location(
                invoice(
                    4102,
                    customer=(CUSTOMER, "Ana Member"),
                    business_unit=(BU_NORTH, "North"),
                    job_id=4002,
                    invoice_date="2026-02-20",
                    due_date="2026-03-22",
                    sub_total="189.00",
                    sales_tax="0.00",
                    total="189.00",
                    balance="0.00",
                )
            )
        ],
        "invoice_items": [invoice_item(4202, 4102, "189.00")],
        "membership_types": [
            _membership_type(GOLD, "Gold Plan"),
            _membership_type(SILVER, "Silver Plan"),
        ],
        "memberships": [
            _membership(
                5001,
                membership_type=GOLD,
                business_unit_id=BU_NORTH,
                status="Expired",
                start="2025-01-10",
                end="2026-01-10",
                renewed_by=5002,
            ),
            _membership(
                5002,
                membership_type=GOLD,
                business_unit_id=BU_NORTH,
                status="Active",
                start="2026-01-10",
                end="2027-01-10",
            ),
            _membership(
                5003,
                membership_type=GOLD,
                business_unit_id=BU_NORTH,
                status="Canceled",
                start="2025-12-05",
                end="2026-12-05",
                canceled_on="2026-02-14T00:00:00Z",
            ),
            _membership(
                5004,
                membership_type=GOLD,
                business_unit_id=BU_NORTH,
                status="Active",
                start="2026-02-01",
                end="2027-02-01",
            ),
            _membership(
                5005,
                membership_type=GOLD,
                business_unit_id=BU_NORTH,
                status="Suspended",
                start="2025-11-20",
                end=None,
            ),
            _membership(
                5006,
                membership_type=GOLD,
                business_unit_id=BU_NORTH,
                status="Deleted",
                start="2026-01-05",
                end="2027-01-05",
            ),
            _membership(
                5007,
                membership_type=SILVER,
                business_unit_id=None,
                status="Active",
                start="2026-03-03",
                end="2027-03-03",
            ),
            _membership(
                5008,
                membership_type=GOLD,
                business_unit_id=BU_NORTH,
                status="Expired",
                start="2025-02-01",
                end="2026-02-01",
            ),
        ],
        "membership_status_changes": [
            membership_status_change(5101, 5001, "Active", "Expired", "2026-01-10T00:00:00Z"),
            membership_status_change(5102, 5003, "Active", "Canceled", "2026-02-14T15:00:00Z"),
            membership_status_change(5103, 5004, "Active", "Suspended", "2026-03-10T12:00:00Z"),
            membership_status_change(5104, 5004, "Suspended", "Active", "2026-03-20T12:00:00Z"),
            # suspended and reactivated the same day: active that night
            membership_status_change(5105, 5005, "Active", "Suspended", "2026-01-31T10:00:00Z"),
            membership_status_change(5106, 5005, "Suspended", "Active", "2026-01-31T18:00:00Z"),
            membership_status_change(5107, 5005, "Active", "Suspended", "2026-03-15T12:00:00Z"),
            membership_status_change(5108, 5008, "Active", "Expired", "2026-02-01T00:00:00Z"),
        ],
        "recurring_service_types": [
            _recurring_service_type(SPRING_TUNE_UP, "Spring tune-up"),
            _recurring_service_type(FALL_TUNE_UP, "Fall tune-up"),
        ],
        "recurring_services": [
            _recurring_service(701, type_id=SPRING_TUNE_UP, membership_id=5002, name="AC tune-up"),
            _recurring_service(
                702, type_id=FALL_TUNE_UP, membership_id=5004, name="Furnace tune-up"
            ),
        ],
        "recurring_service_events": [
            _event(6001, service_id=701, due="2026-03-05T00:00:00Z", status="Won", job_id=4006),
            _event(
                6002, service_id=701, due="2026-03-10T00:00:00Z", status="Contacted", job_id=4004
            ),
            _event(6003, service_id=701, due="2026-03-20T00:00:00Z", status="Dismissed"),
            _event(6004, service_id=701, due="2026-03-31T00:00:00Z"),
            _event(6005, service_id=701, due="2026-03-15T00:00:00Z", status="Won", job_id=4007),
            _event(6006, service_id=702, due="2026-04-12T00:00:00Z"),
            _event(6007, service_id=701, due="2026-03-12T00:00:00Z", active=False),
            # 22:00 at -05:00 on February 28 is March 1 in UTC
            _event(
                6008, service_id=702, due="2026-02-28T22:00:00-05:00", status="Won", job_id=4005
            ),
        ],
        "vendors": [_vendor()],
        "purchase_orders": [
            _purchase_order(
                801,
                items=[_po_item(1, 0.1), _po_item(2, 0.2), _po_item(3, 100.0, quantity=4.0)],
                tax=8.25,
                shipping=15.0,
                total=123.55,
            ),
            _purchase_order(802, items=[], tax=0.0, shipping=25.0, total=25.0, status="Sent"),
        ],
        "inventory_bills": [_inventory_bill(901, purchase_order_id=801, amount="123.55")],
    }
