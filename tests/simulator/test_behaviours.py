"""The KPI entities' behaviours: records valid against the spec and consistent with the world.

A small tenant's hand-written world is generated, then the behaviours of
``simulator.generated.behaviours.BEHAVIOURS`` build their entities on it through
:class:`FakeContext` (the generation contract's context over the world's stores and an
in-memory store of the generated records, in dependency order as the contract says). The tests
assert the invariants the KPIs rely on: money adding up to the cent, splits to 100, times in
order and inside their visit, references to real records, membership status chains, unique
keys; and that advancing the clock moves them (estimates sold, memberships expired with their
status change, new calls, canceled jobs logged).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from test_schema import violations

from servicetitan_pipeline import openapi
from servicetitan_pipeline.entities import ENTITIES_BY_NAME
from servicetitan_pipeline.simulator.config import SimulatorConfig
from servicetitan_pipeline.simulator.generated import behaviours
from servicetitan_pipeline.simulator.generated.behaviours import BEHAVIOURS
from servicetitan_pipeline.simulator.generated.contract import DEFAULT, HAND_WRITTEN, Record
from servicetitan_pipeline.simulator.timefmt import MS_PER_DAY, MS_PER_HOUR, iso
from servicetitan_pipeline.simulator.world import World
from servicetitan_pipeline.simulator.world.base import FastRandom

CENT = Decimal("0.01")
# The generated entities the behaviours read besides their own (built with DEFAULT).
SUPPORT = ("employees", "job_cancel_reasons", "membership_types")
# Generation order: parents and referenced entities first.
ORDER = (
    *SUPPORT,
    "estimates",
    "calls",
    "leads",
    "bookings",
    "memberships",
    "membership_status_changes",
    "job_splits",
    "appointment_assignments",
    "job_timesheets",
    "technician_ratings",
    "job_canceled_logs",
    "job_history",
    "campaign_costs",
    "payroll_settings",
)


def ms(text: str) -> int:
    return behaviours.ms(text)


def dec(value: float | int | str) -> Decimal:
    return Decimal(str(value))


# ---------------------------------------------------------------------------------------------
# A generation context over a real hand-written world
# ---------------------------------------------------------------------------------------------


def _synth_value(module: str, schema: dict[str, Any], now: str) -> Any:
    """A plain valid value of ``schema`` (nullable: null; enums: their first value)."""
    if schema.get("nullable"):
        return None
    spec = openapi.module(module)
    resolved = spec.resolve(schema)
    if len(resolved.get("allOf", ())) == 1:
        resolved = spec.resolve(resolved["allOf"][0])
    if "enum" in resolved:
        return resolved["enum"][0]
    kind = resolved.get("type")
    if kind == "object" or "properties" in resolved:
        return {
            name: _synth_value(module, sub, now)
            for name, sub in resolved.get("properties", {}).items()
        }
    if kind == "array":
        return []
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    if resolved.get("format") == "date-time":
        return now
    return "x"


class Tenant:
    """A small world and the records the behaviours generated on it."""

    def __init__(self, customers: int = 150, seed: int = 7) -> None:
        self.world = World(SimulatorConfig(customers=customers, seed=seed))
        self.generated: dict[str, dict[tuple[Any, ...], Record]] = defaultdict(dict)
        self.next_ids: dict[str, int] = {}
        self.duplicates: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        # (entity, field) -> field value -> records: what children() answers from.
        self._indexes: dict[tuple[str, str], dict[Any, list[Record]]] = {}
        self._by_id: dict[str, dict[int, Record]] = {}
        self._rngs: dict[str, FastRandom] = {}

    # ---- reading ----

    def records(self, entity: str) -> list[Record]:
        if entity in HAND_WRITTEN:
            store = self.world.stores[entity]
            return [store.record(pos) for pos in range(len(store))]
        return list(self.generated[entity].values())

    def by_id(self, entity: str) -> dict[int, Record]:
        """The entity's records by id (cached until the entity changes)."""
        if entity not in self._by_id:
            self._by_id[entity] = {r["id"]: r for r in self.records(entity)}
        return self._by_id[entity]

    def store(self, entity: str, record: Record, new: bool = False) -> None:
        """Store a record; ``new``: it must not replace one (generated, not a change)."""
        key = tuple(record[field] for field in ENTITIES_BY_NAME[entity].key)
        if new and key in self.generated[entity]:
            self.duplicates[entity].append(key)
        self.generated[entity][key] = record
        self.forget(entity)

    def forget(self, entity: str | None = None) -> None:
        """Drop the children indexes of ``entity`` (all: None) after it changed."""
        for index_key in [k for k in self._indexes if entity is None or k[0] == entity]:
            del self._indexes[index_key]
        for name in [e for e in self._by_id if entity is None or e == entity]:
            del self._by_id[name]

    def children(self, entity: str, field: str, parent_id: int) -> list[Record]:
        index = self._indexes.get((entity, field))
        if index is None:
            index = grouped((r for r in self.records(entity) if field in r), field)
            self._indexes[(entity, field)] = index
        return [dict(r) for r in index.get(parent_id, ())]

    def rng(self, entity: str) -> FastRandom:
        if entity not in self._rngs:
            self._rngs[entity] = FastRandom(f"{self.world.config.seed}:{entity}")
        return self._rngs[entity]

    def context(self, entity: str) -> FakeContext:
        return FakeContext(self, entity)

    # ---- generation ----

    def generate(self) -> None:
        for entity in ORDER:
            self.generate_entity(entity)

    def parents(self, entity: str) -> list[Record | None]:
        volume = ENTITIES_BY_NAME[entity].volume
        if volume.per is None:
            return [None] * volume.count
        return list(self.records(volume.per))

    def generate_for(self, entity: str, parents: Iterable[Record | None]) -> None:
        behaviour = BEHAVIOURS.get(entity, DEFAULT)
        volume = ENTITIES_BY_NAME[entity].volume
        ctx = self.context(entity)
        for parent in parents:
            if parent is None:
                calls = 1
            elif behaviour.calls_per_parent is not None:
                calls = behaviour.calls_per_parent
            else:
                calls = _poisson(ctx.rng, volume.rate)
            for index in range(calls):
                ctx.call_index = index
                for record in behaviour.generate(ctx, parent):
                    self.store(entity, record, new=True)

    def generate_entity(self, entity: str) -> None:
        self.generate_for(entity, self.parents(entity))

    # ---- advance ----

    def advance(self, hours: float) -> None:
        """Advance the world, then the generated entities as the contract says: generate for
        new parents, ``on_parent_change`` for changed ones, ``change`` for a sample."""
        stores = self.world.stores
        before_len = {name: len(stores[name]) for name in HAND_WRITTEN}
        before_seq = self.world.tenant.last_seq
        generated_before = {name: dict(records) for name, records in self.generated.items()}
        self.world.advance(hours)
        self.forget()
        now = self.world.now_ms
        days = hours / 24
        for entity in ORDER:
            behaviour = BEHAVIOURS.get(entity, DEFAULT)
            parent_entity = ENTITIES_BY_NAME[entity].volume.per
            ctx = self.context(entity)
            new: list[Record | None] = []
            changed: list[Record] = []
            if parent_entity in HAND_WRITTEN:
                store = stores[parent_entity]
                new = [store.record(p) for p in range(before_len[parent_entity], len(store))]
                changed = [
                    store.record(p)
                    for p in range(before_len[parent_entity])
                    if store.seq[p] > before_seq
                ]
            elif parent_entity is not None:
                old = generated_before.get(parent_entity, {})
                for key, record in self.generated[parent_entity].items():
                    if key not in old:
                        new.append(record)
                    elif old[key] != record:
                        changed.append(record)
            self.generate_for(entity, new)
            if behaviour.on_parent_change is not None:
                for parent in changed:
                    for record in behaviour.on_parent_change(ctx, dict(parent)):
                        self.store(entity, record)
            existing = list(generated_before.get(entity, {}).values())
            share = min(1.0, behaviour.change_rate_per_day * days)
            sample = [r for r in existing if ctx.rng.random() < share]
            if existing and not sample and hours >= 1 and behaviour.change_rate_per_day > 0:
                sample = [ctx.rng.choice(existing)]
            if behaviour.due_ms is not None:
                due = [
                    r
                    for r in self.records(entity)
                    if (at := behaviour.due_ms(r)) is not None and at <= now
                ]
                keys = {id(r) for r in due}
                sample = due + [r for r in sample if id(r) not in keys]
            for record in sample:
                changed = behaviour.change(ctx, dict(record))
                if changed is not None:
                    self.store(entity, changed)


