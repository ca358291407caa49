"""The contract between the generic generator and the per-entity behaviours.

The generator (``generator.py``) builds every entity of ``entities.ENTITIES`` that the
hand-written world (``simulator/world``) does not (:data:`HAND_WRITTEN`), in dependency order
(an entity after its ``Volume.per`` parent and the entities it references). For each entity:

* ``Volume(count=n)``: ``behaviour.generate(ctx, None)`` is called ``n`` times;
* ``Volume(per=parent, rate=r)``: for each record of ``parent``, ``behaviour.generate(ctx,
  parent_record)`` is called ``k`` times, ``k`` drawn around ``r`` (Poisson-like, seeded), so a
  behaviour that wants a fixed number per parent returns a list and ignores ``k`` by returning
  ``[]`` from the extra calls (``ctx.call_index`` says which call this is).

Every record a behaviour returns is stored as is (it must be complete and valid against the
entity's schema); :meth:`GenerationContext.synthesize` gives a schema-valid starting point with
its key, timestamps, active flag and references already filled.

On ``World.advance(hours)`` the generator calls ``behaviour.change(ctx, record)`` for a seeded
sample of each entity's records (about ``change_rate_per_day`` of them per day, at least one
per entity in a multi-hour advance) and stores what it returns (``None``: unchanged); it also
calls ``generate`` for parents created during the advance. A changed record must carry
``modifiedOn = ctx.iso(ctx.now_ms)`` when the entity has a ``modified_field`` of
``modifiedOn``.

Without an entry in ``BEHAVIOURS`` (``behaviours.py``) an entity gets :data:`DEFAULT`: plain
synthesised records, and changes that redraw a few fields and sometimes deactivate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..world.base import FastRandom

Record = dict[str, Any]

# Entities the hand-written world builds (customers and their work, the reference tables they
# use); the generator reads them as parents and reference targets, never writes them.
HAND_WRITTEN = frozenset(
    {
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
    }
)


class GenerationContext(Protocol):
    """What a behaviour can see and do. One context per entity being generated or changed."""

    entity: str  # the entity being generated or changed
    rng: FastRandom  # seeded per entity: adding an entity does not change the others' data
    now_ms: int  # the simulated "now" (generation's start, or the advance's event time)
    call_index: int  # 0.. for the k calls of generate() for one parent

    def iso(self, ms: int) -> str:
        """A time as ServiceTitan writes it (``2026-11-01T12:00:00Z``-style, UTC)."""

    def synthesize(self, entity: str | None = None, parent: Record | None = None) -> Record:
        """A schema-valid record of ``entity`` (default: ``self.entity``) with a new key,
        ``createdOn``/``modifiedOn`` between the parent's creation and now, ``active`` mostly
        true, and every reference field the entity table names pointing at a real record
        (taken from ``parent`` when the parent has the same field, e.g. ``customerId``)."""

    def new_id(self, entity: str | None = None) -> int:
        """A fresh id for ``entity`` (increasing)."""

    def ids(self, entity: str) -> Sequence[int]:
        """The ids of ``entity``'s records so far, in creation order."""

    def record(self, entity: str, record_id: int) -> Record:
        """One stored record of ``entity`` (a copy; in its export shape, else its list shape)."""

    def random_record(self, entity: str, active_only: bool = True) -> Record | None:
        """A seeded random record of ``entity`` (``None`` when it has none)."""

    def children(self, entity: str, field: str, parent_id: int) -> list[Record]:
        """Records of ``entity`` whose ``field`` equals ``parent_id`` (e.g. a job's
        appointments: ``children("appointments", "jobId", job_id)``)."""

    def emit(self, entity: str, record: Record) -> None:
        """Store a record of another entity now (a membership's status changes), or a new
        record of this entity besides the one being changed (a membership's renewal)."""


Generate = Callable[[GenerationContext, Record | None], list[Record]]
Change = Callable[[GenerationContext, Record], Record | None]


@dataclass(frozen=True)
class Behaviour:
    """How one entity's records are generated and changed (see the module docstring)."""

    generate: Generate
    change: Change
    change_rate_per_day: float = 0.002  # share of the entity's records changed per day
    # When set, generate() is called exactly this many times for each parent record
    # (call_index 0..n-1) instead of k times drawn around ``Volume.rate``: for entities whose
    # records come as one set per parent that the behaviour sizes itself (a job's splits
    # summing to 100%, an employee's one payroll settings record, a campaign's monthly costs).
    calls_per_parent: int | None = None
    # Called on ``World.advance`` for each record of the entity's ``Volume.per`` parent that the
    # advance changed (not created: those get generate()), with the parent as it now is.
    # Returns the records the change brings: new ones (a canceled job's cancel log) and
    # changed ones (an appointment's timesheet once the technician arrived: same key, stored
    # in place of the old version). ``None``: changes of a parent bring nothing.
    on_parent_change: Generate | None = None
    # When set: the time (epoch ms) at which a record changes by itself, e.g. a membership
    # reaching the end of its term (``None``: not due). On ``World.advance`` change() is also
    # called, besides the sample, for every record that falls due by the advance's end.
    due_ms: Callable[[Record], int | None] | None = None


def default_generate(ctx: GenerationContext, parent: Record | None) -> list[Record]:
    return [ctx.synthesize(parent=parent)]


def default_change(ctx: GenerationContext, record: Record) -> Record | None:
    """Redraw a few non-key fields from a fresh synthesis; deactivate one in twenty."""
    fresh = ctx.synthesize()
    changed = dict(record)
    for name in ctx.rng.sample(sorted(fresh), k=min(2, len(fresh))):
        if name not in ("id", "createdOn") and not name.endswith("Id"):
            changed[name] = fresh[name]
    if "active" in changed and ctx.rng.random() < 0.05:
        changed["active"] = False
    if "modifiedOn" in changed:
        changed["modifiedOn"] = ctx.iso(ctx.now_ms)
    return changed


DEFAULT = Behaviour(default_generate, default_change)
