"""Write a first staging model of an entity from its OpenAPI component schema.

    python scripts/scaffold_staging.py ENTITY [ENTITY ...] [--force] [--stdout]

For each entity of ``entities.ENTITIES`` this writes
``dbt_project/models/staging/servicetitan/stg_servicetitan__<entity>.sql`` and its entry in the
module's ``_servicetitan__<module>__models.yml`` (added, or replaced with ``--force``), from the
record schema the entity syncs (its export schema, else its list schema) in the bundled OpenAPI
document. The model is a *first draft* to review by hand (dbt_project/README.md, "Adding an
entity"): names come from the spec, not from what the business calls things.

How fields become columns (the conventions of the hand-written models):

* the key: ``_tenant_id`` as ``tenant_id``, the raw ``id`` as ``<entity>_id`` (or the key
  field's name, ``id_2`` for a second key field), tested ``not_null`` and unique per tenant;
* integers: ``st_id`` (BIGINT) for ids and references, named ``<thing>_id``; other integers
  BIGINT; integer enums keep their numbers, with an ``accepted_values`` test;
* numbers (``decimal``, ``double``) and money strings: ``st_money`` (DECIMAL(18,2), never through
  floating point) when the name says money, ``st_decimal`` otherwise;
* strings: ``date-time`` as ``st_timestamp`` (UTC) named ``<x>_at``; ``date`` as DATE;
  ``duration`` (.NET TimeSpan) as ``<x>_seconds``; enums as text with an ``accepted_values``
  test of the spec's values; the rest as text;
* booleans: ``st_bool`` named ``is_<x>`` (``has_``/``is_``/... kept), ``active`` from the raw
  layer's column;
* objects flattened one level (``customer.id`` as ``customer_id``, ``customer.name`` as
  ``customer_name``), an address (street, city, zip, ...) through ``st_address``;
* arrays of ids as ``st_id_list`` (BIGINT[]), of strings as ``st_text_list`` (VARCHAR[]);
  arrays of objects (custom fields, external data, ...) and deeper objects kept as JSON;
* ``createdOn`` / ``modifiedOn`` and the lineage columns from
  ``st_record_timestamps_and_lineage``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlfluff.core.dialects import dialect_selector  # noqa: E402

from servicetitan_pipeline.entities import ENTITIES_BY_NAME, Entity, get_entity  # noqa: E402
from servicetitan_pipeline.openapi import ModuleSpec, modules  # noqa: E402

STAGING_DIR = REPO / "dbt_project" / "models" / "staging" / "servicetitan"
# The hand-written models of the first entities are documented here; new ones never are.
LEGACY_MODELS_FILE = STAGING_DIR / "_servicetitan__models.yml"
WIDTH = 100

# Words of a field's name that make a number money (DECIMAL(18,2)), unless another word says it
# is a rate or a share (`defaultTaxRate`, `estimatedGrossMarginPercentage`). A string is money
# only when its *last* word is (`billAmount`; not `budgetCostCode`, `taxZoneName`).
_MONEY_WORDS = frozenset(
    {
        "amount",
        "price",
        "cost",
        "total",
        "subtotal",
        "tax",
        "shipping",
        "discount",
        "bonus",
        "commission",
        "surcharge",
        "fee",
        "balance",
    }
)
_NOT_MONEY_WORDS = frozenset(
    {"percent", "percentage", "rate", "multiplier", "hours", "markup", "count", "code", "type"}
)
# Boolean names that already read as a predicate.
_PREDICATE_PREFIXES = ("is_", "has_", "are_")
# The fields of a ServiceTitan address object (st_address).
_ADDRESS_FIELDS = frozenset({"street", "unit", "city", "state", "zip", "country"})
# Fields every model takes from the raw layer or st_record_timestamps_and_lineage().
_RECORD_FIELDS = frozenset({"createdOn", "modifiedOn"})
# Column names that are SQL keywords (sqlfluff's RF04) or too vague on their own: prefixed with
# the entity, as the hand-written models do (`technician_name`, `technician_status`).
_VAGUE_NAMES = frozenset(
    {
        "name",
        "type",
        "status",
        "number",
        "code",
        "value",
        "date",
        "start",
        "end",
        "order",
        "position",
        "source",
        "key",
        "level",
        "category",
        "kind",
        "state",
        "time",
        "year",
        "month",
        "day",
        "duration",
        "text",
        "comment",
        "description",
        "label",
        "role",
    }
)
# What sqlfluff's RF04 refuses as an identifier in the project's dialect (`model`, `cost`).
_DUCKDB = dialect_selector("duckdb")
_SQL_KEYWORDS = frozenset(
    k.lower() for k in _DUCKDB.sets("unreserved_keywords") | _DUCKDB.sets("reserved_keywords")
)
# Names the lineage macro and the key take.
_RESERVED_COLUMNS = frozenset(
    {"tenant_id", "created_at", "modified_at", "connection_name", "loaded_at", "is_active"}
)


class Section(Enum):
    """The column groups of a staging model, in the order the hand-written ones use."""

    KEYS = "keys"
    ATTRIBUTES = "attributes"
    MONEY = "quantities and money, exact from ServiceTitan's text"
    FLAGS = "flags"
    JSON = "json"
    TIMESTAMPS = "timestamps (UTC)"


@dataclass
class Column:
    """One select target of the model."""

    name: str
    expression: str  # the SQL (Jinja) before `as <name>`; a whole st_address() call for addresses
    section: Section
    source: str  # the spec field it comes from (dotted), for messages and descriptions
    accepted_values: tuple[str | int, ...] = ()
    description: str | None = None
    tests: list[str] = field(default_factory=list)
    is_block: bool = False  # st_address(): several columns, no alias
    deprecated: bool = False  # the spec marks the field deprecated


def snake(name: str) -> str:
    """camelCase (and dotted paths) to snake_case: ``businessUnitId`` -> ``business_unit_id``."""
    name = name.replace(".", "_")
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"_+", "_", name).lower()


def singular(entity_name: str) -> str:
    """The entity's name for one record: ``timesheet_activities`` -> ``timesheet_activity``."""
    if entity_name.endswith("ies"):
        return entity_name[:-3] + "y"
    if entity_name.endswith("s") and not entity_name.endswith("ss"):
        return entity_name[:-1]
    return entity_name


