"""The dbt project as dagster-dbt sees it, with a manifest that matches its sources.

``@dbt_assets`` reads ``manifest.json`` when ``servicetitan_pipeline.defs.dbt`` is imported, so
importing this module (which that one does first) makes sure the manifest exists and is
current: it hashes the files dbt parses and runs ``dbt parse`` only when the hash stored beside
the manifest differs (a model was edited, the package was upgraded, the checkout moved) or
there is no manifest yet. With a fresh manifest, the import costs a hash of a few dozen small
files, not a parse; no ``make prepare`` or other step is needed before any command.

Where the project and its artifacts are:

* in a repository checkout (``make install``, an editable install, the tests): the project is
  ``<repo>/dbt_project`` and dbt's artifacts go to ``dbt_project/target``, where analysts and
  dbt's own CLI expect them;
* in an installed wheel (``pip install .``, a Docker image): the build copied the project into
  the package as ``servicetitan_pipeline/dbt_project`` (see ``setup.py``). site-packages may be
  read-only and is no place for run artifacts, so the manifest, each run's artifacts and dbt's
  logs go to a cache directory of the user (``$XDG_CACHE_HOME``, else ``~/.cache``, else the
  temporary directory), one per installed project.

Which warehouse dbt builds in follows ``SERVICETITAN_WAREHOUSE``: ``profiles.yml`` picks its
``dev`` target (the DuckDB file) or its ``lake`` target (the DuckLake). :func:`dbt_environment`
is what dbt must be handed so that it opens the very warehouse the pipeline writes: the file's
path and the lake's data path made absolute here, as the pipeline resolves them (dbt runs in
another directory), and the catalog string trimmed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from dagster_dbt import DbtProject

from servicetitan_pipeline.config import (
    DUCKDB_PATH_ENV,
    DUCKLAKE_CATALOG_ENV,
    DUCKLAKE_DATA_PATH_ENV,
    WAREHOUSE_ENV,
    dbt_executable,
    duckdb_path,
)
from servicetitan_pipeline.warehouse.lake import lake_settings

PACKAGE_DIR = Path(__file__).resolve().parents[1]
# The copy a wheel ships (setup.py writes it; a checkout has none).
PACKAGED_PROJECT_DIR = PACKAGE_DIR / "dbt_project"
# The project in a repository checkout: <repo>/dbt_project beside <repo>/servicetitan_pipeline.
CHECKOUT_PROJECT_DIR = PACKAGE_DIR.parent / "dbt_project"

# Folders of a dbt project that hold dbt's output, not its sources: neither hashed nor shipped
# in the wheel (setup.py skips the same names), nor files and folders starting with a dot
# (.user.yml, editor files).
NON_SOURCE_DIRS = frozenset({"target", "logs", "dbt_packages"})
# Beside the manifest: the digest of the sources (and dbt version) it was parsed from.
DIGEST_FILE = "manifest_inputs.sha256"
# Per-run artifact folders (run_results.json, compiled SQL, dbt.log) kept in the target
# folder: enough to look into the last few runs, without an hourly schedule filling the disk.
KEPT_INVOCATIONS = 10


class DbtProjectNotFoundError(RuntimeError):
    """Neither the packaged nor the checkout's dbt project is there."""


def locate_project_dir() -> Path:
    """The packaged project when the package has one (an installed wheel), else the checkout's."""
    for candidate in (PACKAGED_PROJECT_DIR, CHECKOUT_PROJECT_DIR):
        if (candidate / "dbt_project.yml").is_file():
            return candidate
    raise DbtProjectNotFoundError(
        f"no dbt project at {PACKAGED_PROJECT_DIR} (installed package) or "
        f"{CHECKOUT_PROJECT_DIR} (repository checkout): reinstall servicetitan-pipeline"
    )


def target_dir_for(project_dir: Path) -> Path:
    """Where dbt writes the manifest, run artifacts and logs for ``project_dir``."""
    if project_dir != PACKAGED_PROJECT_DIR:
        return project_dir / "target"
    # One folder per installed project (two virtualenvs with different versions must not
    # rebuild each other's manifest back and forth).
    name = "dbt-" + hashlib.sha256(str(project_dir).encode()).hexdigest()[:12]
    # ~ expands to itself when the user has no home directory (a container's nobody).
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    tried = []
    for base in (Path(cache_home), Path(tempfile.gettempdir()) / f"cache-{os.getuid()}"):
        directory = base / "servicetitan-pipeline" / name / "target"
        tried.append(str(directory))
        with contextlib.suppress(OSError):
            directory.mkdir(parents=True, exist_ok=True)
            if directory.is_absolute() and os.access(directory, os.W_OK):
                return directory
    raise OSError(f"no writable folder for dbt's artifacts; tried {', '.join(tried)}")


def source_files(project_dir: Path) -> list[Path]:
    """The files dbt reads from the project, sorted: everything but output and dot-files."""
    files: list[Path] = []
    for root, dirs, names in os.walk(project_dir):
        at_top = Path(root) == project_dir
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and not (at_top and d in NON_SOURCE_DIRS)
        )
        files.extend(Path(root, n) for n in names if not n.startswith("."))
    return sorted(files)


