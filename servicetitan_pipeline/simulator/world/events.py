"""How the tenant changes as the simulated clock moves: :meth:`ChangeEvents.advance`."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import TypedDict

from ..store import EntityStore, pack
from ..timefmt import MS_PER_DAY, MS_PER_HOUR, iso, iso_date
from .base import (
    APPOINTMENT_STATUS,
    CENT,
    OPEN_STATUSES,
    CustomerRef,
    InvoiceContext,
    LocationRef,
    money,
)
from .history import History


class EntityChanges(TypedDict):
    created: int
    updated: int


class AdvanceSummary(TypedDict):
    """What :meth:`ChangeEvents.advance` did (see there)."""

    clock: str
    created: int
    updated: int
    deactivated: int
    merged: int
    hours: float
    events: dict[str, int]
    entities: dict[str, EntityChanges]


class ChangeEvents(History):
    """Applies a seeded mix of changes per simulated period."""

    def advance(self, hours: float) -> AdvanceSummary:
        """Move the clock ``hours`` forward and apply that period's changes, in time order.

        Per simulated day, scaled by the tenant's size: new customers (each with a booked job),
        new jobs for existing customers, open jobs progressing (completed jobs get their invoice
        items and totals, canceled ones a voided invoice), payments on open invoices, customer
        edits, deactivations and merges, now and then an adjustment invoice, a technician, a
        campaign or a job type edited. Every change stamps ``modifiedOn`` with its event time and
        a new seq. For each full day at least one customer is created, deactivated and merged,
        so that small test tenants always see each kind of change.

        Returns:
            A summary: ``clock`` (the new simulated now), totals ``created``, ``updated``,
            ``deactivated`` (customers deactivated or merged, invoices voided) and ``merged``,
            ``hours``, ``events`` (applied, by kind) and ``entities`` (per entity: records
            ``created`` and ``updated``; together exactly what an export token taken before
            returns afterwards).
        """
        if hours < 0:
            raise ValueError("the clock only moves forward (hours must be >= 0)")
        tenant = self.tenant
        start_ms = self.now_ms
        end_ms = start_ms + round(hours * MS_PER_HOUR)
        before_len = {name: len(store) for name, store in self.stores.items()}
        before_seq = tenant.last_seq
        days = (end_ms - start_ms) / MS_PER_DAY
        n = self.config.customers
        rng = self.rng
        floor = int(days)

        def count(per_day: float, minimum: int = 0) -> int:
            expected = per_day * days
            k = int(expected) + (rng.random() < expected - int(expected))
            return max(k, minimum)

        plan = {
            "new_customer": count(0.002 * n, floor),
            "new_job": count(0.004 * n),
            "progress_job": count(0.3 * max(1, len(self.open_jobs))),
            "payment": count(0.3 * max(1, len(self.unpaid))),
            "edit_customer": count(0.003 * n),
            "deactivate_customer": count(0.0005 * n, floor),
            "merge_customer": count(0.0003 * n, floor),
            "adjustment": count(0.0002 * n),
            "edit_technician": count(0.5),
            "edit_campaign": count(0.3),
            "edit_job_type": count(0.2),
        }
        events = [
            (self._between(start_ms + 1, end_ms), i, kind)
            for kind, k in plan.items()
            for i in range(k)
            if end_ms > start_ms
        ]
        events.sort()
        applied: dict[str, int] = dict.fromkeys(plan, 0)
        self._voided = 0  # invoices of canceled jobs, voided (inactive) during this advance
        handlers: dict[str, Callable[[int], bool]] = {
            "new_customer": self._ev_new_customer,
            "new_job": self._ev_new_job,
            "progress_job": self._ev_progress_job,
            "payment": self._ev_payment,
            "edit_customer": self._ev_edit_customer,
            "deactivate_customer": self._ev_deactivate_customer,
            "merge_customer": self._ev_merge_customer,
            "adjustment": self._ev_adjustment,
            "edit_technician": self._ev_edit_technician,
            "edit_campaign": lambda at: self._ev_edit_reference("campaigns", at),
            "edit_job_type": lambda at: self._ev_edit_reference("job_types", at),
        }
        with tenant.lock:
            for at, _i, kind in events:
                # "now" follows the events, so everything they create is stamped at their time.
                self.now_ms = at
                if handlers[kind](at):
                    applied[kind] += 1
            self.now_ms = end_ms
            # The generated entities follow, in their own time order: children of the parents
            # created above, and their own changes.
            self.generated.advance(start_ms, end_ms, before_len)
            entities: dict[str, EntityChanges] = {}
            for name, store in self.stores.items():
                created = len(store) - before_len[name]
                changed = self._changed_since(store, before_seq)
                entities[name] = EntityChanges(created=created, updated=changed - created)
                store.compact_log()
        return AdvanceSummary(
            clock=iso(end_ms),
            # Totals first (plain ints, for one-line reports such as the demo's).
            created=sum(e["created"] for e in entities.values()),
            updated=sum(e["updated"] for e in entities.values()),
            deactivated=applied["deactivate_customer"] + applied["merge_customer"] + self._voided,
            merged=applied["merge_customer"],
            hours=float(hours),
            events=applied,
            entities=entities,
        )

    @staticmethod
    def _changed_since(store: EntityStore, seq: int) -> int:
        """Records whose latest change is after ``seq``."""
        i = bisect.bisect_right(store.log_seq, seq)
        log_seq, log_pos, cur = store.log_seq, store.log_pos, store.seq
        return sum(1 for j in range(i, len(log_seq)) if cur[log_pos[j]] == log_seq[j])

    def _random_customer(self, active_only: bool = True, tries: int = 50) -> int | None:
        customers = self.stores["customers"]
        for _ in range(tries):
            pos = int(self.rng.random() * len(customers))
            if not active_only or customers.active[pos]:
                return pos
        return None

    def _customer_context(self, c_pos: int) -> tuple[CustomerRef, LocationRef]:
        """A stored customer and its first location, as new work for them needs them."""
        record = self.stores["customers"].record(c_pos)
        customer = CustomerRef(
            c_pos, record["id"], record["name"], record["address"], record["type"] == "Commercial"
        )
        loc_pos = self.customer_location[c_pos]
        loc = self.stores["locations"].record(loc_pos)
        return customer, LocationRef(loc_pos, loc["id"], loc["name"], loc["address"])

    def _change_customer_balance(self, c_pos: int, delta: Decimal, at: int) -> None:
        """Accounting changes bump the customer too (ServiceTitan counts them as modifications)."""
        if delta == 0:
            return
        customers = self.stores["customers"]
        record = customers.record(c_pos)
        balance = Decimal(str(record["balance"])) + delta
        record["balance"] = float(balance)
        if record["creditLimit"] is not None:
            record["creditLimitBalance"] = float(Decimal(str(record["creditLimit"])) - balance)
        record["modifiedOn"] = iso(at)
        customers.update(c_pos, record, at)

    def _ev_new_customer(self, at: int) -> bool:
        c_pos = self._new_customer(at, [], history=False)
        customer, loc = self._customer_context(c_pos)
        self._new_job(customer, loc, at, history=False)
        return True

    def _ev_new_job(self, at: int) -> bool:
        c_pos = self._random_customer()
        if c_pos is None:
            return False
        customer, loc = self._customer_context(c_pos)
        self._new_job(customer, loc, at, history=False)
        return True

    def _ev_progress_job(self, at: int) -> bool:
        if not self.open_jobs:
            return False
        rng = self.rng
        job_pos = self.open_job_set.choice(rng)
        inv_pos, appt_positions = self.open_jobs[job_pos]
        jobs = self.stores["jobs"]
        job = jobs.record(job_pos)
        roll = rng.random()
        status = job["jobStatus"]
        if roll < 0.6:
            new_status = "Completed"
        elif roll < 0.7:
            new_status = "Canceled"
        elif roll < 0.8 and status != "Hold":
            new_status = "Hold"
        else:
            new_status = {
                "Scheduled": "Dispatched",
                "Dispatched": "InProgress",
                "InProgress": "Completed",
                "Hold": "Scheduled",
            }[status]
        job["jobStatus"] = new_status
        job["modifiedOn"] = iso(at)
        appointments = self.stores["appointments"]
        for appt_pos in appt_positions:
            appt = appointments.record(appt_pos)
            appt["status"] = APPOINTMENT_STATUS[new_status]
            appt["modifiedOn"] = iso(at)
            appointments.update(appt_pos, appt, at)
        invoices = self.stores["invoices"]
        invoice = invoices.record(inv_pos)
        c_pos = self.stores["customers"].position(job["customerId"])
        if new_status == "Completed":
            tech_id, tech_name, _ = rng.choice(self.catalog.active_technicians)
            job["completedOn"] = iso(at)
            job["soldById"] = tech_id
            trade = next(jt.trade for jt in self.catalog.job_types if jt.id == job["jobTypeId"])
            bu_id = job["businessUnitId"]
            bu_name = next(bu.name for bu in self.catalog.business_units if bu.id == bu_id)
            items, sub_total, sales_tax = self._invoice_items(
                trade, bu_id, bu_name, tech_id, at, at, rng.random() < 0.2
            )
            total = sub_total + sales_tax
            job["total"] = float(sub_total)
            item_store = self.stores["invoice_items"]
            invoices.child_start[inv_pos] = len(item_store)
            invoices.child_count[inv_pos] = len(items)
            for item in items:
                item_store.add(item.id, pack(item.record), at, at, True, parent=invoice["id"])
            invoice.update(
                subTotal=money(sub_total),
                salesTax=money(sales_tax),
                total=money(total),
                balance=money(total),
                invoiceDate=iso_date(at),
                dueDate=iso_date(at + (30 if invoice["termName"] == "Net 30" else 0) * MS_PER_DAY),
                sentStatus="Sent",
                reviewStatus="Reviewed",
                employeeInfo={"id": tech_id, "name": tech_name, "modifiedOn": iso(at)},
                modifiedOn=iso(at),
            )
            invoices.update(inv_pos, invoice, at)
            if total > 0:
                self.unpaid[inv_pos] = c_pos
                self.unpaid_set.add(inv_pos)
            self._change_customer_balance(c_pos, total, at)
        elif new_status == "Canceled":
            invoice["active"] = False
            self._voided += 1
            invoice["modifiedOn"] = iso(at)
            invoices.update(inv_pos, invoice, at)
        jobs.update(job_pos, job, at)
        if new_status not in OPEN_STATUSES:
            del self.open_jobs[job_pos]
            self.open_job_set.discard(job_pos)
        return True

    def _ev_payment(self, at: int) -> bool:
        if not self.unpaid:
            return False
        rng = self.rng
        inv_pos = self.unpaid_set.choice(rng)
        c_pos = self.unpaid[inv_pos]
        invoices = self.stores["invoices"]
        invoice = invoices.record(inv_pos)
        balance = Decimal(invoice["balance"])
        amount = balance if rng.random() < 0.85 else (balance / 2).quantize(CENT, ROUND_HALF_UP)
        customer, _loc = self._customer_context(c_pos)
        payment = self._payment_record(
            customer,
            invoice["id"],
            invoice["referenceNumber"],
            invoice["businessUnit"]["id"],
            invoice["businessUnit"]["name"],
            amount,
            at,
        )
        self._add_payment(payment)
        balance -= amount
        invoice["balance"] = money(balance)
        invoice["modifiedOn"] = iso(at)
        if balance == 0:
            invoice["paidOn"] = iso(at)
            invoice["reviewStatus"] = "Invoiced"
            del self.unpaid[inv_pos]
            self.unpaid_set.discard(inv_pos)
        invoices.update(inv_pos, invoice, at)
        self._change_customer_balance(c_pos, -amount, at)
        return True

    def _ev_edit_customer(self, at: int) -> bool:
        c_pos = self._random_customer()
        if c_pos is None:
            return False
        rng = self.rng
        customers = self.stores["customers"]
        record = customers.record(c_pos)
        roll = rng.random()
        if roll < 0.4:
            record["doNotMail"] = not record["doNotMail"]
        elif roll < 0.7:
            record["address"] = dict(record["address"], unit=f"Unit {rng.randint(1, 30)}")
        elif roll < 0.85:
            record["tagTypeIds"] = sorted(set(record["tagTypeIds"]) | {8002})
        else:
            # Office staff fix a name: the new one has the same awkward characters.
            record["name"] = (
                record["name"] + " Jr."
                if record["type"] == "Residential"
                else record["name"] + " (Main Office)"
            )
        record["modifiedOn"] = iso(at)
        customers.update(c_pos, record, at)
        return True

    def _ev_deactivate_customer(self, at: int) -> bool:
        c_pos = self._random_customer()
        if c_pos is None:
            return False
        customers = self.stores["customers"]
        record = customers.record(c_pos)
        record["active"] = False
        record["doNotService"] = self.rng.random() < 0.5
        record["modifiedOn"] = iso(at)
        customers.update(c_pos, record, at)
        return True

    def _ev_merge_customer(self, at: int) -> bool:
        """A duplicate customer is merged into another: inactive, with ``mergedToId``."""
        source = self._random_customer()
        target = self._random_customer()
        if source is None or target is None or source == target:
            return False
        customers = self.stores["customers"]
        record = customers.record(source)
        record["active"] = False
        record["mergedToId"] = customers.ids[target]
        record["modifiedOn"] = iso(at)
        customers.update(source, record, at)
        return True

    def _ev_adjustment(self, at: int) -> bool:
        invoices = self.stores["invoices"]
        rng = self.rng
        for _ in range(20):
            pos = int(rng.random() * len(invoices))
            invoice = invoices.record(pos)
            if (
                invoice["adjustmentToId"] is None
                and invoice["active"]
                and invoice["total"] not in (None, "0.00")
            ):
                break
        else:
            return False
        c_pos = self.stores["customers"].position(invoice["customer"]["id"])
        customer, _ = self._customer_context(c_pos)
        loc = LocationRef(
            0,
            invoice["location"]["id"],
            invoice["location"]["name"],
            dict(invoice["locationAddress"], latitude=None, longitude=None),
        )
        tech_id, tech_name, _ = rng.choice(self.catalog.active_technicians)
        billed = InvoiceContext(
            customer,
            loc,
            invoice["businessUnit"]["id"],
            invoice["businessUnit"]["name"],
            invoice["job"]["id"],
            invoice["job"]["type"],
            tech_id,
            tech_name,
        )
        self._adjustment_invoice(billed, invoice["id"], at)
        return True

    def _ev_edit_technician(self, at: int) -> bool:
        store = self.stores["technicians"]
        pos = int(self.rng.random() * len(store))
        record = store.record(pos)
        record["status"] = self.rng.choice(("Idle", "Dispatched", "Working", "Meal"))
        record["modifiedOn"] = iso(at)
        store.update(pos, record, at)
        return True

    def _ev_edit_reference(self, entity: str, at: int) -> bool:
        store = self.stores[entity]
        pos = int(self.rng.random() * len(store))
        record = store.record(pos)
        if entity == "campaigns":
            record["otherMedium"] = None if record["otherMedium"] else "Updated by marketing"
        else:
            record["summary"] = record["summary"].rstrip(".") + "."
            record["soldThreshold"] = float(self.rng.choice((250, 500, 750)))
        record["modifiedOn"] = iso(at)
        store.update(pos, record, at)
        return True