def _text(path: str) -> str:
    return f"payload ->> '$.{path}'"


def _json(path: str) -> str:
    return f"payload -> '$.{path}'"


def _is_money(name: str, *, last_word: bool = False) -> bool:
    """Whether a field named ``name`` (camelCase) holds money."""
    words = snake(name).split("_")
    if _NOT_MONEY_WORDS.intersection(words):
        return False
    return words[-1] in _MONEY_WORDS if last_word else bool(_MONEY_WORDS.intersection(words))


class Scaffolder:
    """Turns one entity's record schema into staging columns and a model entry."""

    def __init__(self, entity: Entity, spec: ModuleSpec) -> None:
        self.entity = entity
        self.spec = spec
        self.record_name = singular(entity.name)
        self.reference_fields = {r.field for r in entity.references}
        self.columns: list[Column] = []

    # ---- schema reading ----

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        resolved = self.spec.resolve(schema)
        # `allOf: [{$ref}]` is the other way the spec wraps a single type
        all_of = resolved.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1:
            return self._resolve(all_of[0])
        return resolved

    def record_schema(self) -> Mapping[str, Any]:
        schema = self._resolve(self.spec.schema(self.entity.record_schema))
        if not schema.get("properties"):
            raise ValueError(
                f"{self.entity.name}: schema {self.entity.record_schema} has no properties"
            )
        return schema

    # ---- naming ----

    def _name(self, base: str) -> str:
        """A column name: vague or reserved ones get the entity's prefix."""
        if base in _VAGUE_NAMES or base in _RESERVED_COLUMNS or base in _SQL_KEYWORDS:
            return f"{self.record_name}_{base}"
        return base

    def _key_columns(self) -> list[str]:
        # A key field that references another entity keeps its name (payroll settings are keyed
        # by `employeeId`: employee_id); the record's own id is `<entity>_id` (reviews'
        # `internalId`: review_id).
        names: list[str] = []
        for key_field in self.entity.key:
            own = key_field == "id" or key_field not in self.reference_fields
            own_name = f"{self.record_name}_id"
            names.append(own_name if own and own_name not in names else snake(key_field))
        return names

    # ---- columns ----

    def build(self) -> list[Column]:
        schema = self.record_schema()
        key_names = self._key_columns()
        raw_key_columns = ("id", "id_2")
        self.columns.append(
            Column("tenant_id", "_tenant_id", Section.KEYS, "_tenant_id", tests=["not_null"])
        )
        for raw_column, key_field, name in zip(
            raw_key_columns, self.entity.key, key_names, strict=False
        ):
            self.columns.append(
                Column(
                    name,
                    raw_column,
                    Section.KEYS,
                    key_field,
                    description=f"ServiceTitan `{key_field}`: the record's key within a tenant.",
                    tests=["not_null"],
                )
            )
        if self.entity.active_field is not None:
            self.columns.append(
                Column(
                    "is_active",
                    "active",
                    Section.FLAGS,
                    self.entity.active_field,
                    description="False when the record was deactivated or deleted in ServiceTitan.",
                )
            )
        skip = set(self.entity.key) | _RECORD_FIELDS
        if self.entity.active_field is not None:
            skip.add(self.entity.active_field)
        for prop, prop_schema in schema["properties"].items():
            if prop in skip:
                continue
            self._add_field(prop, prop_schema, prefix="", depth=0)
        self._settle_name_clashes()
        return self.columns

    def _add_field(self, prop: str, raw_schema: Mapping[str, Any], prefix: str, depth: int) -> None:
        path = f"{prefix}{prop}"
        first_new = len(self.columns)
        self._add_typed_field(path, raw_schema, depth)
        if raw_schema.get("deprecated"):
            for column in self.columns[first_new:]:
                column.deprecated = True

    def _add_typed_field(self, path: str, raw_schema: Mapping[str, Any], depth: int) -> None:
        schema = self._resolve(raw_schema)
        kind = schema.get("type")
        base = snake(path)
        if "enum" in schema:
            self._add_enum(path, base, schema)
        elif kind == "integer":
            self._add_integer(path, base, schema)
        elif kind == "number":
            self._add_number(path, base, schema)
        elif kind == "boolean":
            self._add_boolean(path, base)
        elif kind == "string":
            self._add_string(path, base, schema)
        elif kind == "array":
            self._add_array(path, base, schema)
        elif kind == "object" and schema.get("properties") and depth == 0:
            self._add_object(path, base, schema)
        else:
            # deeper objects, free-form objects and untyped fields: kept whole
            self.columns.append(Column(self._name(base), _json(path), Section.JSON, path))

    def _add_enum(self, path: str, base: str, schema: Mapping[str, Any]) -> None:
        values = tuple(schema["enum"])
        if schema.get("type") == "integer":
            expression = f"cast({_text(path)} as integer)"
        else:
            expression = _text(path)
        self.columns.append(
            Column(
                self._name(base),
                expression,
                Section.ATTRIBUTES,
                path,
                accepted_values=values,
                description=f"ServiceTitan `{path}` (one of the spec's values).",
            )
        )

    def _add_integer(self, path: str, base: str, schema: Mapping[str, Any]) -> None:
        is_reference = path in self.reference_fields
        # `createdBy`, `soldBy`: the id of whoever did it
        names_an_id = base.endswith(("_id", "_by")) or base == "id"
        if names_an_id or is_reference:
            name = base if base.endswith("_id") else f"{base}_id"
            self.columns.append(
                Column(self._name(name), f'{{{{ st_id("{_text(path)}") }}}}', Section.KEYS, path)
            )
            return
        sql_type = "integer" if schema.get("format") == "int32" else "bigint"
        self.columns.append(
            Column(self._name(base), f"cast({_text(path)} as {sql_type})", Section.ATTRIBUTES, path)
        )

    def _add_number(self, path: str, base: str, schema: Mapping[str, Any]) -> None:
        leaf = path.rsplit(".", 1)[-1]
        if _is_money(leaf):
            expression = f'{{{{ st_money("{_text(path)}") }}}}'
        elif schema.get("format") == "double":
            # measurements (coordinates, ratings): six decimals keep a latitude to 0.1 m
            expression = f'{{{{ st_decimal("{_text(path)}", 6) }}}}'
        else:
            expression = f'{{{{ st_decimal("{_text(path)}") }}}}'
        self.columns.append(Column(self._name(base), expression, Section.MONEY, path))

    def _add_boolean(self, path: str, base: str) -> None:
        name = base if base.startswith(_PREDICATE_PREFIXES) else f"is_{base}"
        self.columns.append(
            Column(self._name(name), f'{{{{ st_bool("{_text(path)}") }}}}', Section.FLAGS, path)
        )

    def _add_string(self, path: str, base: str, schema: Mapping[str, Any]) -> None:
        fmt = schema.get("format")
        leaf = path.rsplit(".", 1)[-1]
        if fmt == "date-time":
            # `completedOn`, `startDate`, `dateCanceled`: completed_at, start_at, canceled_at
            name = re.sub(r"(_on|_date|_time)$", "", re.sub(r"(^|_)date_", r"\1", base)) + "_at"
            expression = f'{{{{ st_timestamp("{_text(path)}") }}}}'
            self.columns.append(Column(self._name(name), expression, Section.TIMESTAMPS, path))
        elif fmt == "date":
            expression = f'{{{{ st_date("{_text(path)}") }}}}'
            self.columns.append(Column(self._name(base), expression, Section.ATTRIBUTES, path))
        elif fmt == "duration":
            expression = f'{{{{ st_timespan_seconds("{_text(path)}") }}}}'
            self.columns.append(
                Column(
                    self._name(f"{base}_seconds"),
                    expression,
                    Section.ATTRIBUTES,
                    path,
                    description=f"ServiceTitan `{path}` (a TimeSpan such as 07:00:00) in seconds.",
                )
            )
        elif fmt is None and _is_money(leaf, last_word=True):
            expression = f'{{{{ st_money("{_text(path)}") }}}}'
            self.columns.append(Column(self._name(base), expression, Section.MONEY, path))
        else:
            self.columns.append(Column(self._name(base), _text(path), Section.ATTRIBUTES, path))

    def _add_array(self, path: str, base: str, schema: Mapping[str, Any]) -> None:
        items = self._resolve(schema.get("items", {}))
        if items.get("type") == "integer" and "enum" not in items:
            expression = f'{{{{ st_id_list("{_json(path)}") }}}}'
            if items.get("format") != "int32" and not base.endswith("_ids"):
                # `technicians: [1, 2]` is a list of technician ids
                base = f"{singular(base)}_ids"
        elif items.get("type") == "string":
            expression = f'{{{{ st_text_list("{_json(path)}") }}}}'
        else:
            expression = _json(path)
        self.columns.append(Column(self._name(base), expression, Section.JSON, path))

    def _add_object(self, path: str, base: str, schema: Mapping[str, Any]) -> None:
        properties: Mapping[str, Any] = schema["properties"]
        if {"street", "city", "zip"} <= set(properties):
            self.columns.append(
                Column(
                    base,
                    f"{{{{ st_address('$.{path}', '{base}') }}}}",
                    Section.ATTRIBUTES,
                    path,
                    is_block=True,
                )
            )
            extra = set(properties) - _ADDRESS_FIELDS
            for prop in sorted(extra):
                self._add_field(prop, properties[prop], prefix=f"{path}.", depth=1)
            return
        for prop, prop_schema in properties.items():
            self._add_field(prop, prop_schema, prefix=f"{path}.", depth=1)

    def _settle_name_clashes(self) -> None:
        """Two fields that would be one column: a deprecated one (``batchId`` beside ``batch``'s
        ``id``) becomes ``legacy_<name>``; any other clash is an error naming both fields."""
        for column in self.columns:
            clashes = [c for c in self.columns if c is not column and c.name == column.name]
            if clashes and column.deprecated and not all(c.deprecated for c in clashes):
                column.name = f"legacy_{column.name}"
        seen: dict[str, str] = {}
        for column in self.columns:
            names = (
                [f"{column.name}_{f}" for f in sorted(_ADDRESS_FIELDS)]
                if column.is_block
                else [column.name]
            )
            for name in names:
                if name in seen:
                    raise ValueError(
                        f"{self.entity.name}: fields {seen[name]!r} and {column.source!r} would "
                        f"both be column {name!r}; rename one in the generated model"
                    )
                seen[name] = column.source


