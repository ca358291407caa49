"""The DuckLake warehouse: a catalog in PostgreSQL, data as Parquet files under a directory.

``SERVICETITAN_WAREHOUSE=ducklake`` selects it instead of the DuckDB file (the default). A
connection is then an in-memory DuckDB that attaches the lake as ``lake`` and makes it the
default catalog, so every schema-qualified name the raw layer and dbt use
(``raw_servicetitan.customers``, ``marts.fct_invoices``) resolves in the lake unchanged.

Many processes may write one lake at once (snapshot isolation, optimistic commits); readers
see the last committed snapshot and never block a writer, so the lake needs neither the
one-writer file lock (``locking``) nor the analysts' copy (``publish``).

The ``ducklake`` and ``postgres_scanner`` extensions are loaded from the wheels the package
depends on (``duckdb-extension-ducklake``, ``duckdb-extension-postgres-scanner``), never
downloaded: DuckDB verifies their signature as for any official extension.

The catalog setting is a libpq connection string (``host=db.internal dbname=lake
user=pipeline``). It must not carry a password: libpq reads ``PGPASSWORD`` or ``PGPASSFILE``
itself, so the secret stays out of settings files, run config and logs.
"""

from __future__ import annotations

import importlib
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import duckdb

from servicetitan_pipeline.config import (
    DUCKLAKE_CATALOG_ENV,
    DUCKLAKE_DATA_PATH_ENV,
    WAREHOUSE_ENV,
    ConfigError,
    warehouse_kind,
)

__all__ = [
    "LAKE_ALIAS",
    "LAKE_COMMIT_ATTEMPTS",
    "LakeSettings",
    "attach_lake_sql",
    "backoff",
    "connect_lake",
    "extension_files",
    "is_lake_connection",
    "is_transaction_conflict",
    "lake_connection",
    "lake_cursor",
    "lake_settings",
    "load_lake_extensions",
    "refuse_password",
    "retry_conflicts",
]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

# The catalog name every lake connection attaches the lake as (and USEs).
LAKE_ALIAS: Final = "lake"
# libpq waits for an unreachable host as long as TCP does (minutes); a catalog that cannot be
# reached must fail at once, naming the setting (unless the setting says otherwise).
CATALOG_CONNECT_TIMEOUT_SECONDS: Final = 10
# The extension wheels' modules, and the extension each ships.
_EXTENSION_MODULES: Final = (
    ("duckdb_extension_ducklake", "ducklake"),
    ("duckdb_extension_postgres_scanner", "postgres_scanner"),
)
_PASSWORD_IN_CATALOG = re.compile(r"(?i)(^|\s)password\s*=|://[^/@\s]*:[^/@\s]+@")


@dataclass(frozen=True)
class LakeSettings:
    """Where the lake is: its PostgreSQL catalog (libpq string, no password) and data path."""

    catalog: str
    data_path: str

    def describe(self) -> str:
        """The lake in words, for messages (the catalog string holds no secret)."""
        return f"DuckLake (catalog {self.catalog!r}, data {self.data_path})"


def lake_settings(environ: Mapping[str, str] | None = None) -> LakeSettings | None:
    """The lake's settings when ``SERVICETITAN_WAREHOUSE`` is ``ducklake``, else ``None``.

    Raises:
        ConfigError: naming the setting that is missing or invalid (an unknown warehouse kind,
            no catalog, a catalog carrying a password, no data path).
    """
    environ = os.environ if environ is None else environ
    if warehouse_kind(environ) == "duckdb":
        return None
    catalog = environ.get(DUCKLAKE_CATALOG_ENV, "").strip()
    if not catalog:
        raise ConfigError(
            f"{DUCKLAKE_CATALOG_ENV}: not set; {WAREHOUSE_ENV}=ducklake needs the PostgreSQL "
            "catalog as a libpq connection string (host=... dbname=... user=...)"
        )
    refuse_password(catalog)
    data_path = environ.get(DUCKLAKE_DATA_PATH_ENV, "").strip()
    if not data_path:
        raise ConfigError(
            f"{DUCKLAKE_DATA_PATH_ENV}: not set; {WAREHOUSE_ENV}=ducklake needs the directory "
            "(or object-store prefix) the lake's Parquet files go to"
        )
    if "://" not in data_path:
        data_path = str(Path(data_path).expanduser().resolve())
    if not data_path.endswith("/"):
        data_path += "/"
    return LakeSettings(catalog=catalog, data_path=data_path)


def refuse_password(catalog: str) -> None:
    """Raise :class:`ConfigError` naming the setting if the catalog string holds a password.

    Raises:
        ConfigError: ``catalog`` has a ``password=`` or a ``user:secret@`` part.
    """
    if _PASSWORD_IN_CATALOG.search(catalog):
        raise ConfigError(
            f"{DUCKLAKE_CATALOG_ENV}: holds a password; leave it out and set PGPASSWORD (or a "
            "PGPASSFILE) instead, so that the secret never reaches a settings file or a log"
        )


