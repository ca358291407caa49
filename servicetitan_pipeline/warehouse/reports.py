"""ServiceTitan Reporting API data in the raw layer: typed tables, windows replaced atomically.

Each configured report lands in ``raw_servicetitan.report_<name>``:

| column | type | meaning |
| --- | --- | --- |
| ``_tenant_id`` | ``BIGINT NOT NULL`` | the tenant |
| ``_window_start``, ``_window_end`` | ``DATE NOT NULL`` | the request window (inclusive) |
| ``_row_number`` | ``INTEGER NOT NULL`` | the row's place in the window's answer (1-based) |
| one column per report field | typed (below) | the field's value, named in snake_case |
| ``_loaded_at`` | ``TIMESTAMPTZ NOT NULL`` | when the window was written |

A field's column type comes from its ``dataType`` in the report's description: String ->
``VARCHAR``, Boolean -> ``BOOLEAN``, Date -> ``DATE``, Time -> ``TIME``, and Number ->
``DECIMAL(18,2)`` for money, ``BIGINT`` for counts and ids, ``DOUBLE`` for the rest (rates,
hours). Which Number is money or a count: the report's ``money_fields`` / ``integer_fields``
when listed, else the field's name (``...Revenue``, ``...Amount``, ``...Total`` are money;
``...Id``, ``...Count``, ``...Jobs`` are counts). Values are read liberally, since the real API
sends numbers as strings at times (``"123.45"``); a value that is not what its field says fails
the window with the field, the row and the value named, and nothing of the window is written.

Each column's comment names the report field it holds (and ``_report_fields`` lists them all);
``_report_windows`` records every window written, and ``_report_pages`` the JSON of each page.
Re-pulling a window deletes the rows (and pages) of every stored window it overlaps and inserts
the new ones in one transaction: a re-run never duplicates, and a failed one changes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import duckdb
import orjson
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information

from servicetitan_pipeline.warehouse.lake import is_lake_connection, retry_conflicts
from servicetitan_pipeline.warehouse.schema import RAW_SCHEMA, TENANT_ID, lake_ddl

REPORT_TABLE_PREFIX = "report_"
REPORT_WINDOWS_TABLE = f"{RAW_SCHEMA}._report_windows"
REPORT_PAGES_TABLE = f"{RAW_SCHEMA}._report_pages"
REPORT_FIELDS_TABLE = f"{RAW_SCHEMA}._report_fields"
WINDOW_START = "_window_start"
WINDOW_END = "_window_end"
ROW_NUMBER = "_row_number"
LOADED_AT = "_loaded_at"
LINEAGE_COLUMNS = (TENANT_ID, WINDOW_START, WINDOW_END, ROW_NUMBER, LOADED_AT)

_MONEY_NAME = re.compile(
    r"(revenue|amount|total|subtotal|sales|cost|price|ticket|balance|pay|income)$", re.IGNORECASE
)
_COUNT_NAME = re.compile(r"(id|count|jobs|number|qty|quantity)$", re.IGNORECASE)
_CENT = Decimal("0.01")


class ReportValueError(ValueError):
    """A report value that is not what its field says (the window is not written)."""


class ColumnType(StrEnum):
    """How a report field is stored: its DuckDB type."""

    MONEY = "DECIMAL(18,2)"
    INTEGER = "BIGINT"
    NUMBER = "DOUBLE"
    DATE = "DATE"
    TIME = "TIME"
    BOOLEAN = "BOOLEAN"
    STRING = "VARCHAR"

    @property
    def arrow(self) -> pa.DataType:
        return _ARROW_TYPES[self]


_ARROW_TYPES: Mapping[ColumnType, pa.DataType] = {
    ColumnType.MONEY: pa.decimal128(18, 2),
    ColumnType.INTEGER: pa.int64(),
    ColumnType.NUMBER: pa.float64(),
    ColumnType.DATE: pa.date32(),
    ColumnType.TIME: pa.time64("us"),
    ColumnType.BOOLEAN: pa.bool_(),
    ColumnType.STRING: pa.string(),
}


@dataclass(frozen=True)
class ReportColumn:
    """A report field and the column that holds it."""

    column: str  # snake_case
    field: str  # the report's field name, as ServiceTitan names it
    label: str
    data_type: str  # the report's dataType (String, Number, Boolean, Date, Time)
    column_type: ColumnType


def snake_case(name: str) -> str:
    """``CompletedJobRevenue`` -> ``completed_job_revenue``; ``BU Name`` -> ``bu_name``."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()
    if not text:
        text = "field"
    if text[0].isdigit():
        text = f"f_{text}"
    return text