def _poisson(rng: FastRandom, rate: float) -> int:
    limit, k, product = math.exp(-rate), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


class FakeContext:
    """The contract's :class:`GenerationContext` over a :class:`Tenant`."""

    def __init__(self, tenant: Tenant, entity: str) -> None:
        self.tenant = tenant
        self.entity = entity
        self.rng = tenant.rng(entity)
        self.now_ms = tenant.world.now_ms
        self.call_index = 0

    def iso(self, at: int) -> str:
        return iso(at)

    def new_id(self, entity: str | None = None) -> int:
        name = entity or self.entity
        base = 100_000_000 + 1_000_000 * sorted(ENTITIES_BY_NAME).index(name)
        self.tenant.next_ids[name] = self.tenant.next_ids.get(name, base) + 1
        return self.tenant.next_ids[name]

    def ids(self, entity: str) -> Sequence[int]:
        if entity in HAND_WRITTEN:
            return self.tenant.world.stores[entity].ids
        return [r["id"] for r in self.tenant.generated[entity].values() if "id" in r]

    def record(self, entity: str, record_id: int) -> Record:
        if entity in HAND_WRITTEN:
            store = self.tenant.world.stores[entity]
            return store.record(store.position(record_id))
        for record in self.tenant.generated[entity].values():
            if record.get("id") == record_id:
                return dict(record)
        raise KeyError(f"{entity}: no record with id {record_id}")

    def random_record(self, entity: str, active_only: bool = True) -> Record | None:
        ids = self.ids(entity)
        for _ in range(50):
            if not ids:
                return None
            record = self.record(entity, self.rng.choice(ids))
            if not active_only or record.get("active", True):
                return record
        return None

    def children(self, entity: str, field: str, parent_id: int) -> list[Record]:
        return self.tenant.children(entity, field, parent_id)

    def emit(self, entity: str, record: Record) -> None:
        self.tenant.store(entity, record)

    def synthesize(self, entity: str | None = None, parent: Record | None = None) -> Record:
        name = entity or self.entity
        spec = ENTITIES_BY_NAME[name]
        now = iso(self.now_ms)
        record = _synth_value(
            spec.module, {"$ref": f"#/components/schemas/{spec.record_schema}"}, now
        )
        if "id" in record:
            record["id"] = self.new_id(name)
        for reference in spec.references:
            field, _, sub = reference.field.partition(".")
            if field not in record:
                continue
            target = None
            if parent is not None and parent.get(field) is not None:
                target = parent[field]
            elif parent is not None and reference.entity == spec.volume.per:
                target = parent["id"]
            else:
                picked = self.random_record(reference.entity)
                target = picked["id"] if picked is not None else None
            if sub and target is not None:
                record[field] = {"id": target, "name": "x"}
            elif not sub:
                record[field] = target if target is not None else record[field]
        return record


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    built = Tenant()
    built.generate()
    return built


