"""``servicetitan-pipeline sql``: SQL on the analysts' copy (or any DuckDB file), read-only.

The project installs no ``duckdb`` executable and Debian ships none (``pip install
duckdb-cli==1.5.6`` gives one that reads the project's files: DuckDB 1.5.5 writes them in the
v1.2.0 storage format, which DuckDB 1.2 and newer read); this command is the shell that always
matches, since it is the project's own DuckDB. It opens the analysts' copy by default
(``docs/analysts.md``): a file no run ever waits for. ``--warehouse`` opens the warehouse
itself, read-only, which a run then waits for (so close it soon); ``--database PATH`` opens any
file, read-only.

On a DuckLake warehouse (``SERVICETITAN_WAREHOUSE=ducklake``) there is no copy: the command
attaches the lake itself, read-only (without ``--database``; ``--warehouse`` is the same). Each
statement reads the last snapshot committed when it starts, and a run never waits for it;
inside ``BEGIN TRANSACTION`` ... ``COMMIT`` every statement reads the snapshot the
transaction began on.

``-c "SQL"`` runs the SQL and prints the result as an aligned table. Without ``-c`` it reads
statements ending with ``;`` from a terminal (a small shell: ``.tables``, ``.schema NAME``,
``.quit``) or from standard input (``echo "select 1;" | servicetitan-pipeline sql``). Exits 0
when every statement ran, 1 on the first failed one (the shell carries on), 2 when the file
cannot be opened.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import duckdb

from servicetitan_pipeline.cli.common import (
    EXIT_BAD_SETTINGS,
    SETTINGS_ERRORS,
    add_env_file_argument,
    load_env_file,
)
from servicetitan_pipeline.config import (
    ANALYSTS_DUCKDB_PATH_ENV,
    ConfigError,
    analysts_duckdb_path,
    duckdb_path,
)
from servicetitan_pipeline.warehouse.lake import LakeSettings, connect_lake, lake_settings
from servicetitan_pipeline.warehouse.opening import is_lock_conflict, lock_holder

__all__ = ["add_arguments", "format_table", "run"]

EXIT_OK = 0
EXIT_FAILED = 1
DEFAULT_MAX_ROWS = 1000
PROMPT = "sql> "
CONTINUATION = "...> "


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``sql`` command's options."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--warehouse",
        action="store_true",
        help="open the warehouse itself (SERVICETITAN_DUCKDB_PATH), read-only; a run waits "
        "while it is open, so prefer the analysts' copy (on a DuckLake warehouse, the lake is "
        "what opens anyway, and no run waits)",
    )
    where.add_argument(
        "--database",
        metavar="PATH",
        help="open this DuckDB file, read-only",
    )
    parser.add_argument(
        "-c",
        "--command",
        # Not `command`: the top-level parser keeps the subcommand's name there.
        dest="statement",
        metavar="SQL",
        help="run SQL (one statement, or several separated by ';': the last one's result is "
        "printed) and exit",
    )
    parser.add_argument(
        "--max-rows",
        type=int,
        default=DEFAULT_MAX_ROWS,
        help=f"print at most this many rows of a result (default {DEFAULT_MAX_ROWS})",
    )
    add_env_file_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Open the chosen file (or the DuckLake) read-only and run ``-c`` or the statements of
    stdin."""
    try:
        load_env_file(args.env_file)
        lake: LakeSettings | None = None if args.database else lake_settings()
        path = None if lake is not None else _database_path(args)
        if lake is not None:
            # connect_lake names the setting and gives libpq's or DuckLake's reason.
            conn = connect_lake(lake, read_only=True)
    except SETTINGS_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    if path is not None:
        try:
            conn = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            print(f"error: {_open_failure(path, exc, warehouse=args.warehouse)}", file=sys.stderr)
            return EXIT_BAD_SETTINGS
    opened = str(path) if lake is None else lake.describe()
    try:
        return _run_on(conn, opened, args)
    except BrokenPipeError:
        # The reader of our output left (`| head`): stop quietly, as a shell tool does; the
        # interpreter's own flush at exit must not fail again on the closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    finally:
        conn.close()


def _run_on(conn: duckdb.DuckDBPyConnection, opened: str, args: argparse.Namespace) -> int:
    """``-c``, else the shell, on the open ``conn`` (``opened`` says what it is, in words)."""
    if args.statement is not None:
        return EXIT_OK if _run_statement(conn, args.statement, args.max_rows, sys.stdout) else 1
    interactive = sys.stdin.isatty()
    if interactive:
        print(
            f"DuckDB {duckdb.__version__}, {opened} (read-only). End statements with ';'; "
            ".tables, .schema NAME, .quit"
        )
    return _shell(conn, sys.stdin, sys.stdout, args.max_rows, interactive=interactive)


def _database_path(args: argparse.Namespace) -> Path:
    """The file to open, which must exist (read-only DuckDB would not create it anyway)."""
    if args.database:
        path = Path(args.database).expanduser().resolve()
        what = f"--database {args.database}"
    elif args.warehouse:
        path = Path(duckdb_path())
        what = "the warehouse (SERVICETITAN_DUCKDB_PATH)"
    else:
        path = Path(analysts_duckdb_path())
        if not path.is_file():
            raise ConfigError(
                f"no analysts' copy at {path} yet ({ANALYSTS_DUCKDB_PATH_ENV}): a run publishes "
                "it after its dbt build; run a sync, or open the warehouse with --warehouse"
            )
        return path
    if not path.is_file():
        raise ConfigError(f"{what}: {path} is not a file")
    return path


