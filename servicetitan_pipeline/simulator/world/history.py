"""Customers and their work: locations, jobs, appointments, invoices, items and payments.

Used for the generated history (``history=True``: past jobs in every status, paid, partly paid
and open invoices, goodwill adjustments) and by the change events (a new customer, a new job,
a job completed, a payment). Invoices add up to the cent: ``sum(item totals) == subTotal`` and
``subTotal + salesTax == total``; money is a string on invoices, items and payments and a
number on customers and jobs.
"""

# Names and labels use real typography (en dashes) on purpose: it is data.
# ruff: noqa: RUF001

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .. import pools
from ..store import pack
from ..timefmt import MS_PER_DAY, MS_PER_HOUR, iso, iso_date
from .base import (
    APPOINTMENT_STATUS,
    CENT,
    OPEN_STATUSES,
    ZERO,
    CustomerRef,
    InvoiceContext,
    ItemDraft,
    LocationRef,
    PaymentDraft,
    WorldBase,
    money,
)


def item_account(item_id: int, item_type: str) -> dict[str, Any]:
    """The general ledger account an invoice item posts to: one item in
    ``pools.DEPOSIT_ITEM_EVERY`` (never a price modifier) is a deposit on Customer Deposits, a
    Liability; the rest is income, services to Service Income, everything else to Sales Income.
    Decided from the item's id alone, so no random draw of the world changes."""
    if item_type != "PriceModifier" and item_id % pools.DEPOSIT_ITEM_EVERY == 0:
        return pools.GL_CUSTOMER_DEPOSITS
    return pools.GL_SERVICE_INCOME if item_type == "Service" else pools.GL_SALES_INCOME


