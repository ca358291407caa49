"""Upsert of pages into ``raw_servicetitan.<entity>``, full refresh and row counts.

Rows are keyed by ``(_tenant_id, id)``, or ``(_tenant_id, id, id_2)`` for an entity whose
records are identified by two fields (``schema.RecordFields``): every join, in-page
deduplication and conflict below goes by the page's key columns.

Version rule (the upsert): a record replaces the stored row only when its ``modifiedOn`` (the
entity's ordering field, stored in ``modified_on``: ``createdOn`` for immutable events) is
strictly newer; the same or an older one writes nothing (re-reads and out-of-order replays are
harmless). It is nullable on some entities (invoices), and always NULL for entities whose
records carry no time to follow (``RecordFields.modified`` is ``None``: job history, reviews);
when either side's is unknown the versions cannot be ordered, so the incoming record -- what
the source says *now* -- replaces the stored row exactly when its content differs. That keeps
a re-run with no change at the source free of writes, and never loses a change.

An implausible ``modifiedOn`` (year 9999, ``infinity``, ``epoch``: ``schema.
plausible_modified_on_sql``, the one definition) is unknown, on either side -- also one stored
by an older version of this writer: the later arrival wins, whatever the stamp says, so a
far-future stamp never freezes a record, and it never becomes a page's ``max_modified_on``
(the list high-water). Such records load (payload as sent, ``modified_on`` NULL) and are
counted in ``PageCounts.implausible_modified_on``.

A page is written inside a transaction that the caller may keep open for further pages
(``batch.PageBatchWriter``); the transaction ends with the cursor that covers its rows
(``state.finish_sql``), so rows and cursor are committed together or not at all.

Two dialects, decided once per connection (``lake.is_lake_connection``) and passed down as
``lake``: the DuckDB file finds a stored row through the primary key (``INSERT ... ON
CONFLICT DO UPDATE ... WHERE <version rule>``); a DuckLake has no keys, so the same page goes
through ``MERGE INTO ... WHEN MATCHED AND <version rule>``. The rule is written once
(:func:`_newer_sql`, :func:`_stored_is_older`) and the counts come from the same classifying
query in both, so a page counts and lands alike in either warehouse.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information
import pyarrow.compute as pc  # type: ignore[import-untyped]

from servicetitan_pipeline.warehouse.lake import is_lake_connection, retry_conflicts
from servicetitan_pipeline.warehouse.rejects import insert_rejects
from servicetitan_pipeline.warehouse.schema import (
    REJECTED_TABLE,
    PreparedPage,
    RecordFields,
    ensure_entity_table,
    latest_plausible_modified_on,
    plausible_modified_on_sql,
    raw_table,
    sql_literal,
)
from servicetitan_pipeline.warehouse.state import (
    CURSOR_EXPORT_TOKEN,
    KEEP_CURSOR,
    CursorUpdate,
    finish_sql,
    forget_state_sql,
)


@dataclass
class PageCounts:
    """What writing one page (or, summed, a whole run) did.

    ``inserted``: keys new for this tenant; ``updated``: stored rows replaced by a newer version
    (``deactivated`` counts the subset whose ``active`` went from true to false);
    ``unchanged``: records already stored at the same or a newer version (and in-page
    duplicates that collapsed); ``rejected``: records that could not be loaded. ``deactivated``
    is always 0 for an entity without an active flag (its ``active`` is NULL).
    ``max_modified_on``: the page's greatest plausible ``modifiedOn``, exactly as the API wrote
    it; ``implausible_modified_on``: records loaded whose ``modifiedOn`` was not plausible
    (kept as unknown, see the module docstring).
    """

    records: int = 0
    inserted: int = 0
    updated: int = 0
    deactivated: int = 0
    unchanged: int = 0
    rejected: int = 0
    implausible_modified_on: int = 0
    max_modified_on: str | None = None
    _max_modified_ts: datetime | None = None
    _bad_timestamps: int = 0

    def add(self, other: PageCounts) -> None:
        """Accumulate another page's counts into this one (in place)."""
        for f in fields(self):
            if f.name in ("max_modified_on", "_max_modified_ts", "_bad_timestamps"):
                continue
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        if other._max_modified_ts is not None and (
            self._max_modified_ts is None or other._max_modified_ts > self._max_modified_ts
        ):
            self._max_modified_ts = other._max_modified_ts
            self.max_modified_on = other.max_modified_on

    @property
    def written(self) -> int:
        """Rows inserted or updated."""
        return self.inserted + self.updated


