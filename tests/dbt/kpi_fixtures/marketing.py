"""The call center and marketing fixture world (tenant 3000003), small enough to work every
figure of rpt_call_center and rpt_marketing_roi by hand (tests/dbt/test_kpi_marketing_fixture.py
holds the arithmetic). Built to hit what breaks a naive booking rate or ROI:

* every call classification, inbound: booked, unbooked, abandoned (no agent), excused,
  not-lead and unclassified; an outbound call typed Unbooked (never a lead); a deleted
  booked call (counts nowhere);
* a call that names no job, booked by the job that names it as its `leadCallId`;
* a call at 20:30 -06:00 on 31 January: 1 February in UTC, so in February's row;
* a call of a customer merged into another (reported under the survivor);
* one prospect seen as a lead call and a CRM lead, as a CRM lead and its booking, and as a
  lead call and a booking of the same job: each counted once;
* an inactive CRM lead that names a booking (which then counts by itself);
* campaign costs of a 31-day, a 28-day and a leap February month, two cost records for one
  month, and a cost of $0.10 a day;
* completed revenue that is exact only in decimals (100.10 + 0.20), a completion at
  20:00 -05:00 on 31 January (1 February in UTC), a canceled job, a deleted job with revenue,
  and a completed job under its job type's sold threshold (not converted).
"""

from __future__ import annotations

from typing import Any

from dbt_fixture_records import (
    booking,
    business_unit,
    call,
    campaign,
    campaign_cost,
    customer,
    invoice,
    job,
    job_type,
    lead,
    location,
)

TENANT = 3000003

HVAC = (10, "HVAC Service")
GOOGLE_ADS = (500, "Google Ads")
YARD_SIGNS = (600, "Yard Signs")
RADIO = (700, "Radio")
CARLA = {"id": 30, "name": "Carla CSR"}
DEV = {"id": 31, "name": "Dev CSR"}
MERGED_AWAY = (1, "Ada Old Account")
ADA = (2, "Ada Lovelace")
BO = (3, "Bo Diddley")
LOCATION = 11  # the invoice builder names location 11


def _call(
    call_id: int,
    *,
    direction: str,
    call_type: str | None,
    called_on: str,
    duration: str,
    agent: dict[str, Any] | None,
    campaign_ref: tuple[int, str] | None,
    job_id: int | None = None,
    customer_ref: tuple[int, str] = ADA,
    active: bool = True,
) -> dict[str, Any]:
    return {
        **call(
            call_id,
            direction=direction,
            duration=duration,
            call_type=call_type,
            job_id=job_id,
            campaign=campaign_ref,
        ),
        "createdOn": called_on,
        "modifiedOn": called_on,
        "customer": {"id": customer_ref[0], "name": customer_ref[1]},
        "agent": agent,
        "createdBy": agent if direction == "Outbound" else None,
        "active": active,
    }


def _job(
    job_id: int,
    *,
    campaign_id: int,
    created_on: str,
    status: str,
    completed_on: str | None = None,
    job_type_id: int = 1000,
    customer_id: int = ADA[0],
    lead_call_id: int | None = None,
    active: bool = True,
) -> dict[str, Any]:
    return {
        **job(
            job_id,
            customer_id=customer_id,
            location_id=LOCATION,
            business_unit_id=HVAC[0],
            job_type_id=job_type_id,
            campaign_id=campaign_id,
            status=status,
            completed_on=completed_on,
            active=active,
        ),
        "createdOn": created_on,
        "leadCallId": lead_call_id,
        "firstAppointmentId": None,
        "lastAppointmentId": None,
    }


def _invoice(
    invoice_id: int, job_id: int, *, sub_total: str, sales_tax: str, total: str
) -> dict[str, Any]:
    return invoice(
        invoice_id,
        customer=ADA,
        business_unit=HVAC,
        job_id=job_id,
        invoice_date="2026-01-15",
        due_date="2026-01-15",
        sub_total=sub_total,
        sales_tax=sales_tax,
        total=total,
        balance="0.00",
    )


def _lead(
    lead_id: int,
    *,
    campaign_id: int,
    created_on: str,
    call_id: int | None = None,
    booking_id: int | None = None,
    active: bool = True,
) -> dict[str, Any]:
    return {
        **lead(lead_id, "Open", call_id=call_id, booking_id=booking_id),
        "campaignId": campaign_id,
        "businessUnitId": HVAC[0],
        "jobTypeId": 1000,
        "createdOn": created_on,
        "modifiedOn": created_on,
        "active": active,
    }