# ---- rendering ----


def render_model(entity: Entity, columns: Sequence[Column]) -> str:
    """The model's SQL, in the layout of the hand-written staging models."""
    lines = [
        "with",
        "",
        "source as (",
        "",
        f"    select * from {{{{ source('servicetitan', '{entity.name}') }}}}",
        "",
        "),",
        "",
        "renamed as (",
        "",
        "    select",
    ]
    first = True
    for section in Section:
        members = [c for c in columns if c.section is section]
        if not members and section is not Section.TIMESTAMPS:
            continue
        if not first:
            lines.append("")
        first = False
        lines.append(f"        -- {section.value}")
        for column in members:
            line = f"        {column.expression} as {column.name},"
            if column.is_block:
                lines.append(f"        {column.expression},")
            elif len(line) <= WIDTH:
                lines.append(line)
            else:
                # too long for one line: the alias goes under its expression
                lines += [f"        {column.expression}", f"            as {column.name},"]
    lines += [
        "        {{ st_record_timestamps_and_lineage() }}",
        "",
        "    from source",
        "",
        ")",
        "",
        "select * from renamed",
    ]
    return "\n".join(lines) + "\n"


_PLAIN_VALUE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none", "~"})


def yaml_value(value: str | int) -> str:
    """A value for a YAML flow list: quoted when YAML would read it as something else."""
    if isinstance(value, int):
        return str(value)
    if _PLAIN_VALUE.match(value) and value.lower() not in _YAML_WORDS:
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _wrapped(key: str, text: str, indent: int) -> Iterator[str]:
    pad = " " * indent
    if len(f"{pad}{key}: {text}") <= WIDTH and ": " not in text and not text.startswith("`"):
        yield f"{pad}{key}: {text}"
        return
    yield f"{pad}{key}: >-"
    words = text.split()
    line = pad + "  "
    for word in words:
        if len(line) + len(word) + 1 > WIDTH and line.strip():
            yield line.rstrip()
            line = pad + "  "
        line += word + " "
    if line.strip():
        yield line.rstrip()


