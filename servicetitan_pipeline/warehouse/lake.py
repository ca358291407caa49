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
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import duckdb

from servicetitan_pipeline.config import (
    DUCKLAKE_CATALOG_ENV,
    DUCKLAKE_DATA_PATH_ENV,
    WAREHOUSE_ENV,
    ConfigError,
)

__all__ = [
    "LAKE_ALIAS",
    "LakeSettings",
    "attach_lake_sql",
    "connect_lake",
    "extension_files",
    "is_lake_connection",
    "lake_settings",
    "load_lake_extensions",
]

# The catalog name every lake connection attaches the lake as (and USEs).
LAKE_ALIAS: Final = "lake"
WAREHOUSE_KINDS: Final = ("duckdb", "ducklake")
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
    kind = environ.get(WAREHOUSE_ENV, "").strip().lower() or WAREHOUSE_KINDS[0]
    if kind not in WAREHOUSE_KINDS:
        raise ConfigError(
            f"{WAREHOUSE_ENV}: {kind!r} is not a warehouse; use one of {', '.join(WAREHOUSE_KINDS)}"
        )
    if kind == "duckdb":
        return None
    catalog = environ.get(DUCKLAKE_CATALOG_ENV, "").strip()
    if not catalog:
        raise ConfigError(
            f"{DUCKLAKE_CATALOG_ENV}: not set; {WAREHOUSE_ENV}=ducklake needs the PostgreSQL "
            "catalog as a libpq connection string (host=... dbname=... user=...)"
        )
    if _PASSWORD_IN_CATALOG.search(catalog):
        raise ConfigError(
            f"{DUCKLAKE_CATALOG_ENV}: holds a password; leave it out and set PGPASSWORD (or a "
            "PGPASSFILE) instead, so that the secret never reaches a settings file or a log"
        )
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
    """The ``ATTACH`` statement of the lake as ``lake`` (``read_only`` for analysts)."""
    options = [f"DATA_PATH '{_quoted(settings.data_path)}'"]
    if read_only:
        options.append("READ_ONLY")
    return (
        f"ATTACH 'ducklake:postgres:{_quoted(settings.catalog)}' AS {LAKE_ALIAS} "
        f"({', '.join(options)})"
    )


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
    con = duckdb.connect(":memory:", config=dict(config or {}))
    try:
        load_lake_extensions(con)
        con.execute(attach_lake_sql(settings, read_only=read_only))
        con.execute(f"USE {LAKE_ALIAS}")
    except duckdb.Error as exc:
        con.close()
        detail = " ".join(str(exc).split())
        raise ConfigError(
            f"{DUCKLAKE_CATALOG_ENV}: cannot attach {settings.describe()}: {detail}"
        ) from None
    except BaseException:
        con.close()
        raise
    return con


def is_lake_connection(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``con``'s default catalog is a DuckLake (the raw layer's SQL differs there)."""
    row = con.execute(
        "SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return row is not None and str(row[0]).lower() == "ducklake"


def _quoted(text: str) -> str:
    return text.replace("'", "''")