def _booking(
    booking_id: int,
    status: str,
    *,
    campaign_id: int,
    created_on: str,
    job_id: int | None = None,
    active: bool = True,
) -> dict[str, Any]:
    return {
        **booking(booking_id, status, job_id=job_id),
        "campaignId": campaign_id,
        "businessUnitId": HVAC[0],
        "createdOn": created_on,
        "modifiedOn": created_on,
        "active": active,
    }


def records() -> dict[str, list[dict[str, Any]]]:
    return {
        "business_units": [business_unit(*HVAC)],
        "job_types": [
            job_type(1000, "Service Call"),
            # a sold threshold: a completed job of $50.00 does not convert
            {**job_type(2000, "Install"), "soldThreshold": 100.0},
        ],
        "campaigns": [campaign(*GOOGLE_ADS), campaign(*YARD_SIGNS), campaign(*RADIO)],
        "customers": [
            customer(MERGED_AWAY[0], MERGED_AWAY[1], active=False, merged_to=ADA[0]),
            customer(*ADA),
            customer(*BO),
        ],
        "locations": [location(LOCATION, ADA[0])],
        "calls": [
            # 10 January, Google Ads: one call of each inbound classification
            _call(
                1,
                direction="Inbound",
                call_type="Booked",
                called_on="2026-01-10T15:00:00Z",
                duration="00:04:05",
                agent=CARLA,
                campaign_ref=GOOGLE_ADS,
                job_id=101,
            ),
            _call(
                2,
                direction="Inbound",
                call_type="Unbooked",
                called_on="2026-01-10T16:00:00Z",
                duration="00:02:00",
                agent=CARLA,
                campaign_ref=GOOGLE_ADS,
            ),
            _call(
                3,
                direction="Inbound",
                call_type="Abandoned",
                called_on="2026-01-10T17:00:00Z",
                duration="00:00:40",
                agent=None,
                campaign_ref=GOOGLE_ADS,
            ),
            _call(
                4,
                direction="Inbound",
                call_type="Excused",
                called_on="2026-01-10T18:00:00Z",
                duration="00:01:30",
                agent=CARLA,
                campaign_ref=GOOGLE_ADS,
            ),
            _call(
                5,
                direction="Inbound",
                call_type="NotLead",
                called_on="2026-01-10T19:00:00Z",
                duration="00:03:00",
                agent=DEV,
                campaign_ref=GOOGLE_ADS,
            ),
            # outbound, typed Unbooked: still never a lead call
            _call(
                6,
                direction="Outbound",
                call_type="Unbooked",
                called_on="2026-01-10T20:00:00Z",
                duration="00:05:00",
                agent=DEV,
                campaign_ref=None,
            ),
            # 20:30 in Texas on 31 January is 1 February in UTC; it names no job, job 102
            # names it (leadCallId)
            _call(
                7,
                direction="Inbound",
                call_type="Booked",
                called_on="2026-01-31T20:30:00-06:00",
                duration="00:06:00",
                agent=DEV,
                campaign_ref=YARD_SIGNS,
            ),
            # deleted: counts nowhere
            _call(
                8,
                direction="Inbound",
                call_type="Booked",
                called_on="2026-01-10T21:00:00Z",
                duration="00:03:00",
                agent=CARLA,
                campaign_ref=GOOGLE_ADS,
                job_id=104,
                active=False,
            ),
            # not classified yet
            _call(
                9,
                direction="Inbound",
                call_type=None,
                called_on="2026-01-10T22:00:00Z",
                duration="00:00:20",
                agent=CARLA,
                campaign_ref=YARD_SIGNS,
            ),
            # the merged-away customer's call: reported under the survivor; lead 6001 came of it
            _call(
                10,
                direction="Inbound",
                call_type="Unbooked",
                called_on="2026-01-12T15:00:00Z",
                duration="00:01:05",
                agent=CARLA,
                campaign_ref=GOOGLE_ADS,
                customer_ref=MERGED_AWAY,
            ),
        ],
        "leads": [
            # from lead call 10: the call's contact, not counted again
            _lead(6001, campaign_id=GOOGLE_ADS[0], created_on="2026-01-12T15:10:00Z", call_id=10),
            # from call 5, which is not a lead call: counts
            _lead(6002, campaign_id=GOOGLE_ADS[0], created_on="2026-01-13T15:00:00Z", call_id=5),
            # converted into booking 5001: counts, the booking does not
            _lead(
                6003, campaign_id=YARD_SIGNS[0], created_on="2026-01-19T12:00:00Z", booking_id=5001
            ),
            # its booking 5002 became job 101, which lead call 1 booked: the call's contact
            _lead(
                6004, campaign_id=GOOGLE_ADS[0], created_on="2026-01-09T12:00:00Z", booking_id=5002
            ),
            # deleted: counts nowhere, and does not claim booking 5003
            _lead(
                6005,
                campaign_id=GOOGLE_ADS[0],
                created_on="2026-02-02T12:00:00Z",
                booking_id=5003,
                active=False,
            ),
        ],
        "bookings": [
            _booking(
                5001,
                "Converted",
                campaign_id=YARD_SIGNS[0],
                created_on="2026-01-19T13:00:00Z",
                job_id=103,
            ),
            _booking(
                5002,
                "Converted",
                campaign_id=GOOGLE_ADS[0],
                created_on="2026-01-09T13:00:00Z",
                job_id=101,
            ),
            _booking(5003, "New", campaign_id=YARD_SIGNS[0], created_on="2026-02-03T12:00:00Z"),
            # became job 102, booked by lead call 7
            _booking(
                5004,
                "Converted",
                campaign_id=YARD_SIGNS[0],
                created_on="2026-01-31T12:00:00Z",
                job_id=102,
            ),
            _booking(
                5005, "Dismissed", campaign_id=GOOGLE_ADS[0], created_on="2026-01-25T12:00:00Z"
            ),
            _booking(
                5006,
                "Dismissed",
                campaign_id=GOOGLE_ADS[0],
                created_on="2026-01-26T12:00:00Z",
                active=False,
            ),
        ],
        "jobs": [
            _job(
                101,
                campaign_id=GOOGLE_ADS[0],
                created_on="2026-01-10T15:05:00Z",
                status="Completed",
                completed_on="2026-01-15T18:00:00Z",
            ),
            _job(
                102,
                campaign_id=YARD_SIGNS[0],
                created_on="2026-02-01T03:00:00Z",
                status="Completed",
                completed_on="2026-02-10T18:00:00Z",
                lead_call_id=7,
            ),
            _job(
                103,
                campaign_id=YARD_SIGNS[0],
                created_on="2026-01-20T09:00:00Z",
                status="Canceled",
            ),
            # completed at 20:00 -05:00 on 31 January: 1 February in UTC; no invoice
            _job(
                104,
                campaign_id=GOOGLE_ADS[0],
                created_on="2026-01-05T09:00:00Z",
                status="Completed",
                completed_on="2026-01-31T20:00:00-05:00",
            ),
            # deleted, with an invoice: counts nowhere
            _job(
                105,
                campaign_id=GOOGLE_ADS[0],
                created_on="2026-01-06T09:00:00Z",
                status="Completed",
                completed_on="2026-01-20T18:00:00Z",
                active=False,
            ),
            # under the Install type's $100.00 sold threshold: completed, not converted
            _job(
                106,
                campaign_id=RADIO[0],
                created_on="2025-12-20T09:00:00Z",
                status="Completed",
                completed_on="2026-01-03T18:00:00Z",
                job_type_id=2000,
                customer_id=BO[0],
            ),
        ],
        "invoices": [
            _invoice(3101, 101, sub_total="100.10", sales_tax="8.26", total="108.36"),
            _invoice(3102, 101, sub_total="0.20", sales_tax="0.00", total="0.20"),
            _invoice(3103, 102, sub_total="333.33", sales_tax="27.50", total="360.83"),
            _invoice(3105, 105, sub_total="999.00", sales_tax="0.00", total="999.00"),
            _invoice(3106, 106, sub_total="50.00", sales_tax="4.13", total="54.13"),
        ],
        "campaign_costs": [
            campaign_cost(1, GOOGLE_ADS[0], 2026, 1, 12.5),
            campaign_cost(2, GOOGLE_ADS[0], 2026, 2, 10.01),
            campaign_cost(3, YARD_SIGNS[0], 2026, 2, 0.1),
            campaign_cost(4, YARD_SIGNS[0], 2024, 2, 1.0),
            # two records for one month: their daily costs add up
            campaign_cost(5, RADIO[0], 2026, 1, 5.0),
            campaign_cost(6, RADIO[0], 2026, 1, 2.5),
        ],
    }