def render_model_entry(entity: Entity, columns: Sequence[Column]) -> str:
    """The model's entry in its module's models file: description, key and enum tests."""
    keys = [c.name for c in columns if c.tests == ["not_null"]]
    lines = [f"  - name: stg_servicetitan__{entity.name}"]
    lines += _wrapped("description", f"{entity.description} One row per record.", 4)
    lines += [
        "    data_tests:",
        "      - unique_combination_of_columns:",
        "          arguments:",
        f"            combination_of_columns: [{', '.join(keys)}]",
        "    columns:",
    ]
    for column in columns:
        if not (column.tests or column.accepted_values or column.description):
            continue
        lines.append(f"      - name: {column.name}")
        if column.description:
            lines += _wrapped("description", column.description, 8)
        if column.tests:
            lines.append(f"        data_tests: [{', '.join(column.tests)}]")
        if column.accepted_values:
            values = ", ".join(yaml_value(v) for v in column.accepted_values)
            lines += [
                "        data_tests:",
                "          - accepted_values:",
                "              arguments:",
            ]
            lines += _flow_list("values", values, 16)
            if all(isinstance(v, int) for v in column.accepted_values):
                lines.append("                quote: false")
    return "\n".join(lines) + "\n"


def _flow_list(key: str, values_csv: str, indent: int) -> list[str]:
    pad = " " * indent
    one_line = f"{pad}{key}: [{values_csv}]"
    if len(one_line) <= WIDTH:
        return [one_line]
    lines = [f"{pad}{key}:"]
    lines += [f"{pad}  - {v}" for v in values_csv.split(", ")]
    return lines


