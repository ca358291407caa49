"""Realistic behaviour of the generated entities that KPIs are computed from.

``BEHAVIOURS`` maps an entity name to its :class:`~.contract.Behaviour` (how its records are
generated and how they change when the clock moves); every other generated entity gets the
contract's ``DEFAULT``. Each behaviour starts from ``ctx.synthesize()`` (a schema-valid record,
every property present; or, for small schemas it fills entirely, a bare new id) and sets the
fields a KPI reads so that they agree with the hand-written world: the same job, customer,
location and business unit as the parent; real technicians, campaigns and job types; money
computed with ``Decimal`` so that items add up to their subtotal to the cent; times ordered
and inside the visit they describe.

The entities of one job (splits, appointment assignments, timesheets, ratings, history) are
generated independently and in no guaranteed order, yet must agree on who worked the job and
when. They agree by deriving those facts from the job itself: the job's technician is the one
its invoice credits (``employeeInfo``), its helpers and each visit's times come from a small
generator seeded by the record (:class:`Draws`), so every entity (and a later version of the
same record) derives the same crew and the same times.

Entities built as one set per parent (a job's splits, a campaign's 36 months) ask for one
``generate`` call per parent (``calls_per_parent=1``) and size the set themselves; those that
follow their parent's progress (a job completed: its history, rating, cancel log; an
appointment dispatched: its timesheets and assignments) recompute what the parent now implies
in ``on_parent_change``; memberships expire when their term ends (``due_ms``).
"""

# Names and labels use real typography (en dashes) on purpose: it is data.
# ruff: noqa: RUF001

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from ...entities import ENTITIES_BY_NAME
from .. import pools
from ..timefmt import MS_PER_DAY, MS_PER_HOUR, parse_client_datetime
from .contract import Behaviour, GenerationContext, Record, default_change

T = TypeVar("T")
MS_PER_MINUTE = 60_000
CENT = Decimal("0.01")
_MASK64 = (1 << 64) - 1


# ---------------------------------------------------------------------------------------------
# Draws shared by the behaviours
# ---------------------------------------------------------------------------------------------


class Uniform(Protocol):
    """Anything that draws uniform floats in [0, 1): ``ctx.rng`` or a :class:`Draws`."""

    def random(self) -> float: ...


class Draws:
    """A tiny deterministic generator (splitmix64) seeded by a record and a purpose.

    For facts several entities derive independently and must agree on (a job's crew, when a
    technician arrived), and that a later version of a record must keep: seeding by the record
    gives the same draws wherever and whenever they are made. Far cheaper to create than a
    ``random.Random`` (there is one per job and per visit).
    """

    __slots__ = ("_state",)

    def __init__(self, purpose: str, record: Record) -> None:
        # The record's creation time is part of the seed so that two tenants of different
        # seeds (same ids, different times) do not share their draws.
        salt = zlib.crc32(f"{purpose}:{record.get('createdOn')}".encode())
        self._state = ((salt << 32) ^ int(record.get("id") or 0)) & _MASK64

    def random(self) -> float:
        self._state = (self._state + 0x9E3779B97F4A7C15) & _MASK64
        z = self._state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        return ((z ^ (z >> 31)) >> 11) / 9007199254740992.0


def between(rng: Uniform, lo: int, hi: int) -> int:
    """An integer in ``[lo, hi]`` (``lo`` when the range is empty)."""
    return lo if hi <= lo else lo + int(rng.random() * (hi - lo + 1))


def pick(rng: Uniform, options: Sequence[T]) -> T:
    return options[int(rng.random() * len(options))]


def weighted(rng: Uniform, options: Sequence[T], weights: Sequence[float]) -> T:
    """One of ``options``, drawn with the given relative ``weights``."""
    target = rng.random() * sum(weights)
    for option, weight in zip(options, weights, strict=True):
        target -= weight
        if target < 0:
            return option
    return options[-1]


def ms(text: str) -> int:
    """Epoch milliseconds of a ServiceTitan timestamp (the simulator's own format is read by
    slicing: behaviours read several per record)."""
    return parse_client_datetime(text)


def as_number(value: Decimal) -> float:
    """Money as the spec's ``number``/``decimal`` fields carry it: a float with exactly the
    cents of the Decimal it was computed with (``str()`` of it gives those digits back)."""
    return float(value.quantize(CENT, ROUND_HALF_UP))


def hms(seconds: int) -> str:
    """A duration as ServiceTitan's TimeSpan string, ``hh:mm:ss``."""
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def stamped(ctx: GenerationContext, record: Record) -> Record:
    """``record`` marked as changed now (the contract's rule for changed records)."""
    if "modifiedOn" in record:
        record["modifiedOn"] = ctx.iso(ctx.now_ms)
    return record


def new_record(ctx: GenerationContext, entity: str | None = None) -> Record:
    """A new record holding only its fresh id, for behaviours that set every other field of
    their (small) schema themselves: far cheaper than synthesizing fields only to overwrite
    them, for entities with a record per job or appointment. The schema tests check that
    every property is there."""
    return {"id": ctx.new_id(entity)}


def volume_rate(entity: str) -> float:
    return ENTITIES_BY_NAME[entity].volume.rate


def unchanged(_ctx: GenerationContext, _record: Record) -> Record | None:
    """Records that never change once written (logs, status changes)."""
    return None


def nothing(_ctx: GenerationContext, _parent: Record | None) -> list[Record]:
    """An entity whose records another behaviour emits."""
    return []


def first_call(ctx: GenerationContext, parent: Record | None, field: str) -> bool:
    """Whether this generate() call is the one that builds ``parent``'s set of records (their
    ``field`` points to it): the first call for a parent that has none yet. The generator may
    call again for a parent (to top up a tiny tenant, or as time passes for immutable logs):
    the set is built once."""
    return (
        parent is not None
        and ctx.call_index == 0
        and not ctx.children(ctx.entity, field, parent["id"])
    )


def changed_later(ctx: GenerationContext, parent: Record) -> bool:
    """Whether the parent as stored is from after "now": during an advance the world has
    already applied all its changes when the generator creates a new job's records at the
    job's creation time. Records that describe such a parent's later state wait for the
    generator to tell of the change (``on_parent_change``, at its time)."""
    modified = parent.get("modifiedOn")
    return isinstance(modified, str) and ms(modified) > ctx.now_ms


def lookup(ctx: GenerationContext, entity: str, record_id: int | None) -> Record | None:
    """A stored record, or ``None`` when the id is missing or unknown."""
    if record_id is None:
        return None
    try:
        return ctx.record(entity, record_id)
    except LookupError:
        return None


# ---------------------------------------------------------------------------------------------
# Who worked a job, and when
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tech:
    """A technician as the job's entities name them."""

    id: int
    name: str


# An appointment's status -> (assignment status, paused). Held work is paused, not a status of
# its own in the dispatch API.
ASSIGNMENT_STATUS = MappingProxyType(
    {
        "Scheduled": ("Scheduled", False),
        "Dispatched": ("Dispatched", False),
        "Working": ("Working", False),
        "Hold": ("Working", True),
        "Done": ("Done", False),
        "Canceled": ("Scheduled", False),
    }
)
# Share of jobs with one, two or three technicians (1.3 on average: job_splits' volume).
CREW_SIZES = (1, 2, 3)
CREW_WEIGHTS = (75.0, 20.0, 5.0)
# How a crew's revenue credit is split, by crew size (each sums to exactly 100).
SPLIT_SHARES: Mapping[int, tuple[tuple[int, ...], ...]] = MappingProxyType(
    {
        1: ((100,),),
        2: ((50, 50), (60, 40), (70, 30)),
        3: ((40, 30, 30), (50, 25, 25), (34, 33, 33)),
    }
)
DISPATCHERS = tuple(user_id for user_id, _login in pools.OFFICE_USERS)


def job_technician(ctx: GenerationContext, job: Record) -> Tech | None:
    """The technician a job is credited to: the one its invoice names (the world sets it on
    every job's invoice, and again when the job is completed), else its sold-by technician."""
    invoice = lookup(ctx, "invoices", job.get("invoiceId"))
    info = invoice.get("employeeInfo") if invoice is not None else None
    if info:
        return Tech(int(info["id"]), str(info["name"]))
    technician = lookup(ctx, "technicians", job.get("soldById"))
    if technician is not None:
        return Tech(int(technician["id"]), str(technician["name"]))
    return None


def crew(ctx: GenerationContext, job: Record) -> list[Tech]:
    """The job's technicians: its own first, then up to two active helpers drawn by the job."""
    lead = job_technician(ctx, job)
    if lead is None:
        return []
    draws = Draws("crew", job)
    size = weighted(draws, CREW_SIZES, CREW_WEIGHTS)
    members = [lead]
    technician_ids = ctx.ids("technicians")
    for _ in range(4 * size):
        if len(members) == size or not technician_ids:
            break
        tech_id = pick(draws, technician_ids)
        if any(member.id == tech_id for member in members):
            continue
        technician = ctx.record("technicians", tech_id)
        if technician["active"]:
            members.append(Tech(tech_id, str(technician["name"])))
    return members