class History(WorldBase):
    """Creates customers and their work."""

    def _new_customer(self, created_ms: int, merge_targets: list[int], history: bool) -> int:
        """Create a customer with its locations and (for history) its past jobs.

        Returns the new customer's position.
        """
        rng = self.rng
        now = self.now_ms
        customers = self.stores["customers"]
        c_id = self._id("customers")
        c_pos = len(customers)
        commercial = rng.random() < 0.15
        name = self._company_name() if commercial else self._person_name()
        address = self._address()
        created_by = rng.choice(pools.OFFICE_USERS)[0]
        # Duplicates merged into an earlier customer, and customers gone inactive.
        merged_to = None
        active = True
        roll = rng.random() if history else 1.0
        if roll < 0.012 and merge_targets:
            merged_to = self.stores["customers"].ids[rng.choice(merge_targets)]
            active = False
        elif roll < 0.045:
            active = False
        n_locations = 1
        if commercial:
            n_locations = rng.choice((1, 1, 2, 3, 4))
        elif rng.random() < 0.08:
            n_locations = 2
        locations = self.stores["locations"]
        loc_positions = []
        for k in range(n_locations):
            loc_id = self._id("locations")
            loc_address = address if k == 0 else self._address()
            loc_modified = self._between(created_ms, now) if history else created_ms
            loc_active = active
            loc_name = name if k == 0 else f"{name} – Site {k + 1}"
            record = {
                "id": loc_id,
                "customerId": c_id,
                "active": loc_active,
                "name": loc_name,
                "address": loc_address,
                "customFields": [],
                "createdOn": iso(created_ms),
                "createdById": created_by,
                "modifiedOn": iso(loc_modified),
                "mergedToId": None,
                "zoneId": rng.randint(1, 6),
                "taxExempt": False,
                "tagTypeIds": [],
                "externalData": [],
                "taxZoneId": 1,
            }
            loc_positions.append(
                LocationRef(
                    locations.add(loc_id, pack(record), loc_modified, created_ms, loc_active),
                    loc_id,
                    loc_name,
                    loc_address,
                )
            )
        self.customer_location.append(loc_positions[0].pos)
        customer = CustomerRef(c_pos, c_id, name, address, commercial)
        balance = ZERO
        last_activity = created_ms
        n_jobs = 0
        if history and merged_to is None:
            if commercial:
                n_jobs = rng.choice((1, 1, 2, 2, 3, 4, 5, 6))
            else:
                n_jobs = rng.choices((0, 1, 2, 3, 4, 5), (18, 42, 22, 10, 5, 3))[0]
            job_times = sorted(self._between(created_ms, now - MS_PER_HOUR) for _ in range(n_jobs))
            for job_created in job_times:
                loc = loc_positions[rng.randrange(len(loc_positions))]
                owed, activity = self._new_job(customer, loc, job_created, history=True)
                balance += owed
                last_activity = max(last_activity, activity)
        modified = max(last_activity, self._between(created_ms, now)) if history else created_ms
        record = {
            "id": c_id,
            "active": active,
            "name": name,
            "type": "Commercial" if commercial else "Residential",
            "address": address,
            "customFields": (
                [{"typeId": 7001, "name": "Gate Code", "value": f"#{rng.randint(1000, 9999)}"}]
                if rng.random() < 0.1
                else []
            ),
            "balance": float(balance),
            "taxExempt": commercial and rng.random() < 0.1,
            "tagTypeIds": [8001] if rng.random() < 0.2 else [],
            "doNotMail": rng.random() < 0.05,
            "doNotService": not active and merged_to is None and rng.random() < 0.3,
            "nationalAccount": commercial and rng.random() < 0.05,
            "createdOn": iso(created_ms),
            "createdById": created_by,
            "modifiedOn": iso(modified),
            "mergedToId": merged_to,
            "paymentTermId": 2 if commercial else 1,
            "creditLimit": 10000.0 if commercial else None,
            "creditLimitBalance": float(Decimal(10000) - balance) if commercial else None,
            "externalData": [],
        }
        customers.add(c_id, pack(record), modified, created_ms, active)
        if active:
            merge_targets.append(c_pos)
        return c_pos

    def _pick_status(self, created_ms: int) -> str:
        age_days = (self.now_ms - created_ms) / MS_PER_DAY
        rng = self.rng
        if age_days > 21:
            return rng.choices(("Completed", "Canceled", "Hold"), (88, 10, 2))[0]
        if age_days * 24 < 6:
            return "Scheduled"
        return rng.choices(
            ("Scheduled", "Dispatched", "InProgress", "Hold", "Completed", "Canceled"),
            (35, 5, 5, 5, 40, 10),
        )[0]

    def _new_job(
        self, customer: CustomerRef, loc: LocationRef, created_ms: int, history: bool
    ) -> tuple[Decimal, int]:
        """Create a job with its appointments and its invoice (with items and payments if done).

        Returns what the customer still owes for it and when it last changed.
        """
        rng = self.rng
        now = self.now_ms
        status = self._pick_status(created_ms) if history else "Scheduled"
        catalog = self.catalog
        jt_id, jt_name, trade, _ = catalog.job_types[rng.choice(catalog.active_job_types)]
        bu_candidates = [i for i in catalog.active_bu if catalog.business_units[i].trade == trade]
        if customer.commercial and trade == "HVAC":
            bu_candidates = [
                i for i in bu_candidates if "Commercial" in catalog.business_units[i].name
            ]
        bu_idx = rng.choice(bu_candidates or catalog.active_bu)
        bu_id, bu_name, _, _ = catalog.business_units[bu_idx]
        campaign_idx = rng.choices(catalog.active_campaigns, catalog.campaign_weights)[0]
        campaign_id = catalog.campaigns[campaign_idx].id
        tech_id, tech_name, _ = rng.choice(catalog.active_technicians)
        job_id = self._id("jobs")
        invoice_id = self._id("invoices")
        n_appts = 2 if rng.random() < 0.1 else 1
        appt_ids = [self._id("appointments") for _ in range(n_appts)]

        # When the work happens: first visit 2 hours to a week after booking.
        appt_start = created_ms + self._between(2 * MS_PER_HOUR, 7 * MS_PER_DAY)
        duration = rng.choice((1, 2, 2, 3, 4)) * MS_PER_HOUR
        if status == "Completed":
            appt_start = min(appt_start, now - duration - MS_PER_HOUR * rng.randint(1, 48))
            appt_start = max(appt_start, created_ms)
            if appt_start + duration * n_appts >= now:
                n_appts = 1
                appt_ids = appt_ids[:1]
        elif status == "Scheduled":
            appt_start = max(appt_start, now + rng.randint(1, 14 * 24) * MS_PER_HOUR)
        elif status in ("Dispatched", "InProgress"):
            appt_start = now - rng.randint(0, 2 * MS_PER_HOUR)
        completed_ms = appt_start + duration * n_appts if status == "Completed" else None
        if completed_ms is not None and completed_ms > now:
            completed_ms = now
        job_modified = (
            min(now, (completed_ms or created_ms) + self._between(0, 2 * MS_PER_DAY))
            if history
            else created_ms
        )
        appt_positions = []
        appointments = self.stores["appointments"]
        for k, appt_id in enumerate(appt_ids):
            start = appt_start + k * (MS_PER_DAY + duration)
            # Earlier visits of a multi-visit job are done; the last one follows the job.
            if k < len(appt_ids) - 1 and status not in ("Scheduled", "Canceled"):
                appt_status = "Done"
            else:
                appt_status = APPOINTMENT_STATUS[status]
            record = self._appointment_record(
                appt_id,
                job_id,
                customer.id,
                k,
                start,
                duration,
                appt_status,
                created_ms,
                job_modified,
            )
            appt_positions.append(
                appointments.add(appt_id, pack(record), job_modified, created_ms, True)
            )
        job_total = ZERO
        owed = ZERO
        items: list[ItemDraft] = []
        invoice_fields: dict[str, Any]
        payments: list[PaymentDraft] = []
        if status == "Completed":
            assert completed_ms is not None
            items, sub_total, sales_tax = self._invoice_items(
                trade, bu_id, bu_name, tech_id, completed_ms, job_modified, rng.random() < 0.2
            )
            total = sub_total + sales_tax
            job_total = sub_total
            paid, payments, paid_on = self._payments(
                customer, invoice_id, str(job_id), bu_id, bu_name, total, completed_ms
            )
            owed = total - paid
            invoice_modified = max([job_modified] + [p.modified_ms for p in payments])
            invoice_fields = {
                "subTotal": money(sub_total),
                "salesTax": money(sales_tax),
                "total": money(total),
                "balance": money(owed),
                "invoiceDate": iso_date(completed_ms),
                "dueDate": iso_date(completed_ms + (30 if customer.commercial else 0) * MS_PER_DAY),
                "sentStatus": rng.choice(("Sent", "Sent", "Opened")),
                "reviewStatus": "Invoiced" if owed == 0 else "Reviewed",
                "syncStatus": "Posted" if now - completed_ms > 7 * MS_PER_DAY else "Pending",
                "paidOn": iso(paid_on) if paid_on is not None and owed == 0 else None,
                "active": True,
            }
        else:
            invoice_modified = job_modified
            invoice_fields = {
                "subTotal": "0.00",
                "salesTax": "0.00",
                "total": "0.00",
                "balance": "0.00",
                "invoiceDate": iso_date(created_ms),
                "dueDate": iso_date(created_ms),
                "sentStatus": "NotSent",
                "reviewStatus": "NeedsReview",
                "syncStatus": "Pending",
                "paidOn": None,
                # A canceled job's empty invoice is voided (inactive).
                "active": status != "Canceled",
            }
        job_record = {
            "id": job_id,
            "jobNumber": str(job_id),
            "projectId": None,
            "customerId": customer.id,
            "locationId": loc.id,
            "jobStatus": status,
            "completedOn": iso(completed_ms) if completed_ms is not None else None,
            "businessUnitId": bu_id,
            "jobTypeId": jt_id,
            "priority": rng.choice(("Normal", "Normal", "High", "Low", "Urgent")),
            "campaignId": campaign_id,
            "appointmentCount": len(appt_ids),
            "firstAppointmentId": appt_ids[0],
            "lastAppointmentId": appt_ids[-1],
            "recallForId": None,
            "warrantyId": None,
            "jobGeneratedLeadSource": None,
            "noCharge": False,
            "notificationsEnabled": True,
            "createdOn": iso(created_ms),
            "createdById": rng.choice(pools.OFFICE_USERS)[0],
            "modifiedOn": iso(job_modified),
            "tagTypeIds": [],
            "leadCallId": None,
            "partnerLeadCallId": None,
            "bookingId": None,
            "soldById": tech_id if status == "Completed" else None,
            "customerPo": f"PO-{rng.randint(10000, 99999)}" if customer.commercial else "",
            "invoiceId": invoice_id,
            "membershipId": None,
            "total": float(job_total),
            "createdFromEstimateId": None,
            "estimateIds": [],
            "summary": f"{jt_name} at {loc.name}",
            "customFields": [],
            "externalData": [],
        }
        job_pos = self.stores["jobs"].add(job_id, pack(job_record), job_modified, created_ms, True)
        billed = InvoiceContext(customer, loc, bu_id, bu_name, job_id, jt_name, tech_id, tech_name)
        inv_pos = self._add_invoice(
            invoice_id, billed, created_ms, invoice_modified, invoice_fields, items, None
        )
        for payment in payments:
            self._add_payment(payment)
        if status in OPEN_STATUSES:
            self.open_jobs[job_pos] = (inv_pos, appt_positions)
            self.open_job_set.add(job_pos)
        if owed > 0:
            self.unpaid[inv_pos] = customer.pos
            self.unpaid_set.add(inv_pos)
        # A few completed jobs got a goodwill credit later: an adjustment invoice.
        if status == "Completed" and history and rng.random() < 0.015:
            assert completed_ms is not None
            credit_at = min(now, completed_ms + rng.randint(1, 10) * MS_PER_DAY)
            self._adjustment_invoice(billed, invoice_id, credit_at)
        return owed, max(invoice_modified, job_modified)

    def _appointment_record(
        self,
        appt_id: int,
        job_id: int,
        customer_id: int,
        k: int,
        start: int,
        duration: int,
        status: str,
        created_ms: int,
        modified_ms: int,
    ) -> dict[str, Any]:
        window = start - start % (2 * MS_PER_HOUR)
        return {
            "id": appt_id,
            "jobId": job_id,
            "appointmentNumber": f"{job_id}-{k + 1}",
            "start": iso(start),
            "end": iso(start + duration),
            "arrivalWindowStart": iso(window),
            "arrivalWindowEnd": iso(window + 4 * MS_PER_HOUR),
            "status": status,
            "specialInstructions": "Dog in backyard 🐶 – please close the gate"
            if self.rng.random() < 0.05
            else None,
            "createdOn": iso(created_ms),
            "modifiedOn": iso(modified_ms),
            "customerId": customer_id,
            "unused": False,
            "createdById": pools.OFFICE_USERS[3][0],
            "isConfirmed": status != "Scheduled" or self.rng.random() < 0.6,
            "active": True,
        }

    def _invoice_items(
        self,
        trade: str,
        bu_id: int,
        bu_name: str,
        tech_id: int,
        service_ms: int,
        modified_ms: int,
        member: bool,
    ) -> tuple[list[ItemDraft], Decimal, Decimal]:
        """Line items of a completed job, with their sub-total and sales tax."""
        rng = self.rng
        candidates = [s for s in pools.SKUS if s[8] in (None, trade)]
        n = rng.choices((1, 2, 3, 4, 5), (25, 38, 22, 10, 5))[0]
        chosen = [candidates[0] if rng.random() < 0.5 else candidates[1]]
        trade_skus = [s for s in candidates if s[8] == trade] or candidates
        chosen += [rng.choice(trade_skus) for _ in range(n - 1)]
        items: list[ItemDraft] = []
        sub_total = ZERO
        taxable_total = ZERO
        for order, sku in enumerate(chosen, start=1):
            sku_id, sku_name, item_type, lo, hi, taxable, cost_ratio, hours, _ = sku
            quantity = (
                Decimal(rng.choice((1, 1, 1, 2, 3))) if item_type == "Material" else Decimal(1)
            )
            low, high = int(Decimal(lo) * 100), int(Decimal(hi) * 100)
            price = Decimal(self._between(low, high)) / 100
            total = (quantity * price).quantize(CENT, ROUND_HALF_UP)
            cost = (price * Decimal(cost_ratio)).quantize(CENT, ROUND_HALF_UP)
            sub_total += total
            if taxable:
                taxable_total += total
            items.append(
                self._item_record(
                    sku_id,
                    sku_name,
                    item_type,
                    quantity,
                    price,
                    total,
                    cost,
                    taxable,
                    hours,
                    order,
                    bu_id,
                    bu_name,
                    tech_id,
                    service_ms,
                    modified_ms,
                )
            )
        if member:
            # Members get 15% off labour: a negative PriceModifier line.
            labour = sum((i.total for i in items if i.record["type"] == "Service"), ZERO)
            discount = -(labour * Decimal("0.15")).quantize(CENT, ROUND_HALF_UP)
            if discount < 0:
                sub_total += discount
                items.append(
                    self._item_record(
                        pools.MEMBER_DISCOUNT_SKU[0],
                        pools.MEMBER_DISCOUNT_SKU[1],
                        "PriceModifier",
                        Decimal(1),
                        discount,
                        discount,
                        ZERO,
                        False,
                        "0",
                        len(items) + 1,
                        bu_id,
                        bu_name,
                        tech_id,
                        service_ms,
                        modified_ms,
                    )
                )
        sales_tax = (taxable_total * self.tax_rate).quantize(CENT, ROUND_HALF_UP)
        return items, sub_total, sales_tax

    def _item_record(
        self,
        sku_id: int,
        sku_name: str,
        item_type: str,
        quantity: Decimal,
        price: Decimal,
        total: Decimal,
        cost: Decimal,
        taxable: bool,
        hours: str,
        order: int,
        bu_id: int,
        bu_name: str,
        tech_id: int,
        service_ms: int,
        modified_ms: int,
    ) -> ItemDraft:
        item_id = self._id("invoice_items")
        record = {
            "id": item_id,
            "description": f"<p>{sku_name}</p>",
            "quantity": money(quantity),
            "cost": money(cost),
            "totalCost": money(cost * quantity),
            "budgetCodeId": None,
            "inventoryLocationId": None,
            "inventoryLocation": None,
            "price": money(price),
            "type": item_type,
            "skuName": sku_name,
            "skuId": sku_id,
            "total": money(total),
            "inventory": item_type in ("Material", "Equipment"),
            "taxable": taxable,
            "isChargeable": True,
            "generalLedgerAccount": dict(item_account(item_id, item_type)),
            "costOfSaleAccount": None,
            "assetAccount": None,
            "membershipTypeId": 0,
            "itemGroup": None,
            "displayName": sku_name,
            "soldHours": float(hours),
            "createdOn": iso(service_ms),
            "modifiedOn": iso(modified_ms),
            "serviceDate": iso_date(service_ms),
            "order": order,
            "businessUnit": {"id": bu_id, "name": bu_name},
            "createdById": tech_id,
            "displayInAmount": True,
            "importId": None,
            "exportId": None,
            "inventoryStatus": None,
            "addOn": False,
            "memberPrice": None,
            "technicianId": tech_id,
            "installedEquipmentId": None,
            "estimateItemId": None,
        }
        return ItemDraft(item_id, record, total, service_ms, modified_ms)

    def _payments(
        self,
        customer: CustomerRef,
        invoice_id: int,
        reference: str,
        bu_id: int,
        bu_name: str,
        total: Decimal,
        invoiced_ms: int,
    ) -> tuple[Decimal, list[PaymentDraft], int | None]:
        """Payments of a newly completed invoice: most paid in full, some partly, some not yet."""
        rng = self.rng
        now = self.now_ms
        if total <= 0:
            return ZERO, [], None
        age_days = (now - invoiced_ms) / MS_PER_DAY
        roll = rng.random()
        full, partial = (0.92, 0.95) if age_days > 30 else (0.6, 0.65)
        if roll < full:
            amounts = [total]
            if rng.random() < 0.05:  # a deposit, then the rest
                deposit = (total * Decimal("0.5")).quantize(CENT, ROUND_HALF_UP)
                amounts = [deposit, total - deposit]
        elif roll < partial:
            amounts = [(total * Decimal(rng.choice(("0.25", "0.5")))).quantize(CENT, ROUND_HALF_UP)]
        else:
            return ZERO, [], None
        out: list[PaymentDraft] = []
        paid = ZERO
        paid_on = invoiced_ms
        for amount in amounts:
            paid_on = min(now, paid_on + self._between(0, 20 * MS_PER_DAY))
            out.append(
                self._payment_record(
                    customer, invoice_id, reference, bu_id, bu_name, amount, paid_on
                )
            )
            paid += amount
        return paid, out, paid_on

    def _payment_record(
        self,
        customer: CustomerRef,
        invoice_id: int,
        reference: str,
        bu_id: int,
        bu_name: str,
        amount: Decimal,
        paid_ms: int,
    ) -> PaymentDraft:
        rng = self.rng
        p_id = self._id("payments")
        type_name, type_id = rng.choice(pools.PAYMENT_TYPES)
        user = rng.choice(pools.OFFICE_USERS)[1]
        record = {
            "active": True,
            "appliedTo": [
                {
                    "appliedAmount": money(amount),
                    "appliedBy": user,
                    "appliedId": self._id("payment_applications"),
                    "appliedOn": iso(paid_ms),
                    "appliedTo": invoice_id,
                    "appliedToReferenceNumber": reference,
                }
            ],
            "authCode": f"{rng.randint(0, 999999):06d}" if type_name == "Credit Card" else None,
            "batch": None,
            "businessUnit": {"id": bu_id, "name": bu_name},
            "checkNumber": str(rng.randint(1000, 9999)) if type_name == "Check" else None,
            "createdBy": user,
            "createdOn": iso(paid_ms),
            "customer": {"id": customer.id, "name": customer.name},
            "customFields": [],
            "date": iso(paid_ms),
            "deposit": None,
            "generalLedgerAccount": dict(pools.GL_UNDEPOSITED_FUNDS),
            "id": p_id,
            "memo": None,
            "modifiedOn": iso(paid_ms),
            "referenceNumber": reference,
            "refundedPaymentId": None,
            "syncStatus": "Posted" if self.now_ms - paid_ms > 7 * MS_PER_DAY else "Pending",
            "total": money(amount),
            "type": type_name,
            "typeId": type_id,
            "unappliedAmount": "0.00",
        }
        return PaymentDraft(p_id, record, paid_ms)

    def _add_payment(self, payment: PaymentDraft) -> int:
        return self.stores["payments"].add(
            payment.id, pack(payment.record), payment.modified_ms, payment.modified_ms
        )

    def _add_invoice(
        self,
        invoice_id: int,
        billed: InvoiceContext,
        created_ms: int,
        modified_ms: int,
        fields: dict[str, Any],
        items: list[ItemDraft],
        adjustment_to: int | None,
    ) -> int:
        customer, loc, bu_id, bu_name = billed.customer, billed.loc, billed.bu_id, billed.bu_name
        job_id, jt_name = billed.job_id, billed.job_type
        item_store = self.stores["invoice_items"]
        start = len(item_store)
        for item in items:
            item_store.add(
                item.id,
                pack(item.record),
                item.modified_ms,
                item.created_ms,
                True,
                parent=invoice_id,
            )
        address = customer.address
        loc_address = loc.address
        record = {
            "id": invoice_id,
            "syncStatus": fields["syncStatus"],
            "budgetCodeId": None,
            "referenceNumber": str(job_id) if adjustment_to is None else f"{job_id}-ADJ",
            "invoiceDate": fields["invoiceDate"],
            "dueDate": fields["dueDate"],
            "subTotal": fields["subTotal"],
            "salesTax": fields["salesTax"],
            "salesTaxCode": {"id": 1, "name": "Austin 8.25%", "taxRate": float(self.tax_rate)},
            "taxZoneId": 1,
            "total": fields["total"],
            "balance": fields["balance"],
            "invoiceType": None,
            "customer": {"id": customer.id, "name": customer.name},
            "customerAddress": {
                k: address[k] for k in ("street", "unit", "city", "state", "zip", "country")
            },
            "location": {"id": loc.id, "name": loc.name},
            "locationAddress": {
                k: loc_address[k] for k in ("street", "unit", "city", "state", "zip", "country")
            },
            "businessUnit": {"id": bu_id, "name": bu_name},
            "termName": "Net 30" if customer.commercial else "Due Upon Receipt",
            "createdBy": pools.OFFICE_USERS[3][1],
            "batch": None,
            "depositedOn": None,
            "createdOn": iso(created_ms),
            "modifiedOn": iso(modified_ms),
            "adjustmentToId": adjustment_to,
            "job": {"id": job_id, "number": str(job_id), "type": jt_name},
            "projectId": None,
            "royalty": None,
            "employeeInfo": {
                "id": billed.tech_id,
                "name": billed.tech_name,
                "modifiedOn": iso(created_ms),
            },
            "commissionEligibilityDate": None,
            "sentStatus": fields["sentStatus"],
            "reviewStatus": fields["reviewStatus"],
            "assignedTo": None,
            "summary": None,
            "customFields": [],
            "active": fields["active"],
            "discountTotal": "0.00",
            "importId": None,
            "exportId": None,
            "materialSkuId": None,
            "membershipId": None,
            "paidOn": fields["paidOn"],
            "invoiceConfiguration": "JobInvoice",
        }
        return self.stores["invoices"].add(
            invoice_id,
            pack(record),
            modified_ms,
            created_ms,
            fields["active"],
            child_start=start,
            child_count=len(items),
        )

    def _adjustment_invoice(self, billed: InvoiceContext, original_id: int, at_ms: int) -> int:
        """A goodwill credit on a job's invoice ``original_id``: a negative adjustment invoice."""
        rng = self.rng
        invoice_id = self._id("invoices")
        credit = -Decimal(rng.choice((25, 50, 75, 100)))
        item = self._item_record(
            pools.GOODWILL_CREDIT_SKU[0],
            pools.GOODWILL_CREDIT_SKU[1],
            "PriceModifier",
            Decimal(1),
            credit,
            credit,
            ZERO,
            False,
            "0",
            1,
            billed.bu_id,
            billed.bu_name,
            billed.tech_id,
            at_ms,
            at_ms,
        )
        fields = {
            "subTotal": money(credit),
            "salesTax": "0.00",
            "total": money(credit),
            # A credit applied to the customer's account straight away.
            "balance": "0.00",
            "invoiceDate": iso_date(at_ms),
            "dueDate": iso_date(at_ms),
            "sentStatus": "Sent",
            "reviewStatus": "Invoiced",
            "syncStatus": "Posted" if self.now_ms - at_ms > 7 * MS_PER_DAY else "Pending",
            "paidOn": None,
            "active": True,
        }
        return self._add_invoice(invoice_id, billed, at_ms, at_ms, fields, [item], original_id)