# ---------------------------------------------------------------------------------------------
# Every record is valid against the spec
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entity", sorted(BEHAVIOURS))
def test_records_validate_against_the_spec(tenant: Tenant, entity: str) -> None:
    spec = ENTITIES_BY_NAME[entity]
    records = tenant.records(entity)
    assert records, f"{entity}: nothing generated"
    problems = [
        problem
        for record in records
        for problem in violations(spec.module, spec.record_schema, record, f"{entity} {record}")
    ]
    assert problems == [], problems[:5]


@pytest.mark.parametrize("entity", sorted(BEHAVIOURS))
def test_keys_are_unique(tenant: Tenant, entity: str) -> None:
    """No generated record replaced another of the same key (ids, (jobId, technicianId) of
    ratings, employeeId of payroll settings, jobId of job history)."""
    assert tenant.records(entity)
    assert tenant.duplicates[entity] == []


# ---------------------------------------------------------------------------------------------
# Helpers over the world
# ---------------------------------------------------------------------------------------------


def grouped(records: Iterable[Record], field: str) -> dict[Any, list[Record]]:
    out: dict[Any, list[Record]] = defaultdict(list)
    for record in records:
        out[record[field]].append(record)
    return out


def job_technician_id(tenant: Tenant, job: Record) -> int:
    """Who the world credits the job to: its invoice's employee."""
    invoice = tenant.by_id("invoices")[job["invoiceId"]]
    return int(invoice["employeeInfo"]["id"])


def active_technician_ids(tenant: Tenant) -> set[int]:
    return {t["id"] for t in tenant.records("technicians") if t["active"]}


def money_sum(values: Iterable[float]) -> Decimal:
    return sum((dec(v) for v in values), Decimal(0))


def cents(value: float) -> bool:
    return dec(value) == dec(value).quantize(CENT)


# ---------------------------------------------------------------------------------------------
# Estimates
# ---------------------------------------------------------------------------------------------


def test_estimate_items_add_up_to_the_subtotal_to_the_cent(tenant: Tenant) -> None:
    estimates = tenant.records("estimates")
    for estimate in estimates:
        items = estimate["items"]
        assert items, estimate["id"]
        assert money_sum(i["total"] for i in items) == dec(estimate["subtotal"]), estimate["id"]
        for item in items:
            expected = (dec(item["qty"]) * dec(item["unitRate"])).quantize(CENT, ROUND_HALF_UP)
            assert dec(item["total"]) == expected, item
            assert all(cents(item[f]) for f in ("unitRate", "total", "unitCost", "totalCost"))
            assert item["sku"]["id"] in {s[0] for s in behaviours.pools.SKUS}
        assert cents(estimate["subtotal"]) and cents(estimate["tax"])
        assert Decimal(0) <= dec(estimate["tax"]) < dec(estimate["subtotal"]) * Decimal("0.1")


def test_estimates_belong_to_their_job(tenant: Tenant) -> None:
    jobs = tenant.by_id("jobs")
    business_units = tenant.by_id("business_units")
    for estimate in tenant.records("estimates"):
        job = jobs[estimate["jobId"]]
        for field in ("customerId", "locationId", "businessUnitId"):
            assert estimate[field] == job[field], (field, estimate["id"])
        assert estimate["businessUnitName"] == business_units[job["businessUnitId"]]["name"]
        assert ms(estimate["createdOn"]) >= ms(job["createdOn"])
        assert ms(estimate["createdOn"]) <= tenant.world.now_ms