def distinct_keys(table: pa.Table, key_columns: tuple[str, ...]) -> int:
    """How many distinct keys (values of ``key_columns``) the staged page ``table`` holds."""
    if len(key_columns) == 1:  # the common case, one C call
        return int(pc.count_distinct(table.column(key_columns[0])).as_py())
    return int(table.select(list(key_columns)).group_by(list(key_columns)).aggregate([]).num_rows)


def _page_key_columns(table: pa.Table, fields: RecordFields, entity: str) -> tuple[str, ...]:
    """The key columns of ``fields``, which the staged page must have (it was staged for
    another entity otherwise: say so rather than let DuckDB fail on a missing column)."""
    key_columns = fields.key_columns
    names = table.schema.names
    if names[: len(key_columns)] != list(key_columns) or "id_2" in names[len(key_columns) :]:
        raise ValueError(
            f"{entity}: the page is staged with columns {names}, not for the key "
            f"{fields.describe_key()} (columns {', '.join(key_columns)})"
        )
    return key_columns


def _dedup_cte(has_duplicates: bool, latest: datetime, key_columns: tuple[str, ...]) -> str:
    """CTEs ``src`` (the page, timestamps parsed: ``parsed_on`` as DuckDB reads it,
    ``modified_on`` the same when plausible, else NULL) and ``dedup`` (one row per key).

    In-page duplicates collapse to the newest version (the later listing on a tie: it was
    listed after). Rows whose modifiedOn DuckDB cannot read are left out here and rejected
    instead. Pages almost never repeat a key, and the two window functions are a measurable
    share of a page's cost, so they are only planned when the page does.
    """
    keys = ", ".join(key_columns)
    ord_column = ",\n               row_number() OVER () AS ord" if has_duplicates else ""
    src = f"""
    parsed AS (
        SELECT {keys}, modified_on_raw, active, payload,
               TRY_CAST(modified_on_raw AS TIMESTAMPTZ) AS parsed_on
        FROM _st_page
    ),
    src AS (
        SELECT {keys}, modified_on_raw, active, payload, parsed_on,
               {plausible_modified_on_sql("parsed_on", latest)} AS modified_on{ord_column}
        FROM parsed
    )"""
    dedup = f"""
    dedup AS (
        SELECT {keys}, modified_on_raw, modified_on, active, payload FROM src
        WHERE modified_on_raw IS NULL OR parsed_on IS NOT NULL%s
    )""" % (
        f"""
        QUALIFY row_number() OVER (
            PARTITION BY {keys} ORDER BY modified_on DESC NULLS LAST, ord DESC) = 1"""
        if has_duplicates
        else ""
    )
    return src + "," + dedup + "\n"


def _newer_sql(incoming: str, stored: str, stored_modified_on: str | None = None) -> str:
    """The version rule, written once: ``incoming`` and ``stored`` name the two rows,
    ``stored_modified_on`` the stored version as the rule sees it (default: its column)."""
    s_on, t_on = f"{incoming}.modified_on", stored_modified_on or f"{stored}.modified_on"
    return f"""({s_on} > {t_on} OR (
        ({s_on} IS NULL OR {t_on} IS NULL)
        AND CAST({incoming}.payload AS VARCHAR) <> CAST({stored}.payload AS VARCHAR)))"""


