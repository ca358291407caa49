"""Regenerate the hashed lock files from a clean resolve of pyproject.toml (``make lock``).

    python3.11 scripts/lock.py

Writes, at the repository root, every third-party distribution pinned to one version with the
sha256 of its files, so that an install is reproducible and a tampered or substituted file is
refused (``pip install --require-hashes``):

- ``pip.lock``: the installer and the build backend (pip, setuptools), installed first;
- ``requirements.lock``: what the package needs at run time (a server or Docker install);
- ``requirements-dev.lock``: what the ``dev`` extra adds on top (``make install``).

It resolves in a throwaway virtualenv with pip's own resolver (``pip install --dry-run
--report``, which names each chosen file and its sha256) and only through pip: the newest
pip and setuptools first, then ``.[dev]``, then ``.`` constrained to the same versions. Every
pip call ignores this machine's pip configuration (extra indexes, local wheel folders), so the
hashes are those of the files on the public index, which every machine downloads; pip, in
hash-checking mode, takes an identical file from any other index or cache as well.

The resolve is Linux x86_64's (CPython 3.11); the same versions are then looked up for the
other platforms in ``EXTRA_PLATFORMS`` and their wheels' hashes added, so the locks install
there too. A platform for which some pinned version has no wheel is left out, and the header
of each lock says which platforms it covers. Markers are evaluated for this machine, so a
dependency only another platform needs would be missing there: ``make install``'s
``pip check`` says so.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BOOTSTRAP = ("pip", "setuptools")
# pip's --platform does not expand manylinux tags the way it expands macOS versions: each
# platform lists the tags a wheel of it may carry.
EXTRA_PLATFORMS: dict[str, tuple[str, ...]] = {
    "Linux aarch64": (
        "manylinux_2_28_aarch64",
        "manylinux_2_27_aarch64",
        "manylinux_2_26_aarch64",
        "manylinux_2_24_aarch64",
        "manylinux_2_17_aarch64",
        "manylinux2014_aarch64",
    ),
    "macOS arm64": ("macosx_14_0_arm64",),
    "macOS x86_64": ("macosx_14_0_x86_64",),
}
# Settings of this machine's pip that would make the lock depend on it.
MACHINE_PIP_SETTINGS = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_NO_INDEX",
    "PIP_CONSTRAINT",
    "PIP_REQUIREMENT",
)

Pins = dict[str, tuple[str, str, set[str]]]  # normalized name -> (name, version, sha256s)


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in MACHINE_PIP_SETTINGS}
    env["PIP_CONFIG_FILE"] = os.devnull  # no configuration file at all
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _pip_install(python: Path, *args: str) -> None:
    """``pip install --quiet ARGS`` with ``python``'s pip, from the repository's root."""
    command = [str(python), "-m", "pip", "install", "--quiet", *args]
    subprocess.run(command, cwd=REPO, env=_pip_env(), check=True)


def _resolve(python: Path, *args: str, work: Path) -> Pins:
    """What ``pip install ARGS`` would install into an empty environment, with hashes."""
    report = work / "report.json"
    _pip_install(python, "--dry-run", "--ignore-installed", "--report", str(report), *args)
    pins: Pins = {}
    for item in json.loads(report.read_text())["install"]:
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        if _normalized(name) == "servicetitan-pipeline":
            continue
        hashes = item["download_info"].get("archive_info", {}).get("hashes", {})
        if "sha256" not in hashes:
            sys.exit(f"lock: {name}=={version} resolved to a file without a sha256: {item}")
        pins[_normalized(name)] = (name, version, {hashes["sha256"]})
    return pins


def _pin_lines(pins: Pins) -> str:
    return "".join(f"{name}=={version}\n" for name, version, _ in pins.values())


def _hashed_lines(pins: Pins) -> str:
    """``pins`` as a requirements file for pip's hash-checking mode, sorted by name."""
    entries = []
    for name, version, hashes in sorted(pins.values(), key=lambda pin: _normalized(pin[0])):
        lines = [f"{name}=={version}"] + [f"    --hash=sha256:{h}" for h in sorted(hashes)]
        entries.append(" \\\n".join(lines) + "\n")
    return "".join(entries)


def _add_platforms(python: Path, pins: Pins, work: Path) -> list[str]:
    """Add the other platforms' wheel hashes of the same versions; the platforms covered."""
    covered = ["Linux x86_64"]
    requirements = work / "pinned.txt"
    requirements.write_text(_pin_lines(pins))
    for platform, tags in EXTRA_PLATFORMS.items():
        platform_args = [arg for tag in tags for arg in ("--platform", tag)]
        try:
            found = _resolve(
                python,
                "--no-deps",
                "--only-binary=:all:",
                "--python-version=3.11",
                "--implementation=cp",
                "--abi=cp311",
                *platform_args,
                "-r",
                str(requirements),
                work=work,
            )
        except subprocess.CalledProcessError:
            print(f"lock: {platform} left out: a pinned version has no wheel for it")
            continue
        for key, (_, _, hashes) in found.items():
            pins[key][2].update(hashes)
        covered.append(platform)
    return covered


def _write(path: Path, what: str, install: str, covered: list[str], pins: Pins) -> None:
    header = (
        f"# {what}, pinned and hashed.\n"
        "# Generated by `make lock` (scripts/lock.py) from pyproject.toml: do not edit.\n"
        f"# {install}\n"
        f"# Hashes for CPython 3.11 on {', '.join(covered)}.\n"
    )
    path.write_text(header + _hashed_lines(pins))
    print(f"lock: wrote {path.name} ({len(pins)} distributions)")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="servicetitan-lock-") as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
        python = work / "venv" / "bin" / "python"

        bootstrap = _resolve(python, "--no-deps", *BOOTSTRAP, work=work)
        hashed = work / "bootstrap.lock"
        hashed.write_text(_hashed_lines(bootstrap))
        # The rest is resolved by the pip and built by the setuptools just pinned.
        _pip_install(python, "--require-hashes", "--no-deps", "-r", str(hashed))
        constraints = work / "constraints.txt"
        constraints.write_text(_pin_lines(bootstrap))
        resolve_args = ["--no-build-isolation", "-c", str(constraints)]
        everything = _resolve(python, *resolve_args, ".[dev]", work=work)
        constraints.write_text(_pin_lines(bootstrap) + _pin_lines(everything))
        runtime = _resolve(python, *resolve_args, ".", work=work)
        covered = _add_platforms(python, everything, work)
        for key in BOOTSTRAP:  # installed from pip.lock, not twice
            everything.pop(key, None)
            runtime.pop(key, None)
        for key in runtime:
            runtime[key] = everything[key]  # with every platform's hashes

    dev = {key: pin for key, pin in everything.items() if key not in runtime}
    install = "pip install --require-hashes --no-deps -r {}"
    _write(
        REPO / "pip.lock",
        "The installer and the build backend",
        "pip install --require-hashes --no-deps -r pip.lock (first, in a fresh virtualenv)",
        ["any platform"],
        bootstrap,
    )
    _write(
        REPO / "requirements.lock",
        "Every third-party distribution servicetitan-pipeline needs at run time",
        install.format("requirements.lock"),
        covered,
        runtime,
    )
    _write(
        REPO / "requirements-dev.lock",
        "What the `dev` extra adds to requirements.lock",
        install.format("requirements.lock -r requirements-dev.lock"),
        covered,
        dev,
    )


if __name__ == "__main__":
    main()