def test_sold_estimates_are_sold_after_creation_by_the_jobs_technician(tenant: Tenant) -> None:
    sold = [e for e in tenant.records("estimates") if e["status"]["name"] == "Sold"]
    assert sold
    jobs = tenant.by_id("jobs")
    for estimate in sold:
        assert estimate["status"]["value"] == 1
        assert ms(estimate["soldOn"]) >= ms(estimate["createdOn"])
        assert estimate["soldBy"] == job_technician_id(tenant, jobs[estimate["jobId"]])
    for estimate in tenant.records("estimates"):
        if estimate["status"]["name"] != "Sold":
            assert estimate["soldOn"] is None and estimate["soldBy"] is None
    per_job = Counter(e["jobId"] for e in sold)
    assert max(per_job.values()) == 1, "a customer buys one option of a job's estimates"


def test_estimate_close_rate_is_realistic(tenant: Tenant) -> None:
    """About half of the decided estimates are sold (ServiceTitan: 40-60 %)."""
    statuses = Counter(e["status"]["name"] for e in tenant.records("estimates"))
    assert statuses["Sold"] and statuses["Dismissed"]
    close_rate = statuses["Sold"] / (statuses["Sold"] + statuses["Dismissed"])
    assert 0.38 <= close_rate <= 0.62, statuses
    jobs = tenant.by_id("jobs")
    for estimate in tenant.records("estimates"):
        status = jobs[estimate["jobId"]]["jobStatus"]
        if status == "Canceled":
            assert estimate["status"]["name"] == "Dismissed"
        elif status != "Completed":
            assert estimate["status"]["name"] == "Open", "decided after the visit is done"


# ---------------------------------------------------------------------------------------------
# Calls
# ---------------------------------------------------------------------------------------------


def test_calls_have_realistic_durations_and_directions(tenant: Tenant) -> None:
    calls = tenant.records("calls")
    for call in calls:
        h, m, s = (int(part) for part in call["duration"].split(":"))
        assert 30 <= h * 3600 + m * 60 + s <= 15 * 60, call["duration"]
        assert ms(call["createdOn"]) <= ms(call["modifiedOn"]) <= tenant.world.now_ms
    directions = Counter(c["direction"] for c in calls)
    assert directions["Inbound"] > directions["Outbound"] > 0
    types = Counter(c["type"] for c in calls if c["direction"] == "Inbound")
    assert {"Booked", "Unbooked", "NotLead", "Abandoned", "Excused"} <= set(types)
    booking_rate = types["Booked"] / (types["Booked"] + types["Unbooked"])
    assert 0.5 <= booking_rate <= 0.9, types


def test_calls_name_their_customer(tenant: Tenant) -> None:
    customers = tenant.by_id("customers")
    for call in tenant.records("calls"):
        assert call["customer"]["name"] == customers[call["customer"]["id"]]["name"]


def test_booked_calls_link_a_job_of_their_customer_and_its_campaign(tenant: Tenant) -> None:
    jobs = tenant.by_id("jobs")
    campaigns = tenant.by_id("campaigns")
    customers = tenant.by_id("customers")
    locations = tenant.by_id("locations")
    booked = 0
    for call in tenant.records("calls"):
        customer = customers[call["customer"]["id"]]
        if call["location"] is not None:
            assert locations[call["location"]["id"]]["customerId"] == customer["id"]
        if call["campaign"] is not None:
            assert campaigns[call["campaign"]["id"]]["name"] == call["campaign"]["name"]
        if call["type"] == "Booked":
            booked += 1
            job = jobs[call["job"]["id"]]
            assert job["customerId"] == customer["id"]
            assert call["campaign"]["id"] == job["campaignId"]
            assert ms(call["modifiedOn"]) <= ms(job["createdOn"])
        else:
            assert call["job"] is None
    assert booked
    booked_jobs = Counter(c["job"]["id"] for c in tenant.records("calls") if c["job"])
    assert max(booked_jobs.values()) == 1


# ---------------------------------------------------------------------------------------------
# Memberships and their status changes
# ---------------------------------------------------------------------------------------------


def check_membership_dates(membership: Record, now: int) -> None:
    """A membership's status agrees with its dates."""
    start, end = ms(membership["from"]), ms(membership["to"])
    assert end - start == 365 * MS_PER_DAY
    status = membership["status"]
    if status == "Active" or status == "Suspended":
        assert start <= now < end, membership
    elif status == "Expired":
        assert end <= now, membership
    elif status == "Canceled":
        canceled = ms(membership["cancellationDate"])
        assert start <= canceled <= now and canceled < end, membership
    if status != "Canceled":
        assert membership["cancellationDate"] is None