def _stored_is_older(incoming: str, stored: str, latest: datetime, unordered: bool) -> str:
    """The version rule as the statement that writes the page applies it: ``incoming``
    (``EXCLUDED``, or the MERGE's source) replaces ``stored`` (the stored row's name). Only
    when a version of the page is unordered (``unordered``) does it compare payloads; else
    timestamps alone decide, as in the classification."""
    if unordered:
        plausible = plausible_modified_on_sql(f"{stored}.modified_on", latest)
        return _newer_sql(incoming, stored, f"({plausible})")
    return f"{incoming}.modified_on > {stored}.modified_on"


def write_page(
    conn: duckdb.DuckDBPyConnection,
    page: PreparedPage,
    *,
    entity: str,
    tenant_id: int,
    connection_name: str,
    cursor: CursorUpdate = KEEP_CURSOR,
    cursor_kind: str = CURSOR_EXPORT_TOKEN,
    source_now: datetime | None = None,
    fields: RecordFields | None = None,
    lake: bool | None = None,
) -> PageCounts:
    """Upsert one page and (optionally) store the cursor, in ONE transaction.

    Args:
        conn: an open DuckDB connection (the raw tables must exist: ``ensure_entity_table``).
        page: the page's staging columns (``sync.pages`` makes them).
        entity: entity name (= raw table name).
        tenant_id: ServiceTitan tenant the records belong to; part of the key.
        connection_name: lineage, written to ``_connection``.
        cursor: the cursor that covers this page; ``KEEP_CURSOR`` leaves the stored cursor
            untouched (list entities mid-pass; see ``state``).
        cursor_kind: what ``cursor`` means, stored next to it.
        source_now: the source's current time (ServiceTitan's ``Date``), if known: bounds a
            plausible ``modifiedOn`` (see the module docstring).
        fields: the entity's record fields (its key; the ordering field, named in rejects);
            default: the entity table's entry named ``entity``.
        lake: the DuckLake dialect (default: asked of ``conn``); there, a transaction that
            conflicts with another writer's at COMMIT is replayed from the page in memory
            (``lake.retry_conflicts``).

    Returns:
        The page's :class:`PageCounts`.

    This is a batch of one page; ``batch.PageBatchWriter`` commits several pages (and the
    cursor after the last of them) per transaction.
    """
    if lake is None:
        lake = is_lake_connection(conn)
    commit_sql = finish_sql(
        tenant_id=tenant_id,
        entity=entity,
        connection_name=connection_name,
        cursor=cursor,
        cursor_kind=cursor_kind,
        lake=lake,
    )

    def transaction() -> PageCounts:
        return write_in_transaction(
            conn,
            page,
            entity=entity,
            tenant_id=tenant_id,
            connection_name=connection_name,
            begin=True,
            source_now=source_now,
            fields=fields,
            commit_sql=commit_sql,
            lake=lake,
        )

    if not lake:
        return transaction()
    return retry_conflicts(transaction, what=f"{entity} (tenant {tenant_id}), one page")