def extension_files() -> tuple[Path, ...]:
    """The ``ducklake`` and ``postgres_scanner`` extension files shipped in their wheels.

    Raises:
        ConfigError: an extension wheel is missing, or built for another DuckDB version.
    """
    version = f"v{duckdb.__version__}"
    found: list[Path] = []
    for module_name, extension in _EXTENSION_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise ConfigError(
                f"{WAREHOUSE_ENV}=ducklake: the {extension} extension is not installed "
                f"(pip install {module_name.replace('_', '-')}=={duckdb.__version__})"
            ) from None
        path = Path(str(module.__file__)).parent / "extensions" / version
        path = path / f"{extension}.duckdb_extension"
        if not path.is_file():
            raise ConfigError(
                f"{WAREHOUSE_ENV}=ducklake: the installed {extension} extension is not built "
                f"for DuckDB {duckdb.__version__} (no {path})"
            )
        found.append(path)
    return tuple(found)


def load_lake_extensions(con: duckdb.DuckDBPyConnection) -> None:
    """Load the lake's extensions into ``con`` from their wheels (no download)."""
    for path in extension_files():
        con.execute(f"LOAD '{_quoted(str(path))}'")


def attach_lake_sql(settings: LakeSettings, *, read_only: bool = False) -> str:
    """The ``ATTACH`` statement of the lake as ``lake`` (``read_only`` for analysts).

    A writer attaches with ``DATA_INLINING_ROW_LIMIT 0``: every commit writes its rows to its
    own Parquet files instead of inlining small ones into the catalog. DuckLake checks
    conflicts per data file for deletes, but per *table* for inlined data: two tenants'
    updates of one table (each deleting only its own rows) conflicted at COMMIT whenever
    either had inlined rows ("deleted inlined data"), and never once each commit had its own
    files (measured with DuckLake 1.5.5: concurrent deletes of two tenants' rows of one table
    conflict with inlining, commit without). The option is a connection's, not the lake's:
    every writer passes it. What still conflicts -- one transaction inserting into a table
    another concurrently deleted from, or the reverse -- is retried (:func:`retry_conflicts`).
    """
    options = [f"DATA_PATH '{_quoted(settings.data_path)}'"]
    if read_only:
        options.append("READ_ONLY")
    else:
        options.append("DATA_INLINING_ROW_LIMIT 0")
    catalog = settings.catalog
    if "connect_timeout" not in catalog:
        catalog = f"{catalog} connect_timeout={CATALOG_CONNECT_TIMEOUT_SECONDS}"
    return f"ATTACH 'ducklake:postgres:{_quoted(catalog)}' AS {LAKE_ALIAS} ({', '.join(options)})"


