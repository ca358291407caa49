"""The raw layer's contract: schema, table and column names, their DDL, and the staged page.

Everything that reads or writes ``raw_servicetitan`` takes its names from here: the writer,
the asset checks, the demo's reset and the dbt test fixtures (docs/architecture.md):

* ``raw_servicetitan.<entity>``: one row per key -- ``(_tenant_id, id)``, or ``(_tenant_id,
  id, id_2)`` for an entity keyed by two fields -- holding the record's latest version, with
  the complete record as JSON in ``payload`` (as the API sent it), the field that orders its
  versions (``modifiedOn``, ``createdOn`` for immutable events; none for some entities) in
  ``modified_on`` when that is a plausible time, else NULL (:func:`plausible_modified_on_sql`),
  and its active flag in ``active`` (NULL when the entity has no active flag). Which record
  fields fill ``id``/``id_2``, ``modified_on`` and ``active`` is the entity's
  :class:`RecordFields`.
* ``raw_servicetitan._sync_state``: one cursor per ``(_tenant_id, entity)``.
* ``raw_servicetitan._rejected``: records (or response bodies) that could not be loaded.

The writer's input is a :class:`PreparedPage`: a page of records as an Arrow table of
:data:`PAGE_SCHEMA` plus the records rejected on the way. ``sync.pages`` produces it; it is
defined here, with the tables it is written to, so that the writer depends on nothing above it.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information

from servicetitan_pipeline.entities import ENTITIES_BY_NAME, RAW_SCHEMA, Entity
from servicetitan_pipeline.warehouse.lake import is_lake_connection, retry_conflicts

__all__ = [
    "ENTITY_COLUMNS",
    "KEY_COLUMNS",
    "MODIFIED_ON_EARLIEST",
    "MODIFIED_ON_FUTURE_MARGIN",
    "PAGE_SCHEMA",
    "PAYLOAD_TYPE",
    "RAW_SCHEMA",
    "REJECTED_TABLE",
    "REJECTED_TABLE_NAME",
    "SYNC_STATE_LOG_TABLE",
    "SYNC_STATE_TABLE",
    "SYNC_STATE_TABLE_NAME",
    "TENANT_ID",
    "PreparedPage",
    "RecordFields",
    "ensure_entity_table",
    "ensure_sync_tables",
    "entity_columns",
    "latest_plausible_modified_on",
    "page_schema",
    "plausible_modified_on_sql",
    "raw_table",
    "sql_literal",
    "stored_key_columns",
]

# The key column that keeps tenants sharing one file apart, in every raw table.
TENANT_ID = "_tenant_id"

SYNC_STATE_TABLE_NAME = "_sync_state"
REJECTED_TABLE_NAME = "_rejected"
SYNC_STATE_TABLE = f"{RAW_SCHEMA}.{SYNC_STATE_TABLE_NAME}"
REJECTED_TABLE = f"{RAW_SCHEMA}.{REJECTED_TABLE_NAME}"
# In a lake, ``_sync_state`` is a view of the latest row per key of this append-only log
# (:func:`ensure_sync_tables` says why).
SYNC_STATE_LOG_TABLE = f"{RAW_SCHEMA}._sync_state_log"

# The columns of an entity table keyed by one field (most entities), in order: name and
# DuckDB type. A table keyed by two fields has ``id_2`` after ``id`` (:func:`entity_columns`).
ENTITY_COLUMNS: tuple[tuple[str, str], ...] = (
    (TENANT_ID, "BIGINT      NOT NULL"),
    ("id", "BIGINT      NOT NULL"),
    ("modified_on", "TIMESTAMPTZ"),
    ("active", "BOOLEAN"),
    ("payload", "JSON        NOT NULL USING COMPRESSION zstd"),
    ("_connection", "VARCHAR     NOT NULL"),
    ("_loaded_at", "TIMESTAMPTZ NOT NULL"),
)

# The raw columns that hold a record's key fields, in the order of ``Entity.key``.
KEY_COLUMNS: tuple[str, ...] = ("id", "id_2")


@dataclasses.dataclass(frozen=True)
class RecordFields:
    """Which fields of an entity's records fill the raw table's typed columns.

    ``key``: the top-level integer fields that identify a record, stored in ``id`` (and
    ``id_2``): ``("id",)`` for most entities, ``("employeeId",)``, ``("jobId",
    "technicianId")``. ``modified``: the field stored in ``modified_on`` that orders a record's
    versions (``modifiedOn``; ``createdOn`` for immutable events); ``None``: the records carry
    no such time, ``modified_on`` is NULL and a changed payload is what makes a version newer
    (``upsert``). ``active``: the boolean stored in ``active``; ``None``: the entity has no
    active flag, and ``active`` is NULL.

    Hashable, so that decoders built from it are cached per entity (``sync.pages``).
    """

    key: tuple[str, ...] = ("id",)
    modified: str | None = "modifiedOn"
    active: str | None = "active"

    def __post_init__(self) -> None:
        if not 1 <= len(self.key) <= len(KEY_COLUMNS):
            raise ValueError(
                f"a record key has 1 to {len(KEY_COLUMNS)} fields, not {len(self.key)}: "
                f"{self.key!r}"
            )
        if len(set(self.key)) != len(self.key):
            raise ValueError(f"a record key names a field twice: {self.key!r}")

    @classmethod
    def of(cls, entity: Entity) -> RecordFields:
        """The fields of ``entity`` (its ``key``, ``modified_field`` and ``active_field``)."""
        try:
            return cls(entity.key, entity.modified_field, entity.active_field)
        except ValueError as exc:
            raise ValueError(f"entity {entity.name}: {exc}") from None

    @classmethod
    def for_entity_name(cls, entity: str) -> RecordFields:
        """The fields of the entity table's entry named ``entity``; the common ones (``id``,
        ``modifiedOn``, ``active``) for a name the table does not hold (a test's table)."""
        known = ENTITIES_BY_NAME.get(entity)
        return cls() if known is None else cls.of(known)

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The raw columns holding the key: ``("id",)`` or ``("id", "id_2")``."""
        return KEY_COLUMNS[: len(self.key)]

    def describe_key(self) -> str:
        """The key in words, for messages: ``id``, ``(jobId, technicianId)``."""
        return self.key[0] if len(self.key) == 1 else f"({', '.join(self.key)})"


# DuckLake takes no compression clause (its Parquet files are compressed by the writer).
_COMPRESSION_CLAUSE = " USING COMPRESSION zstd"


def entity_columns(fields: RecordFields, *, lake: bool = False) -> tuple[tuple[str, str], ...]:
    """The columns of an entity table whose records have ``fields``, in order: name and
    DuckDB type (:data:`ENTITY_COLUMNS`, plus ``id_2`` for a two-field key); ``lake``: the
    types without the compression clause a DuckLake refuses."""
    extra = tuple((name, "BIGINT      NOT NULL") for name in fields.key_columns[1:])
    columns = ENTITY_COLUMNS[:2] + extra + ENTITY_COLUMNS[2:]
    if lake:
        columns = tuple((name, ddl.replace(_COMPRESSION_CLAUSE, "")) for name, ddl in columns)
    return columns


# --------------------------------------------------------------------------------------------
# A plausible modifiedOn: the one definition (the writer's version rule, the asset check)
# --------------------------------------------------------------------------------------------
#
# ``modified_on`` holds the record's ``modifiedOn`` only when it is *plausible*: a timestamp
# between MODIFIED_ON_EARLIEST and the source's "now" plus MODIFIED_ON_FUTURE_MARGIN. Anything
# else that DuckDB reads as a timestamp -- year 9999 or 10000, ``infinity``, ``-infinity``,
# ``epoch`` (1970) -- is stored as NULL (the payload keeps what was sent), i.e. "unknown":
# trusted as a version, a far-future stamp would make every real later edit look older and be
# skipped forever, and as a list high-water it would make every later edit unrequested.
# ServiceTitan stamps modifiedOn itself, so nothing it stamps predates 2000 (it was founded in
# 2007); the margin absorbs clock skew and a naive timestamp read as UTC.
MODIFIED_ON_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
MODIFIED_ON_FUTURE_MARGIN = timedelta(days=1)


def latest_plausible_modified_on(source_now: datetime | None = None) -> datetime:
    """The latest plausible ``modifiedOn``: the earlier of this machine's clock and the source's
    (its ``Date`` header, when known), plus the margin. The earlier one, so that neither a
    server's odd ``Date`` nor a fast local clock widens the bound."""
    now = datetime.now(UTC)
    if source_now is not None and source_now.tzinfo is not None:
        now = min(now, source_now)
    return now + MODIFIED_ON_FUTURE_MARGIN


def plausible_modified_on_sql(timestamp: str, latest: datetime) -> str:
    """SQL: ``timestamp`` (a TIMESTAMPTZ expression) when plausible, else NULL."""
    low = sql_literal(MODIFIED_ON_EARLIEST.isoformat())
    high = sql_literal(latest.isoformat())
    return (
        f"CASE WHEN {timestamp} BETWEEN CAST({low} AS TIMESTAMPTZ) "
        f"AND CAST({high} AS TIMESTAMPTZ) THEN {timestamp} END"
    )


_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


def raw_table(entity: str) -> str:
    """Qualified raw table name for an entity, refusing anything that is not an identifier."""
    if not _IDENTIFIER.match(entity):
        raise ValueError(f"not a valid entity/table name: {entity!r}")
    return f'{RAW_SCHEMA}."{entity}"'


def sql_literal(value: str | int | None) -> str:
    """``value`` as a SQL literal, quoted by DuckDB itself (for the few statements that cannot
    take bound parameters: see ``state.finish_sql``).

    A NUL (a cursor is opaque and may hold one) is written as ``chr(0)``: DuckDB 1.5's parser
    ends a query's text at a raw NUL ("unterminated quoted string"), where 2.0's read on.
    """
    if isinstance(value, str) and "\0" in value:
        parts = (str(duckdb.ConstantExpression(part)) for part in value.split("\0"))
        return "(" + " || chr(0) || ".join(parts) + ")"
    return str(duckdb.ConstantExpression(value))


_SYNC_STATE_COLUMNS = f"""
            {TENANT_ID}  BIGINT      NOT NULL,
            entity      VARCHAR     NOT NULL,
            cursor      VARCHAR,
            cursor_kind VARCHAR,
            _connection VARCHAR     NOT NULL,
            updated_at  TIMESTAMPTZ NOT NULL"""


def ensure_sync_tables(conn: duckdb.DuckDBPyConnection, *, lake: bool | None = None) -> None:
    """Create the schema, ``_sync_state`` and ``_rejected`` if they do not exist (idempotent).

    ``lake`` (default: asked of ``conn``, ``lake.is_lake_connection``): the DuckLake dialect.
    A lake has no primary keys, and every upsert of a cursor row would delete and insert in
    the one table every writer commits to: DuckLake fails a commit that inserts into a table
    another transaction deleted from meanwhile, so every two concurrent commits of any
    tenants and entities would conflict. There, cursors are *appended* to
    ``_sync_state_log`` (concurrent inserts never conflict) and ``_sync_state`` is a view of
    each key's latest row, read exactly as the file's table (a full refresh appends a row
    with no ``cursor_kind``, which the view reads as "never synced").
    """
    if lake is None:
        lake = is_lake_connection(conn)
    rejected = f"""
        CREATE TABLE IF NOT EXISTS {REJECTED_TABLE} (
            {TENANT_ID}  BIGINT      NOT NULL,
            _connection VARCHAR     NOT NULL,
            entity      VARCHAR     NOT NULL,
            reason      VARCHAR     NOT NULL,
            payload     VARCHAR,
            request     VARCHAR,
            rejected_at TIMESTAMPTZ NOT NULL
        )"""
    if not lake:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
        conn.execute(
            f"""
        CREATE TABLE IF NOT EXISTS {SYNC_STATE_TABLE} ({_SYNC_STATE_COLUMNS},
            PRIMARY KEY ({TENANT_ID}, entity)
        )"""
        )
        conn.execute(rejected)
        return
    statements = [
        f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}",
        f"CREATE TABLE IF NOT EXISTS {SYNC_STATE_LOG_TABLE} ({_SYNC_STATE_COLUMNS}\n        )",
        f"""
        CREATE VIEW IF NOT EXISTS {SYNC_STATE_TABLE} AS
        SELECT {TENANT_ID}, entity, cursor, cursor_kind, _connection, updated_at
        FROM (
            SELECT * FROM {SYNC_STATE_LOG_TABLE}
            QUALIFY row_number() OVER (
                PARTITION BY {TENANT_ID}, entity ORDER BY updated_at DESC) = 1
        )
        WHERE cursor_kind IS NOT NULL""",
        rejected,
    ]
    for statement in statements:
        lake_ddl(conn, statement)