def column_type_of(
    field: str,
    data_type: str | None,
    *,
    money_fields: Iterable[str] = (),
    integer_fields: Iterable[str] = (),
) -> ColumnType:
    """The column type of a report field (see the module's docstring for the rules)."""
    if field in set(money_fields):
        return ColumnType.MONEY
    if field in set(integer_fields):
        return ColumnType.INTEGER
    kind = (data_type or "").strip().lower()
    if kind in ("number", "decimal", "integer", "int", "double", "float"):
        if kind in ("integer", "int"):
            return ColumnType.INTEGER
        if _MONEY_NAME.search(field):
            return ColumnType.MONEY
        if _COUNT_NAME.search(field):
            return ColumnType.INTEGER
        return ColumnType.NUMBER
    return {
        "boolean": ColumnType.BOOLEAN,
        "date": ColumnType.DATE,
        "datetime": ColumnType.DATE,
        "time": ColumnType.TIME,
    }.get(kind, ColumnType.STRING)


def report_columns(
    fields: Sequence[Mapping[str, Any]],
    *,
    money_fields: Iterable[str] = (),
    integer_fields: Iterable[str] = (),
) -> tuple[ReportColumn, ...]:
    """The columns of a report's fields (``[{name, label, dataType}]``, in order).

    Two fields whose snake_case names collide get ``_2``, ``_3``...; a name that is one of the
    lineage columns cannot occur (they start with ``_``, snake_case names do not).
    """
    money, integers = frozenset(money_fields), frozenset(integer_fields)
    used: set[str] = set()
    columns: list[ReportColumn] = []
    for field in fields:
        name = str(field["name"])
        base = snake_case(name)
        column, n = base, 1
        while column in used:
            n += 1
            column = f"{base}_{n}"
        used.add(column)
        data_type = field.get("dataType")
        columns.append(
            ReportColumn(
                column=column,
                field=name,
                label=str(field.get("label") or name),
                data_type=str(data_type or ""),
                column_type=column_type_of(
                    name,
                    str(data_type) if data_type is not None else None,
                    money_fields=money,
                    integer_fields=integers,
                ),
            )
        )
    return tuple(columns)


# -- values ----------------------------------------------------------------------------------


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool):
        raise ReportValueError("a boolean is not a number")
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same double: 19.99, not 19.989999...
        return Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if text.startswith("$"):
            text = text[1:]
        try:
            return Decimal(text)
        except InvalidOperation:
            raise ReportValueError("not a number") from None
    raise ReportValueError(f"a {type(value).__name__} is not a number")