def check_status_chains(memberships: list[Record], changes: list[Record]) -> None:
    """Each membership's status changes, in time order, start from Active, chain old to new
    and end at the membership's status."""
    by_membership = grouped(changes, "membershipId")
    ids = {m["id"] for m in memberships}
    assert set(by_membership) <= ids
    for membership in memberships:
        chain = sorted(by_membership.get(membership["id"], []), key=lambda c: ms(c["createdOn"]))
        if not chain:
            assert membership["status"] == "Active", membership
            continue
        assert chain[0]["oldStatus"] == "Active"
        for earlier, later in itertools.pairwise(chain):
            assert earlier["newStatus"] == later["oldStatus"], chain
        assert chain[-1]["newStatus"] == membership["status"], (membership, chain)
        assert all(ms(c["createdOn"]) >= ms(membership["from"]) for c in chain)


def test_membership_statuses_agree_with_their_dates(tenant: Tenant) -> None:
    memberships = tenant.records("memberships")
    assert {"Active", "Expired", "Canceled"} <= {m["status"] for m in memberships}
    for membership in memberships:
        check_membership_dates(membership, tenant.world.now_ms)


def test_membership_status_changes_chain(tenant: Tenant) -> None:
    changes = tenant.records("membership_status_changes")
    assert changes
    check_status_chains(tenant.records("memberships"), changes)


def test_renewals_follow_the_term_they_renew(tenant: Tenant) -> None:
    memberships = tenant.by_id("memberships")
    renewed = [m for m in memberships.values() if m["renewedById"] is not None]
    assert renewed
    for old in renewed:
        assert old["status"] == "Expired" and old["followUpStatus"] == "Won"
        new = memberships[old["renewedById"]]
        assert new["from"] == old["to"]
        for field in ("customerId", "locationId", "membershipTypeId", "businessUnitId"):
            assert new[field] == old[field]


def test_memberships_are_the_customers(tenant: Tenant) -> None:
    customers = tenant.by_id("customers")
    locations = tenant.by_id("locations")
    types = tenant.by_id("membership_types")
    for membership in tenant.records("memberships"):
        assert membership["customerId"] in customers
        assert locations[membership["locationId"]]["customerId"] == membership["customerId"]
        assert membership["membershipTypeId"] in types
        assert ms(membership["from"]) >= ms(customers[membership["customerId"]]["createdOn"])


# ---------------------------------------------------------------------------------------------
# Job splits, assignments, timesheets, ratings
# ---------------------------------------------------------------------------------------------


def active_by(tenant: Tenant, entity: str, field: str) -> dict[Any, list[Record]]:
    return grouped((r for r in tenant.records(entity) if r["active"]), field)


def test_job_splits_sum_to_100_per_job(tenant: Tenant) -> None:
    splits = active_by(tenant, "job_splits", "jobId")
    jobs = tenant.by_id("jobs")
    assert set(splits) == set(jobs), "every job's revenue is credited"
    active = active_technician_ids(tenant)
    sizes = Counter()
    for job_id, records in splits.items():
        assert sum((dec(r["split"]) for r in records), Decimal(0)) == 100, records
        technicians = [r["technicianId"] for r in records]
        assert len(set(technicians)) == len(technicians)
        assert set(technicians) <= active
        assert job_technician_id(tenant, jobs[job_id]) in technicians
        sizes[len(records)] += 1
    assert set(sizes) == {1, 2, 3}


def test_assignments_are_the_jobs_crew_before_the_start(tenant: Tenant) -> None:
    appointments = tenant.by_id("appointments")
    assignments = grouped(tenant.records("appointment_assignments"), "appointmentId")
    splits = active_by(tenant, "job_splits", "jobId")
    technicians = tenant.by_id("technicians")
    assert set(assignments) == set(appointments)
    inactive = 0
    for appointment_id, records in assignments.items():
        appointment = appointments[appointment_id]
        active = [r for r in records if r["active"]]
        inactive += len(records) - len(active)
        for record in records:
            assert record["jobId"] == appointment["jobId"]
            assert ms(record["assignedOn"]) <= ms(appointment["start"])
            assert ms(record["createdOn"]) <= tenant.world.now_ms
            assert technicians[record["technicianId"]]["name"] == record["technicianName"]
        if appointment["status"] == "Canceled":
            assert active == []
            continue
        crew = {s["technicianId"] for s in splits[appointment["jobId"]]}
        assert {r["technicianId"] for r in active} == crew
        assert all(technicians[r["technicianId"]]["active"] for r in active)
        paused = appointment["status"] == "Hold"
        assert all(r["isPaused"] == paused for r in active)
    assert inactive > 0, "some assignments were unassigned"