def lake_ddl(conn: duckdb.DuckDBPyConnection, statement: str) -> None:
    """Run an idempotent DDL ``statement`` on a lake, retried when another process made the
    same change at the same moment (its commit then conflicts; the retry finds it done)."""
    retry_conflicts(lambda: conn.execute(statement), what=statement.split("(")[0].strip())


def ensure_entity_table(
    conn: duckdb.DuckDBPyConnection,
    entity: str,
    fields: RecordFields | None = None,
    *,
    lake: bool | None = None,
) -> None:
    """Create ``raw_servicetitan.<entity>`` (and the sync tables) if missing (idempotent).

    ``fields`` (default: the entity table's entry of that name) decides the key: ``(_tenant_id,
    id)``, or ``(_tenant_id, id, id_2)`` for a two-field key. A table that exists already
    must have that key (:class:`ValueError` naming the entity otherwise): rows keyed another
    way cannot be upserted. ``lake``: as for :func:`ensure_sync_tables`; a lake's table has
    the same columns, without the primary key and the compression clause it refuses (the
    upsert finds stored rows by a join there, ``upsert``).

    ``payload`` is stored with zstd: DuckDB's automatic choice for long JSON strings (FSST or
    dictionary, decided by analysing every segment at each checkpoint) made checkpoints the
    single largest cost of a sync, and a file several times larger.
    """
    if fields is None:
        fields = RecordFields.for_entity_name(entity)
    if lake is None:
        lake = is_lake_connection(conn)
    ensure_sync_tables(conn, lake=lake)
    columns = ",\n            ".join(
        f"{name:<11} {ddl}" for name, ddl in entity_columns(fields, lake=lake)
    )
    if lake:
        lake_ddl(
            conn,
            f"CREATE TABLE IF NOT EXISTS {raw_table(entity)} (\n            {columns}\n        )",
        )
    else:
        conn.execute(
            f"""
        CREATE TABLE IF NOT EXISTS {raw_table(entity)} (
            {columns},
            PRIMARY KEY ({TENANT_ID}, {", ".join(fields.key_columns)})
        )"""
        )
    stored = stored_key_columns(conn, entity)
    if stored != fields.key_columns:
        raise ValueError(
            f"{raw_table(entity)} is keyed by {', '.join(stored)} but entity {entity} has "
            f"{len(fields.key)} key field(s) {fields.describe_key()} (columns "
            f"{', '.join(fields.key_columns)}): the entity's key changed since the table was "
            "made; a full refresh cannot fix that, drop the table and sync the entity again"
        )


