"""The package installs from its hashed locks and works right after, from any directory.

The locks (``pip.lock``, ``requirements.lock``, ``requirements-dev.lock``, written by ``make
lock``) pin every third-party distribution and hash its files; fast tests check that they do,
and that they agree with pyproject.toml. The install tests (marker ``install``) check that pip
refuses a file whose hash is not the lock's, and install into one fresh virtualenv (pip's cache
keeps this to a few minutes) the way ``make install`` does: pip.lock, then requirements.lock
with ``--require-hashes --no-deps``, then the package with ``--no-deps --no-build-isolation``
(nothing left to resolve or to fetch unhashed), twice:

1. ``pip install .`` (what a Docker image or a server install does), then
   ``servicetitan-pipeline demo`` from another directory: the dbt project comes from the wheel,
   and nothing is written into the installed package;
2. an editable install as ``make install`` does it, then ``check``, ``sync`` and
   ``dagster definitions validate -w workspace.yaml`` from another directory, with no
   ``make prepare``: the manifest is parsed on first use.

pip builds in the source tree (``build/``, ``*.egg-info``), and an editable install's manifest
lands in its ``dbt_project/target``: both work on a copy of the repository's files, so the
repository is left as it was. Slow: ``make test`` runs it, ``make test-install`` runs only it,
``make test-fast`` leaves it out.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
BOOTSTRAP_LOCK, RUNTIME_LOCK, DEV_LOCK = "pip.lock", "requirements.lock", "requirements-dev.lock"
# What pip needs to install a package from them, with nothing resolved or fetched unhashed.
LOCKED = ("--require-hashes", "--no-deps")
PACKAGE_ONLY = ("--no-deps", "--no-build-isolation")
# One entry of a lock: `name==version`, then one `--hash=sha256:...` per file, joined by `\`.
LOCK_ENTRY = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)"
    r"(?P<hashes>(?: \\\n    --hash=sha256:[0-9a-f]{64})+)$"
)
# Output of this machine's pip configuration (an index folder that is not there), not of the
# project: the only warnings an install may print.
MACHINE_PIP_NOISE = "is ignored: it is neither a file nor a directory"


def _copy_sources(destination: Path) -> Path:
    """The repository's files as a fresh clone would have them (tracked and new, not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = REPO / os.fsdecode(name)
        if source.is_file():
            target = destination / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def _run(command: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 900) -> str:
    """Run ``command``; its output (stdout and stderr interleaved) when it exits 0."""
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"{' '.join(command)} exited {process.returncode}:\n{output}"
    return output


def _pip_install(venv: Path, *args: str, env: dict[str, str]) -> None:
    """``pip install --quiet ARGS`` into ``venv``; it must print nothing the project causes."""
    output = _run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *args],
        cwd=venv,
        env=env,
    )
    alarming = [
        line for line in output.splitlines() if line.strip() and MACHINE_PIP_NOISE not in line
    ]
    assert alarming == [], "the install printed:\n" + "\n".join(alarming)