def test_timesheets_are_ordered_inside_their_appointment(tenant: Tenant) -> None:
    appointments = tenant.by_id("appointments")
    assigned = active_by(tenant, "appointment_assignments", "appointmentId")
    timesheets = tenant.records("job_timesheets")
    assert timesheets
    done = 0
    for sheet in timesheets:
        appointment = appointments[sheet["appointmentId"]]
        assert sheet["jobId"] == appointment["jobId"]
        if not sheet["active"]:
            continue  # the technician was taken off the job: the sheet is retired
        assert sheet["technicianId"] in {a["technicianId"] for a in assigned[appointment["id"]]}
        lo = min(ms(appointment["start"]), ms(appointment["arrivalWindowStart"]))
        hi = max(ms(appointment["end"]), ms(appointment["arrivalWindowEnd"]))
        times = [ms(sheet[f]) for f in ("dispatchedOn", "arrivedOn", "doneOn") if sheet[f]]
        assert times == sorted(times), sheet
        assert all(lo <= t <= hi for t in times), (sheet, appointment)
        status = appointment["status"]
        assert status not in ("Scheduled", "Canceled")
        assert (sheet["doneOn"] is not None) == (status == "Done")
        assert (sheet["arrivedOn"] is not None) == (status in ("Done", "Working", "Hold"))
        done += status == "Done"
    assert done


def test_ratings_rate_the_technicians_of_completed_jobs(tenant: Tenant) -> None:
    jobs = tenant.by_id("jobs")
    splits = active_by(tenant, "job_splits", "jobId")
    ratings = tenant.records("technician_ratings")
    assert ratings
    pairs = Counter((r["jobId"], r["technicianId"]) for r in ratings)
    assert max(pairs.values()) == 1
    for rating in ratings:
        job = jobs[rating["jobId"]]
        assert job["jobStatus"] == "Completed"
        assert rating["technicianId"] in {s["technicianId"] for s in splits[job["id"]]}
        assert 0 <= rating["rating"] <= 10
        assert ms(rating["createdOn"]) >= ms(job["completedOn"])
    rated_jobs = {r["jobId"] for r in ratings}
    assert all(
        (job["id"], job_technician_id(tenant, job)) in pairs for job in map(jobs.get, rated_jobs)
    )
    average = sum(r["rating"] for r in ratings) / len(ratings)
    assert average >= 8.0, "ratings skew high"


# ---------------------------------------------------------------------------------------------
# Canceled logs, job history
# ---------------------------------------------------------------------------------------------


def test_cancel_logs_are_for_canceled_jobs_with_a_real_reason(tenant: Tenant) -> None:
    jobs = tenant.by_id("jobs")
    reasons = tenant.by_id("job_cancel_reasons")
    logs = grouped(tenant.records("job_canceled_logs"), "jobId")
    canceled = {j["id"] for j in jobs.values() if j["jobStatus"] == "Canceled"}
    assert canceled and set(logs) == canceled
    for job_id, records in logs.items():
        assert len(records) == 1
        assert records[0]["reasonId"] in reasons
        assert records[0]["createdOn"] == jobs[job_id]["modifiedOn"]
    assert {r["name"] for r in reasons.values()} <= set(behaviours.CANCEL_REASONS)


def test_job_history_is_one_per_job_consistent_with_the_job(tenant: Tenant) -> None:
    jobs = tenant.by_id("jobs")
    histories = {h["jobId"]: h["history"] for h in tenant.records("job_history")}
    assert set(histories) == set(jobs)
    entry_ids = [e["id"] for entries in histories.values() for e in entries]
    assert len(entry_ids) == len(set(entry_ids))
    now = tenant.world.now_ms
    for job_id, entries in histories.items():
        job = jobs[job_id]
        dates = [ms(e["date"]) for e in entries]
        assert dates == sorted(dates)
        assert entries[0]["eventType"] == "Job Booked" and entries[0]["date"] == job["createdOn"]
        assert all(ms(job["createdOn"]) <= d <= now for d in dates)
        events = {e["eventType"]: e for e in entries}
        status = job["jobStatus"]
        if status == "Completed":
            assert events["Job Completed"]["date"] == job["completedOn"]
        assert ("Job Canceled" in events) == (status == "Canceled")
        assert ("Job Completed" in events) == (status == "Completed")


# ---------------------------------------------------------------------------------------------
# Campaign costs, payroll settings, leads and bookings
# ---------------------------------------------------------------------------------------------


def test_campaign_costs_cover_the_last_36_months(tenant: Tenant) -> None:
    costs = grouped(tenant.records("campaign_costs"), "campaignId")
    campaigns = tenant.by_id("campaigns")
    assert set(costs) == set(campaigns)
    now = iso(tenant.world.now_ms)
    this_month = int(now[:4]) * 12 + int(now[5:7]) - 1
    for campaign_id, records in costs.items():
        months = sorted(r["year"] * 12 + r["month"] - 1 for r in records)
        assert months == list(range(this_month - 35, this_month + 1)), campaign_id
        assert all(1 <= r["month"] <= 12 for r in records)
        assert all(0 <= r["dailyCost"] < 1000 and cents(r["dailyCost"]) for r in records)
    google = next(c for c in campaigns.values() if c["medium"] == "PPC")
    assert min(r["dailyCost"] for r in costs[google["id"]]) > 0