def models_file(entity: Entity) -> Path:
    return STAGING_DIR / f"_servicetitan__{entity.module.replace('-', '_')}__models.yml"


_MODELS_HEADER = """\
version: 2

# Staging models of the {title} module: one view per raw table, first written by
# scripts/scaffold_staging.py from the entity's OpenAPI schema, then reviewed by hand. Typed
# columns from `payload`, money as exact DECIMAL(18,2), timestamps as TIMESTAMPTZ (UTC), nested
# references flattened; no rows dropped (inactive records stay, flagged). Keys are
# (tenant_id, <entity>_id).

models:
"""


def upsert_model_entry(path: Path, model: str, entry: str, title: str, force: bool) -> None:
    """Add (or with ``force`` replace) ``model``'s entry in a module's models file."""
    text = path.read_text(encoding="utf-8") if path.exists() else _MODELS_HEADER.format(title=title)
    head, _, body = text.partition("models:\n")
    blocks = [b for b in re.split(r"(?m)^(?=  - name: )", body) if b.strip()]
    marker = f"  - name: {model}\n"
    existing = [i for i, b in enumerate(blocks) if b.startswith(marker)]
    if existing and not force:
        raise FileExistsError(f"{path.name} already documents {model} (use --force to replace)")
    if existing:
        blocks[existing[0]] = entry
    else:
        blocks.append(entry)
    blocks = [b.rstrip("\n") + "\n" for b in blocks]
    path.write_text(head + "models:\n" + "\n".join(blocks), encoding="utf-8")


