"""The analysts' copy: the marts and reports as a read-only database file beside the warehouse.

DuckDB lets one process write a file, and refuses that writer while any other process has the
file open, even read-only; and while the writer has it, nobody else can open it. An analyst's
shell, notebook or BI tool left open on the warehouse therefore failed the next run, and a
run kept analysts out. So analysts never open the warehouse: after each successful run the
writer copies what they query into a new file and renames it over the previous copy.

The rename is what makes it safe for both sides. The new copy is written to a temporary file
in the same directory, checkpointed (no ``.wal``) and closed, then ``os.replace``d over the
old one: a connection an analyst already holds keeps reading the previous copy (its file
descriptor points at the old inode, which lives on until closed), a new connection opens the
new copy, and nothing ever waits for anything else. The copy is made read-only on disk, so a
tool that forgets read-only mode fails at once instead of writing into a file that the next
publication replaces.

A DuckLake warehouse (``SERVICETITAN_WAREHOUSE=ducklake``) needs no copy: every reader sees the
last committed snapshot and never blocks a writer, so analysts attach the lake itself,
read-only (``servicetitan-pipeline sql``), and :func:`lake_needs_no_copy` says so.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from servicetitan_pipeline.warehouse.lake import lake_settings

__all__ = [
    "ANALYSTS_SCHEMAS",
    "PUBLICATION_TABLE",
    "STAGING_SCHEMA",
    "PublishedCopy",
    "lake_needs_no_copy",
    "publish_analysts_copy",
    "temporary_path_for",
]

# dbt builds the marts and reports into DuckDB's default schema (dbt_project.yml), the staging
# views into `staging`. Analysts' SQL written against the warehouse runs unchanged on the copy.
ANALYSTS_SCHEMAS: tuple[str, ...] = ("main",)
STAGING_SCHEMA = "staging"
# One row in the copy saying when it was published: an analyst can tell how fresh it is.
PUBLICATION_TABLE = "analysts_copy_publication"
# The copy's alias while it is attached to the writer's connection.
_ALIAS = "analysts_copy_publishing"


@dataclass(frozen=True)
class PublishedCopy:
    """What a publication wrote.

    Attributes:
        path: the analysts' copy (after the rename).
        rows: ``schema.table`` -> rows copied, for every relation in the copy.
        seconds: wall time of the whole publication (copy, checkpoint, rename).
        bytes: size of the new file.
    """

    path: Path
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    bytes: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def temporary_path_for(target: str | os.PathLike[str]) -> Path:
    """Where a publication writes before the rename: beside ``target`` (same filesystem, so
    ``os.replace`` is atomic), a fixed name (one writer at a time holds the warehouse's write
    lock, and a file a killed publication left is simply overwritten)."""
    path = Path(os.fspath(target))
    return path.with_name(f".{path.name}.publishing")


def lake_needs_no_copy(environ: Mapping[str, str] | None = None) -> str | None:
    """Why no analysts' copy is published, when the warehouse is a DuckLake; else ``None``.

    On a lake the copy would cost a second copy of the marts and reports for nothing: a
    reader's transaction keeps the snapshot it started on (the Parquet files of that snapshot
    stay until snapshots are expired), and writers commit new snapshots without waiting for it.

    Raises:
        ConfigError: the lake's settings are invalid (``lake.lake_settings``).
    """
    settings = lake_settings(environ)
    if settings is None:
        return None
    return (
        f"no copy needed: the warehouse is a {settings.describe()}; analysts attach it "
        "read-only (servicetitan-pipeline sql), each reader sees the last committed snapshot "
        "and never blocks a run"
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _relations(
    conn: duckdb.DuckDBPyConnection, schemas: Sequence[str]
) -> list[tuple[str, str, str | None]]:
    """``(schema, name, comment)`` of every table and view of ``schemas`` in the warehouse."""
    database = _current_database(conn)
    placeholders = ", ".join("?" for _ in schemas)
    rows = conn.execute(
        f"""
        SELECT schema_name, table_name, comment FROM duckdb_tables()
        WHERE database_name = ? AND schema_name IN ({placeholders}) AND NOT temporary
        UNION ALL
        SELECT schema_name, view_name, comment FROM duckdb_views()
        WHERE database_name = ? AND schema_name IN ({placeholders}) AND NOT internal
            AND NOT temporary
        ORDER BY 1, 2
        """,
        [database, *schemas, database, *schemas],
    ).fetchall()
    return [(str(s), str(n), str(c) if c else None) for s, n, c in rows]


def _copy_comments(
    conn: duckdb.DuckDBPyConnection, schema: str, name: str, comment: str | None
) -> None:
    """The relation's and its columns' descriptions (dbt's persist_docs), onto the copy."""
    target = f"{_ALIAS}.{_quote(schema)}.{_quote(name)}"
    if comment:
        conn.execute(f"COMMENT ON TABLE {target} IS {_literal(comment)}")
    columns = conn.execute(
        "SELECT column_name, comment FROM duckdb_columns() WHERE database_name = ? "
        "AND schema_name = ? AND table_name = ? AND comment IS NOT NULL AND comment <> ''",
        [_current_database(conn), schema, name],
    ).fetchall()
    for column, text in columns:
        conn.execute(f"COMMENT ON COLUMN {target}.{_quote(str(column))} IS {_literal(str(text))}")


def _literal(text: str) -> str:
    # COMMENT ON takes no parameters: a quoted literal.
    return "'" + text.replace("'", "''") + "'"


def _remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def publish_analysts_copy(
    conn: duckdb.DuckDBPyConnection,
    target: str | os.PathLike[str],
    *,
    schemas: Sequence[str] = ANALYSTS_SCHEMAS,
    include_staging: bool = False,
) -> PublishedCopy:
    """Copy every table and view of ``schemas`` (and ``staging`` if asked) from the warehouse
    ``conn`` is connected to into a new file, then rename it over ``target`` atomically.

    Views become tables in the copy (the tables they read are not all in it). Descriptions
    (DuckDB comments) come along. A schema the warehouse does not have is skipped, so a new
    warehouse publishes what it has. ``conn`` is left as it was (the copy is attached to it
    for the publication only).

    Args:
        conn: a connection to the warehouse (the writer's own: it holds the file).
        target: the analysts' copy to replace (created if missing).
        schemas: the schemas to copy; ``main`` holds dbt's marts and reports.
        include_staging: also copy the staging views, as tables (they are computed from the
            raw JSON as they are copied: about four times the CPU of the marts and reports).

    Raises:
        duckdb.Error: the copy failed; the previous copy is left in place, untouched.
        OSError: the temporary file or the rename failed; the previous copy is left in place.
    """
    started = time.monotonic()
    path = Path(os.fspath(target))
    temporary = temporary_path_for(path)
    wal = Path(f"{temporary}.wal")
    _remove(temporary, wal)  # a killed publication's leftovers
    wanted = [*schemas, *([STAGING_SCHEMA] if include_staging else [])]
    relations = _relations(conn, wanted)
    database = _current_database(conn)
    rows: dict[str, int] = {}
    conn.execute(f"ATTACH {_literal(str(temporary))} AS {_ALIAS}")
    try:
        for schema in sorted({s for s, _, _ in relations} - {"main"}):
            conn.execute(f"CREATE SCHEMA {_ALIAS}.{_quote(schema)}")
        for schema, name, comment in relations:
            source = f"{_quote(schema)}.{_quote(name)}"
            # CREATE TABLE AS answers with the rows it wrote: no second scan to count them.
            count = conn.execute(
                f"CREATE TABLE {_ALIAS}.{source} AS SELECT * FROM {_quote(database)}.{source}"
            ).fetchone()
            rows[f"{schema}.{name}"] = int(count[0]) if count else 0
            _copy_comments(conn, schema, name, comment)
        conn.execute(
            f"CREATE TABLE {_ALIAS}.main.{PUBLICATION_TABLE} AS SELECT now() AS published_at, "
            f"{len(relations)}::INTEGER AS relations, {sum(rows.values())}::BIGINT AS total_rows"
        )
        conn.execute(f"CHECKPOINT {_ALIAS}")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            conn.execute(f"DETACH {_ALIAS}")
        _remove(temporary, wal)
        raise
    conn.execute(f"DETACH {_ALIAS}")
    try:
        # Read-only on disk: a tool that opens the copy read-write fails at once instead of
        # changing a file the next publication replaces (and leaving a .wal beside it).
        mode = stat.S_IMODE(temporary.stat().st_mode)
        temporary.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        _remove(wal)  # none after the checkpoint; never let one be renamed onto another copy
        # A .wal of an old copy (opened read-write before copies were read-only) would be
        # replayed onto the new one by its next reader.
        _remove(Path(f"{path}.wal"))
        os.replace(temporary, path)
    except BaseException:
        _remove(temporary)
        raise
    return PublishedCopy(
        path=path,
        rows=rows,
        seconds=time.monotonic() - started,
        bytes=path.stat().st_size,
    )


def _current_database(conn: duckdb.DuckDBPyConnection) -> str:
    row = conn.execute("SELECT current_database()").fetchone()
    assert row is not None
    return str(row[0])