@dataclass(frozen=True)
class Visit:
    """When a technician was dispatched to, arrived at and finished an appointment."""

    dispatched: int
    arrived: int | None
    done: int | None


def assigned_on(appointment: Record) -> int:
    """When the crew was assigned to an appointment: as it was booked (the CSR books into a
    technician's slot on the dispatch board), so before it starts and never in the future.
    Taken from the appointment alone, so every derivation of it gives the same time."""
    return ms(appointment["createdOn"])


def visit(appointment: Record, tech_id: int) -> Visit | None:
    """A technician's times on an appointment as far as its status goes (``None``: not
    dispatched yet, or canceled before). Dispatch is inside the arrival window before the
    start (not before the booking), arrival in the first fifth of the appointment, done in
    its second half: so dispatched <= arrived <= done, all within the window and the
    appointment's start..end."""
    status = appointment["status"]
    if status in ("Scheduled", "Canceled"):
        return None
    draws = Draws(f"visit:{tech_id}", appointment)
    start, end = ms(appointment["start"]), ms(appointment["end"])
    window = appointment.get("arrivalWindowStart")
    earliest = max(min(start, ms(window)) if window else start, start - 45 * MS_PER_MINUTE)
    # Same-day work can start the moment it is booked: nobody is dispatched before that.
    earliest = min(max(earliest, ms(appointment["createdOn"])), start)
    dispatched = between(draws, earliest, start)
    arrived = between(draws, start, start + (end - start) // 5)
    done = between(draws, arrived + (end - arrived) // 2, end)
    if status == "Dispatched":
        return Visit(dispatched, None, None)
    if status in ("Working", "Hold"):
        return Visit(dispatched, arrived, None)
    return Visit(dispatched, arrived, done)


def reconcile(
    ctx: GenerationContext,
    existing: list[Record],
    wanted: list[Record],
    match: str,
    compared: tuple[str, ...],
) -> list[Record]:
    """The records that turn ``existing`` (a parent's stored records) into ``wanted`` (what its
    parent's state now implies, synthesized with fresh keys): changed versions of those whose
    ``compared`` fields differ (keeping their key and creation), new ones, and inactive
    versions of active ones no longer wanted (a technician taken off the job). Records are
    matched by their ``match`` field."""
    by_match = {record[match]: record for record in existing}
    out: list[Record] = []
    for record in wanted:
        old = by_match.pop(record[match], None)
        if old is None:
            out.append(stamped(ctx, record))  # appears now, whenever its facts happened
        elif any(old.get(name) != record.get(name) for name in compared):
            out.append(stamped(ctx, {**old, **{name: record[name] for name in compared}}))
    for old in by_match.values():
        if old.get("active"):
            out.append(stamped(ctx, {**old, "active": False}))
    return out


def first_location(ctx: GenerationContext, customer: Record) -> Record | None:
    locations = ctx.children("locations", "customerId", customer["id"])
    return min(locations, key=lambda loc: loc["id"]) if locations else None


def customer_jobs(ctx: GenerationContext, customer: Record) -> list[Record]:
    """The customer's jobs booked so far, in the order they were booked (the world creates a
    customer's later jobs before the generator reaches the customer's creation time)."""
    jobs = ctx.children("jobs", "customerId", customer["id"])
    booked = [job for job in jobs if ms(job["createdOn"]) <= ctx.now_ms]
    return sorted(booked, key=lambda job: job["id"])


def appointment_job(ctx: GenerationContext, appointment: Record) -> Record | None:
    return lookup(ctx, "jobs", appointment.get("jobId"))


# ---------------------------------------------------------------------------------------------
# Job splits, appointment assignments, timesheets, ratings, cancel logs, history
# ---------------------------------------------------------------------------------------------


def wanted_splits(ctx: GenerationContext, job: Record) -> list[Record]:
    """One split per crew member, the shares summing to exactly 100."""
    members = crew(ctx, job)
    if not members:
        return []
    shares = pick(Draws("split", job), SPLIT_SHARES[len(members)])
    out = []
    for member, share in zip(members, shares, strict=True):
        record = new_record(ctx)
        record.update(
            jobId=job["id"],
            technicianId=member.id,
            split=float(share),
            active=True,
            createdOn=job["createdOn"],
            modifiedOn=job["createdOn"],
        )
        out.append(record)
    return out


def splits_generate(ctx: GenerationContext, job: Record | None) -> list[Record]:
    if job is None or not first_call(ctx, job, "jobId"):
        return []
    return wanted_splits(ctx, job)


def splits_on_job_change(ctx: GenerationContext, job: Record | None) -> list[Record]:
    """A completed job is credited to the technician who completed it: splits follow."""
    if job is None:
        return []
    existing = [r for r in ctx.children("job_splits", "jobId", job["id"]) if r.get("active")]
    return reconcile(ctx, existing, wanted_splits(ctx, job), "technicianId", ("split", "active"))


def wanted_assignments(ctx: GenerationContext, appointment: Record) -> list[Record]:
    """The crew assigned to the appointment, before it starts; a canceled appointment's
    assignments are kept, inactive (unassigned)."""
    job = appointment_job(ctx, appointment)
    if job is None:
        return []
    status, paused = ASSIGNMENT_STATUS.get(appointment["status"], ("Scheduled", False))
    active = appointment["status"] != "Canceled"
    out = []
    for member in crew(ctx, job):
        when = ctx.iso(assigned_on(appointment))
        record = new_record(ctx)
        record.update(
            appointmentId=appointment["id"],
            jobId=job["id"],
            technicianId=member.id,
            technicianName=member.name,
            assignedById=pick(Draws(f"dispatcher:{member.id}", appointment), DISPATCHERS),
            assignedOn=when,
            status=status,
            isPaused=paused,
            active=active,
            createdOn=when,
            modifiedOn=appointment["modifiedOn"],
        )
        out.append(record)
    return out


def assignments_generate(ctx: GenerationContext, appointment: Record | None) -> list[Record]:
    if appointment is None or not first_call(ctx, appointment, "appointmentId"):
        return []
    if changed_later(ctx, appointment):
        return []
    out = wanted_assignments(ctx, appointment)
    # Now and then the dispatcher first assigned someone else and took them off again: an
    # inactive assignment of another technician, unassigned before the start.
    if out and ctx.rng.random() < 0.08:
        other = ctx.random_record("technicians")
        if other is not None and all(r["technicianId"] != other["id"] for r in out):
            first = ms(out[0]["assignedOn"])
            unassigned = between(ctx.rng, first, max(first, ms(appointment["start"])))
            record = new_record(ctx)
            record.update(
                {k: v for k, v in out[0].items() if k != "id"},
                technicianId=other["id"],
                technicianName=other["name"],
                status="Scheduled",
                isPaused=False,
                active=False,
                modifiedOn=ctx.iso(min(unassigned, ctx.now_ms)),
            )
            out.append(record)
    return out


def assignments_on_appointment_change(
    ctx: GenerationContext, appointment: Record | None
) -> list[Record]:
    """Assignments follow their appointment's status (and the job's technician)."""
    if appointment is None:
        return []
    existing = [
        r
        for r in ctx.children("appointment_assignments", "appointmentId", appointment["id"])
        if r.get("active")
    ]
    wanted = wanted_assignments(ctx, appointment)
    return reconcile(ctx, existing, wanted, "technicianId", ("status", "isPaused", "active"))


def wanted_timesheets(ctx: GenerationContext, appointment: Record) -> list[Record]:
    """One timesheet per crew member dispatched to the appointment."""
    job = appointment_job(ctx, appointment)
    if job is None:
        return []
    out = []
    for member in crew(ctx, job):
        times = visit(appointment, member.id)
        if times is None:
            continue
        latest = max(t for t in (times.dispatched, times.arrived, times.done) if t is not None)
        record = new_record(ctx)
        record.update(
            jobId=job["id"],
            appointmentId=appointment["id"],
            technicianId=member.id,
            dispatchedOn=ctx.iso(times.dispatched),
            arrivedOn=ctx.iso(times.arrived) if times.arrived is not None else None,
            doneOn=ctx.iso(times.done) if times.done is not None else None,
            canceledOn=None,
            active=True,
            createdOn=ctx.iso(min(times.dispatched, ctx.now_ms)),
            modifiedOn=ctx.iso(max(min(latest, ctx.now_ms), min(times.dispatched, ctx.now_ms))),
        )
        out.append(record)
    return out


def timesheets_generate(ctx: GenerationContext, appointment: Record | None) -> list[Record]:
    if appointment is None or not first_call(ctx, appointment, "appointmentId"):
        return []
    if changed_later(ctx, appointment):
        return []
    return wanted_timesheets(ctx, appointment)


def timesheets_on_appointment_change(
    ctx: GenerationContext, appointment: Record | None
) -> list[Record]:
    """A technician dispatched, arrived or done: the timesheet gets the new time."""
    if appointment is None:
        return []
    existing = [
        r
        for r in ctx.children("job_timesheets", "appointmentId", appointment["id"])
        if r.get("active")
    ]
    compared = ("dispatchedOn", "arrivedOn", "doneOn", "active")
    return reconcile(ctx, existing, wanted_timesheets(ctx, appointment), "technicianId", compared)


# Customer ratings 0-10 skew high: most customers who answer are happy ones.
RATINGS = (10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
RATING_WEIGHTS = (46.0, 20.0, 12.0, 7.0, 4.0, 3.0, 2.0, 2.0, 1.5, 1.0, 1.5)
COMPLETED_SHARE = 0.85  # of the jobs the world generates: ratings are asked on completed ones


def wanted_ratings(ctx: GenerationContext, job: Record) -> list[Record]:
    """Ratings of a completed job's technicians by its customer: most rate the job's own
    technician only, some their helper too; whether the customer answered is the job's draw."""
    if job.get("jobStatus") != "Completed" or not job.get("completedOn"):
        return []
    if ms(job["completedOn"]) > ctx.now_ms:
        return []  # completed later in this advance: rated when it is
    draws = Draws("rating", job)
    if draws.random() >= min(1.0, volume_rate("technician_ratings") / COMPLETED_SHARE):
        return []
    completed = ms(job["completedOn"])
    out = []
    for k, member in enumerate(crew(ctx, job)):
        if k > 0 and draws.random() >= 0.4:
            continue
        rated = min(ctx.now_ms, completed + between(draws, MS_PER_HOUR, 5 * MS_PER_DAY))
        record: Record = {}  # keyed by (jobId, technicianId): the schema has no id
        record.update(
            jobId=job["id"],
            technicianId=member.id,
            rating=float(weighted(draws, RATINGS, RATING_WEIGHTS)),
            active=True,
            createdOn=ctx.iso(rated),
            modifiedOn=ctx.iso(rated),
        )
        out.append(record)
    return out


def ratings_generate(ctx: GenerationContext, job: Record | None) -> list[Record]:
    if job is None or not first_call(ctx, job, "jobId"):
        return []
    return wanted_ratings(ctx, job)


def ratings_on_job_change(ctx: GenerationContext, job: Record | None) -> list[Record]:
    """A job completed during the advance may be rated."""
    if job is None:
        return []
    existing = ctx.children("technician_ratings", "jobId", job["id"])
    if existing:
        return []
    return [stamped(ctx, r) for r in wanted_ratings(ctx, job)]


def ratings_change(ctx: GenerationContext, record: Record) -> Record | None:
    """A customer called back and revised their rating."""
    revised = float(weighted(ctx.rng, RATINGS, RATING_WEIGHTS))
    if revised == record["rating"]:
        return None
    return stamped(ctx, {**record, "rating": revised})


CANCEL_REASONS = (
    "Customer canceled – no longer needed",
    "Scheduled with another company",
    "Price too high",
    "Customer not home",
    "Duplicate job",
    "Weather",
    "Financing declined",
    "Issue resolved itself",
)
CANCEL_MEMOS = (
    None,
    None,
    "Customer called to cancel.",
    "Left voicemail, customer confirmed by text.",
    "Rebook in the fall.",
)


def cancel_reasons_generate(ctx: GenerationContext, parent: Record | None) -> list[Record]:
    """The company's cancel reasons, with the names dispatchers really pick from."""
    record = ctx.synthesize(parent=parent)
    index = len(ctx.ids("job_cancel_reasons"))
    record["name"] = CANCEL_REASONS[index % len(CANCEL_REASONS)]
    return [record]


def wanted_cancel_log(ctx: GenerationContext, job: Record) -> list[Record]:
    """A canceled job's log: when (the job's cancellation) and why (a real cancel reason)."""
    if job.get("jobStatus") != "Canceled" or changed_later(ctx, job):
        return []
    reason = ctx.random_record("job_cancel_reasons")
    if reason is None:
        return []
    record = new_record(ctx)
    record.update(
        jobId=job["id"],
        reasonId=reason["id"],
        createdById=pick(ctx.rng, DISPATCHERS),
        createdOn=job["modifiedOn"],
        memo=pick(ctx.rng, CANCEL_MEMOS),
        active=True,
    )
    return [record]


def cancel_logs_generate(ctx: GenerationContext, job: Record | None) -> list[Record]:
    if job is None or not first_call(ctx, job, "jobId"):
        return []
    return wanted_cancel_log(ctx, job)


def cancel_logs_on_job_change(ctx: GenerationContext, job: Record | None) -> list[Record]:
    if job is None or ctx.children("job_canceled_logs", "jobId", job["id"]):
        return []
    return wanted_cancel_log(ctx, job)


SCHEDULING_TOOLS = ("Manual", "SmartDispatch", "SmartSchedule")
SCHEDULING_WEIGHTS = (70.0, 20.0, 10.0)


def job_events(ctx: GenerationContext, job: Record) -> list[tuple[int, str, int | None]]:
    """What happened to a job so far, as (time, event type, employee): booked, technicians
    assigned, dispatched and arrived on each visit (the times its assignments and timesheets
    carry), put on hold, completed or canceled."""
    events: list[tuple[int, str, int | None]] = [
        (ms(job["createdOn"]), "Job Booked", job.get("createdById"))
    ]
    lead = job_technician(ctx, job)
    # A job's visits: the world gives a job one or two appointments, first and last.
    appointment_ids = {
        int(job[field])
        for field in ("firstAppointmentId", "lastAppointmentId")
        if job.get(field) is not None
    }
    for appointment_id in sorted(appointment_ids):
        appointment = lookup(ctx, "appointments", appointment_id)
        if appointment is None or lead is None:
            continue
        dispatcher = pick(Draws(f"dispatcher:{lead.id}", appointment), DISPATCHERS)
        events.append((assigned_on(appointment), "Technician Assigned", dispatcher))
        times = visit(appointment, lead.id)
        if times is not None:
            events.append((times.dispatched, "Technician Dispatched", lead.id))
            if times.arrived is not None:
                events.append((times.arrived, "Technician Arrived", lead.id))
    status = job.get("jobStatus")
    if status == "Completed" and job.get("completedOn"):
        events.append((ms(job["completedOn"]), "Job Completed", lead.id if lead else None))
    elif status == "Canceled":
        events.append((ms(job["modifiedOn"]), "Job Canceled", job.get("createdById")))
    elif status == "Hold":
        events.append((ms(job["modifiedOn"]), "Job Put On Hold", job.get("createdById")))
    return sorted((e for e in events if e[0] <= ctx.now_ms), key=lambda e: (e[0], e[1]))


def history_record(
    ctx: GenerationContext, job: Record, kept: list[dict[str, Any]] | None = None
) -> Record:
    """The job's history: the entries already written (``kept``) and those of events since."""
    entries = list(kept or ())
    seen = {(entry["eventType"], entry["date"]) for entry in entries}
    for at, event_type, employee_id in job_events(ctx, job):
        when = ctx.iso(at)
        if (event_type, when) in seen:
            continue
        entries.append(
            {
                "id": ctx.new_id(),
                "employeeId": employee_id,
                "eventType": event_type,
                "date": when,
                "usedSchedulingTool": weighted(ctx.rng, SCHEDULING_TOOLS, SCHEDULING_WEIGHTS)
                if event_type == "Technician Assigned"
                else "Manual",
            }
        )
    entries.sort(key=lambda entry: (ms(entry["date"]), entry["id"]))
    return {"jobId": job["id"], "history": entries}  # keyed by jobId: the schema has no id


def history_generate(ctx: GenerationContext, job: Record | None) -> list[Record]:
    if job is None or not first_call(ctx, job, "jobId"):
        return []
    return [history_record(ctx, job)]


def history_on_job_change(ctx: GenerationContext, job: Record | None) -> list[Record]:
    """New events of the job are appended; the entries written stay as they were."""
    if job is None:
        return []
    stored = ctx.children("job_history", "jobId", job["id"])
    kept = list(stored[0]["history"]) if stored else []
    record = history_record(ctx, job, kept)
    if stored and len(record["history"]) == len(kept):
        return []
    return [record]


# ---------------------------------------------------------------------------------------------
# Estimates
# ---------------------------------------------------------------------------------------------

ESTIMATE_STATUS = MappingProxyType({"Open": 0, "Sold": 1, "Dismissed": 2})
# Options presented per job with estimates (good / better / best), and the share of those jobs
# where the customer bought one: about half of the estimates that are decided are sold.
OPTION_COUNTS = (1, 2, 3)
OPTION_WEIGHTS = (65.0, 20.0, 15.0)
MEAN_OPTIONS = 1.5
SOLD_JOB_SHARE = 0.68
TIER_NAMES = ("Good", "Better", "Best")
NOT_STARTED = ("Scheduled", "Dispatched")
# Odds that an open estimate's follow-up sells it, by its age in days (the last: any age).
FOLLOW_UP_SALE_ODDS = (
    (30, 0.5),
    (180, 0.2),
    (1 << 30, 0.03),
)  # job statuses before the technician is there
TRADE_BY_JOB_TYPE = MappingProxyType({name: trade for name, trade, *_ in pools.JOB_TYPES})
TAX_RATE = pools.SALES_TAX_RATE


@dataclass(frozen=True)
class EstimateItems:
    items: list[dict[str, Any]]
    subtotal: Decimal
    tax: Decimal


def job_trade(ctx: GenerationContext, job: Record) -> str | None:
    job_type = lookup(ctx, "job_types", job.get("jobTypeId"))
    return TRADE_BY_JOB_TYPE.get(str(job_type["name"])) if job_type is not None else None


def estimate_items(ctx: GenerationContext, trade: str | None, tier: int, at: str) -> EstimateItems:
    """An option's line items from the pricebook of the job's trade (better tiers carry more),
    their totals computed in Decimal: ``sum(total) == subtotal`` to the cent."""
    rng = ctx.rng
    skus = [s for s in pools.SKUS if s[8] == trade] or [s for s in pools.SKUS if s[8] is None]
    count = weighted(rng, (1, 2, 3, 4), (30.0, 35.0, 25.0, 10.0)) + tier
    items = []
    subtotal = taxable = Decimal(0)
    for _ in range(count):
        sku_id, name, item_type, lo, hi, is_taxable, cost_ratio, hours, _trade = pick(rng, skus)
        qty = Decimal(pick(rng, (1, 1, 2, 3))) if item_type == "Material" else Decimal(1)
        rate = Decimal(between(rng, int(Decimal(lo) * 100), int(Decimal(hi) * 100))) / 100
        total = (qty * rate).quantize(CENT, ROUND_HALF_UP)
        unit_cost = (rate * Decimal(cost_ratio)).quantize(CENT, ROUND_HALF_UP)
        subtotal += total
        if is_taxable:
            taxable += total
        account_id, account = (
            (4001, "Service Income") if item_type == "Service" else (4000, "Sales Income")
        )
        items.append(
            {
                "id": ctx.new_id(),
                "sku": {
                    "id": sku_id,
                    "name": name,
                    "displayName": name,
                    "type": item_type,
                    "soldHours": float(hours),
                    "generalLedgerAccountId": account_id,
                    "generalLedgerAccountName": account,
                    "modifiedOn": at,
                },
                "skuAccount": f"{account_id} – {account}",
                "description": f"<p>{name}</p>",
                "membershipTypeId": None,
                "qty": float(qty),
                "unitRate": as_number(rate),
                "total": as_number(total),
                "unitCost": as_number(unit_cost),
                "totalCost": as_number(unit_cost * qty),
                "itemGroupName": "",
                "itemGroupRootId": None,
                "createdOn": at,
                "modifiedOn": at,
                "chargeable": True,
                "invoiceItemId": None,
                "budgetCodeId": None,
            }
        )
    tax = (taxable * TAX_RATE).quantize(CENT, ROUND_HALF_UP)
    return EstimateItems(items, subtotal, tax)


def review_status(rng: Uniform, age_ms: int) -> str:
    """A sold estimate's manager review: done within a month or so, pending when recent."""
    return "Approved" if rng.random() < min(0.95, age_ms / (30 * MS_PER_DAY)) else "NeedsApproval"


def estimate_status(name: str) -> dict[str, Any]:
    return {"value": ESTIMATE_STATUS[name], "name": name}


def estimates_generate(ctx: GenerationContext, job: Record | None) -> list[Record]:
    """A job's estimates: written on its first visit, one to three options; on a completed job
    the customer bought one of them (the job's technician sold it) or dismissed them, unless
    the follow-up is still open; on a job in progress they are open."""
    if job is None or not first_call(ctx, job, "jobId") or changed_later(ctx, job):
        return []
    first = lookup(ctx, "appointments", job.get("firstAppointmentId"))
    if first is None or ms(first["start"]) > ctx.now_ms or job.get("jobStatus") in NOT_STARTED:
        return []  # nobody has been out yet: estimates come with the visit (on_parent_change)
    rng = ctx.rng
    if rng.random() >= min(1.0, volume_rate("estimates") / MEAN_OPTIONS):
        return []
    options = weighted(rng, OPTION_COUNTS, OPTION_WEIGHTS)
    now = ctx.now_ms
    written = between(rng, ms(first["start"]), min(ms(first["end"]), now))
    status = job.get("jobStatus")
    sold_option: int | None = None
    decided_at = written
    outcome = "Open"
    if status == "Canceled":
        outcome, decided_at = "Dismissed", max(written, min(ms(job["modifiedOn"]), now))
    elif status == "Completed":
        age = now - written
        if rng.random() < SOLD_JOB_SHARE:
            outcome = "Sold"
            sold_option = int(rng.random() * options)
            decided_at = written + between(rng, 5 * MS_PER_MINUTE, min(14 * MS_PER_DAY, age))
        elif rng.random() < 0.35:
            # Unsold options are dismissed by the office, or (most) left open to linger.
            outcome = "Dismissed"
            decided_at = written + between(rng, MS_PER_DAY, min(30 * MS_PER_DAY, age))
        decided_at = min(decided_at, now)
    technician = job_technician(ctx, job)
    if technician is None and outcome == "Sold":
        outcome = "Open"  # nobody to credit the sale to: left for the follow-up
    business_unit = lookup(ctx, "business_units", job.get("businessUnitId"))
    trade = job_trade(ctx, job)
    job_type = lookup(ctx, "job_types", job.get("jobTypeId"))
    base_name = str(job_type["name"]) if job_type is not None else "Service"
    out = []
    for tier in range(options):
        at = ctx.iso(written)
        priced = estimate_items(ctx, trade, tier + 3 - options, at)
        name = ("Sold" if tier == sold_option else "Dismissed") if outcome == "Sold" else outcome
        sold = name == "Sold"
        record = ctx.synthesize(parent=job)
        record.update(
            jobId=job["id"],
            jobNumber=job.get("jobNumber"),
            projectId=job.get("projectId"),
            customerId=job.get("customerId"),
            locationId=job.get("locationId"),
            businessUnitId=job.get("businessUnitId"),
            businessUnitName=business_unit["name"] if business_unit is not None else None,
            name=f"{base_name} – {TIER_NAMES[tier + 3 - options]}" if options > 1 else base_name,
            summary=f"Options presented on visit {first.get('appointmentNumber', '')}".strip(),
            status=estimate_status(name),
            reviewStatus=review_status(rng, now - decided_at) if sold else "None",
            soldOn=ctx.iso(decided_at) if sold else None,
            soldBy=technician.id if sold and technician is not None else None,
            isRecommended=tier == options - 1 and options > 1,
            isChangeOrder=False,
            budgetCodeId=None,
            externalLinks=[],
            proposalTagName=TIER_NAMES[tier + 3 - options] if options > 1 else None,
            items=priced.items,
            subtotal=as_number(priced.subtotal),
            tax=as_number(priced.tax),
            active=True,
            createdOn=at,
            modifiedOn=ctx.iso(decided_at if name != "Open" else written),
        )
        out.append(record)
    return out


def estimates_on_job_change(ctx: GenerationContext, job: Record | None) -> list[Record]:
    """The first visit happened: its estimates are written. A canceled job's open estimates
    are dismissed."""
    if job is None:
        return []
    existing = ctx.children("estimates", "jobId", job["id"])
    if not existing:
        if job.get("jobStatus") in ("InProgress", "Hold", "Completed"):
            # Written on the visit, entered now: what appears now carries now.
            return [stamped(ctx, e) for e in estimates_generate(ctx, job)]
        return []
    if job.get("jobStatus") != "Canceled":
        return []
    return [
        stamped(ctx, {**e, "status": estimate_status("Dismissed")})
        for e in existing
        if e["status"] and e["status"]["name"] == "Open"
    ]


def estimates_change(ctx: GenerationContext, record: Record) -> Record | None:
    """An open estimate's follow-up: sold by the job's technician (less likely the older the
    estimate; never when another option of the job was sold), dismissed, or noted and left
    open; a sold one gets
    its manager's approval; a recently dismissed one is now and then won back (the customer
    calls back and buys it)."""
    status = (record.get("status") or {}).get("name")
    if status == "Sold" and record["reviewStatus"] != "Approved":
        return stamped(ctx, {**record, "reviewStatus": "Approved"})
    if status not in ("Open", "Dismissed"):
        return None
    age = ctx.now_ms - ms(record["createdOn"])
    sale_odds = next(odds for days, odds in FOLLOW_UP_SALE_ODDS if age <= days * MS_PER_DAY)
    job = lookup(ctx, "jobs", record.get("jobId"))
    siblings = ctx.children("estimates", "jobId", record["jobId"]) if job is not None else []
    sibling_sold = any(
        (s.get("status") or {}).get("name") == "Sold" for s in siblings if s["id"] != record["id"]
    )
    technician = job_technician(ctx, job) if job is not None else None
    if status == "Dismissed":
        if sibling_sold or technician is None or age > 60 * MS_PER_DAY or ctx.rng.random() >= 0.1:
            return None
    elif sibling_sold or technician is None:
        return stamped(ctx, {**record, "status": estimate_status("Dismissed")})
    elif ctx.rng.random() >= sale_odds:
        if ctx.rng.random() < 0.4:
            return stamped(ctx, {**record, "status": estimate_status("Dismissed")})
        # Still undecided: the CSR's follow-up is noted on the estimate.
        note = f"Followed up {ctx.iso(ctx.now_ms)[:10]}."
        summary = f"{record['summary']} {note}" if record.get("summary") else note
        return stamped(ctx, {**record, "summary": summary})
    return stamped(
        ctx,
        {
            **record,
            "status": estimate_status("Sold"),
            "soldOn": ctx.iso(ctx.now_ms),
            "soldBy": technician.id,
            "reviewStatus": "NeedsApproval",
        },
    )


# ---------------------------------------------------------------------------------------------
# Calls
# ---------------------------------------------------------------------------------------------

CALL_REASONS_LEAD = (
    (11, "Price shopping"),
    (12, "Scheduling conflict"),
    (13, "Outside service area"),
)
CALL_REASONS_NOT_LEAD = (
    (21, "Wrong number"),
    (22, "Vendor / solicitor"),
    (23, "Billing question"),
    (24, "Existing appointment question"),
)
EXCUSE_MEMOS = (
    "Customer booked online after the call.",
    "Duplicate call: booked on the first one.",
    "Caller was a tenant; owner booked.",
)
MAIN_LINE = "5125551000"
CSRS = pools.OFFICE_USERS[:3]
# Seconds a call lasts, by type (30 s to 15 min).
CALL_SECONDS = MappingProxyType(
    {
        "Booked": (180, 720),
        "Unbooked": (60, 480),
        "NotLead": (30, 300),
        "Abandoned": (30, 75),
        "Excused": (30, 240),
        None: (30, 420),
    }
)


def customer_phone(customer_id: int) -> str:
    return f"512{customer_id % 10_000_000:07d}"


def named(record: Record | None) -> dict[str, Any] | None:
    return {"id": record["id"], "name": record["name"]} if record is not None else None


def call_record(
    ctx: GenerationContext,
    base: Record,
    customer: dict[str, Any],
    location: dict[str, Any] | None,
    direction: str,
    call_type: str | None,
    ended_by: int,
    campaign: Record | None,
    job: Record | None,
) -> Record:
    """A complete call record ending by ``ended_by``; its type sets duration and reason."""
    rng = ctx.rng
    lo, hi = CALL_SECONDS[call_type]
    seconds = between(rng, lo, hi)
    # Saved (modifiedOn) at ``ended_by``, after the call and its wrap-up.
    started = ended_by - seconds * 1000 - between(rng, 5_000, 120_000)
    tracking = (campaign or {}).get("campaignPhoneNumbers") or [MAIN_LINE]
    phone = customer_phone(int(customer["id"]))
    agent = None if call_type == "Abandoned" else pick(rng, CSRS)
    reason = None
    if call_type in ("Unbooked", "Excused"):
        reason = pick(rng, CALL_REASONS_LEAD)
    elif call_type == "NotLead":
        reason = pick(rng, CALL_REASONS_NOT_LEAD)
    record = dict(base)
    record.update(
        direction=direction,
        type=call_type,
        duration=hms(seconds),
        status="Completed",
        **{"from": phone if direction == "Inbound" else MAIN_LINE},
        to=str(tracking[0]) if direction == "Inbound" else phone,
        customer=customer,
        location=location,
        campaign=named(campaign),
        job={"id": job["id"], "number": str(job.get("jobNumber") or job["id"])} if job else None,
        agent={"id": agent[0], "name": agent[1]} if agent else None,
        createdBy={"id": agent[0], "name": agent[1]} if agent else None,
        reason={"id": reason[0], "name": reason[1]} if reason else None,
        excuseMemo=pick(rng, EXCUSE_MEMOS) if call_type == "Excused" else "",
        tag="",
        lead=None,
        recordingUrl=None
        if call_type == "Abandoned"
        else f"https://recordings.lonestar-home.example/calls/{record['id']}.mp3",
        voiceMailPath=f"/voicemail/{record['id']}.wav"
        if call_type == "Abandoned" and rng.random() < 0.3
        else None,
        active=True,
        createdOn=ctx.iso(started),
        modifiedOn=ctx.iso(ended_by),
    )
    return record


def calls_generate(ctx: GenerationContext, customer: Record | None) -> list[Record]:
    """A customer's calls: the i-th inbound call mostly books the customer's i-th job (just
    before the job was created, on the job's campaign); the others are unbooked leads, calls
    that are not leads, abandoned or excused calls, and outbound calls."""
    if customer is None:
        return []
    rng = ctx.rng
    customer_ref = {"id": customer["id"], "name": customer["name"]}
    location = named(first_location(ctx, customer))
    jobs = customer_jobs(ctx, customer)
    base = new_record(ctx)
    direction = "Inbound" if rng.random() < 0.78 else "Outbound"
    job = jobs[ctx.call_index] if ctx.call_index < len(jobs) else None
    if direction == "Inbound" and job is not None and rng.random() < 0.8:
        campaign = lookup(ctx, "campaigns", job.get("campaignId"))
        return [
            call_record(
                ctx,
                base,
                customer_ref,
                location,
                direction,
                "Booked",
                ms(job["createdOn"]),
                campaign,
                job,
            )
        ]
    if direction == "Inbound":
        call_type: str | None = weighted(
            rng, ("Unbooked", "NotLead", "Abandoned", "Excused"), (35.0, 40.0, 15.0, 10.0)
        )
    else:
        call_type = weighted(rng, (None, "NotLead", "Unbooked"), (50.0, 35.0, 15.0))
    created = ms(customer["createdOn"])
    ended = between(rng, min(created + 20 * MS_PER_MINUTE, ctx.now_ms), ctx.now_ms)
    campaign = ctx.random_record("campaigns") if direction == "Inbound" else None
    return [
        call_record(ctx, base, customer_ref, location, direction, call_type, ended, campaign, None)
    ]


def calls_change(ctx: GenerationContext, record: Record) -> Record | None:
    """A CSR reviews a lost call: excuses it (the caller booked another way) or calls back
    (a new outbound call to the same customer, arriving now)."""
    rng = ctx.rng
    call_type = record.get("type")
    if record.get("customer") and rng.random() < 0.5:
        base = new_record(ctx)
        follow_up = call_record(
            ctx,
            base,
            record["customer"],
            record.get("location"),
            "Outbound",
            weighted(rng, (None, "Unbooked", "NotLead"), (50.0, 30.0, 20.0)),
            ctx.now_ms,
            None,
            None,
        )
        ctx.emit("calls", follow_up)
    if call_type in ("Unbooked", "Abandoned") and rng.random() < 0.5:
        return stamped(
            ctx,
            {
                **record,
                "type": "Excused",
                "excuseMemo": pick(rng, EXCUSE_MEMOS),
                "reason": record.get("reason")
                or {"id": CALL_REASONS_LEAD[0][0], "name": CALL_REASONS_LEAD[0][1]},
            },
        )
    return None


# ---------------------------------------------------------------------------------------------
# Memberships and their status changes
# ---------------------------------------------------------------------------------------------

TERM_MS = 365 * MS_PER_DAY
RENEWAL_RATE = 0.65
# Terms a sold membership runs for on average, renewals included (sales over the last three
# years, two in three expired ones renewed): ~1.6.
TERMS_PER_SALE = 1.6
CANCEL_RATE = 0.10  # per term
SUSPEND_RATE = 0.06  # per term: a declined card, most often fixed
# Memberships are looked at MEMBERSHIP_CHANGES_PER_DAY of them a day; an active one looked at is
# canceled or suspended with these odds: about 1 % cancel and 0.6 % are suspended a month.
MEMBERSHIP_CHANGES_PER_DAY = 0.02
CANCEL_ON_CHANGE = 0.015
SUSPEND_ON_CHANGE = 0.01
BILLING = ("Annual", "Monthly", "Quarterly")
BILLING_WEIGHTS = (40.0, 50.0, 10.0)
PLAN_PRICES = MappingProxyType(
    {"Annual": Decimal("189.00"), "Monthly": Decimal("16.95"), "Quarterly": Decimal("49.95")}
)
STATUS_NOTES = MappingProxyType(
    {
        "Canceled": ("Customer moved.", "Customer asked to cancel.", "Sold the house."),
        "Suspended": ("Card declined.", "Payment failed twice."),
        "Active": ("Payment method updated.", "Reactivated by customer."),
        "Expired": ("Term ended.",),
    }
)


def status_change(
    ctx: GenerationContext, membership_id: int, at: int, old: str, new: str
) -> Record:
    """A status change record (expiries are automatic: no user)."""
    record = new_record(ctx, "membership_status_changes")
    record.update(
        membershipId=membership_id,
        oldStatus=old,
        newStatus=new,
        createdOn=ctx.iso(at),
        createdById=None if new == "Expired" else pick(ctx.rng, DISPATCHERS),
        note=pick(ctx.rng, STATUS_NOTES[new]),
    )
    return record


def emit_changes(
    ctx: GenerationContext, membership_id: int, changes: list[tuple[int, str, str]]
) -> None:
    for at, old, new in sorted(changes):
        ctx.emit("membership_status_changes", status_change(ctx, membership_id, at, old, new))


def new_term(ctx: GenerationContext, base: Record, start: int, sold_by: int | None) -> Record:
    """A 1-year membership term starting at ``start``, active, as sold."""
    rng = ctx.rng
    billing = str(base.get("billingFrequency") or "Annual")
    if billing not in PLAN_PRICES:
        billing = weighted(rng, BILLING, BILLING_WEIGHTS)
    record = dict(base)
    record.update(
        id=ctx.new_id("memberships"),
        status="Active",
        active=True,
        billingFrequency=billing,
        renewalBillingFrequency=billing,
        duration=12,
        renewalDuration=12,
        initialDeferredRevenue=as_number(PLAN_PRICES[billing]),
        soldById=sold_by,
        activatedById=sold_by,
        activatedFromId=None,
        renewedById=None,
        cancellationDate=None,
        cancellationInvoiceId=None,
        cancellationBalanceInvoiceId=None,
        followUpStatus="NotAttempted",
        followUpOn=ctx.iso(start + TERM_MS - 30 * MS_PER_DAY),
        nextScheduledBillDate=ctx.iso(start + 30 * MS_PER_DAY) if billing == "Monthly" else None,
        createdOn=ctx.iso(start),
        modifiedOn=ctx.iso(start),
        **{"from": ctx.iso(start), "to": ctx.iso(start + TERM_MS)},
    )
    return record


def live_term(ctx: GenerationContext, record: Record, start: int) -> list[tuple[int, str, str]]:
    """Play a term from ``start`` up to now: a suspension (reactivated or canceled), a
    cancellation, or its end (expired). Sets the record's status, dates and follow-up; returns
    its status changes."""
    rng, now = ctx.rng, ctx.now_ms
    end = start + TERM_MS
    changes: list[tuple[int, str, str]] = []
    status = "Active"
    if rng.random() < SUSPEND_RATE:
        suspended = between(rng, start + 30 * MS_PER_DAY, end - 60 * MS_PER_DAY)
        resolved = suspended + between(rng, 20 * MS_PER_DAY, 60 * MS_PER_DAY)
        if suspended <= now:
            changes.append((suspended, "Active", "Suspended"))
            status = "Suspended"
            if resolved <= now:
                status = "Active" if rng.random() < 0.7 else "Canceled"
                changes.append((resolved, "Suspended", status))
                if status == "Canceled":
                    record["cancellationDate"] = ctx.iso(resolved)
    if status == "Active" and rng.random() < CANCEL_RATE:
        canceled = between(rng, start + 20 * MS_PER_DAY, end - MS_PER_DAY)
        if canceled <= now and all(canceled > at for at, _o, _n in changes):
            changes.append((canceled, "Active", "Canceled"))
            status = "Canceled"
            record["cancellationDate"] = ctx.iso(canceled)
    if status == "Active" and end <= now:
        changes.append((end, "Active", "Expired"))
        status = "Expired"
    record["status"] = status
    if changes:
        record["modifiedOn"] = ctx.iso(max(at for at, _o, _n in changes))
    if status != "Active" or record.get("billingFrequency") != "Monthly":
        record["nextScheduledBillDate"] = None
    return changes


def renew(ctx: GenerationContext, record: Record, start: int) -> Record:
    """The term that renews ``record`` from ``start``; ``record`` points to it."""
    renewal = new_term(ctx, record, start, record.get("soldById"))
    record["renewedById"] = renewal["id"]
    record["followUpStatus"] = "Won"
    return renewal


def memberships_generate(ctx: GenerationContext, customer: Record | None) -> list[Record]:
    """A customer's membership from its sale to now: 1-year terms, each active, suspended,
    canceled or expired as its dates say, an expired one renewed (``renewedById``: the next
    term, starting where it ended) about two times in three. The status changes are emitted
    as ``membership_status_changes``. A call starts such a chain of terms one time in
    :data:`TERMS_PER_SALE`, so that the table's volume counts terms, renewals included."""
    if customer is None:
        return []
    rng = ctx.rng
    if rng.random() >= 1 / TERMS_PER_SALE:
        return []
    base = ctx.synthesize(parent=customer)
    base["customerId"] = customer["id"]
    locations = ctx.children("locations", "customerId", customer["id"])
    if locations:
        location = pick(rng, locations)
        base["locationId"] = base["recurringLocationId"] = location["id"]
    base["billingFrequency"] = weighted(rng, BILLING, BILLING_WEIGHTS)
    base.update(memo=None, customerPo=None, customFields=[])
    seller = ctx.random_record("technicians")
    start = between(rng, ms(customer["createdOn"]), ctx.now_ms - MS_PER_DAY)
    record = new_term(ctx, base, start, int(seller["id"]) if seller is not None else None)
    out: list[Record] = []
    while True:
        emit_changes(ctx, record["id"], live_term(ctx, record, start))
        out.append(record)
        if record["status"] != "Expired":
            return out
        if rng.random() >= RENEWAL_RATE:
            record["followUpStatus"] = pick(rng, ("Contacted", "Unreachable", "Dismissed"))
            return out
        start = ms(record["to"])
        record = renew(ctx, record, start)


def membership_due(record: Record) -> int | None:
    """An active (or suspended) membership changes by itself at the end of its term: it
    expires."""
    if record.get("status") in ("Active", "Suspended") and record.get("to"):
        return ms(record["to"])
    return None


def memberships_change(ctx: GenerationContext, record: Record) -> Record | None:
    """What happens to a membership as time passes, each with its status change: an active
    one past its end expires (and is renewed about two times in three: a new term from its
    end), or is canceled or suspended; a suspended one is reactivated or canceled, or expires
    at its end; an expired
    one not renewed is followed up, and now and then won back (renewed from now)."""
    rng, now = ctx.rng, ctx.now_ms
    status = record["status"]
    changed = dict(record)
    new_status = status
    changed_at = now
    if status == "Active" and record.get("to") and ms(record["to"]) <= now:
        new_status = "Expired"
        changed_at = ms(record["to"])  # it expired when its term ended, not when looked at
        if rng.random() < RENEWAL_RATE:
            ctx.emit("memberships", renew(ctx, changed, ms(record["to"])))
        else:
            changed["followUpStatus"] = pick(rng, ("Contacted", "Unreachable"))
    elif status == "Active":
        roll = rng.random()
        if roll < CANCEL_ON_CHANGE:
            new_status = "Canceled"
            changed["cancellationDate"] = ctx.iso(now)
        elif roll < CANCEL_ON_CHANGE + SUSPEND_ON_CHANGE:
            new_status = "Suspended"
        else:
            return None
    elif status == "Suspended" and record.get("to") and ms(record["to"]) <= now:
        new_status = "Expired"  # never reactivated: no renewal either
        changed_at = ms(record["to"])
    elif status == "Suspended":
        new_status = "Active" if rng.random() < 0.6 else "Canceled"
        if new_status == "Canceled":
            changed["cancellationDate"] = ctx.iso(now)
    elif status == "Expired" and record.get("renewedById") is None:
        if rng.random() < 0.3:
            ctx.emit("memberships", renew(ctx, changed, now))
        else:
            follow_up = pick(rng, ("Contacted", "Unreachable", "Dismissed"))
            if follow_up == record.get("followUpStatus"):
                return None
            changed["followUpStatus"] = follow_up
            return stamped(ctx, changed)
    else:
        return None
    if new_status != status:
        changed["status"] = new_status
        ctx.emit(
            "membership_status_changes",
            status_change(ctx, record["id"], changed_at, status, new_status),
        )
    if new_status != "Active":
        changed["nextScheduledBillDate"] = None
    return stamped(ctx, changed)


# ---------------------------------------------------------------------------------------------
# Leads and bookings
# ---------------------------------------------------------------------------------------------

LEAD_SOURCES = ("Phone", "Web form", "Chat", "Email")
DISMISSING_REASON_IDS = (31, 32, 33, 34, 35)  # "Price", "Went elsewhere", "No answer", ...
PRIORITIES = ("Low", "Normal", "High", "Urgent")
PRIORITY_WEIGHTS = (10.0, 65.0, 18.0, 7.0)
BOOKING_PROVIDERS = ((1, "Website Scheduler"), (2, "Google Reserve"), (3, "Call Center Partner"))
ADDRESS_FIELDS = ("street", "unit", "city", "state", "zip", "country")


def leads_generate(ctx: GenerationContext, customer: Record | None) -> list[Record]:
    """A customer's request for work: converted to a booking, dismissed (with a reason), or
    still open and followed up when recent."""
    if customer is None:
        return []
    rng, now = ctx.rng, ctx.now_ms
    record = ctx.synthesize(parent=customer)
    created = between(rng, ms(customer["createdOn"]), now)
    age = now - created
    if age < 14 * MS_PER_DAY and rng.random() < 0.6:
        status = "Open"
    else:
        status = "Converted" if rng.random() < 0.45 else "Dismissed"
    decided = created + between(rng, MS_PER_HOUR, min(14 * MS_PER_DAY, age))
    location = first_location(ctx, customer)
    address = customer.get("address") or {}
    job_type = lookup(ctx, "job_types", record.get("jobTypeId"))
    record.update(
        customerId=customer["id"],
        locationId=location["id"] if location is not None else None,
        status=status,
        priority=weighted(rng, PRIORITIES, PRIORITY_WEIGHTS),
        summary=f"Asked about {job_type['name']}" if job_type is not None else None,
        captureSource=pick(rng, LEAD_SOURCES),
        leadCustomerName=customer["name"],
        leadPhone=customer_phone(int(customer["id"])),
        leadEmail=None,
        leadUrl=None,
        **{
            f"lead{field.title()}": address.get(field)
            for field in ADDRESS_FIELDS
            if f"lead{field.title()}" in record
        },
        followUpDate=ctx.iso(created + between(rng, MS_PER_DAY, 3 * MS_PER_DAY))
        if status == "Open"
        else None,
        dismissingReasonId=pick(rng, DISMISSING_REASON_IDS) if status == "Dismissed" else None,
        bookingId=None,
        callId=None,
        manualCallId=None,
        createdById=pick(rng, DISPATCHERS),
        active=True,
        createdOn=ctx.iso(created),
        modifiedOn=ctx.iso(created if status == "Open" else min(decided, now)),
    )
    return [record]


def leads_change(ctx: GenerationContext, record: Record) -> Record | None:
    """An open lead's follow-up: converted or dismissed; a recently dismissed one is now and
    then reopened (the customer got back in touch)."""
    if record["status"] == "Dismissed":
        recent = ctx.now_ms - ms(record["modifiedOn"]) <= 90 * MS_PER_DAY
        if not recent or ctx.rng.random() >= 0.2:
            return None
        follow_up = ctx.iso(ctx.now_ms + between(ctx.rng, MS_PER_DAY, 3 * MS_PER_DAY))
        return stamped(
            ctx, {**record, "status": "Open", "dismissingReasonId": None, "followUpDate": follow_up}
        )
    if record["status"] != "Open":
        return None
    if ctx.rng.random() < 0.5:
        return stamped(ctx, {**record, "status": "Converted", "followUpDate": None})
    return stamped(
        ctx,
        {
            **record,
            "status": "Dismissed",
            "followUpDate": None,
            "dismissingReasonId": pick(ctx.rng, DISMISSING_REASON_IDS),
        },
    )


def bookings_generate(ctx: GenerationContext, customer: Record | None) -> list[Record]:
    """A booking request from a booking provider: the customer's i-th one mostly became the
    customer's i-th job (``jobId``, with the job's type, business unit and campaign, received
    shortly before the job was created); the others were dismissed, or are new or accepted
    when recent."""
    if customer is None:
        return []
    rng, now = ctx.rng, ctx.now_ms
    record = ctx.synthesize(parent=customer)
    jobs = customer_jobs(ctx, customer)
    job = jobs[ctx.call_index] if ctx.call_index < len(jobs) else None
    provider_id, provider = pick(rng, BOOKING_PROVIDERS)
    address = customer.get("address") or {}
    if job is not None and rng.random() < 0.55:
        created = ms(job["createdOn"]) - between(rng, 10 * MS_PER_MINUTE, 2 * MS_PER_DAY)
        first = lookup(ctx, "appointments", job.get("firstAppointmentId"))
        record.update(
            status="Converted",
            jobId=job["id"],
            jobTypeId=job.get("jobTypeId"),
            businessUnitId=job.get("businessUnitId"),
            campaignId=job.get("campaignId"),
            start=first["start"] if first is not None else job["createdOn"],
            dismissingReasonId=None,
            modifiedOn=job["createdOn"],
        )
    else:
        created = between(rng, ms(customer["createdOn"]), now)
        if now - created < 3 * MS_PER_DAY:
            status = pick(rng, ("New", "Accepted"))
        else:
            # Requests nobody turned into a job: mostly dismissed, some left accepted.
            status = "Dismissed" if rng.random() < 0.6 else "Accepted"
        record.update(
            status=status,
            jobId=None,
            start=ctx.iso(created + between(rng, MS_PER_DAY, 7 * MS_PER_DAY)),
            dismissingReasonId=pick(rng, DISMISSING_REASON_IDS) if status == "Dismissed" else None,
            modifiedOn=ctx.iso(min(now, created + between(rng, 0, 2 * MS_PER_DAY))),
        )
    record.update(
        name=customer["name"],
        address={field: address.get(field) for field in ADDRESS_FIELDS}
        if address.get("street")
        else None,
        customerType=customer.get("type"),
        isFirstTimeClient=created <= ms(customer["createdOn"]) + MS_PER_DAY,
        bookingProviderId=provider_id,
        source=provider,
        externalId=f"BK-{provider_id}-{record['id']}",
        summary="Requested a visit online.",
        priority=weighted(rng, PRIORITIES, PRIORITY_WEIGHTS),
        isSendConfirmationEmail=True,
        uploadedImages=[],
        active=True,
        createdOn=ctx.iso(created),
    )
    return [record]


def bookings_change(ctx: GenerationContext, record: Record) -> Record | None:
    """A new booking is accepted or dismissed; an accepted one is rescheduled (the customer
    asks for another day) or, never becoming a job, dismissed in the end."""
    status = record["status"]
    if status not in ("New", "Accepted"):
        return None
    roll = ctx.rng.random()
    if status == "New" and roll < 0.6:
        return stamped(ctx, {**record, "status": "Accepted"})
    if roll < 0.3 or status == "New":
        return stamped(
            ctx,
            {
                **record,
                "status": "Dismissed",
                "dismissingReasonId": pick(ctx.rng, DISMISSING_REASON_IDS),
            },
        )
    later = max(ms(record["start"]), ctx.now_ms) + between(ctx.rng, MS_PER_DAY, 7 * MS_PER_DAY)
    return stamped(ctx, {**record, "start": ctx.iso(later)})


# ---------------------------------------------------------------------------------------------
# Campaign costs
# ---------------------------------------------------------------------------------------------

COST_MONTHS = 36
TRUE_UP_MONTHS = 3  # past months whose spend is still corrected as bills arrive
# What a campaign costs per day, in dollars, by its medium.
DAILY_SPEND = MappingProxyType(
    {
        "PPC": (80, 250),
        "LSA": (40, 140),
        "Social": (20, 90),
        "Directory": (10, 45),
        "Organic": (0, 15),
        "Signage": (3, 15),
        "Broadcast": (120, 320),
        "Print": (30, 160),
        "Word of mouth": (5, 25),
        "Referral": (10, 40),
        "Repeat": (0, 5),
        "Lead aggregator": (40, 120),
        "Event": (50, 200),
    }
)
# Home services spend follows the season: most in summer (AC), least in spring and autumn.
SEASON = (
    Decimal("0.95"),
    Decimal("0.85"),
    Decimal("0.80"),
    Decimal("0.90"),
    Decimal("1.10"),
    Decimal("1.30"),
    Decimal("1.35"),
    Decimal("1.30"),
    Decimal("1.05"),
    Decimal("0.85"),
    Decimal("0.90"),
    Decimal("1.05"),
)


def year_month(ctx: GenerationContext, at: int) -> tuple[int, int]:
    text = ctx.iso(at)
    return int(text[0:4]), int(text[5:7])


def months_back(year: int, month: int, count: int) -> list[tuple[int, int]]:
    """The ``count`` (year, month) ending with ``year``/``month``, oldest first."""
    index = year * 12 + month - 1
    return [(i // 12, i % 12 + 1) for i in range(index - count + 1, index + 1)]


def daily_cost(rng: Uniform, campaign: Record, year: int, month: int) -> Decimal:
    """A month's daily spend: by medium and season; nothing outside the year a dated campaign
    ("Home Show 2024") ran in."""
    name = str(campaign.get("name") or "")
    if name[-4:].isdigit() and int(name[-4:]) != year:
        return Decimal("0.00")
    lo, hi = DAILY_SPEND.get(str(campaign.get("medium") or ""), (5, 50))
    base = Decimal(between(rng, lo * 100, hi * 100)) / 100
    return (base * SEASON[month - 1]).quantize(CENT, ROUND_HALF_UP)


def cost_record(
    ctx: GenerationContext, campaign: Record, year: int, month: int, rng: Uniform
) -> Record:
    record = new_record(ctx)
    record.update(
        campaignId=campaign["id"],
        year=year,
        month=month,
        dailyCost=as_number(daily_cost(rng, campaign, year, month)),
    )
    return record


def campaign_costs_generate(ctx: GenerationContext, campaign: Record | None) -> list[Record]:
    """One record per month of the last 36 (this one included)."""
    if campaign is None or not first_call(ctx, campaign, "campaignId"):
        return []
    year, month = year_month(ctx, ctx.now_ms)
    return [
        cost_record(ctx, campaign, y, m, ctx.rng) for y, m in months_back(year, month, COST_MONTHS)
    ]


def campaign_costs_change(ctx: GenerationContext, record: Record) -> Record | None:
    """Spend of the current month is re-paced as it goes (within 10 %), and the last few
    months' are trued up as the ad platforms' bills arrive (within 3 %); older months are
    closed. A new month opens its record."""
    year, month = year_month(ctx, ctx.now_ms)
    campaign = lookup(ctx, "campaigns", record.get("campaignId"))
    if campaign is None:
        return None
    siblings = ctx.children("campaign_costs", "campaignId", campaign["id"])
    if not any(s["year"] == year and s["month"] == month for s in siblings):
        ctx.emit("campaign_costs", cost_record(ctx, campaign, year, month, ctx.rng))
    months_ago = (year * 12 + month) - (record["year"] * 12 + record["month"])
    if months_ago > TRUE_UP_MONTHS or not record["dailyCost"]:
        return None
    spread = 10 if months_ago == 0 else 3
    factor = Decimal(100 + between(ctx.rng, -spread, spread)) / 100
    revised = as_number(Decimal(str(record["dailyCost"])) * factor)
    return None if revised == record["dailyCost"] else {**record, "dailyCost": revised}


# ---------------------------------------------------------------------------------------------
# Payroll settings
# ---------------------------------------------------------------------------------------------


def hire_date(employee: Record) -> str:
    """When the employee was hired: their start date, unless that is after their record was
    created (payroll is set up once someone is hired)."""
    start = employee.get("startDate")
    if isinstance(start, str) and ms(start) <= ms(employee["createdOn"]):
        return start
    return str(employee["createdOn"])


def payroll_settings_for(ctx: GenerationContext, employee: Record) -> Record:
    """An employee's payroll settings, from the employee's own record."""
    record = ctx.synthesize(parent=employee)
    record.pop("id", None)  # keyed by employeeId: the schema has no id
    rate = employee.get("hourlyRate")
    if not isinstance(rate, int | float) or not 12 <= rate <= 90:
        rate = as_number(Decimal(between(ctx.rng, 1800, 4500)) / 100)
    manager = lookup(ctx, "employees", employee.get("managerId"))
    active = bool(employee.get("active", True))
    record.update(
        employeeId=employee["id"],
        employeeType="Technician"
        if str(employee.get("role") or "").startswith("Technician")
        else "Employee",
        hourlyRate=float(rate),
        hireDate=hire_date(employee),
        managerId=manager["id"] if manager is not None else None,
        payrollBusinessUnitId=employee.get("businessUnitId"),
        externalPayrollId=f"E{int(employee['id']) % 100_000:05d}",
        isIncludedInPayroll=active,
        active=active,
        createdOn=employee["createdOn"],
        modifiedOn=employee["modifiedOn"],
    )
    return record


def payroll_settings_generate(ctx: GenerationContext, employee: Record | None) -> list[Record]:
    if employee is None or not first_call(ctx, employee, "employeeId"):
        return []
    return [payroll_settings_for(ctx, employee)]


def payroll_settings_change(ctx: GenerationContext, record: Record) -> Record | None:
    """A yearly raise (3 %)."""
    raised = Decimal(str(record["hourlyRate"])) * Decimal("1.03")
    return stamped(ctx, {**record, "hourlyRate": as_number(raised)})


def payroll_settings_on_employee_change(
    ctx: GenerationContext, employee: Record | None
) -> list[Record]:
    """An employee who leaves (inactive) leaves payroll too."""
    if employee is None:
        return []
    active = bool(employee.get("active", True))
    return [
        stamped(ctx, {**record, "active": active, "isIncludedInPayroll": active})
        for record in ctx.children("payroll_settings", "employeeId", employee["id"])
        if record["active"] != active
    ]


def cancel_reasons_change(ctx: GenerationContext, record: Record) -> Record | None:
    """Now and then a reason is retired (inactive); names stay."""
    if not record.get("active") or ctx.rng.random() >= 0.1:
        return None
    return stamped(ctx, {**record, "active": False})


def gl_accounts_generate(ctx: GenerationContext, parent: Record | None) -> list[Record]:
    """The chart of accounts: the first records are the accounts the hand-written world posts
    invoice items and payments to (pools.WORLD_GL_ACCOUNTS: their ids, names and types, so an
    item's account can be looked up here), the rest synthesised. Each record is synthesised
    first either way, so the accounts after them draw exactly what they drew before."""
    record = ctx.synthesize(parent=parent)
    index = len(ctx.ids("gl_accounts"))
    if index >= len(pools.WORLD_GL_ACCOUNTS):
        return [record]
    account = pools.WORLD_GL_ACCOUNTS[index]
    record.update(
        id=account["id"],
        name=account["name"],
        number=account["number"],
        type=account["type"],
        subtype=account["detailType"],
        description=f"{account['name']} ({account['type']})",
        active=True,
    )
    return [record]


def gl_accounts_change(ctx: GenerationContext, record: Record) -> Record | None:
    """The world's own accounts never change (its items keep naming them as they are); the
    others change as plain synthesised records do."""
    if any(record["id"] == account["id"] for account in pools.WORLD_GL_ACCOUNTS):
        return None
    return default_change(ctx, record)


# ---------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------

BEHAVIOURS: Mapping[str, Behaviour] = MappingProxyType(
    {
        "estimates": Behaviour(
            estimates_generate,
            estimates_change,
            change_rate_per_day=0.05,
            calls_per_parent=1,
            on_parent_change=estimates_on_job_change,
        ),
        "calls": Behaviour(calls_generate, calls_change, change_rate_per_day=0.01),
        "leads": Behaviour(leads_generate, leads_change, change_rate_per_day=0.05),
        "bookings": Behaviour(bookings_generate, bookings_change, change_rate_per_day=0.05),
        "memberships": Behaviour(
            memberships_generate,
            memberships_change,
            change_rate_per_day=MEMBERSHIP_CHANGES_PER_DAY,
            due_ms=membership_due,
        ),
        # Emitted by the memberships behaviour, never changed (an immutable log).
        "membership_status_changes": Behaviour(nothing, unchanged, change_rate_per_day=0.0),
        "job_splits": Behaviour(
            splits_generate,
            unchanged,
            change_rate_per_day=0.0,
            calls_per_parent=1,
            on_parent_change=splits_on_job_change,
        ),
        "appointment_assignments": Behaviour(
            assignments_generate,
            unchanged,
            change_rate_per_day=0.0,
            calls_per_parent=1,
            on_parent_change=assignments_on_appointment_change,
        ),
        "job_timesheets": Behaviour(
            timesheets_generate,
            unchanged,
            change_rate_per_day=0.0,
            calls_per_parent=1,
            on_parent_change=timesheets_on_appointment_change,
        ),
        "technician_ratings": Behaviour(
            ratings_generate,
            ratings_change,
            calls_per_parent=1,
            on_parent_change=ratings_on_job_change,
        ),
        "job_canceled_logs": Behaviour(
            cancel_logs_generate,
            unchanged,
            change_rate_per_day=0.0,
            calls_per_parent=1,
            on_parent_change=cancel_logs_on_job_change,
        ),
        "job_cancel_reasons": Behaviour(cancel_reasons_generate, cancel_reasons_change),
        "gl_accounts": Behaviour(gl_accounts_generate, gl_accounts_change),
        "job_history": Behaviour(
            history_generate,
            unchanged,
            change_rate_per_day=0.0,
            calls_per_parent=1,
            on_parent_change=history_on_job_change,
        ),
        "campaign_costs": Behaviour(
            campaign_costs_generate,
            campaign_costs_change,
            change_rate_per_day=0.05,
            calls_per_parent=1,
        ),
        "payroll_settings": Behaviour(
            payroll_settings_generate,
            payroll_settings_change,
            calls_per_parent=1,
            on_parent_change=payroll_settings_on_employee_change,
        ),
    }
)
