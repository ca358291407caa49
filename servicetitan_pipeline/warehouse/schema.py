"""The raw layer's contract: schema, table and column names, their DDL, and the staged page.

Everything that reads or writes ``raw_servicetitan`` takes its names from here: the writer,
the asset checks, the demo's reset and the dbt test fixtures (docs/architecture.md):

* ``raw_servicetitan.<entity>``: one row per ``(_tenant_id, id)`` holding the record's latest
  version, with the complete record as JSON in ``payload`` (as the API sent it) and its
  ``modifiedOn`` in ``modified_on`` when that is a plausible time, else NULL
  (:func:`plausible_modified_on_sql`).
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

from servicetitan_pipeline.entities import RAW_SCHEMA

__all__ = [
    "ENTITY_COLUMNS",
    "MODIFIED_ON_EARLIEST",
    "MODIFIED_ON_FUTURE_MARGIN",
    "PAGE_SCHEMA",
    "PAYLOAD_TYPE",
    "RAW_SCHEMA",
    "REJECTED_TABLE",
    "REJECTED_TABLE_NAME",
    "SYNC_STATE_TABLE",
    "SYNC_STATE_TABLE_NAME",
    "TENANT_ID",
    "PreparedPage",
    "ensure_entity_table",
    "ensure_sync_tables",
    "latest_plausible_modified_on",
    "plausible_modified_on_sql",
    "raw_table",
    "sql_literal",
]

# The key column that keeps tenants sharing one file apart, in every raw table.
TENANT_ID = "_tenant_id"

SYNC_STATE_TABLE_NAME = "_sync_state"
REJECTED_TABLE_NAME = "_rejected"
SYNC_STATE_TABLE = f"{RAW_SCHEMA}.{SYNC_STATE_TABLE_NAME}"
REJECTED_TABLE = f"{RAW_SCHEMA}.{REJECTED_TABLE_NAME}"

# The columns of every entity table, in order: name and DuckDB type.
ENTITY_COLUMNS: tuple[tuple[str, str], ...] = (
    (TENANT_ID, "BIGINT      NOT NULL"),
    ("id", "BIGINT      NOT NULL"),
    ("modified_on", "TIMESTAMPTZ"),
    ("active", "BOOLEAN"),
    ("payload", "JSON        NOT NULL USING COMPRESSION zstd"),
    ("_connection", "VARCHAR     NOT NULL"),
    ("_loaded_at", "TIMESTAMPTZ NOT NULL"),
)

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
    take bound parameters: see ``state.finish_sql``)."""
    return str(duckdb.ConstantExpression(value))


def ensure_sync_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the schema, ``_sync_state`` and ``_rejected`` if they do not exist (idempotent)."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    conn.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {SYNC_STATE_TABLE} (
            {TENANT_ID}  BIGINT      NOT NULL,
            entity      VARCHAR     NOT NULL,
            cursor      VARCHAR,
            cursor_kind VARCHAR,
            _connection VARCHAR     NOT NULL,
            updated_at  TIMESTAMPTZ NOT NULL,
            PRIMARY KEY ({TENANT_ID}, entity)
        )"""
    )
    conn.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {REJECTED_TABLE} (
            {TENANT_ID}  BIGINT      NOT NULL,
            _connection VARCHAR     NOT NULL,
            entity      VARCHAR     NOT NULL,
            reason      VARCHAR     NOT NULL,
            payload     VARCHAR,
            request     VARCHAR,
            rejected_at TIMESTAMPTZ NOT NULL
        )"""
    )


def ensure_entity_table(conn: duckdb.DuckDBPyConnection, entity: str) -> None:
    """Create ``raw_servicetitan.<entity>`` (and the sync tables) if missing (idempotent).

    ``payload`` is stored with zstd: DuckDB's automatic choice for long JSON strings (FSST or
    dictionary, decided by analysing every segment at each checkpoint) made checkpoints the
    single largest cost of a sync, and a file several times larger.
    """
    ensure_sync_tables(conn)
    columns = ",\n            ".join(f"{name:<11} {ddl}" for name, ddl in ENTITY_COLUMNS)
    conn.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {raw_table(entity)} (
            {columns},
            PRIMARY KEY ({TENANT_ID}, id)
        )"""
    )


# --------------------------------------------------------------------------------------------
# The staged page: what the writer upserts
# --------------------------------------------------------------------------------------------

# The payload column is Arrow's canonical JSON extension type (``arrow.json``) over large
# strings: DuckDB reads it as its own JSON type as is, whereas a plain string column had to be
# CAST to JSON, which parses (validates) every payload again inside DuckDB -- a large share of
# the cost of an INSERT, for text that is valid JSON by construction (the API's own bytes,
# validated on the way, or what ``orjson.dumps`` produced). The stored column stays ``JSON``.
PAYLOAD_TYPE = pa.json_(pa.large_string())

PAGE_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("modified_on_raw", pa.string()),
        ("active", pa.bool_()),
        ("payload", PAYLOAD_TYPE),
    ]
)


@dataclasses.dataclass(frozen=True)
class PreparedPage:
    """A page turned into staging columns: what the writer needs, without the parsed records,
    which can be freed as soon as this exists.

    Attributes:
        table: the loadable records, an Arrow table of :data:`PAGE_SCHEMA` (``modified_on_raw``
            is ``modifiedOn`` exactly as the API wrote it; the writer parses it, rejects what
            does not parse and keeps an implausible one as unknown, see
            :func:`plausible_modified_on_sql`).
        rejects: ``(reason, record as JSON text)`` of the records that could not be staged.
        records: how many records the page held (loadable and rejected).
    """

    table: pa.Table
    rejects: tuple[tuple[str, str], ...]
    records: int
