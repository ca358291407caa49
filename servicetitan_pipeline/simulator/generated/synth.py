"""Records synthesised from an entity's component schema in the bundled OpenAPI documents.

:func:`record_synth` compiles a schema once into a tree of small closures (one per property,
array and nested object), so drawing a record costs a few attribute lookups and RNG calls per
field: the generator draws millions at 100k customers. What the closures draw follows the
spec and the field's name:

* types and formats: ``int32``/``int64`` integers, ``double``/``decimal`` numbers, strings
  ``date-time`` (RFC 3339, UTC), ``date`` (``2026-11-01``), ``duration`` (a .NET TimeSpan,
  ``hh:mm:ss``), ``email``, ``phone``, ``html``/``multiline`` text, booleans;
* enums (the spec's own values, strings or integers);
* nullability: a nullable field is ``null`` now and then; every property is present, as
  ServiceTitan sends every property of its models (optional or not);
* nested objects and arrays (0-3 items; a schema that contains itself, as pricebook categories
  do, ends in an empty list);
* plausible values by name: people's names, emails, phones, addresses and memos from the
  world's pools, codes and numbers, money (a ``string`` named total/price/amount/cost... is
  ``"123.45"``, a ``number`` one a number with cents), ``...Id`` fields as plausible ids.

References to other records, keys, ``createdOn``/``modifiedOn`` and ``active`` are the
generator's business (it overwrites them); the synthesiser only draws their types right.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from ... import openapi
from ...entities import ENTITIES_BY_NAME
from .. import pools
from ..timefmt import MS_PER_DAY, iso
from ..world.base import FastRandom

_REF_PREFIX = "#/components/schemas/"
NULL_RATE = 0.12  # how often a nullable scalar is null
NULL_OBJECT_RATE = 0.2  # how often a nullable nested object is null
MAX_ITEMS = 3  # arrays get 0..MAX_ITEMS items


class SynthState:
    """What the closures draw from: the entity's RNG and the time window of the record.

    Date-times fall in ``[lo_ms, hi_ms]`` (the record's creation and the simulated now), so a
    record never carries a time after the clock.
    """

    __slots__ = ("hi_ms", "lo_ms", "rng")

    def __init__(self, rng: FastRandom, lo_ms: int, hi_ms: int) -> None:
        self.rng = rng
        self.lo_ms = lo_ms
        self.hi_ms = hi_ms

    def time_ms(self) -> int:
        lo, hi = self.lo_ms, self.hi_ms
        return lo if hi <= lo else lo + int(self.rng.random() * (hi - lo + 1))


Gen = Callable[[SynthState], Any]


@dataclass(frozen=True)
class RecordSynth:
    """A compiled record schema: call it to draw one record (a fresh dict)."""

    entity: str
    schema: str
    properties: tuple[str, ...]  # the record's top-level properties, in the spec's order
    nullable: frozenset[str]  # which of them the spec lets be null
    draw: Gen

    def __call__(self, state: SynthState) -> dict[str, Any]:
        record: dict[str, Any] = self.draw(state)
        return record


@cache
def record_synth(entity_name: str) -> RecordSynth:
    """The compiled synthesiser of an entity's record schema (its export's, else its list's)."""
    entity = ENTITIES_BY_NAME[entity_name]
    spec = openapi.module(entity.module)
    compiler = _Compiler(spec, entity_name)
    root = compiler.resolve(spec.schema(entity.record_schema))
    if root.get("type") != "object":
        raise ValueError(f"{entity_name}: schema {entity.record_schema} is not an object")
    properties = root.get("properties", {})
    nullable = frozenset(name for name, sub in properties.items() if sub.get("nullable") is True)
    draw = compiler.compile(root, "", (entity.record_schema,))
    return RecordSynth(entity_name, entity.record_schema, tuple(properties), nullable, draw)


def value_synth(entity_name: str, dotted_path: str, nullable: bool = True) -> Gen:
    """The compiled drawer of one (possibly nested, dotted) property of an entity's record;
    with ``nullable=False`` it never draws null (a nested reference that must point somewhere).

    Raises:
        KeyError: the record schema has no such property.
    """
    entity = ENTITIES_BY_NAME[entity_name]
    spec = openapi.module(entity.module)
    compiler = _Compiler(spec, entity_name)
    node = compiler.resolve(spec.schema(entity.record_schema))
    parts = dotted_path.split(".")
    for i, part in enumerate(parts):
        properties = node.get("properties", {})
        if part not in properties:
            raise KeyError(f"{entity_name}: schema {entity.record_schema} has no {dotted_path}")
        sub = properties[part]
        if i == len(parts) - 1:
            if nullable:
                return compiler.compile(sub, part, (entity.record_schema,))
            return compiler.compile_non_null(sub, part, (entity.record_schema,))
        node = compiler.resolve(sub)
    raise KeyError(dotted_path)


def stable_hash(text: str) -> int:
    """A hash of ``text`` that is the same in every process (``hash()`` is salted)."""
    return zlib.crc32(text.encode())


class _Compiler:
    """Compiles schema nodes of one module's document into closures."""

    def __init__(self, spec: openapi.ModuleSpec, entity: str) -> None:
        self.spec = spec
        self.entity = entity

    def ref_name(self, node: Mapping[str, Any]) -> str | None:
        ref = node.get("$ref")
        for wrapper in ("oneOf", "allOf"):
            if ref is None and len(node.get(wrapper, ())) == 1:
                ref = node[wrapper][0].get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            return ref[len(_REF_PREFIX) :]
        return None

    def resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        name = self.ref_name(node)
        return node if name is None else self.resolve(self.spec.schema(name))

    def compile(self, node: Mapping[str, Any], name: str, stack: tuple[str, ...]) -> Gen:
        """The drawer of ``node`` (a property named ``name``; ``stack``: schemas we are in)."""
        ref = self.ref_name(node)
        if ref is not None and ref in stack:
            # A schema inside itself (categories' subcategories): stop the recursion.
            return _recursion_end(node)
        inner_stack = (*stack, ref) if ref is not None else stack
        resolved = self.resolve(node)
        gen = self._compile_resolved(resolved, name, inner_stack)
        if node.get("nullable") is True or resolved.get("nullable") is True:
            rate = NULL_OBJECT_RATE if resolved.get("type") == "object" else NULL_RATE
            return _nullable(gen, rate)
        return gen

    def compile_non_null(self, node: Mapping[str, Any], name: str, stack: tuple[str, ...]) -> Gen:
        """The drawer of ``node`` without its nullable wrapper."""
        ref = self.ref_name(node)
        inner_stack = (*stack, ref) if ref is not None else stack
        return self._compile_resolved(self.resolve(node), name, inner_stack)

    def _compile_resolved(self, node: Mapping[str, Any], name: str, stack: tuple[str, ...]) -> Gen:
        enum = node.get("enum")
        if enum:
            return _choice(tuple(enum))
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            fields = tuple(
                (prop, self.compile(sub, prop, stack))
                for prop, sub in node.get("properties", {}).items()
            )
            return _object(fields)
        if kind == "array":
            items = node.get("items", {})
            if self.ref_name(items) in stack:
                # Items of the schema we are inside (categories' subcategories): the tree
                # ends here, with an empty list.
                return lambda state: []
            return _array(self.compile(items, _singular(name), stack))
        if kind == "integer":
            return _integer(name, node.get("format"))
        if kind == "number":
            return _number(name)
        if kind == "boolean":
            return _boolean(name)
        if kind == "string":
            return _string(self.entity, name, node.get("format"))
        raise ValueError(f"{self.entity}: cannot synthesise {name or 'a value'} of schema {node}")


# ---------------------------------------------------------------- structure


def _recursion_end(node: Mapping[str, Any]) -> Gen:
    if node.get("nullable") is True:
        return lambda state: None
    raise ValueError(f"a schema contains itself without a nullable end: {node}")


def _nullable(gen: Gen, rate: float) -> Gen:
    def draw(state: SynthState) -> Any:
        return None if state.rng.random() < rate else gen(state)

    return draw


def _object(fields: tuple[tuple[str, Gen], ...]) -> Gen:
    def draw(state: SynthState) -> dict[str, Any]:
        return {name: gen(state) for name, gen in fields}

    return draw


def _array(item: Gen) -> Gen:
    def draw(state: SynthState) -> list[Any]:
        return [item(state) for _ in range(int(state.rng.random() * (MAX_ITEMS + 1)))]

    return draw


def _choice(values: tuple[Any, ...]) -> Gen:
    def draw(state: SynthState) -> Any:
        return values[int(state.rng.random() * len(values))]

    return draw


def _singular(name: str) -> str:
    """What one item of an array property is called: ``tagTypeIds`` -> ``tagTypeId``."""
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def _words(name: str) -> list[str]:
    """``technicianFullName`` -> ``["technician", "full", "name"]``."""
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name)]