def _open_failure(path: Path, error: duckdb.Error, *, warehouse: bool) -> str:
    """Why ``path`` did not open, in words; a writer holding it is named."""
    if is_lock_conflict(error):
        advice = (
            "open the analysts' copy instead (without --warehouse), which is never locked"
            if warehouse
            else "try again when it is done"
        )
        return f"{path} is being written by {lock_holder(error)}; {advice}"
    text = " ".join(str(error).split())
    return f"cannot open {path} read-only: {text}"


def _run_statement(conn: duckdb.DuckDBPyConnection, sql: str, max_rows: int, out: TextIO) -> bool:
    """Run ``sql`` and print its result; print the error and return False if it fails."""
    try:
        cursor = conn.execute(sql)
        description: list[Any] | None = cursor.description
        if not description:
            return True  # a statement without a result (SET, ...)
        columns = [str(d[0]) for d in description]
        rows = cursor.fetchmany(max_rows + 1)
    except duckdb.Error as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return False
    shown = rows[:max_rows]
    for line in format_table(columns, shown):
        print(line, file=out)
    if len(rows) > max_rows:
        print(f"(first {max_rows} rows shown; --max-rows for more)", file=out)
    else:
        print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", file=out)
    return True


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    return " ".join(str(value).split()) if isinstance(value, str) else str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def format_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """``columns`` and ``rows`` as aligned text: a header, a rule, one line per row; numbers
    right-aligned, NULL spelled out."""
    values = [list(row) for row in rows]
    cells = [[_cell(v) for v in row] for row in values]
    numeric = [
        any(_is_number(row[i]) for row in values)
        and all(_is_number(row[i]) or row[i] is None for row in values)
        for i in range(len(columns))
    ]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(columns)]
    yield " | ".join(name.ljust(widths[i]) for i, name in enumerate(columns)).rstrip()
    yield "-+-".join("-" * width for width in widths)
    for row in cells:
        yield " | ".join(
            value.rjust(widths[i]) if numeric[i] else value.ljust(widths[i])
            for i, value in enumerate(row)
        ).rstrip()


def _dot_command(conn: duckdb.DuckDBPyConnection, line: str, max_rows: int, out: TextIO) -> bool:
    """``.tables`` or ``.schema NAME``; False for an unknown command or a missing table."""
    command, _, argument = line.partition(" ")
    argument = argument.strip()
    if command == ".tables":
        return _run_statement(
            conn,
            "SELECT CASE WHEN schema_name = 'main' THEN table_name "
            "ELSE schema_name || '.' || table_name END AS name, estimated_size AS rows "
            "FROM duckdb_tables() WHERE database_name = current_database() "
            "UNION ALL SELECT CASE WHEN schema_name = 'main' THEN view_name "
            "ELSE schema_name || '.' || view_name END, NULL FROM duckdb_views() "
            "WHERE database_name = current_database() AND NOT internal ORDER BY 1",
            max_rows=max(max_rows, 10_000),
            out=out,
        )
    if command == ".schema" and argument:
        schema, _, name = argument.rpartition(".")
        cursor = conn.execute(
            "SELECT column_name AS column, data_type AS type, comment FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = ? AND table_name = ? "
            "ORDER BY column_index",
            [schema or "main", name],
        )
        rows = cursor.fetchall()
        if not rows:
            print(f"error: no table or view named {argument}", file=sys.stderr)
            return False
        for text in format_table(["column", "type", "comment"], rows):
            print(text, file=out)
        return True
    print(f"error: unknown command {line!r}: .tables, .schema NAME, .quit", file=sys.stderr)
    return False


def _shell(
    conn: duckdb.DuckDBPyConnection,
    source: TextIO,
    out: TextIO,
    max_rows: int,
    *,
    interactive: bool,
) -> int:
    """Read statements (ending with ``;``) and dot commands from ``source`` and run them.

    From a terminal, errors are printed and the shell carries on; from a pipe or a file, the
    first error ends it with exit status 1 (a script must not run on after a failed step).
    """
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for input())
    buffer: list[str] = []
    status = EXIT_OK
    for line in _lines(source, interactive=interactive, pending=buffer):
        stripped = line.strip()
        if not buffer and stripped.startswith("."):
            if stripped in (".quit", ".exit", ".q"):
                break
            ok = _dot_command(conn, stripped, max_rows, out)
        else:
            if stripped:
                buffer.append(line)
            if not stripped.endswith(";"):
                continue
            sql = "\n".join(buffer)
            buffer.clear()
            ok = _run_statement(conn, sql, max_rows, out)
        if not ok:
            status = EXIT_FAILED
            if not interactive:
                return status
    # The last statement of a script may omit its ';'.
    if buffer and not _run_statement(conn, "\n".join(buffer), max_rows, out):
        return EXIT_FAILED
    return status


def _lines(source: TextIO, *, interactive: bool, pending: list[str]) -> Iterator[str]:
    """Lines of ``source``; from a terminal with a prompt (a continuation one mid-statement)."""
    if not interactive:
        yield from (line.rstrip("\n") for line in source)
        return
    while True:
        try:
            yield input(CONTINUATION if pending else PROMPT)
        except EOFError:
            print(file=sys.stdout)
            return
        except KeyboardInterrupt:
            print("^C", file=sys.stdout)
            continue


if __name__ == "__main__":  # pragma: no cover - `python -m servicetitan_pipeline.cli.sql`
    _parser = argparse.ArgumentParser(prog="servicetitan-pipeline sql", description=__doc__)
    add_arguments(_parser)
    sys.exit(run(_parser.parse_args()))