def stored_key_columns(conn: duckdb.DuckDBPyConnection, entity: str) -> tuple[str, ...]:
    """The key columns (after ``_tenant_id``) that the existing raw table of ``entity`` has."""
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? AND column_name IN "
        f"({', '.join('?' for _ in KEY_COLUMNS)}) ORDER BY ordinal_position",
        [RAW_SCHEMA, entity, *KEY_COLUMNS],
    ).fetchall()
    return tuple(str(name) for (name,) in rows)


# --------------------------------------------------------------------------------------------
# The staged page: what the writer upserts
# --------------------------------------------------------------------------------------------

# The payload column is Arrow's canonical JSON extension type (``arrow.json``) over large
# strings: DuckDB reads it as its own JSON type as is, whereas a plain string column had to be
# CAST to JSON, which parses (validates) every payload again inside DuckDB -- a large share of
# the cost of an INSERT, for text that is valid JSON by construction (the API's own bytes,
# validated on the way, or what ``orjson.dumps`` produced). The stored column stays ``JSON``.
PAYLOAD_TYPE = pa.json_(pa.large_string())

# The staged page of an entity keyed by one field; a two-field key adds ``id_2`` after ``id``
# (:func:`page_schema`).
PAGE_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("modified_on_raw", pa.string()),
        ("active", pa.bool_()),
        ("payload", PAYLOAD_TYPE),
    ]
)
_PAGE_SCHEMA_TWO_FIELD_KEY = PAGE_SCHEMA.insert(1, pa.field("id_2", pa.int64()))


def page_schema(key_width: int) -> pa.Schema:
    """The staged page's schema for a key of ``key_width`` fields (1 or 2)."""
    return PAGE_SCHEMA if key_width == 1 else _PAGE_SCHEMA_TWO_FIELD_KEY


@dataclasses.dataclass(frozen=True)
class PreparedPage:
    """A page turned into staging columns: what the writer needs, without the parsed records,
    which can be freed as soon as this exists.

    Attributes:
        table: the loadable records, an Arrow table of :func:`page_schema` (``id`` and, for
            a two-field key, ``id_2`` the key's values; ``modified_on_raw`` the ordering field
            -- ``RecordFields.modified`` -- exactly as the API wrote it; the writer parses it,
            rejects what does not parse and keeps an implausible one as unknown, see
            :func:`plausible_modified_on_sql`).
        rejects: ``(reason, record as JSON text)`` of the records that could not be staged.
        records: how many records the page held (loadable and rejected).
    """

    table: pa.Table
    rejects: tuple[tuple[str, str], ...]
    records: int