def scaffold(name: str, force: bool, to_stdout: bool) -> None:
    from servicetitan_pipeline.entities import MODULES

    entity = get_entity(name)
    sql_path = STAGING_DIR / f"stg_servicetitan__{entity.name}.sql"
    if LEGACY_MODELS_FILE.exists() and f"name: stg_servicetitan__{entity.name}\n" in (
        LEGACY_MODELS_FILE.read_text(encoding="utf-8")
    ):
        raise FileExistsError(
            f"stg_servicetitan__{entity.name} is a hand-written model of {LEGACY_MODELS_FILE.name}"
        )
    columns = Scaffolder(entity, modules()[entity.module]).build()
    sql = render_model(entity, columns)
    entry = render_model_entry(entity, columns)
    if to_stdout:
        sys.stdout.write(sql + "\n" + entry)
        return
    if sql_path.exists() and not force:
        raise FileExistsError(f"{sql_path.name} exists (use --force to overwrite it)")
    sql_path.write_text(sql, encoding="utf-8")
    model = f"stg_servicetitan__{entity.name}"
    upsert_model_entry(models_file(entity), model, entry, MODULES[entity.module].title, force)
    print(f"wrote {sql_path.relative_to(REPO)} and its entry in {models_file(entity).name}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("entities", nargs="+", metavar="ENTITY", help="entity names, e.g. zones")
    parser.add_argument("--force", action="store_true", help="overwrite an existing model")
    parser.add_argument("--stdout", action="store_true", help="print instead of writing files")
    args = parser.parse_args(argv)
    unknown = [n for n in args.entities if n not in ENTITIES_BY_NAME]
    if unknown:
        known = ", ".join(ENTITIES_BY_NAME)
        parser.error(f"unknown entities: {', '.join(unknown)}; known: {known}")
    try:
        for name in args.entities:
            scaffold(name, args.force, args.stdout)
    except (FileExistsError, ValueError) as error:
        print(f"scaffold_staging: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