def write_in_transaction(
    conn: duckdb.DuckDBPyConnection,
    prepared: PreparedPage,
    *,
    entity: str,
    tenant_id: int,
    connection_name: str,
    begin: bool,
    commit_sql: list[str] | None,
    source_now: datetime | None = None,
    fields: RecordFields | None = None,
    lake: bool = False,
) -> PageCounts:
    """Write one page inside a transaction: open it first when ``begin``, end it with
    ``commit_sql`` (cursor + COMMIT, ``state.finish_sql``) when given, else leave it open for
    the next page. ``source_now`` and ``fields``: as for :func:`write_page`; ``lake``: the
    DuckLake dialect (no retry here: the caller replays the whole transaction).

    On any failure the transaction -- with every page written in it so far -- is rolled
    back and the error re-raised.
    """
    table_name = raw_table(entity)
    if fields is None:
        fields = RecordFields.for_entity_name(entity)
    counts = PageCounts(records=prepared.records)
    table = prepared.table
    key_columns = _page_key_columns(table, fields, entity)
    rejects = list(prepared.rejects)
    now = datetime.now(UTC)
    params: dict[str, Any] = {
        "tenant": tenant_id,
        "conn": connection_name,
        "latest": latest_plausible_modified_on(source_now),
    }

    # Few round trips on purpose: each `execute` releases the GIL while DuckDB works and must
    # win it back to return, and the download thread holds it for the whole decode of the next
    # page. With six statements per page, the writer waited for the GIL more than it wrote.
    # So: one call to (begin and) classify, one to write (and commit); anything else only when
    # the page needs it.
    # The SQL names the page `_st_page`: DuckDB finds it as this Python local (a "replacement
    # scan"). Not `conn.register`: a registered view is a catalog entry, and DuckDB keeps a
    # dropped one -- with its Arrow table -- until the transaction ends, so a batch of pages
    # kept every page of the batch alive (~17 MB each for invoices).
    _st_page = table  # read by DuckDB (see above)
    try:
        write_sql: list[str] = []
        if table.num_rows:
            insert_sql = _classify_page(
                conn, table, table_name, key_columns, params, counts, begin=begin, lake=lake
            )
            if insert_sql:
                write_sql.append(insert_sql)
            if counts._bad_timestamps:
                bad = conn.execute(
                    "SELECT payload FROM _st_page WHERE modified_on_raw IS NOT NULL "
                    "AND TRY_CAST(modified_on_raw AS TIMESTAMPTZ) IS NULL"
                ).fetchall()
                reason = f"{fields.modified or 'modifiedOn'} is not a valid timestamp"
                rejects.extend((reason, p) for (p,) in bad)
        elif begin:
            conn.execute("BEGIN TRANSACTION")
        counts.rejected = len(rejects)
        counts.unchanged = counts.records - counts.rejected - counts.inserted - counts.updated
        insert_rejects(
            conn,
            entity=entity,
            tenant_id=tenant_id,
            connection_name=connection_name,
            rejects=rejects,
            now=now,
        )
        if commit_sql:
            write_sql.extend(commit_sql)
        if write_sql:
            conn.execute(";\n".join(write_sql)).fetchall()
    except BaseException:
        # After a failed statement the transaction is aborted; ROLLBACK ends it (and is a
        # no-op error if the failure came before BEGIN), the original error is what we report.
        with contextlib.suppress(duckdb.Error):
            conn.execute("ROLLBACK")
        raise
    finally:
        del _st_page
    return counts


