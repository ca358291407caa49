"""The package works right after it is installed, from any directory, with no other step.

One fresh virtualenv (pip's cache keeps this to a few minutes), two installs into it:

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
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.install, pytest.mark.e2e, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
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
    """A fresh virtualenv with an up-to-date pip (as ``make install`` makes it)."""
    path = workspace / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    _run(
        [str(path / "bin" / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        cwd=workspace,
        env=dict(os.environ),
    )
    return path


def test_a_pip_installed_wheel_runs_the_demo_from_any_directory(workspace, venv, clean_env):
    source = workspace / "source"
    cache = workspace / "cache"
    env = clean_env(XDG_CACHE_HOME=str(cache))
    _pip_install(venv, "-c", str(source / "constraints.txt"), str(source), env=env)
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


def test_an_editable_install_syncs_without_a_prepare_step(
    workspace, venv, clean_env, simulator_env
):
    source = workspace / "source"
    _sim, sim_env = simulator_env
    env = {**sim_env, "XDG_CACHE_HOME": str(workspace / "cache-editable")}
    _pip_install(venv, "-c", str(source / "constraints.txt"), "-e", str(source), env=clean_env())
    manifest = source / "dbt_project" / "target" / "manifest.json"
    assert not manifest.exists()

    elsewhere = workspace / "elsewhere"
    cli = str(venv / "bin" / "servicetitan-pipeline")
    assert "Traceback" not in _run([cli, "check"], cwd=elsewhere, env=env)
    output = _run([cli, "sync"], cwd=elsewhere, env=env)
    assert "dbt build:" in output and "succeeded" in output, output
    assert manifest.exists() and (manifest.parent / "manifest_inputs.sha256").exists()
    # the workspace file `dagster dev -w workspace.yaml` loads, from another directory
    dagster = str(venv / "bin" / "dagster")
    _run(
        [dagster, "definitions", "validate", "-w", str(source / "workspace.yaml")],
        cwd=elsewhere,
        env=env,
    )