def test_payroll_settings_one_per_employee(tenant: Tenant) -> None:
    employees = tenant.by_id("employees")
    settings = tenant.records("payroll_settings")
    assert sorted(s["employeeId"] for s in settings) == sorted(employees)
    for record in settings:
        employee = employees[record["employeeId"]]
        assert record["active"] == employee["active"]
        assert 12 <= record["hourlyRate"] <= 90 and cents(record["hourlyRate"])


def test_bookings_convert_to_real_jobs_or_are_dismissed(tenant: Tenant) -> None:
    jobs = tenant.by_id("jobs")
    bookings = tenant.records("bookings")
    statuses = Counter(b["status"] for b in bookings)
    assert statuses["Converted"] and statuses["Dismissed"]
    for booking in bookings:
        if booking["status"] == "Converted":
            job = jobs[booking["jobId"]]
            assert booking["campaignId"] == job["campaignId"]
            assert ms(booking["createdOn"]) < ms(job["createdOn"])
        else:
            assert booking["jobId"] is None
        assert (booking["dismissingReasonId"] is not None) == (booking["status"] == "Dismissed")


def test_leads_are_converted_dismissed_or_open(tenant: Tenant) -> None:
    customers = tenant.by_id("customers")
    leads = tenant.records("leads")
    assert {"Converted", "Dismissed"} <= {lead["status"] for lead in leads}
    for lead in leads:
        assert lead["leadCustomerName"] == customers[lead["customerId"]]["name"]
        assert (lead["dismissingReasonId"] is not None) == (lead["status"] == "Dismissed")
        assert (lead["followUpDate"] is not None) == (lead["status"] == "Open")


# ---------------------------------------------------------------------------------------------
# Advancing the clock
# ---------------------------------------------------------------------------------------------

ADVANCE_DAYS = 90


class Advanced:
    """A tenant before and after advancing the clock by :data:`ADVANCE_DAYS`."""

    def __init__(self) -> None:
        self.tenant = Tenant(customers=120, seed=11)
        self.tenant.generate()
        self.start_ms = self.tenant.world.now_ms
        self.before = {
            entity: {tuple(r[f] for f in ENTITIES_BY_NAME[entity].key): dict(r) for r in recs}
            for entity, recs in ((e, self.tenant.records(e)) for e in (*ORDER, "jobs"))
        }
        self.tenant.advance(ADVANCE_DAYS * 24)

    def was(self, entity: str, record_id: int) -> Record | None:
        return self.before[entity].get((record_id,))


@pytest.fixture(scope="module")
def advanced() -> Advanced:
    return Advanced()


def test_advance_sells_or_dismisses_open_estimates(advanced: Advanced) -> None:
    after = advanced.tenant.by_id("estimates")
    decided = Counter()
    for (estimate_id,), before in advanced.before["estimates"].items():
        if before["status"]["name"] != "Open":
            continue
        now = after[estimate_id]
        if now["status"]["name"] == "Open":
            continue
        decided[now["status"]["name"]] += 1
        assert ms(now["modifiedOn"]) > advanced.start_ms
        if now["status"]["name"] == "Sold":
            assert ms(now["soldOn"]) > advanced.start_ms
            assert now["soldBy"] in active_technician_ids(advanced.tenant)
    assert decided["Sold"] > 0 and decided["Dismissed"] > 0, decided


def test_advance_expires_memberships_with_a_status_change(advanced: Advanced) -> None:
    tenant = advanced.tenant
    memberships = tenant.records("memberships")
    expired = [
        m
        for m in memberships
        if m["status"] == "Expired"
        and (before := advanced.was("memberships", m["id"])) is not None
        and before["status"] == "Active"
    ]
    assert expired
    changes = grouped(tenant.records("membership_status_changes"), "membershipId")
    for membership in expired:
        last = max(changes[membership["id"]], key=lambda c: ms(c["createdOn"]))
        assert (last["oldStatus"], last["newStatus"]) == ("Active", "Expired")
        assert last["createdOn"] == membership["to"]
    for membership in memberships:
        check_membership_dates(membership, tenant.world.now_ms)
    check_status_chains(memberships, tenant.records("membership_status_changes"))


def test_advance_brings_new_calls(advanced: Advanced) -> None:
    new = [c for c in advanced.tenant.records("calls") if advanced.was("calls", c["id"]) is None]
    assert new
    assert all(ms(c["createdOn"]) > advanced.start_ms for c in new)
    customers = advanced.tenant.by_id("customers")
    assert all(c["customer"]["id"] in customers for c in new)


def test_advance_logs_jobs_canceled_during_it(advanced: Advanced) -> None:
    tenant = advanced.tenant
    logs = grouped(tenant.records("job_canceled_logs"), "jobId")
    newly_canceled = [
        job
        for job in tenant.records("jobs")
        if job["jobStatus"] == "Canceled"
        and (advanced.before["jobs"].get((job["id"],)) or {}).get("jobStatus") != "Canceled"
    ]
    assert newly_canceled
    for job in newly_canceled:
        assert [log["createdOn"] for log in logs[job["id"]]] == [job["modifiedOn"]]