def _classify_page(
    conn: duckdb.DuckDBPyConnection,
    table: pa.Table,
    table_name: str,
    key_columns: tuple[str, ...],
    params: dict[str, Any],
    counts: PageCounts,
    *,
    begin: bool = True,
    lake: bool = False,
) -> str | None:
    """(Begin the transaction when ``begin``, then) classify the page ``table``
    (named ``_st_page`` in the SQL), keyed by ``key_columns``.

    Fills ``counts`` from one aggregate over the page LEFT JOINed to this tenant's stored rows
    (new / newer / deactivated by the version rule; only narrow stored columns are read unless
    a version is unordered, i.e. has a null modifiedOn) and returns the INSERT that writes the
    page -- a plain one when every key is new (every first sync; measurably cheaper), else
    ``INSERT ... ON CONFLICT DO UPDATE ... WHERE <same version rule>``, which finds the stored
    row through the primary-key index (``lake``: ``MERGE INTO ... WHEN MATCHED AND <same
    version rule>``, a join: a lake has no keys) -- or ``None`` when nothing is to be written.
    """
    _st_page = table  # read by DuckDB as a replacement scan (see write_in_transaction)
    latest: datetime = params["latest"]
    has_duplicates = distinct_keys(table, key_columns) != table.num_rows
    dedup_cte = _dedup_cte(has_duplicates, latest, key_columns)
    keys = ", ".join(key_columns)
    s_keys = ", ".join(f"s.{c}" for c in key_columns)
    joined_on = " AND ".join(f"t.{c} = s.{c}" for c in key_columns)
    tenant_only = {"tenant": params["tenant"]}
    # The stored version as the rule sees it: an implausible stored stamp (one written by an
    # older version of this writer) is unknown too. Applied to the joined rows only (the
    # page's), never to every stored row the join scans.
    t_on = plausible_modified_on_sql("t.modified_on", latest)

    def classify_sql(rule: str, stored_cols: str) -> str:
        return f"""
            WITH {dedup_cte},
            classified AS (
                SELECT {s_keys}, s.active, s.modified_on, s.modified_on_raw,
                       t.id IS NULL AS is_new, t.active AS old_active,
                       t.id IS NOT NULL AND {rule} AS is_newer,
                       t.id IS NOT NULL
                           AND (s.modified_on IS NULL OR {t_on} IS NULL) AS unordered
                FROM dedup s
                LEFT JOIN (SELECT {stored_cols} FROM {table_name} WHERE _tenant_id = $tenant) t
                  ON {joined_on}
            )
            SELECT count(*) FILTER (WHERE is_new),
                   count(*) FILTER (WHERE is_newer),
                   count(*) FILTER (WHERE is_newer AND old_active AND active IS FALSE),
                   arg_max(modified_on_raw, modified_on),
                   max(modified_on),
                   -- [unreadable, implausible] stamps: one more pass over the page, not two
                   (SELECT [count(*) FILTER (WHERE modified_on_raw IS NOT NULL
                                                 AND parsed_on IS NULL),
                            count(*) FILTER (WHERE parsed_on IS NOT NULL
                                                 AND modified_on IS NULL)] FROM src),
                   count(*),
                   count(*) FILTER (WHERE unordered)
            FROM classified
            """

    # Timestamps decide, reading only narrow stored columns. Only when a version on either
    # side has no modifiedOn is the page classified again comparing payloads (which needs the
    # stored payload column, the expensive one).
    row = conn.execute(
        ("BEGIN TRANSACTION;\n" if begin else "")
        + classify_sql(f"s.modified_on > {t_on}", f"{keys}, active, modified_on"),
        tenant_only,
    ).fetchall()[0]
    n_unordered = row[-1]
    if n_unordered:
        row = conn.execute(
            classify_sql(_newer_sql("s", "t", t_on), f"{keys}, active, modified_on, payload"),
            tenant_only,
        ).fetchall()[0]
    (
        counts.inserted,
        counts.updated,
        counts.deactivated,
        counts.max_modified_on,
        counts._max_modified_ts,
        (counts._bad_timestamps, counts.implausible_modified_on),
        n_distinct,
        _,
    ) = row
    if not (counts.inserted or counts.updated):
        return None
    insert = f"""
        INSERT INTO {table_name}
            (_tenant_id, {keys}, modified_on, active, payload, _connection, _loaded_at)
        WITH {dedup_cte}
        SELECT {sql_literal(params["tenant"])}, {keys}, modified_on, active, payload,
               {sql_literal(params["conn"])}, now()
        FROM dedup
    """
    if counts.inserted == n_distinct:
        # Every key of the page is new: no conflict is possible, so no conflict clause.
        return insert
    if lake:
        return _merge_sql(
            table_name, dedup_cte, key_columns, params, latest, unordered=bool(n_unordered)
        )
    # DuckDB names the stored row by the table name in DO UPDATE ... WHERE.
    bare = table_name.split(".", 1)[1]
    rule_on_conflict = _stored_is_older("EXCLUDED", bare, latest, bool(n_unordered))
    return f"""{insert}
        ON CONFLICT (_tenant_id, {keys}) DO UPDATE SET
            modified_on = EXCLUDED.modified_on,
            active = EXCLUDED.active,
            payload = EXCLUDED.payload,
            _connection = EXCLUDED._connection,
            _loaded_at = EXCLUDED._loaded_at
        WHERE {rule_on_conflict}
    """


