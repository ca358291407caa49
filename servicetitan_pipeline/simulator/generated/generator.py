"""Generates and changes every entity the hand-written world does not build (see ``contract``).

:class:`Generator` builds each entity of ``entities.ENTITIES`` outside
:data:`~.contract.HAND_WRITTEN` in dependency order (after its ``Volume.per`` parent and the
entities it references), each from its own RNG seeded by (seed, entity name), so that adding an
entity to the table changes no other entity's data and a seed always gives the same bytes. The
records come from the entity's behaviour (``BEHAVIOURS.get(name, DEFAULT)``), which starts from
:meth:`EntityContext.synthesize`: a schema-valid record with its key, times, active flag and
references to real records filled in. They are stored as bytes (``store.KIND_PLAIN``).

On ``World.advance`` (:meth:`Generator.advance`) the generated entities move with the clock, in
time order: parents created during the advance (new jobs, new customers, and generated parents
such as new memberships) get their children, and a seeded sample of each entity's records is
changed by its behaviour (about ``change_rate_per_day`` of them per day, at least one per entity
in a multi-hour advance), records falling due are changed (``Behaviour.due_ms``) and behaviours
that follow their parent hear of its changes (``Behaviour.on_parent_change``). Immutable
entities (ordered by ``createdOn``: status changes, cancel logs) are never edited; they get new
records instead.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ...entities import ENTITIES, ENTITIES_BY_NAME, Entity, Reference
from ..store import KIND_INVOICE_ITEM, EntityStore, pack
from ..timefmt import MS_PER_DAY, MS_PER_HOUR, iso, parse_client_datetime
from ..world.base import HISTORY_DAYS, FastRandom
from .behaviours import BEHAVIOURS
from .contract import DEFAULT, HAND_WRITTEN, Behaviour, Record
from .synth import (
    Gen,
    RecordSynth,
    SynthState,
    has_property,
    record_synth,
    stable_hash,
    value_synth,
)

# Children are created within this long after their parent (an estimate after its job).
CHILD_CREATION_WINDOW_MS = 30 * MS_PER_DAY
# Reference lists (Volume.count) were set up before the history starts.
REFERENCE_SETUP_DAYS = 500
INACTIVE_RATE = 0.05  # share of generated records that are inactive
UNMODIFIED_RATE = 0.5  # share of records never modified after their creation
# Every per-parent entity gets at least this many records when it has parents, so that small
# test tenants exercise every endpoint.
MIN_RECORDS = 3
# An advance of at least this long changes at least one record of every generated entity.
MIN_CHANGE_HOURS = 2.0
_MUST_CHANGE_TRIES = 200  # records tried by an entity's one guaranteed change of an advance
_KEY_RETRIES = 8  # redraws of a composite key's free part before a duplicate record is dropped


def generated_entities() -> tuple[Entity, ...]:
    """The entities the generator builds, in dependency order (parents and targets first)."""
    pending = {e.name: e for e in ENTITIES if e.name not in HAND_WRITTEN}
    order: list[Entity] = []
    done: set[str] = set(HAND_WRITTEN)
    while pending:
        ready = [
            e for e in pending.values() if all(d in done or d == e.name for d in _dependencies(e))
        ]
        if not ready:
            cycle = ", ".join(sorted(pending))
            raise ValueError(f"the entity table's references form a cycle among: {cycle}")
        for entity in ready:
            order.append(entity)
            done.add(entity.name)
            del pending[entity.name]
    return tuple(order)


def _dependencies(entity: Entity) -> set[str]:
    deps = {r.entity for r in entity.references}
    if entity.volume.per is not None:
        deps.add(entity.volume.per)
    unknown = deps - set(ENTITIES_BY_NAME)
    if unknown:
        raise ValueError(f"{entity.name} refers to unknown entities: {', '.join(sorted(unknown))}")
    return deps


def id_base(entity: str) -> int:
    """The first id of a generated entity: ids are large and differ between entities."""
    return (100 + stable_hash(entity) % 900) * 1_000_000


def poisson(rng: FastRandom, mean: float) -> int:
    """A seeded Poisson draw (Knuth's product of uniforms; a rounded normal for large means)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    k, product = 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def parse_ms(text: str) -> int:
    """Epoch milliseconds of a timestamp the simulator wrote (``...Z``) or a behaviour set.

    Raises:
        ValueError: the text is not a timestamp.
    """
    return parse_client_datetime(text)


def _get_path(record: Mapping[str, Any], path: str) -> Any:
    if "." not in path:
        return record.get(path)
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


@dataclass(frozen=True)
class _RefRule:
    """How one reference of an entity is resolved (see ``Generator._reference_target``)."""

    ref: Reference
    from_parent: str | None  # the parent's field holding the target ("id": the parent itself)
    owner_field: str | None  # the target entity's field that references the parent entity
    # Fields copied from the target: ("technicianName", "name"), ("customer.name", "name").
    siblings: tuple[tuple[str, str], ...]


class _Plan:
    """What the generator precomputes about one entity: its schema, key and references."""

    def __init__(self, entity: Entity) -> None:
        self.entity = entity
        self.name = entity.name
        self.synth: RecordSynth = record_synth(entity.name)
        self.behaviour: Behaviour = BEHAVIOURS.get(entity.name, DEFAULT)
        props = set(self.synth.properties)
        for field in (*entity.key, entity.modified_field, entity.active_field):
            if field is not None and field.split(".")[0] not in props:
                raise ValueError(
                    f"{entity.name}: field {field} of the entity table is not in the schema "
                    f"{entity.record_schema}"
                )
        for ref in entity.references:
            if ref.field.split(".")[0] not in props:
                raise ValueError(
                    f"{entity.name}: reference field {ref.field} is not in {entity.record_schema}"
                )
        ref_fields = {r.field for r in entity.references}
        # The store id: the record's "id", else its one key field; records keyed by several
        # fields get an internal increasing id that is no field of theirs.
        self.store_key = entity.key[0] if len(entity.key) == 1 else None
        # Key fields drawn fresh (not taken from a reference): "id", reviews' "internalId".
        self.fresh_key = self.store_key is not None and self.store_key not in ref_fields
        per = entity.volume.per
        # One record per parent when the parent's id is the key (payroll settings per
        # employee, job history per job).
        self.one_per_parent = self.store_key is not None and any(
            r.field == self.store_key and r.entity == per for r in entity.references
        )
        self.has_created = "createdOn" in props
        self.has_modified = "modifiedOn" in props
        self.immutable = entity.modified_field not in (None, "modifiedOn")
        # Name-like siblings of references: "technicianName" beside "technicianId", and the
        # "name"/"number" inside a nested {"id", "name"} reference.
        # Drawers of the nested objects that dotted references live in ("customer" of
        # "customer.id"), never null: a reference that points at a record is an object.
        self.ref_objects: dict[str, Gen] = {}
        for ref in entity.references:
            if "." in ref.field:
                head = ref.field.rpartition(".")[0]
                self.ref_objects[head] = value_synth(entity.name, head, nullable=False)
        self.ref_rules = tuple(self._rule(ref, props) for ref in entity.references)
        # References that are part of a composite key and not the parent's (a rating's
        # technician): redrawn while the key is taken.
        self.free_key_rules = tuple(
            rule
            for rule in self.ref_rules
            if rule.ref.field in entity.key and rule.ref.entity != per
        )

    def _rule(self, ref: Reference, props: set[str]) -> _RefRule:
        per = self.entity.volume.per
        from_parent: str | None = None
        owner_field: str | None = None
        if per is not None:
            if ref.entity == per:
                from_parent = "id"
            else:
                # The parent's own reference to the same entity (an estimate's customer is
                # its job's), else one of the parent's records of it (a call's location is one
                # of its customer's locations).
                for parent_ref in ENTITIES_BY_NAME[per].references:
                    if parent_ref.entity == ref.entity:
                        from_parent = parent_ref.field
                        break
                for target_ref in ENTITIES_BY_NAME[ref.entity].references:
                    if target_ref.entity == per:
                        owner_field = target_ref.field
                        break
        return _RefRule(ref, from_parent, owner_field, self._siblings(ref.field, props))

    def _siblings(self, field: str, props: set[str]) -> tuple[tuple[str, str], ...]:
        if "." in field:
            head = field.rpartition(".")[0]
            for source in ("name", "number"):
                if has_property(self.name, f"{head}.{source}"):
                    return ((f"{head}.{source}", source),)
            return ()
        if field.endswith("Id"):
            name_field = field[:-2] + "Name"
            if name_field in props:
                return ((name_field, "name"),)
        return ()


class Generator:
    """Builds and changes the generated entities of a :class:`~..world.World`'s stores."""

    def __init__(
        self,
        stores: Mapping[str, EntityStore],
        seed: int | str,
        now_ms: int,
        entities: Sequence[Entity] | None = None,
    ) -> None:
        """``entities``: what to generate, in dependency order (default: every entity outside
        ``HAND_WRITTEN``; a test leaves one out to show the others do not depend on it)."""
        self.stores = stores
        self.seed = seed
        self.now_ms = now_ms
        self.plans = {e.name: _Plan(e) for e in (entities or generated_entities())}
        self.contexts = {name: EntityContext(self, name) for name in self.plans}
        self._next_id: dict[str, int] = {name: id_base(name) for name in self.plans}
        self._internal_id: dict[str, int] = dict.fromkeys(self.plans, 0)
        # (entity, field) -> field value -> positions; built on first use, kept up to date for
        # generated entities, rebuilt for hand-written ones after they change.
        self._indexes: dict[str, dict[str, dict[Any, list[int]]]] = {}  # entity -> field -> ...
        self._composite_keys: dict[str, dict[tuple[Any, ...], int]] = {
            name: {} for name, plan in self.plans.items() if plan.store_key is None
        }
        self._written: set[str] = set()  # entities written since the last look (advance)
        self._updated: list[tuple[str, int]] = []  # records updated since then (entity, pos)
        # entity -> id -> the fields other records copy from it (a customer's name).
        self._sibling_cache: dict[str, dict[int, dict[str, Any]]] = {}
        self._building = True
        # id(record) -> the times synthesize() drew for it: (createdOn text, ms, modifiedOn
        # text, ms); emptied after each batch of records.
        self._drawn: dict[int, tuple[str | None, int, str | None, int]] = {}

    # ---------------------------------------------------------------- build

    def build(self) -> None:
        """Generate every entity's records, up to ``now_ms`` (the tenant is still building)."""
        for name, plan in self.plans.items():
            ctx = self.contexts[name]
            volume = plan.entity.volume
            if volume.per is None:
                self._build_reference_list(plan, ctx, volume.count)
            else:
                self._build_children(plan, ctx, volume.per, volume.rate)
            if plan.behaviour is DEFAULT:
                self._ensure_an_inactive_record(plan, ctx)
        self._updated.clear()
        self._building = False

    def _ensure_an_inactive_record(self, plan: _Plan, ctx: EntityContext) -> None:
        """Deactivate one record of an entity that drew none inactive (a short reference list):
        every entity with an active flag then shows how its endpoints treat inactive records.
        Only for plain synthesised entities: a behaviour decides its own records' states."""
        field = plan.entity.active_field
        store = self.stores[plan.name]
        if field is None or len(store) < MIN_RECORDS or not all(store.active):
            return
        pos = int(ctx.rng.random() * len(store))
        record = store.record(pos)
        record[field] = False
        store.blobs[pos] = pack(record)
        store.active[pos] = 0

    def _build_reference_list(self, plan: _Plan, ctx: EntityContext, count: int) -> None:
        setup_end = self.now_ms - HISTORY_DAYS * MS_PER_DAY
        lo = setup_end - REFERENCE_SETUP_DAYS * MS_PER_DAY
        ctx.window = (lo, setup_end)
        for i in range(count):
            ctx.call_index = i
            self._store_all(plan, plan.behaviour.generate(ctx, None))

    def _build_children(self, plan: _Plan, ctx: EntityContext, per: str, rate: float) -> None:
        parents = self.stores[per]
        n_parents = len(parents)
        for pos in range(n_parents):
            self._children_of(plan, ctx, per, pos, rate, None)
        if n_parents:
            attempts = 0
            while len(self.stores[plan.name]) < MIN_RECORDS and attempts < 10 * MIN_RECORDS:
                attempts += 1
                pos = int(ctx.rng.random() * n_parents)
                self._children_of(plan, ctx, per, pos, 0, None, calls=1)

    def _children_of(
        self,
        plan: _Plan,
        ctx: EntityContext,
        per: str,
        parent_pos: int,
        rate: float,
        at_ms: int | None,
        calls: int | None = None,
    ) -> None:
        """Generate the records of one parent (at ``at_ms`` during an advance; else spread over
        the window after the parent's creation)."""
        parents = self.stores[per]
        if calls is None:
            if plan.one_per_parent:
                calls = 1
            elif plan.behaviour.calls_per_parent is not None:
                calls = plan.behaviour.calls_per_parent  # the behaviour sizes the set itself
            else:
                calls = poisson(ctx.rng, rate)
        if calls <= 0:
            return
        parent = self.render(per, parent_pos)
        created = parents.created_ms[parent_pos]
        if at_ms is None:
            ctx.window = (created, min(self.now_ms, created + CHILD_CREATION_WINDOW_MS))
        else:
            ctx.window = (at_ms, at_ms)
        for i in range(calls):
            ctx.call_index = i
            self._store_all(plan, plan.behaviour.generate(ctx, parent))

    def _store_all(self, plan: _Plan, records: Iterable[Record]) -> None:
        for record in records:
            self.store_record(plan.name, record)
        self._drawn.clear()

    # ---------------------------------------------------------------- records

    def synthesize(self, ctx: EntityContext, entity: str, parent: Record | None) -> Record:
        """A schema-valid record of ``entity``: drawn from its schema, then its key, times,
        active flag and references set (see ``contract.GenerationContext.synthesize``)."""
        plan = self.plans[entity]
        rng = ctx.rng
        lo, hi = ctx.window
        created = lo if hi <= lo else lo + int(rng.random() * (hi - lo + 1))
        modified = created
        if rng.random() >= UNMODIFIED_RATE and self.now_ms > created:
            modified = created + int(rng.random() * (self.now_ms - created + 1))
        state = ctx.state
        state.lo_ms, state.hi_ms = created, max(created, self.now_ms)
        record = plan.synth(state)
        if plan.fresh_key:
            assert plan.store_key is not None
            record[plan.store_key] = self.new_id(entity, rng)
        created_text = modified_text = None
        if plan.has_created:
            record["createdOn"] = created_text = iso(created)
        if plan.has_modified:
            record["modifiedOn"] = modified_text = iso(modified)
        # Remembered so that storing the record need not parse them back (see _times).
        self._drawn[id(record)] = (created_text, created, modified_text, modified)
        active_field = plan.entity.active_field
        if active_field is not None:
            record[active_field] = rng.random() >= INACTIVE_RATE or hi <= lo
        self._resolve_references(plan, ctx, record, parent)
        if plan.store_key is None:
            self._make_key_unique(plan, ctx, record)
        return record

    def _make_key_unique(self, plan: _Plan, ctx: EntityContext, record: Record) -> None:
        """Redraw the free part of a composite key (a rating's technician, not its job) until
        no stored record has it; a record whose key stays taken updates that record."""
        state = ctx.state
        for _ in range(_KEY_RETRIES):
            if not plan.free_key_rules or not self.key_taken(plan.name, record):
                return
            for rule in plan.free_key_rules:
                target = self._reference_target(rule, ctx, None)
                if target is not None:
                    self._set_path(plan, state, record, rule.ref.field, target)

    def _resolve_references(
        self, plan: _Plan, ctx: EntityContext, record: Record, parent: Record | None
    ) -> None:
        state = ctx.state  # nested reference objects drawn here: times of the record's window
        for rule in plan.ref_rules:
            target = self._reference_target(rule, ctx, parent)
            if target is None:
                continue
            self._set_path(plan, state, record, rule.ref.field, target)
            if rule.siblings:
                values = self._sibling_values(rule.ref.entity, target, rule.siblings)
                for (field, _source), value in zip(rule.siblings, values, strict=True):
                    if value is not None:
                        self._set_path(plan, state, record, field, value)

    def _reference_target(
        self, rule: _RefRule, ctx: EntityContext, parent: Record | None
    ) -> int | None:
        """The id a reference points to: the parent itself, the parent's own reference to the
        same entity, one of the parent's records of that entity, or any record of it (mostly
        an active one)."""
        entity = rule.ref.entity
        if parent is not None:
            if rule.from_parent is not None:
                value = _get_path(parent, rule.from_parent)
                if isinstance(value, int):
                    return value
            parent_id = parent.get("id")
            if rule.owner_field is not None and isinstance(parent_id, int):
                owned = self.index(entity, rule.owner_field).get(parent_id)
                if owned:
                    pos = owned[int(ctx.rng.random() * len(owned))]
                    return int(self.stores[entity].ids[pos])
        store = self.stores[entity]
        if not len(store):
            return None
        for _ in range(4):
            pos = int(ctx.rng.random() * len(store))
            if store.active[pos]:
                break
        return int(store.ids[pos])

    @staticmethod
    def _set_path(plan: _Plan, state: SynthState, record: Record, path: str, value: Any) -> None:
        if "." not in path:
            record[path] = value
            return
        parts = path.split(".")
        node = record
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if not isinstance(child, dict):
                # A nullable nested reference ({"id", "name"}) drawn as null: draw it whole,
                # since it now points at a record.
                child = plan.ref_objects[".".join(parts[: i + 1])](state)
                node[part] = child
            node = child
        node[parts[-1]] = value

    def new_id(self, entity: str, rng: FastRandom) -> int:
        """The next id of a generated entity (with small gaps, as in a multi-tenant database),
        the gaps drawn from ``rng``: the RNG of the entity asking."""
        if entity not in self._next_id:
            raise ValueError(f"{entity} is not a generated entity; it has no new ids to give")
        step = 1 + (rng.random() < 0.25) * int(1 + rng.random() * 4)
        self._next_id[entity] += step
        return self._next_id[entity]

    def store_record(self, entity: str, record: Record) -> bool:
        """Store a record (new, or a new version of one with the same key), stamped with its
        times; ``False`` when it equals the stored version (nothing changed).

        Raises:
            ValueError: the record cannot be stored (naming the entity and the record).
        """
        plan = self.plans.get(entity)
        if plan is None:
            raise ValueError(f"{entity} is not a generated entity; it cannot be written")
        store = self.stores[entity]
        created_ms, modified_ms = self._times(plan, record)
        active_field = plan.entity.active_field
        active = bool(record.get(active_field, True)) if active_field is not None else True
        pos = self._existing_position(plan, store, record)
        if pos is None:
            if plan.store_key is not None:
                key = record.get(plan.store_key)
                if not isinstance(key, int):
                    raise ValueError(f"{entity}: record has no integer {plan.store_key}: {key!r}")
                store_id = key
            else:
                self._internal_id[entity] += 1
                store_id = self._internal_id[entity]
            if not self._building:
                # The change log's times never go back (export tokens from a date rely on it),
                # even for a record a behaviour dates back (a split of a job created earlier).
                modified_ms = max(modified_ms, self.now_ms)
            try:
                pos = store.add(store_id, pack(record), modified_ms, created_ms, active)
            except ValueError as exc:
                raise ValueError(f"{entity}: cannot store record {store_id}: {exc}") from None
            if plan.store_key is None:
                self._composite_keys[entity][self._key_of(plan, record)] = pos
            self._index_add(entity, record, pos)
        else:
            blob = pack(record)
            if blob == store.blobs[pos]:
                return False  # the same record again: no change, nothing for an export to send
            old = store.record(pos)
            if not self._building:
                # The change log's times never go back (export tokens from a date rely on it).
                modified_ms = max(modified_ms, self.now_ms)
            store.update(pos, record, modified_ms)
            store.active[pos] = 1 if active else 0
            self._updated.append((entity, pos))
            self._index_move(entity, old, record, pos)
            self._sibling_cache.get(entity, {}).pop(store.ids[pos], None)
        self._written.add(entity)
        return True

    def _times(self, plan: _Plan, record: Record) -> tuple[int, int]:
        """(created, modified) ms of a record: its own fields, else its parent's creation."""
        drawn = self._drawn.pop(id(record), None)
        field = plan.entity.modified_field
        if (
            drawn is not None
            and record.get("createdOn") is drawn[0]
            and (field is None or field == "createdOn" or record.get(field) is drawn[2])
        ):
            # The times synthesize() drew, untouched by the behaviour (the very same strings).
            created_ms = drawn[1]
            if field is None or field == "createdOn":
                return created_ms, created_ms
            return created_ms, drawn[3]
        created_text = record.get("createdOn") if plan.has_created else None
        if isinstance(created_text, str):
            created = parse_ms(created_text)
        else:
            # No creation time of its own (job history, campaign costs): its parent's, or now.
            created = self.contexts[plan.name].window[0]
        modified = created
        if field is not None:
            text = record.get(field)
            if isinstance(text, str):
                modified = parse_ms(text)
        return created, modified

    @staticmethod
    def _key_of(plan: _Plan, record: Record) -> tuple[Any, ...]:
        return tuple(record.get(field) for field in plan.entity.key)

    def _existing_position(self, plan: _Plan, store: EntityStore, record: Record) -> int | None:
        if plan.store_key is None:
            return self._composite_keys[plan.name].get(self._key_of(plan, record))
        key = record.get(plan.store_key)
        if not isinstance(key, int) or not len(store) or key > store.ids[-1]:
            return None
        try:
            return store.position(key)
        except KeyError:
            return None

    def key_taken(self, entity: str, record: Record) -> bool:
        """Whether a record with this record's key is stored already."""
        plan = self.plans[entity]
        return self._existing_position(plan, self.stores[entity], record) is not None

    # ---------------------------------------------------------------- reading

    def render(self, entity: str, pos: int) -> Record:
        """A stored record as a dict, in its export shape (else its list shape)."""
        store = self.stores[entity]
        blob = store.render_export(pos) if store.entity.has_export else store.render_list(pos)
        return dict(_loads(blob))

    def _fields_of(self, entity: str, pos: int) -> Record:
        """A stored record's fields, for lookups: the stored bytes carry every field but what
        the export shape adds (invoice items' invoiceId), and parse faster than a rendering
        (an invoice with its items)."""
        store = self.stores[entity]
        if store.kind == KIND_INVOICE_ITEM:
            return self.render(entity, pos)
        return _loads(store.blobs[pos])

    def _sibling_values(
        self, entity: str, record_id: int, siblings: tuple[tuple[str, str], ...]
    ) -> tuple[Any, ...]:
        """The fields ``siblings`` copy from a referenced record (its name, its number), cached:
        a customer's name is looked up for each of their calls."""
        cache = self._sibling_cache.setdefault(entity, {})
        known = cache.get(record_id)
        if known is None or any(source not in known for _field, source in siblings):
            try:
                referenced = self._fields_of(entity, self.stores[entity].position(record_id))
            except KeyError:
                referenced = {}
            known = {**(known or {}), **{s: referenced.get(s) for _f, s in siblings}}
            cache[record_id] = known
        return tuple(known[source] for _field, source in siblings)

    def index(self, entity: str, field: str) -> dict[Any, list[int]]:
        """Positions of ``entity``'s records by the value of ``field`` (built on first use)."""
        by_field = self._indexes.setdefault(entity, {})
        index = by_field.get(field)
        if index is None:
            index = {}
            for pos in range(len(self.stores[entity])):
                index.setdefault(_get_path(self._fields_of(entity, pos), field), []).append(pos)
            by_field[field] = index
        return index

    def _index_add(self, entity: str, record: Record, pos: int) -> None:
        for field, index in self._indexes.get(entity, {}).items():
            index.setdefault(_get_path(record, field), []).append(pos)

    def _index_move(self, entity: str, old: Record, new: Record, pos: int) -> None:
        for field, index in self._indexes.get(entity, {}).items():
            before, after = _get_path(old, field), _get_path(new, field)
            if before != after:
                positions = index.get(before)
                if positions is not None and pos in positions:
                    positions.remove(pos)
                index.setdefault(after, []).append(pos)

    def forget_hand_written_indexes(self) -> None:
        """Drop what is known of hand-written entities (their records changed without us)."""
        for entity in [e for e in self._indexes if e not in self.plans]:
            del self._indexes[entity]
        self._sibling_cache.clear()

    # ---------------------------------------------------------------- advance

    def advance(self, start_ms: int, end_ms: int, lengths_before: Mapping[str, int]) -> None:
        """Move the generated entities from ``start_ms`` to ``end_ms`` (see the module doc).

        ``lengths_before``: every store's record count at the advance's start, so that parents
        the hand-written world created meanwhile get their children.
        """
        if end_ms <= start_ms:
            return
        self.forget_hand_written_indexes()
        self._building = False
        days = (end_ms - start_ms) / MS_PER_DAY
        hours = (end_ms - start_ms) / MS_PER_HOUR
        queue: list[tuple[int, int, int, Callable[[int], None]]] = []
        counter = 0

        def schedule(at: int, order: int, action: Callable[[int], None]) -> None:
            nonlocal counter
            counter += 1
            heapq.heappush(queue, (at, order, counter, action))

        order = {name: i for i, name in enumerate(self.plans)}
        for name, plan in self.plans.items():
            ctx = self.contexts[name]
            size = len(self.stores[name])
            n = poisson(ctx.rng, plan.behaviour.change_rate_per_day * days * size)
            if hours >= MIN_CHANGE_HOURS and size:
                n = max(n, 1)
            for i in range(n):
                at = start_ms + 1 + int(ctx.rng.random() * (end_ms - start_ms))
                # The first event of an entity that must change tries until something does.
                must = i == 0 and hours >= MIN_CHANGE_HOURS
                schedule(at, order[name], self._change_action(plan, ctx, must))
        children_by_parent: dict[str, list[_Plan]] = {}
        for plan in self.plans.values():
            if plan.entity.volume.per is not None:
                children_by_parent.setdefault(plan.entity.volume.per, []).append(plan)
        seen = {name: lengths_before.get(name, 0) for name in children_by_parent}

        def schedule_children(parent: str, floor_ms: int) -> None:
            store = self.stores[parent]
            for pos in range(seen[parent], len(store)):
                at = min(end_ms, max(floor_ms, store.created_ms[pos]))
                for plan in children_by_parent[parent]:
                    schedule(at, order[plan.name], self._children_action(plan, parent, pos))
            seen[parent] = len(store)

        for parent in children_by_parent:
            schedule_children(parent, start_ms + 1)
        # Behaviours that follow their parent's changes (a job completed, an appointment
        # dispatched), at the time of the change: the world's changes made above, and the
        # generated parents' changes as they happen below.
        reacting: dict[str, list[_Plan]] = {}
        for plan in self.plans.values():
            per = plan.entity.volume.per
            if per is not None and plan.behaviour.on_parent_change is not None:
                reacting.setdefault(per, []).append(plan)
        for parent, plans in reacting.items():
            if parent in self.plans:
                continue
            store = self.stores[parent]
            before = lengths_before.get(parent, 0)
            for pos in range(len(store)):
                # Changed during the advance; parents created during it too when they changed
                # after their creation (their children were made as they were created).
                since = start_ms if pos < before else store.created_ms[pos]
                if store.modified_ms[pos] > since:
                    at = min(end_ms, store.modified_ms[pos])
                    for plan in plans:
                        schedule(
                            at, order[plan.name], self._parent_change_action(plan, parent, pos)
                        )
        # Records that change by themselves when their time comes (a membership's end).
        for name, plan in self.plans.items():
            due_ms = plan.behaviour.due_ms
            if due_ms is not None:
                for pos in range(len(self.stores[name])):
                    due = due_ms(self.render(name, pos))
                    if due is not None and due <= end_ms:
                        schedule(max(start_ms + 1, due), order[name], self._due_action(plan, pos))
        while queue:
            at, _order, _n, action = heapq.heappop(queue)
            self.now_ms = at
            self._written.clear()
            self._updated.clear()
            action(at)
            for parent in self._written & children_by_parent.keys():
                schedule_children(parent, at)
            for parent, pos in self._updated:
                for plan in reacting.get(parent, ()):
                    schedule(at, order[plan.name], self._parent_change_action(plan, parent, pos))
        self.now_ms = end_ms

    def _change_action(self, plan: _Plan, ctx: EntityContext, must: bool) -> Callable[[int], None]:
        """One change event of an entity; ``must``: retry on other records until one changes
        (a behaviour may leave a record as it is, or a redraw may give the same values)."""

        def act(at: int) -> None:
            ctx.now_ms = at
            ctx.window = (at, at)
            store = self.stores[plan.name]
            if plan.immutable:
                # Immutable records (status changes, cancel logs) are never edited: time moving
                # on adds new ones to a random parent instead.
                per = plan.entity.volume.per
                if per is not None and len(self.stores[per]):
                    pos = int(ctx.rng.random() * len(self.stores[per]))
                    self._children_of(plan, ctx, per, pos, 0, at, calls=1)
                elif per is None:
                    self._store_all(plan, plan.behaviour.generate(ctx, None))
                return
            if must:
                # Distinct records, so that a small entity is tried whole: a behaviour leaves
                # most records as they are (a dismissed estimate stays dismissed).
                candidates = ctx.rng.sample(range(len(store)), min(len(store), _MUST_CHANGE_TRIES))
            else:
                candidates = [int(ctx.rng.random() * len(store))]
            for pos in candidates:
                changed = plan.behaviour.change(ctx, self.render(plan.name, pos))
                if changed is not None and self.store_record(plan.name, changed):
                    return

        return act

    def _parent_change_action(self, plan: _Plan, parent: str, pos: int) -> Callable[[int], None]:
        """What a parent's change brings to a behaviour that follows it (on_parent_change)."""

        def act(at: int) -> None:
            ctx = self.contexts[plan.name]
            ctx.now_ms = at
            ctx.window = (at, at)
            ctx.call_index = 0
            react = plan.behaviour.on_parent_change
            assert react is not None
            self._store_all(plan, react(ctx, self.render(parent, pos)))

        return act

    def _due_action(self, plan: _Plan, pos: int) -> Callable[[int], None]:
        """A record whose time has come (Behaviour.due_ms) changes, unless it changed meanwhile
        so that it is no longer due (a membership canceled before its end)."""

        def act(at: int) -> None:
            ctx = self.contexts[plan.name]
            ctx.now_ms = at
            ctx.window = (at, at)
            record = self.render(plan.name, pos)
            due_ms = plan.behaviour.due_ms
            assert due_ms is not None
            due = due_ms(record)
            if due is None or due > at:
                return
            changed = plan.behaviour.change(ctx, record)
            if changed is not None:
                self.store_record(plan.name, changed)

        return act

    def _children_action(self, plan: _Plan, parent: str, pos: int) -> Callable[[int], None]:
        def act(at: int) -> None:
            ctx = self.contexts[plan.name]
            ctx.now_ms = at
            self._children_of(plan, ctx, parent, pos, plan.entity.volume.rate, at)

        return act


def _loads(blob: bytes) -> Record:
    record: Record = orjson.loads(blob)
    return record


class EntityContext:
    """The :class:`~.contract.GenerationContext` of one generated entity."""

    def __init__(self, generator: Generator, entity: str) -> None:
        self._generator = generator
        self.entity = entity
        self.rng = FastRandom(f"{generator.seed}:generated:{entity}")
        # The drawing state of the record being synthesised (one per entity: no allocation
        # per record).
        self.state = SynthState(self.rng, generator.now_ms, generator.now_ms)
        self.call_index = 0
        # Creation times of records synthesised now fall in this window (set per parent).
        self.window: tuple[int, int] = (generator.now_ms, generator.now_ms)

    @property
    def now_ms(self) -> int:
        return self._generator.now_ms

    @now_ms.setter
    def now_ms(self, value: int) -> None:
        self._generator.now_ms = value

    def iso(self, ms: int) -> str:
        return iso(ms)

    def synthesize(self, entity: str | None = None, parent: Record | None = None) -> Record:
        return self._generator.synthesize(self, entity or self.entity, parent)

    def new_id(self, entity: str | None = None) -> int:
        return self._generator.new_id(entity or self.entity, self.rng)

    def ids(self, entity: str) -> Sequence[int]:
        store: array[int] = self._generator.stores[entity].ids
        return store

    def record(self, entity: str, record_id: int) -> Record:
        store = self._generator.stores[entity]
        return self._generator.render(entity, store.position(record_id))

    def random_record(self, entity: str, active_only: bool = True) -> Record | None:
        store = self._generator.stores[entity]
        if not len(store):
            return None
        for _ in range(16):
            pos = int(self.rng.random() * len(store))
            if not active_only or store.active[pos]:
                return self._generator.render(entity, pos)
        candidates = [p for p in range(len(store)) if store.active[p]] if active_only else []
        if active_only and not candidates:
            return None
        pos = candidates[int(self.rng.random() * len(candidates))]
        return self._generator.render(entity, pos)

    def children(self, entity: str, field: str, parent_id: int) -> list[Record]:
        positions = self._generator.index(entity, field).get(parent_id, [])
        return [self._generator.render(entity, pos) for pos in positions]

    def emit(self, entity: str, record: Record) -> None:
        self._generator.store_record(entity, record)