# ---------------------------------------------------------------- scalars


def _uniform(lo: int, hi: int) -> Gen:
    span = hi - lo + 1

    def draw(state: SynthState) -> int:
        return lo + int(state.rng.random() * span)

    return draw


def _integer(name: str, fmt: str | None) -> Gen:
    words = _words(name)
    last = words[-1] if words else ""
    if last in ("id", "ids"):
        # Plausible ids of something the entity table does not reference: each field draws
        # from its own range, so "createdById" values look like one population of users.
        base = 100_000 + stable_hash(name.removesuffix("s")) % 900 * 10_000
        return _uniform(base, base + 4_999)
    if last == "year":
        return _uniform(2024, 2026)
    if last == "month" or last == "months":
        return _uniform(1, 12)
    if last in ("day", "days"):
        return _uniform(1, 28)
    if last in ("duration", "length", "interval"):
        return _uniform(1, 24)
    if last == "color":
        return _uniform(0, 0xFFFFFF)
    if last in ("offset", "position", "order", "period"):
        return _uniform(0, 30)
    if fmt == "int64":
        return _uniform(1, 100_000)
    return _uniform(0, 100)


_MONEY_WORDS = frozenset(
    {
        "total",
        "subtotal",
        "price",
        "amount",
        "cost",
        "tax",
        "balance",
        "bonus",
        "surcharge",
        "revenue",
        "shipping",
        "rate",
        "discount",
        "commission",
    }
)
_PERCENT_WORDS = frozenset({"split", "percentage", "allocation", "multiplier"})
_HOUR_WORDS = frozenset({"hours", "duration"})
_QUANTITY_WORDS = frozenset({"qty", "quantity", "picked", "received"})