def _merge_sql(
    table_name: str,
    dedup_cte: str,
    key_columns: tuple[str, ...],
    params: dict[str, Any],
    latest: datetime,
    *,
    unordered: bool,
) -> str:
    """The lake's write of a page with stored keys: ``MERGE INTO`` by the tenant and key,
    replacing a stored row only by the version rule, inserting the new keys."""
    keys = ", ".join(key_columns)
    s_keys = ", ".join(f"s.{c}" for c in key_columns)
    joined_on = " AND ".join(f"t.{c} = s.{c}" for c in key_columns)
    tenant, connection = sql_literal(params["tenant"]), sql_literal(params["conn"])
    return f"""
        MERGE INTO {table_name} AS t
        USING (WITH {dedup_cte} SELECT {keys}, modified_on, active, payload FROM dedup) AS s
        ON t._tenant_id = {tenant} AND {joined_on}
        WHEN MATCHED AND {_stored_is_older("s", "t", latest, unordered)} THEN UPDATE SET
            modified_on = s.modified_on,
            active = s.active,
            payload = s.payload,
            _connection = {connection},
            _loaded_at = now()
        WHEN NOT MATCHED THEN INSERT
            (_tenant_id, {keys}, modified_on, active, payload, _connection, _loaded_at)
            VALUES ({tenant}, {s_keys}, s.modified_on, s.active, s.payload, {connection}, now())
    """


# --------------------------------------------------------------------------------------------
# Full refresh and inspection
# --------------------------------------------------------------------------------------------


def reset_entity(
    conn: duckdb.DuckDBPyConnection,
    *,
    entity: str,
    tenant_id: int,
    fields: RecordFields | None = None,
    lake: bool | None = None,
    connection_name: str = "",
) -> int:
    """Forget one entity for one tenant: its rows, its cursor and its rejected records, in one
    transaction. Other tenants sharing the file are untouched. Returns the rows deleted.
    ``fields``: as for :func:`write_page` (the table is created with their key if missing).
    ``lake``: the DuckLake dialect (default: asked of ``conn``): the cursor is forgotten by
    an appended row (``state.forget_state_sql``, recording ``connection_name``), and a
    transaction that conflicts with another writer's is run again.

    Rejected records go too: a full refresh re-reads everything, and whatever is still bad at
    the source is rejected again, so the rejects afterwards describe the current source.
    """
    if lake is None:
        lake = is_lake_connection(conn)
    ensure_entity_table(conn, entity, fields, lake=lake)
    forget = [tenant_id, entity, connection_name] if lake else [tenant_id, entity]

    def transaction() -> int:
        conn.execute("BEGIN TRANSACTION")
        try:
            (deleted,) = conn.execute(
                f"SELECT count(*) FROM {raw_table(entity)} WHERE _tenant_id = ?", [tenant_id]
            ).fetchall()[0]
            conn.execute(f"DELETE FROM {raw_table(entity)} WHERE _tenant_id = ?", [tenant_id])
            conn.execute(forget_state_sql(lake=lake), forget)
            conn.execute(
                f"DELETE FROM {REJECTED_TABLE} WHERE _tenant_id = ? AND entity = ?",
                [tenant_id, entity],
            )
            conn.execute("COMMIT")
        except BaseException:
            # A failed COMMIT has ended the transaction already (nothing to roll back).
            with contextlib.suppress(duckdb.Error):
                conn.execute("ROLLBACK")
            raise
        return int(deleted)

    if not lake:
        return transaction()
    return retry_conflicts(transaction, what=f"{entity} (tenant {tenant_id}), full refresh")


def count_rows(conn: duckdb.DuckDBPyConnection, *, entity: str, tenant_id: int) -> int:
    """Rows stored for one entity and tenant."""
    (n,) = conn.execute(
        f"SELECT count(*) FROM {raw_table(entity)} WHERE _tenant_id = ?", [tenant_id]
    ).fetchall()[0]
    return int(n)