def coerce_value(value: object, column_type: ColumnType) -> object:
    """``value`` as ``column_type`` holds it; ``None`` and ``""`` are NULL.

    Raises:
        ReportValueError: the value is not of that type (money with fractions of a cent, a
            count that is not whole, text that is not a date...).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if column_type is ColumnType.STRING:
        return value if isinstance(value, str) else orjson.dumps(value).decode()
    if column_type is ColumnType.MONEY:
        amount = _decimal(value)
        if not amount.is_finite():
            raise ReportValueError("not a finite amount")
        cents = amount.quantize(_CENT, rounding=ROUND_HALF_EVEN)
        if cents != amount:
            raise ReportValueError("money with a fraction of a cent")
        return cents
    if column_type is ColumnType.INTEGER:
        number = _decimal(value)
        if not number.is_finite() or number != number.to_integral_value():
            raise ReportValueError("not a whole number")
        return int(number)
    if column_type is ColumnType.NUMBER:
        return float(_decimal(value))
    if column_type is ColumnType.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise ReportValueError("not a boolean")
    if column_type is ColumnType.DATE:
        if not isinstance(value, str):
            raise ReportValueError("a date must be text")
        try:
            # "2026-11-01", "2026-11-01T00:00:00", "2026-11-01T00:00:00Z": the calendar day
            # the report gives (ServiceTitan's reports are in the tenant's own days).
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise ReportValueError("not a date") from None
    if column_type is ColumnType.TIME:
        if not isinstance(value, str):
            raise ReportValueError("a time must be text")
        try:
            return dt.time.fromisoformat(value.strip())
        except ValueError:
            raise ReportValueError("not a time") from None
    raise AssertionError(column_type)  # pragma: no cover - every type is handled above


def typed_rows(
    columns: Sequence[ReportColumn],
    page_fields: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    report: str,
    first_row_number: int = 1,
) -> pa.Table:
    """A page's rows (values in ``page_fields`` order) as a typed Arrow table of ``columns``.

    A column whose field the page lacks is NULL; a page field no column holds is ignored
    (the caller adds columns for new fields first).

    Raises:
        ReportValueError: naming the report, field, row and value that does not fit.
    """
    position = {name: i for i, name in enumerate(page_fields)}
    values: list[list[object]] = [[] for _ in columns]
    numbers: list[int] = []
    for offset, row in enumerate(rows):
        row_number = first_row_number + offset
        numbers.append(row_number)
        for out, column in zip(values, columns, strict=True):
            i = position.get(column.field)
            raw = row[i] if i is not None else None
            try:
                out.append(coerce_value(raw, column.column_type))
            except ReportValueError as exc:
                raise ReportValueError(
                    f"report {report}: field {column.field!r} of row {row_number} is "
                    f"{shown(raw)}: {exc} (stored as {column.column_type.value})"
                ) from None
    arrays: dict[str, pa.Array] = {ROW_NUMBER: pa.array(numbers, pa.int32())}
    for out, column in zip(values, columns, strict=True):
        arrays[column.column] = pa.array(out, column.column_type.arrow)
    return pa.table(arrays)


def shown(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "...'"


# -- tables ----------------------------------------------------------------------------------


def report_table(name: str) -> str:
    """``raw_servicetitan.report_<name>``."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"not a report table name: {name!r}")
    return f"{RAW_SCHEMA}.{REPORT_TABLE_PREFIX}{name}"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _comment(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ensure_report_tables(conn: duckdb.DuckDBPyConnection, *, lake: bool | None = None) -> None:
    """The side tables every report shares (idempotent). ``lake`` (default: asked of
    ``conn``): the DuckLake dialect, the same tables without the primary keys it refuses."""
    if lake is None:
        lake = is_lake_connection(conn)
    tables = [
        (
            REPORT_WINDOWS_TABLE,
            f"""
            {TENANT_ID} BIGINT NOT NULL,
            report VARCHAR NOT NULL,
            window_start DATE NOT NULL,
            window_end DATE NOT NULL,
            category VARCHAR NOT NULL,
            report_id BIGINT NOT NULL,
            parameters JSON NOT NULL,
            row_count BIGINT NOT NULL,
            page_count INTEGER NOT NULL,
            {LOADED_AT} TIMESTAMPTZ NOT NULL""",
            f"{TENANT_ID}, report, window_start",
        ),
        (
            REPORT_PAGES_TABLE,
            f"""
            {TENANT_ID} BIGINT NOT NULL,
            report VARCHAR NOT NULL,
            window_start DATE NOT NULL,
            window_end DATE NOT NULL,
            page INTEGER NOT NULL,
            payload JSON NOT NULL,
            {LOADED_AT} TIMESTAMPTZ NOT NULL""",
            f"{TENANT_ID}, report, window_start, page",
        ),
        (
            REPORT_FIELDS_TABLE,
            """
            report VARCHAR NOT NULL,
            column_name VARCHAR NOT NULL,
            field_name VARCHAR NOT NULL,
            label VARCHAR NOT NULL,
            data_type VARCHAR NOT NULL,
            column_type VARCHAR NOT NULL""",
            "report, column_name",
        ),
    ]
    if lake:
        lake_ddl(conn, f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
        for table, columns, _ in tables:
            lake_ddl(conn, f"CREATE TABLE IF NOT EXISTS {table} ({columns}\n        )")
        return
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    for table, columns, key in tables:
        conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {table} ({columns},
            PRIMARY KEY ({key})
        )"""
        )


def stored_columns(conn: duckdb.DuckDBPyConnection, name: str) -> dict[str, str]:
    """The columns of ``report_<name>`` and their types ({} when it does not exist)."""
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [RAW_SCHEMA, f"{REPORT_TABLE_PREFIX}{name}"],
    ).fetchall()
    return {str(column): str(kind) for column, kind in rows}


def ensure_report_table(
    conn: duckdb.DuckDBPyConnection, name: str, columns: Sequence[ReportColumn]
) -> None:
    """Create ``report_<name>``, or add the columns of fields it does not hold yet.

    ServiceTitan warns that a report's columns may change: a new field becomes a new column
    (NULL in the rows before it); a field that went away keeps its column (NULL from then on).

    Raises:
        ReportValueError: a field's type changed (say Number to String): the table cannot hold
            both; the message says which and how to start over.
    """
    lake = is_lake_connection(conn)
    ensure_report_tables(conn, lake=lake)
    table = report_table(name)
    existing = stored_columns(conn, name)
    if not existing:
        body = ",\n".join(
            [
                f"{TENANT_ID} BIGINT NOT NULL",
                f"{WINDOW_START} DATE NOT NULL",
                f"{WINDOW_END} DATE NOT NULL",
                f"{ROW_NUMBER} INTEGER NOT NULL",
                *(f"{_quote(c.column)} {c.column_type.value}" for c in columns),
                f"{LOADED_AT} TIMESTAMPTZ NOT NULL",
            ]
        )
        if lake:
            lake_ddl(conn, f"CREATE TABLE IF NOT EXISTS {table} ({body})")
        else:
            conn.execute(f"CREATE TABLE {table} ({body})")
    else:
        for column in columns:
            stored = existing.get(column.column)
            if stored is None:
                conn.execute(
                    f"ALTER TABLE {table} ADD COLUMN {_quote(column.column)} "
                    f"{column.column_type.value}"
                )
            elif stored.upper() != column.column_type.value:
                raise ReportValueError(
                    f"report {name}: field {column.field!r} is now stored as "
                    f"{column.column_type.value}, but {table}.{column.column} is {stored}; "
                    "run the asset with full_refresh to rebuild the table"
                )
    for column in columns:
        conn.execute(
            f"COMMENT ON COLUMN {table}.{_quote(column.column)} IS "
            + _comment(
                f"ServiceTitan report field {column.field!r} ({column.label}; "
                f"{column.data_type or 'no dataType'})"
            )
        )
        conn.execute(
            _REPLACE_FIELD_LAKE if lake else _REPLACE_FIELD,
            [
                name,
                column.column,
                column.field,
                column.label,
                column.data_type,
                column.column_type.value,
            ],
        )


_REPLACE_FIELD = f"INSERT OR REPLACE INTO {REPORT_FIELDS_TABLE} VALUES (?, ?, ?, ?, ?, ?)"
# A lake has no key to replace by: the same row, matched by (report, column_name).
_REPLACE_FIELD_LAKE = f"""
    MERGE INTO {REPORT_FIELDS_TABLE} AS t
    USING (SELECT ? AS report, ? AS column_name, ? AS field_name, ? AS label,
                  ? AS data_type, ? AS column_type) AS s
    ON t.report = s.report AND t.column_name = s.column_name
    WHEN MATCHED THEN UPDATE SET field_name = s.field_name, label = s.label,
        data_type = s.data_type, column_type = s.column_type
    WHEN NOT MATCHED THEN INSERT VALUES (s.report, s.column_name, s.field_name, s.label,
        s.data_type, s.column_type)"""


@dataclass(frozen=True)
class ReportWindow:
    """One request window of a report and what its answer held."""

    start: dt.date
    end: dt.date  # inclusive
    rows: pa.Table  # from typed_rows, every page's rows in order
    pages: Sequence[bytes]  # every page's JSON, in order
    category: str
    report_id: int
    parameters: Sequence[Mapping[str, Any]]


def replace_window(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    tenant_id: int,
    window: ReportWindow,
    *,
    loaded_at: dt.datetime,
) -> int:
    """Replace what is stored of ``window`` with its new rows, in one transaction.

    Every stored window of this report and tenant that overlaps ``window`` is deleted (its
    rows, pages and record), then the window's rows, pages and record are inserted. Returns the
    number of rows deleted. The table must exist (:func:`ensure_report_table`).
    """
    table = report_table(name)
    staged = window.rows
    select = ", ".join(_quote(c) for c in staged.column_names)
    bounds = [tenant_id, window.end, window.start]

    def transaction() -> int:
        # DuckDB reads the Arrow table from this local (a replacement scan; see upsert.py).
        _st_report_rows = staged
        conn.execute("BEGIN TRANSACTION")
        try:
            deleted_row = conn.execute(
                f"DELETE FROM {table} WHERE {_overlapping(WINDOW_START, WINDOW_END)}", bounds
            ).fetchone()
            deleted = int(deleted_row[0]) if deleted_row else 0
            window_filter = _overlapping("window_start", "window_end") + " AND report = ?"
            conn.execute(f"DELETE FROM {REPORT_PAGES_TABLE} WHERE {window_filter}", [*bounds, name])
            conn.execute(
                f"DELETE FROM {REPORT_WINDOWS_TABLE} WHERE {window_filter}", [*bounds, name]
            )
            if staged.num_rows:
                conn.execute(
                    f"INSERT INTO {table} ({TENANT_ID}, {WINDOW_START}, {WINDOW_END}, {select}, "
                    f"{LOADED_AT}) SELECT ?, ?, ?, {select}, ? FROM _st_report_rows",
                    [tenant_id, window.start, window.end, loaded_at],
                )
            for number, body in enumerate(window.pages, start=1):
                conn.execute(
                    f"INSERT INTO {REPORT_PAGES_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [tenant_id, name, window.start, window.end, number, body.decode(), loaded_at],
                )
            conn.execute(
                f"INSERT INTO {REPORT_WINDOWS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    tenant_id,
                    name,
                    window.start,
                    window.end,
                    window.category,
                    window.report_id,
                    orjson.dumps(list(window.parameters)).decode(),
                    staged.num_rows,
                    len(window.pages),
                    loaded_at,
                ],
            )
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                conn.execute("ROLLBACK")
            raise
        return deleted

    if is_lake_connection(conn):
        # Another tenant's window of the same report may commit meanwhile: run it again.
        return retry_conflicts(transaction, what=f"report {name} (tenant {tenant_id})")
    return transaction()


def _overlapping(start_column: str, end_column: str) -> str:
    """The SQL condition "a stored window of this tenant overlaps [?, ?]" (tenant, end, start)."""
    return f"{TENANT_ID} = ? AND {start_column} <= ? AND {end_column} >= ?"


def last_window_end(conn: duckdb.DuckDBPyConnection, name: str, tenant_id: int) -> dt.date | None:
    """The last day of ``report_<name>`` stored for the tenant, or ``None`` if none is."""
    ensure_report_tables(conn)
    row = conn.execute(
        f"SELECT max(window_end) FROM {REPORT_WINDOWS_TABLE} WHERE {TENANT_ID} = ? AND report = ?",
        [tenant_id, name],
    ).fetchone()
    value = row[0] if row else None
    return value if isinstance(value, dt.date) else None


def stored_row_count(conn: duckdb.DuckDBPyConnection, name: str, tenant_id: int) -> int:
    """The rows of ``report_<name>`` stored for the tenant (0 when the table does not exist)."""
    if not stored_columns(conn, name):
        return 0
    row = conn.execute(
        f"SELECT count(*) FROM {report_table(name)} WHERE {TENANT_ID} = ?", [tenant_id]
    ).fetchone()
    return int(row[0]) if row else 0


def delete_report(conn: duckdb.DuckDBPyConnection, name: str, tenant_id: int) -> int:
    """Delete every stored row, page and window of the tenant's report (a full refresh);
    returns the rows deleted."""
    lake = is_lake_connection(conn)
    ensure_report_tables(conn, lake=lake)

    def transaction() -> int:
        deleted = 0
        conn.execute("BEGIN TRANSACTION")
        try:
            if stored_columns(conn, name):
                row = conn.execute(
                    f"DELETE FROM {report_table(name)} WHERE {TENANT_ID} = ?", [tenant_id]
                ).fetchone()
                deleted = int(row[0]) if row else 0
            for side in (REPORT_PAGES_TABLE, REPORT_WINDOWS_TABLE):
                conn.execute(
                    f"DELETE FROM {side} WHERE {TENANT_ID} = ? AND report = ?", [tenant_id, name]
                )
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                conn.execute("ROLLBACK")
            raise
        return deleted

    if lake:
        return retry_conflicts(
            transaction, what=f"report {name} (tenant {tenant_id}), full refresh"
        )
    return transaction()
