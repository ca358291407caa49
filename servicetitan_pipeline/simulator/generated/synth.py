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
NULL_RATE = 0.12  # how often a nullable property the schema requires is null
# How often an optional nullable property is null: ServiceTitan fills its optional fields
# (budget codes, import ids, projects, ...) far less often than its required ones.
OPTIONAL_NULL_RATE = 0.5
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
    draw = compiler.function(compiler.compile(root, "", (entity.record_schema,)))
    return RecordSynth(entity_name, entity.record_schema, tuple(properties), nullable, draw)


@cache
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
    stack = (entity.record_schema,)
    for i, part in enumerate(parts):
        properties = node.get("properties", {})
        if part not in properties:
            raise KeyError(f"{entity_name}: schema {entity.record_schema} has no {dotted_path}")
        sub = properties[part]
        if i == len(parts) - 1:
            expr = compiler.compile(sub, part, stack, nullable)
            return compiler.function(expr)
        node = compiler.resolve(sub)
    raise KeyError(dotted_path)


def has_property(entity_name: str, dotted_path: str) -> bool:
    """Whether an entity's record schema has a (possibly nested, dotted) property."""
    entity = ENTITIES_BY_NAME[entity_name]
    spec = openapi.module(entity.module)
    compiler = _Compiler(spec, entity_name)
    node = compiler.resolve(spec.schema(entity.record_schema))
    for part in dotted_path.split("."):
        properties = node.get("properties", {})
        if part not in properties:
            return False
        node = compiler.resolve(properties[part])
    return True


def stable_hash(text: str) -> int:
    """A hash of ``text`` that is the same in every process (``hash()`` is salted)."""
    return zlib.crc32(text.encode())


# A compiled value is a Python expression over ``state`` (the SynthState) and ``r`` (its
# RNG's ``random``), or a closure the expression calls. The compiler turns a whole record
# schema into one function returning one nested literal, about three times faster to draw
# than a tree of closures, and draws made in the same order: same seed, same record.
Leaf = str | Gen


class _Compiler:
    """Compiles schema nodes of one module's document into one Python function per schema."""

    def __init__(self, spec: openapi.ModuleSpec, entity: str) -> None:
        self.spec = spec
        self.entity = entity
        self.env: dict[str, Any] = {"iso": iso}

    def bind(self, value: Any) -> str:
        """A name for ``value`` in the compiled function's namespace."""
        name = f"v{len(self.env)}"
        self.env[name] = value
        return name

    def leaf(self, leaf: Leaf) -> str:
        return leaf if isinstance(leaf, str) else f"{self.bind(leaf)}(state)"

    def function(self, expr: str) -> Gen:
        source = f"def draw(state):\n    r = state.rng.random\n    return {expr}\n"
        namespace = dict(self.env)
        # The source is built from the bundled spec only (names quoted with repr()).
        exec(compile(source, f"<synth {self.entity}>", "exec"), namespace)
        draw: Gen = namespace["draw"]
        return draw

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

    def compile(
        self,
        node: Mapping[str, Any],
        name: str,
        stack: tuple[str, ...],
        nullable: bool = True,
        required: bool = True,
    ) -> str:
        """The expression drawing ``node`` (a property named ``name``; ``stack``: the schemas
        we are inside; ``nullable=False``: never null, whatever the spec allows; ``required``:
        whether the enclosing schema lists it as required)."""
        ref = self.ref_name(node)
        if ref is not None and ref in stack:
            # A schema inside itself (categories' subcategories): stop the recursion.
            if node.get("nullable") is True:
                return "None"
            raise ValueError(f"{self.entity}: schema {ref} contains itself without a null end")
        inner_stack = (*stack, ref) if ref is not None else stack
        resolved = self.resolve(node)
        expr = self._compile_resolved(resolved, name, inner_stack)
        if nullable and (node.get("nullable") is True or resolved.get("nullable") is True):
            if resolved.get("type") == "object":
                rate = NULL_OBJECT_RATE
            else:
                rate = NULL_RATE if required else OPTIONAL_NULL_RATE
            return f"(None if r() < {rate!r} else {expr})"
        return expr

    def _compile_resolved(self, node: Mapping[str, Any], name: str, stack: tuple[str, ...]) -> str:
        enum = node.get("enum")
        if enum:
            values = tuple(enum)
            return f"{self.bind(values)}[int(r() * {len(values)})]"
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            required = set(node.get("required", ()))
            properties = node.get("properties", {})
            fields = ", ".join(
                f"{prop!r}: {self.compile(sub, prop, stack, required=prop in required)}"
                for prop, sub in properties.items()
            )
            literal = "{" + fields + "}"
            if "createdOn" in properties and "modifiedOn" in properties:
                # Nested records (an estimate's items) are modified after they are created.
                return f"{self.bind(_created_before_modified)}({literal})"
            return literal
        if kind == "array":
            items = node.get("items", {})
            if self.ref_name(items) in stack:
                # Items of the schema we are inside (categories' subcategories): the tree
                # ends here, with an empty list.
                return "[]"
            item = self.compile(items, _singular(name), stack)
            return f"[{item} for _ in range(int(r() * {MAX_ITEMS + 1}))]"
        if kind == "integer":
            return self.leaf(_integer(name, node.get("format")))
        if kind == "number":
            return self.leaf(_number(name))
        if kind == "boolean":
            return self.leaf(_boolean(name))
        if kind == "string":
            return self.leaf(_string(self.entity, name, node.get("format")))
        raise ValueError(f"{self.entity}: cannot synthesise {name or 'a value'} of schema {node}")