def _cents(lo: int, hi: int) -> Gen:
    """A number with two decimals in ``[lo, hi]`` (money, computed in cents: no float noise)."""
    span = (hi - lo) * 100 + 1

    def draw(state: SynthState) -> float:
        return (lo * 100 + int(state.rng.random() * span)) / 100

    return draw


def _number(name: str) -> Gen:
    words = set(_words(name))
    if "latitude" in words:
        return _coordinate(30.27, 0.25)
    if "longitude" in words:
        return _coordinate(-97.74, 0.25)
    if "rating" in words:
        return lambda state: float(int(state.rng.random() * 11))
    if words & _PERCENT_WORDS:
        return _cents(0, 100)
    if words & _HOUR_WORDS:
        return lambda state: (1 + int(state.rng.random() * 32)) / 4
    if words & _QUANTITY_WORDS:
        return lambda state: float(1 + int(state.rng.random() * 5))
    if words & _MONEY_WORDS:
        return _cents(0, 2500)
    return _cents(0, 500)


def _coordinate(center: float, spread: float) -> Gen:
    def draw(state: SynthState) -> float:
        return round(center + (state.rng.random() * 2 - 1) * spread, 6)

    return draw


def _boolean(name: str) -> Gen:
    # Flags that mark something unusual ("isPaused", "doNotText") are mostly false.
    words = _words(name)
    rare = words[:1] in (["is"], ["do"], ["dont"], ["has"]) or "locked" in words
    threshold = 0.2 if rare else 0.5

    def draw(state: SynthState) -> bool:
        return state.rng.random() < threshold

    return draw


# ---------------------------------------------------------------- strings

_LABEL_WORDS = (
    "Standard",
    "Premier",
    "Comfort",
    "Express",
    "Seasonal",
    "Priority",
    "Residential",
    "Commercial",
    "Annual",
    "North",
    "South",
    "Hill Country",
    "Lakeway",
    "Downtown",
    "Legacy",
    "Gold",
)
_MEMOS = (
    "Customer asked for a call 30 minutes before arrival.",
    "Gate code is on the location record; dog in the back yard.",
    "Follow up next week about the replacement quote.",
    "Parts ordered; second visit needed.",
    "Tech noted a leak under the kitchen sink — café-style fixture, hard to reach.",
    'Customer said "great service!" 👍',
    "Warranty work; no charge to the customer.",
    "Discussed the maintenance plan; customer will think about it.",
    "Unit is 14 years old, recommended replacement.",
    "Left a voicemail; no answer.",
)
_STATUS_WORDS = ("Pending", "Sent", "Received", "Partial", "Completed", "Canceled")
_TYPE_WORDS = ("Standard", "Service", "Install", "Maintenance", "Other")
_PLATFORMS = ("Google", "Yelp", "Facebook", "Nextdoor", "Angi")
_PERSON_WORDS = frozenset(
    {"customer", "author", "technician", "employee", "vendor", "lead", "agent", "first", "last"}
)
_MONEY_STRING_WORDS = _MONEY_WORDS | {"quantity"}
_CODE_WORDS = frozenset(
    {"number", "code", "id", "guid", "sku", "serial", "barcode", "part", "po", "reference"}
)
_TEXT_WORDS = frozenset(
    {"memo", "summary", "note", "text", "description", "review", "response", "reason"}
)
_ADDRESS_WORDS = frozenset({"street", "city", "state", "zip", "country", "unit", "address"})