def test_advance_completes_the_work_of_progressed_jobs(advanced: Advanced) -> None:
    """Jobs completed during the advance: history, splits, timesheets and assignments follow
    (and the technician who completed the job is credited)."""
    tenant = advanced.tenant
    completed = [
        job
        for job in tenant.records("jobs")
        if job["jobStatus"] == "Completed"
        and advanced.before["jobs"].get((job["id"],), {}).get("jobStatus") != "Completed"
    ]
    assert completed
    history = {h["jobId"]: h["history"] for h in tenant.records("job_history")}
    splits = active_by(tenant, "job_splits", "jobId")
    sheets = active_by(tenant, "job_timesheets", "jobId")
    for job in completed:
        events = {e["eventType"]: e["date"] for e in history[job["id"]]}
        assert events["Job Completed"] == job["completedOn"]
        assert sum((dec(s["split"]) for s in splits[job["id"]]), Decimal(0)) == 100
        assert job_technician_id(tenant, job) in {s["technicianId"] for s in splits[job["id"]]}
        assert any(sheet["doneOn"] for sheet in sheets[job["id"]])


@pytest.mark.parametrize(
    "check",
    [
        test_job_splits_sum_to_100_per_job,
        test_assignments_are_the_jobs_crew_before_the_start,
        test_timesheets_are_ordered_inside_their_appointment,
        test_ratings_rate_the_technicians_of_completed_jobs,
        test_cancel_logs_are_for_canceled_jobs_with_a_real_reason,
        test_job_history_is_one_per_job_consistent_with_the_job,
        test_estimate_items_add_up_to_the_subtotal_to_the_cent,
        test_booked_calls_link_a_job_of_their_customer_and_its_campaign,
        test_payroll_settings_one_per_employee,
    ],
    ids=lambda check: check.__name__.removeprefix("test_"),
)
def test_invariants_hold_after_advance(advanced: Advanced, check: Any) -> None:
    check(advanced.tenant)


@pytest.mark.parametrize("entity", sorted(BEHAVIOURS))
def test_records_stay_valid_after_advance(advanced: Advanced, entity: str) -> None:
    test_records_validate_against_the_spec(advanced.tenant, entity)


@pytest.fixture
def scratch() -> Tenant:
    """A tenant of one's own, for tests that change records directly."""
    built = Tenant(customers=150, seed=5)
    built.generate()
    return built


def test_a_membership_past_its_term_expires_and_often_renews(scratch: Tenant) -> None:
    active = [m for m in scratch.records("memberships") if m["status"] == "Active"]
    assert len(active) >= 15
    outcomes = Counter()
    for membership in active:
        assert behaviours.membership_due(membership) == ms(membership["to"])
        ctx = scratch.context("memberships")
        ctx.now_ms = ms(membership["to"]) + 3 * MS_PER_HOUR
        changed = behaviours.memberships_change(ctx, dict(membership))
        assert changed is not None
        scratch.store("memberships", changed)
        assert changed["status"] == "Expired" and changed["modifiedOn"] == iso(ctx.now_ms)
        assert behaviours.membership_due(changed) is None
        changes = scratch.children("membership_status_changes", "membershipId", membership["id"])
        last = max(changes, key=lambda c: ms(c["createdOn"]))
        assert (last["oldStatus"], last["newStatus"], last["createdOn"]) == (
            "Active",
            "Expired",
            membership["to"],
        )
        if changed["renewedById"] is None:
            outcomes["lapsed"] += 1
            assert changed["followUpStatus"] != "Won"
            continue
        outcomes["renewed"] += 1
        renewal = scratch.by_id("memberships")[changed["renewedById"]]
        assert renewal["status"] == "Active" and renewal["from"] == membership["to"]
        assert renewal["customerId"] == membership["customerId"]
    assert outcomes["renewed"] > outcomes["lapsed"] > 0, outcomes
    check_status_chains(
        scratch.records("memberships"), scratch.records("membership_status_changes")
    )


def test_an_open_estimate_is_dismissed_once_another_option_is_sold(scratch: Tenant) -> None:
    by_job = grouped(scratch.records("estimates"), "jobId")
    job_id, options = next((j, o) for j, o in by_job.items() if len(o) > 1)
    sold = {**options[0], "status": behaviours.estimate_status("Sold")}
    other = {
        **options[1],
        "status": behaviours.estimate_status("Open"),
        "soldOn": None,
        "soldBy": None,
    }
    scratch.store("estimates", sold)
    scratch.store("estimates", other)
    ctx = scratch.context("estimates")
    for _ in range(20):
        changed = behaviours.estimates_change(ctx, dict(other))
        assert changed is not None and changed["status"]["name"] == "Dismissed", job_id
        assert changed["soldOn"] is None