def _created_before_modified(record: dict[str, Any]) -> dict[str, Any]:
    """Swap a nested record's times when its modifiedOn was drawn before its createdOn
    (both are RFC 3339 UTC strings of one format, so they compare as text)."""
    created, modified = record["createdOn"], record["modifiedOn"]
    if isinstance(created, str) and isinstance(modified, str) and modified < created:
        record["createdOn"], record["modifiedOn"] = modified, created
    return record


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


def _uniform(lo: int, hi: int) -> str:
    return f"({lo} + int(r() * {hi - lo + 1}))"


def _integer(name: str, fmt: str | None) -> Leaf:
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


def _cents(lo: int, hi: int) -> str:
    """A number with two decimals in ``[lo, hi]`` (money, computed in cents: no float noise)."""
    return f"(({lo * 100} + int(r() * {(hi - lo) * 100 + 1})) / 100)"


def _number(name: str) -> Leaf:
    words = set(_words(name))
    if "latitude" in words:
        return _coordinate(30.27, 0.25)
    if "longitude" in words:
        return _coordinate(-97.74, 0.25)
    if "rating" in words:
        return "float(int(r() * 11))"
    if words & _PERCENT_WORDS:
        return _cents(0, 100)
    if words & _HOUR_WORDS:
        return "((1 + int(r() * 32)) / 4)"
    if words & _QUANTITY_WORDS:
        return "float(1 + int(r() * 5))"
    if words & _MONEY_WORDS:
        return _cents(0, 2500)
    return _cents(0, 500)


def _coordinate(center: float, spread: float) -> str:
    return f"round({center!r} + (r() * 2 - 1) * {spread!r}, 6)"


def _boolean(name: str) -> str:
    # Flags that mark something unusual ("isPaused", "doNotText") are mostly false.
    words = _words(name)
    rare = words[:1] in (["is"], ["do"], ["dont"], ["has"]) or "locked" in words
    return f"(r() < {0.2 if rare else 0.5})"


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


def _string(entity: str, name: str, fmt: str | None) -> Leaf:
    if fmt == "date-time":
        # SynthState.time_ms() inlined: date-times are the commonest field.
        return "iso(state.lo_ms + int(r() * (state.hi_ms - state.lo_ms + 1)))"
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