def dbt_environment() -> dict[str, str]:
    """The warehouse settings to hand dbt, resolved as the pipeline resolves them.

    Always the DuckDB file's absolute path; on a DuckLake also the lake's absolute data path
    and catalog, and ``SERVICETITAN_WAREHOUSE=ducklake`` itself (so profiles.yml picks the lake
    target whatever the spelling in the settings file).

    Raises:
        ConfigError: a warehouse setting is invalid (named).
    """
    environment = {DUCKDB_PATH_ENV: duckdb_path()}
    lake = lake_settings()
    if lake is not None:
        environment |= {
            WAREHOUSE_ENV: "ducklake",
            DUCKLAKE_CATALOG_ENV: lake.catalog,
            DUCKLAKE_DATA_PATH_ENV: lake.data_path,
        }
    return environment


def manifest_inputs_digest(project_dir: Path) -> str:
    """A hash of what the manifest depends on: the sources, where they are, dbt's version, and
    which warehouse (the manifest names each model's database: the file's or ``lake``)."""
    digest = hashlib.sha256()
    warehouse = "ducklake" if lake_settings() is not None else "duckdb"
    digest.update(f"{project_dir}\0dbt-core {importlib.metadata.version('dbt-core')}\0".encode())
    digest.update(f"warehouse {warehouse}\0".encode())
    for path in source_files(project_dir):
        digest.update(f"{path.relative_to(project_dir).as_posix()}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def manifest_is_fresh(project: DbtProject) -> bool:
    """True when the manifest exists and was parsed from the project's current sources."""
    digest_file = project.manifest_path.parent / DIGEST_FILE
    if not (project.manifest_path.is_file() and digest_file.is_file()):
        return False
    return digest_file.read_text().strip() == manifest_inputs_digest(project.project_dir)


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock: ``dagster dev`` loads the definitions in several processes."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_manifest(project: DbtProject) -> None:
    """``dbt parse`` the project into its target folder, then record the sources' digest.

    Runs the dbt installed beside this Python: dagster-dbt's own preparer runs ``dbt`` from
    PATH, which does not hold the virtualenv when ``.venv/bin/dagster dev`` is started without
    activating it. The log path and the warehouse path (absolute, as the assets resolve it)
    are passed so that dbt writes nothing into the project folder (read-only in some installs).
    """
    target = project.manifest_path.parent
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", **dbt_environment()}
    subprocess.run(
        [
            dbt_executable(),
            "parse",
            "--quiet",
            "--project-dir",
            str(project.project_dir),
            "--profiles-dir",
            str(project.profiles_dir),
            "--target-path",
            str(target),
            "--log-path",
            str(target),
        ],
        check=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    (target / DIGEST_FILE).write_text(manifest_inputs_digest(project.project_dir) + "\n")


def ensure_fresh_manifest(project: DbtProject) -> None:
    """Parse the project when its manifest is missing or older than its sources."""
    if manifest_is_fresh(project):
        return
    with _exclusive(project.manifest_path.parent / ".prepare.lock"):
        # Another process may have parsed it while this one waited for the lock.
        if not manifest_is_fresh(project):
            prepare_manifest(project)


def invocation_target_path(project: DbtProject, *, op_name: str, run_id: str) -> Path:
    """A fresh folder for one dbt invocation's artifacts, seeded with the partial-parse cache.

    dagster-dbt copies dbt's partial-parse file only from ``<project>/target``, which an
    installed wheel does not use; without it every ``dbt build`` would parse from scratch.
    Older invocation folders beyond the last :data:`KEPT_INVOCATIONS` are removed.
    """
    target = project.manifest_path.parent
    previous = sorted(
        (p for p in target.glob(f"{op_name}-*") if p.is_dir()), key=lambda p: p.stat().st_mtime
    )
    for stale in previous[: max(0, len(previous) - (KEPT_INVOCATIONS - 1))]:
        shutil.rmtree(stale, ignore_errors=True)
    path = target / f"{op_name}-{run_id[:7]}-{uuid.uuid4().hex[:7]}"
    path.mkdir(parents=True)
    partial_parse = target / "partial_parse.msgpack"
    if partial_parse.is_file():
        shutil.copy2(partial_parse, path / partial_parse.name)
    return path


DBT_PROJECT_DIR = locate_project_dir()

dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    # An absolute target path: DbtProject puts the manifest at <project_dir>/<target_path>.
    target_path=target_dir_for(DBT_PROJECT_DIR),
    # profiles.yml ships with the project (it reads SERVICETITAN_DUCKDB_PATH); ~/.dbt is not used.
    profiles_dir=DBT_PROJECT_DIR,
)

ensure_fresh_manifest(dbt_project)


if __name__ == "__main__":
    # `python -m servicetitan_pipeline.defs.dbt_project` (`make prepare`, a Dockerfile's build
    # step): the import above prepared the manifest; say where it is.
    print(dbt_project.manifest_path)