def connect_lake(
    settings: LakeSettings,
    *,
    read_only: bool = False,
    config: Mapping[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached as ``lake`` and in use.

    Raises:
        ConfigError: naming the setting, when the catalog cannot be reached or the lake
            cannot be attached (the libpq or DuckLake reason in words).
    """
    attempt = 0
    while True:
        attempt += 1
        con = duckdb.connect(":memory:", config=dict(config or {}))
        try:
            load_lake_extensions(con)
            con.execute(attach_lake_sql(settings, read_only=read_only))
            con.execute(f"USE {LAKE_ALIAS}")
        except duckdb.Error as exc:
            con.close()
            detail = " ".join(str(exc).split())
            if _INITIALISED_MEANWHILE.search(detail) and attempt < _ATTACH_ATTEMPTS:
                # Another process made the new lake's catalog tables at the same moment:
                # attaching again finds them made.
                backoff(
                    attempt,
                    what=f"attaching {settings.describe()}",
                    attempts=_ATTACH_ATTEMPTS,
                    reason="another process created the new lake's catalog at the same moment",
                )
                continue
            raise ConfigError(
                f"{DUCKLAKE_CATALOG_ENV}: cannot attach {settings.describe()}: {detail}"
            ) from None
        except BaseException:
            con.close()
            raise
        return con


# Two processes attaching a new (empty) catalog at once both create its tables; PostgreSQL
# refuses the second's, which finds them there on its next attach.
_INITIALISED_MEANWHILE = re.compile(
    r"Failed to initialize DuckLake.*(already exists|duplicate key)", re.IGNORECASE
)
_ATTACH_ATTEMPTS: Final = 4


# This process's DuckDB instances attached to a lake, by (settings, read_only): loading the
# two extensions and attaching the catalog costs a second or two, paid once per process.
_instances: dict[tuple[LakeSettings, bool], duckdb.DuckDBPyConnection] = {}
_instances_lock = threading.Lock()


def lake_connection(
    settings: LakeSettings, *, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """A new connection to the lake from this process's one DuckDB instance attached to it
    (made by :func:`connect_lake` on first use; :func:`lake_cursor` after that). Close it
    when done; the instance stays for the next one.

    Every step of a run opens the warehouse for itself: with the file that is a cheap open,
    with a lake it was a new instance each time, the extensions loaded and the catalog
    attached again. A lake has no one-writer rule to make a shared instance unsafe: its
    connections are separate transactions, committed through the catalog like any other
    process's. DuckDB's settings (memory limit, threads) are the instance's, shared by its
    connections as by the file's cursors.

    Raises:
        ConfigError: as :func:`connect_lake`.
    """
    key = (settings, read_only)
    with _instances_lock:
        instance = _instances.get(key)
        if instance is None:
            instance = _instances[key] = connect_lake(settings, read_only=read_only)
    return lake_cursor(instance)


def lake_cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A new connection to ``con``'s lake (``con.cursor()``, then ``USE lake``).

    A cursor is a new connection to the same DuckDB instance, and starts in that instance's
    own default catalog (the in-memory one), not the catalog ``con`` uses: without the USE,
    a worker's ``raw_servicetitan.customers`` would be a table in memory, lost at the close.
    """
    cursor = con.cursor()
    try:
        cursor.execute(f"USE {LAKE_ALIAS}")
    except BaseException:
        cursor.close()
        raise
    return cursor


def is_lake_connection(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``con``'s default catalog is a DuckLake (the raw layer's SQL differs there)."""
    row = con.execute(
        "SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return row is not None and str(row[0]).lower() == "ducklake"


# What DuckLake says when a commit met another transaction's (``Failed to commit DuckLake
# transaction. Transaction conflict - attempting to insert into table ... but another
# transaction has deleted from it``), and DuckDB's own words for a catalog write-write conflict.
_CONFLICT = re.compile(r"Transaction conflict|write-write conflict|Catalog write-write")
# A conflicted transaction is replayed at most this many times in all, with a jittered,
# doubling wait (the other writer's commit is a matter of milliseconds to seconds).
LAKE_COMMIT_ATTEMPTS: Final = 12
_FIRST_BACKOFF_SECONDS: Final = 0.05
_MAX_BACKOFF_SECONDS: Final = 3.0


def is_transaction_conflict(error: BaseException) -> bool:
    """Whether ``error`` is a commit that met another transaction's (retrying may succeed)."""
    return isinstance(error, duckdb.Error) and bool(_CONFLICT.search(str(error)))


def retry_conflicts(
    transaction: Callable[[], _T],
    *,
    what: str,
    attempts: int = LAKE_COMMIT_ATTEMPTS,
    already_failed: int = 0,
    log: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> _T:
    """Run ``transaction`` (a whole transaction: BEGIN to COMMIT, or one autocommit statement)
    until it commits without a conflict, ``attempts`` times at most in all.

    Many writers share one lake, and DuckLake commits optimistically: a transaction learns at
    COMMIT that another one touched the same table in a way that conflicts (see
    :func:`attach_lake_sql`), and is then rolled back whole. ``transaction`` must replay
    everything from what the caller still holds (pages in memory, the cursor), so a replay
    writes exactly what the first try would have: nothing is lost or doubled. Each retry
    is logged in one line naming ``what``; any other error, and the last conflict, propagate.
    ``already_failed``: tries the caller made itself before (each ended in a conflict), so
    the first call here already waits.
    """
    attempt = already_failed
    while True:
        if attempt:
            backoff(attempt, what=what, attempts=attempts, log=log, sleep=sleep)
        attempt += 1
        try:
            return transaction()
        except duckdb.Error as exc:
            if attempt >= attempts or not is_transaction_conflict(exc):
                raise


def backoff(
    attempt: int,
    *,
    what: str,
    attempts: int = LAKE_COMMIT_ATTEMPTS,
    log: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    reason: str = "another writer changed the same table",
) -> None:
    """Wait before try ``attempt + 1`` of a conflicted transaction, saying so (and
    ``reason``) in one line."""
    # Full jitter: two writers that conflicted must not retry in step.
    wait = random.uniform(0, min(_MAX_BACKOFF_SECONDS, _FIRST_BACKOFF_SECONDS * 2**attempt))
    (log or logger.warning)(
        f"DuckLake commit conflict on {what} ({reason}); "
        f"retrying, attempt {attempt + 1} of {attempts}, in {wait:.2f}s"
    )
    sleep(wait)


def _quoted(text: str) -> str:
    return text.replace("'", "''")