def _package_files(venv: Path) -> set[str]:
    """Every file of the installed package but Python's bytecode caches."""
    [package] = (venv / "lib").glob("python3.*/site-packages/servicetitan_pipeline")
    return {
        str(p.relative_to(package))
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock_entries(name: str) -> dict[str, tuple[str, list[str]]]:
    """A lock's entries: normalized name -> (version, sha256s); fails on any other line."""
    text = (REPO / name).read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    entries: dict[str, tuple[str, list[str]]] = {}
    for chunk in re.split(r"\n(?=\S)", body.strip()):
        match = LOCK_ENTRY.match(chunk)
        assert match, f"{name}: not `name==version` with sha256 hashes:\n{chunk}"
        key = _normalized(match["name"])
        assert key not in entries, f"{name}: {match['name']} twice"
        entries[key] = (match["version"], re.findall(r"sha256:([0-9a-f]{64})", match["hashes"]))
    return entries


def _pinned(requirements: list[str]) -> dict[str, str]:
    """pyproject.toml's `name==version` requirements: normalized name -> version."""
    pins = {}
    for text in requirements:
        requirement = Requirement(text)
        [specifier] = requirement.specifier
        assert specifier.operator == "==", f"pyproject.toml: {text} is not pinned with =="
        pins[_normalized(requirement.name)] = specifier.version
    return pins


def test_every_lock_entry_is_pinned_and_hashed_and_in_one_lock_only():
    locks = {name: _lock_entries(name) for name in (BOOTSTRAP_LOCK, RUNTIME_LOCK, DEV_LOCK)}
    assert set(locks[BOOTSTRAP_LOCK]) == {"pip", "setuptools"}
    seen: dict[str, str] = {}
    for lock, entries in locks.items():
        assert entries, f"{lock} is empty"
        for key in entries:
            assert key not in seen, f"{key} is in both {seen[key]} and {lock}"
            seen[key] = lock


def test_the_locks_pin_pyproject_s_dependencies_and_build_backend():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    runtime, dev = _lock_entries(RUNTIME_LOCK), _lock_entries(DEV_LOCK)
    locked = {key: version for key, (version, _) in {**runtime, **dev}.items()}
    for key, version in _pinned(project["project"]["dependencies"]).items():
        assert runtime.get(key, (None,))[0] == version, f"{key}=={version}: run `make lock`"
    for key, version in _pinned(project["project"]["optional-dependencies"]["dev"]).items():
        assert locked.get(key) == version, f"{key}=={version}: run `make lock`"
    # `make install` builds the package with pip.lock's setuptools (--no-build-isolation)
    [backend] = [Requirement(r) for r in project["build-system"]["requires"]]
    setuptools_version, _ = _lock_entries(BOOTSTRAP_LOCK)["setuptools"]
    assert backend.specifier.contains(setuptools_version), f"{backend}: run `make lock`"


@pytest.mark.parametrize("hash_is_right", [True, False], ids=["right-hash", "wrong-hash"])
@pytest.mark.install
@pytest.mark.timeout(300)
def test_pip_refuses_a_file_whose_hash_is_not_the_lock_s(tmp_path, hash_is_right):
    """A small wheel of requirements.lock, downloaded as ``make install`` installs it: its hash
    is the one pip gets here; with one digit changed, pip refuses it."""
    version, hashes = _lock_entries(RUNTIME_LOCK)["six"]
    if not hash_is_right:
        hashes = [h[:-1] + ("0" if h[-1] != "0" else "1") for h in hashes]
    lock = tmp_path / "one.lock"
    lock.write_text(f"six=={version} " + " ".join(f"--hash=sha256:{h}" for h in hashes) + "\n")
    command = [sys.executable, "-m", "pip", "download", *LOCKED, "-r", str(lock)]
    done = subprocess.run(
        [*command, "--dest", str(tmp_path / "files"), "--no-cache-dir"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = done.stdout + done.stderr
    if hash_is_right:
        assert done.returncode == 0, output
        assert [p.name for p in (tmp_path / "files").iterdir()] == [
            f"six-{version}-py2.py3-none-any.whl"
        ]
    else:
        assert done.returncode != 0 and "DO NOT MATCH THE HASHES" in output, output
        assert not (tmp_path / "files").exists() or not any((tmp_path / "files").iterdir())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Iterator[Path]:
    """A copy of the repository, a directory to run commands from; removed afterwards (the
    virtualenv inside is most of a gigabyte)."""
    root = tmp_path_factory.mktemp("install")
    _copy_sources(root / "source")
    (root / "elsewhere").mkdir()
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def venv(workspace) -> Path:
    """A fresh virtualenv with pip.lock's pip and setuptools and requirements.lock's packages,
    installed as ``make install`` installs them."""
    path = workspace / "venv"
    source = workspace / "source"
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    for lock in (BOOTSTRAP_LOCK, RUNTIME_LOCK):
        _pip_install(path, *LOCKED, "-r", str(source / lock), env=dict(os.environ))
    return path


def _pip_check(venv: Path) -> None:
    """Every installed distribution's requirements are met: the lock misses nothing."""
    command = [str(venv / "bin" / "python"), "-m", "pip", "check"]
    assert "No broken requirements" in _run(command, cwd=venv, env=dict(os.environ))


@pytest.mark.install
@pytest.mark.e2e
@pytest.mark.timeout(1800)
def test_a_pip_installed_wheel_runs_the_demo_from_any_directory(workspace, venv, clean_env):
    source = workspace / "source"
    cache = workspace / "cache"
    env = clean_env(XDG_CACHE_HOME=str(cache))
    _pip_install(venv, *PACKAGE_ONLY, str(source), env=env)
    _pip_check(venv)
    shipped = _package_files(venv)
    assert {"py.typed", "dbt_project/dbt_project.yml", "dbt_project/profiles.yml"} <= shipped
    assert any(name.startswith("dbt_project/models/marts/") for name in shipped)

    elsewhere = workspace / "elsewhere"
    database = elsewhere / "demo.duckdb"
    cli = str(venv / "bin" / "servicetitan-pipeline")
    output = _run(
        [cli, "demo", "--customers", "150", "--duckdb-path", str(database)],
        cwd=elsewhere,
        env=env,
    )
    assert "[2/2]" in output and "rpt_revenue_by_month_business_unit" in output, output
    assert "Traceback" not in output, output
    # dbt's manifest, run artifacts and logs went to the cache, not into site-packages
    assert _package_files(venv) == shipped
    assert list(cache.glob("servicetitan-pipeline/*/target/manifest.json")), output

    # every command starts; `dev` loads the module (a wheel has no workspace.yaml)
    for command in ("check", "sync", "demo", "dev", "simulator"):
        assert "usage:" in _run([cli, command, "--help"], cwd=elsewhere, env=env)
    dagster = str(venv / "bin" / "dagster")
    module = "servicetitan_pipeline.defs.definitions"
    _run([dagster, "definitions", "validate", "-m", module], cwd=elsewhere, env=env)


@pytest.mark.install
@pytest.mark.e2e
@pytest.mark.timeout(1800)
def test_an_editable_install_syncs_without_a_prepare_step(
    workspace, venv, clean_env, simulator_env
):
    source = workspace / "source"
    _sim, sim_env = simulator_env
    env = {**sim_env, "XDG_CACHE_HOME": str(workspace / "cache-editable")}
    _pip_install(venv, *PACKAGE_ONLY, "-e", str(source), env=clean_env())
    _pip_check(venv)
    manifest = source / "dbt_project" / "target" / "manifest.json"
    assert not manifest.exists()

    elsewhere = workspace / "elsewhere"
    cli = str(venv / "bin" / "servicetitan-pipeline")
    assert "Traceback" not in _run([cli, "check"], cwd=elsewhere, env=env)
    # a few entities and the dbt models downstream of them: the manifest is built on demand
    output = _run([cli, "sync", "--select", "customers,jobs,invoices"], cwd=elsewhere, env=env)
    assert "dbt build:" in output and "succeeded" in output, output
    assert manifest.exists() and (manifest.parent / "manifest_inputs.sha256").exists()
    # the workspace file `dagster dev -w workspace.yaml` loads, from another directory
    dagster = str(venv / "bin" / "dagster")
    _run(
        [dagster, "definitions", "validate", "-w", str(source / "workspace.yaml")],
        cwd=elsewhere,
        env=env,
    )