def _string(entity: str, name: str, fmt: str | None) -> Gen:
    if fmt == "date-time":
        return lambda state: iso(state.time_ms())
    if fmt == "date":
        return lambda state: iso(state.time_ms() // MS_PER_DAY * MS_PER_DAY)[:10]
    if fmt == "duration":
        return _timespan
    if fmt == "email":
        return _email
    if fmt == "phone":
        return _phone
    if fmt in ("html", "multiline"):
        return _choice(_MEMOS)
    words = _words(name)
    word_set = set(words)
    last = words[-1] if words else ""
    if last == "email":
        return _email
    if "phone" in word_set or "fax" in word_set or name in ("from", "to"):
        return _phone
    if last in ("url", "path", "image", "video"):
        return lambda state: f"https://files.example.com/{entity}/{state.rng.randint(1, 99999)}"
    if (last == "name" and word_set & _PERSON_WORDS) or last in ("first", "last"):
        return _person_name(last)
    if last == "name":
        return _label(entity)
    if last in _MONEY_STRING_WORDS:
        return lambda state: f"{state.rng.randint(0, 2500)}.{state.rng.randint(0, 99):02d}"
    if last in _ADDRESS_WORDS:
        return _address_part(last)
    if word_set & _TEXT_WORDS:
        return _choice(_MEMOS)
    if last == "color":
        return lambda state: f"#{state.rng.randint(0, 0xFFFFFF):06x}"
    if last == "platform" or last == "source":
        return _choice(_PLATFORMS)
    if last == "status":
        return _choice(_STATUS_WORDS)
    if last == "type" or last == "activity":
        return _choice(_TYPE_WORDS)
    if word_set & _CODE_WORDS:
        prefix = "".join(w[0] for w in _words(entity.replace("_", " "))).upper() or "X"
        return lambda state: f"{prefix}-{state.rng.randint(1000, 999999)}"
    return _label(entity)


def _timespan(state: SynthState) -> str:
    minutes = 15 * (1 + int(state.rng.random() * 32))  # 15 min .. 8 h
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def _email(state: SynthState) -> str:
    rng = state.rng
    first = rng.choice(pools.FIRST_NAMES).lower()
    last = rng.choice(pools.LAST_NAMES).lower()
    local = re.sub(r"[^a-z0-9]+", ".", f"{first}.{last}").strip(".")
    return f"{local}{rng.randint(1, 99)}@example.com"


def _phone(state: SynthState) -> str:
    rng = state.rng
    return f"512{rng.randint(2000000, 9999999)}"


def _address_part(part: str) -> Gen:
    def draw(state: SynthState) -> str:
        rng = state.rng
        city, zip_prefix, _lat, _lon = rng.choice(pools.CITIES)
        if part == "city":
            return str(city)
        if part == "state":
            return "TX"
        if part == "zip":
            return f"{zip_prefix}{rng.randint(1, 99):02d}"
        if part == "country":
            return "USA"
        if part == "unit":
            return f"Suite {rng.randint(100, 400)}"
        street = f"{rng.randint(100, 19999)} {rng.choice(pools.STREET_NAMES)}"
        return f"{street} {rng.choice(pools.STREET_SUFFIXES)}"

    return draw


def _person_name(part: str) -> Gen:
    def draw(state: SynthState) -> str:
        rng = state.rng
        if part == "first":
            return str(rng.choice(pools.FIRST_NAMES))
        if part == "last":
            return str(rng.choice(pools.LAST_NAMES))
        return f"{rng.choice(pools.FIRST_NAMES)} {rng.choice(pools.LAST_NAMES)}"

    return draw


def _label(entity: str) -> Gen:
    """A human label for a record of ``entity``: ``"Premier Membership Type 12"``."""
    noun = " ".join(entity.split("_")).removesuffix("s").title()

    def draw(state: SynthState) -> str:
        rng = state.rng
        return f"{rng.choice(_LABEL_WORDS)} {noun} {rng.randint(1, 99)}"

    return draw
