"""The same sync benchmark under DuckDB 1.5.5 (the project's) and 2.0.1 (before), in one run.

The project moved from DuckDB 2.0.1 to 1.5.5 (issue #15: the DuckLake extensions install
offline only up to 1.5.5, and the analysts' tools read 1.5 files). This measures what the move
costs: ``bench/sync_benchmark.py`` -- bare client, the sync, a full ``dbt build`` -- run by
the project's ``.venv`` (DuckDB 1.5.5) and by ``.venv-duckdb-2.0.1``, a second virtualenv
made here from the same locks with only ``duckdb`` swapped for 2.0.1 (and the two extension
wheels, which exist for 1.5.5 only, left out). Both run against ONE simulator (same data, no
second start-up), alternating 1.5.5 / 2.0.1 / 1.5.5 / 2.0.1 so that a change of machine load
hits both alike. Results: printed as a table and written to ``bench/results/``.

Usage::

    .venv/bin/python bench/duckdb_versions.py                 # 20,000 customers, 2 rounds
    .venv/bin/python bench/duckdb_versions.py --prepare-only  # only make .venv-duckdb-2.0.1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
PROJECT_PYTHON = REPO / ".venv" / "bin" / "python"
OTHER_VERSION = "2.0.1"
OTHER_VENV = REPO / f".venv-duckdb-{OTHER_VERSION}"
# duckdb 2.0.1 as requirements.lock pinned it before the move (commit 5bf7b6e): the same
# hashes, so the second virtualenv is as reproducible as the first.
OTHER_DUCKDB_PIN = f"""duckdb=={OTHER_VERSION} \\
    --hash=sha256:6034635ec5da2d204e671858287aba90b9174d3e2773db6680f939cbfb810683 \\
    --hash=sha256:8d6ed58d7cd42d7f2afafa0c9900cd7842d07d7bd7c1f6a2f9e7fdb5dffda756 \\
    --hash=sha256:dd8961476eb9e048d1e784eb6bad7aad39304d72b4e4fd8c021f1863b7ee6425 \\
    --hash=sha256:eb32b389d99d14cbbec4c110f58237c77eacefc65ef6f737619f413c97a91a77
"""
# One requirement of a lock: its "name==version \" line and its indented hash lines.
_REQUIREMENT = re.compile(
    r"^(?P<name>[A-Za-z0-9_.-]+)==\S+ \\\n(?:[ \t]+--hash=\S+(?: \\)?\n)+", re.M
)
# Packages left out of the 2.0.1 environment: built for (and requiring) DuckDB 1.5.5.
_ONLY_FOR_THE_PROJECTS_DUCKDB = {"duckdb_extension_ducklake", "duckdb_extension_postgres_scanner"}


def other_lock(lock_text: str) -> str:
    """``requirements.lock`` with duckdb pinned to 2.0.1 and the 1.5.5-only wheels removed.

    Raises:
        SystemExit: the lock has no duckdb pin (its layout changed: update this script).
    """
    found = False

    def swap(match: re.Match[str]) -> str:
        nonlocal found
        name = match.group("name").lower().replace("-", "_")
        if name == "duckdb":
            found = True
            return OTHER_DUCKDB_PIN
        return "" if name in _ONLY_FOR_THE_PROJECTS_DUCKDB else match.group(0)

    text = _REQUIREMENT.sub(swap, lock_text)
    if not found:
        raise SystemExit("requirements.lock pins no duckdb: cannot make the 2.0.1 environment")
    return text


def ensure_other_venv() -> Path:
    """Make (or reuse) ``.venv-duckdb-2.0.1`` from the locks; return its python.

    Made again whenever ``pip.lock`` or the derived lock changed (a stamp holds their hash),
    as ``make install`` does for ``.venv``. Everything is hash-checked and installed without
    resolving (``--no-deps``); the project itself is an editable install of this worktree, so
    both environments run the same code. ``pip check`` is not run: the project's metadata
    asks for DuckDB 1.5.5 and its extensions, which this environment swaps out on purpose.
    """
    lock = other_lock((REPO / "requirements.lock").read_text())
    stamp_value = hashlib.sha256(((REPO / "pip.lock").read_text() + lock).encode()).hexdigest()
    stamp = OTHER_VENV / ".locked"
    python = OTHER_VENV / "bin" / "python"
    if stamp.exists() and stamp.read_text() == stamp_value and python.exists():
        return python
    print(f"making {OTHER_VENV.name} (DuckDB {OTHER_VERSION}) from the locks ...", flush=True)
    shutil.rmtree(OTHER_VENV, ignore_errors=True)
    interpreter = shutil.which("python3.11") or sys.executable
    subprocess.run([interpreter, "-m", "venv", str(OTHER_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--require-hashes", "--no-deps"]
    subprocess.run([*pip, "-r", str(REPO / "pip.lock")], check=True)
    with tempfile.NamedTemporaryFile("w", suffix=".lock", delete=False) as file:
        file.write(lock)
    try:
        subprocess.run([*pip, "-r", file.name], check=True)
    finally:
        os.unlink(file.name)
    editable = ["--no-deps", "--no-build-isolation", "-e", str(REPO)]
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *editable], check=True)
    stamp.write_text(stamp_value)
    return python


def _duckdb_version(python: Path) -> str:
    out = subprocess.run(
        [str(python), "-c", "import duckdb; print(duckdb.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_simulator(args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], str]:
    """The simulator (the project's environment) every run reads from; its URL once serving."""
    port = _free_port()
    command = [
        str(REPO / ".venv" / "bin" / "servicetitan-pipeline"),
        "simulator",
        "--port",
        str(port),
        "--customers",
        str(args.customers),
        "--seed",
        str(args.seed),
        "--export-page-size",
        str(args.export_page_size),
    ]
    print(f"starting the simulator: {' '.join(command[1:])}", flush=True)
    started = time.monotonic()
    sim = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    while True:
        if sim.poll() is not None:
            raise SystemExit(f"the simulator exited with status {sim.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if time.monotonic() - started > 1800:
                sim.kill()
                raise SystemExit("the simulator did not start within 30 minutes") from None
            time.sleep(0.2)
    print(f"simulator ready in {time.monotonic() - started:.1f}s", flush=True)
    return sim, f"http://127.0.0.1:{port}"


def run_benchmark(
    python: Path, url: str, args: argparse.Namespace, output: Path, dbt_build: bool
) -> dict[str, Any]:
    """One ``sync_benchmark.py`` (bare, sync, and the dbt build if asked) by ``python``; its
    summary."""
    command = [
        str(python),
        str(REPO / "bench" / "sync_benchmark.py"),
        f"--simulator-url={url}",
        f"--customers={args.customers}",
        f"--seed={args.seed}",
        f"--export-page-size={args.export_page_size}",
        "--bare-runs=1",
        "--download-runs=0",
        f"--sync-workers={args.sync_workers}",
        f"--output={output}",
        *(["--dbt-build"] if dbt_build else []),
    ]
    subprocess.run(command, check=True, cwd=REPO)
    summary: dict[str, Any] = json.loads(output.read_text())
    return summary


def _mean(values: list[float]) -> float:
    return round(statistics.fmean(values), 2)


def figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """What the comparison reports for one version: each run's figure, and their mean (peaks:
    the max)."""
    sync = [r["sync_seconds"] for r in runs]
    builds = [r["dbt_build"] for r in runs if r["dbt_build"] is not None]
    dbt = [b["seconds"] for b in builds]
    built = bool(builds)  # --dbt-rounds 0: the syncs only
    return {
        "sync_seconds": sync,
        "sync_seconds_mean": _mean(sync),
        "sync_asset_seconds_mean": _mean([r["sync_asset_seconds"] for r in runs]),
        "sync_over_bare_ratio": [r["ratio"] for r in runs],
        "sync_over_bare_ratio_mean": _mean([r["ratio"] for r in runs]),
        "sync_cpu_seconds_mean": _mean([r["sync_cpu_seconds"] for r in runs]),
        "sync_peak_rss_mib_max": max(r["sync_peak_rss_mib"] for r in runs),
        "dbt_build_seconds": dbt,
        "dbt_build_seconds_mean": _mean(dbt) if built else None,
        "dbt_build_cpu_seconds_mean": _mean([b["cpu_seconds"] for b in builds]) if built else None,
        "dbt_build_peak_rss_mib_max": max(b["peak_rss_mib"] for b in builds) if built else None,
        "dbt_build_summary": builds[-1]["summary"] if built else None,
        "database_mib_after_sync": max(r["database_mib"] for r in runs),
        "database_mib_after_dbt_build": max(b["database_mib_after"] for b in builds)
        if built
        else None,
        "records": runs[-1]["records"],
    }


_ROWS = [
    ("sync wall (s)", "sync_seconds_mean"),
    ("sync in asset steps (s)", "sync_asset_seconds_mean"),
    ("sync / bare ratio", "sync_over_bare_ratio_mean"),
    ("sync CPU (s)", "sync_cpu_seconds_mean"),
    ("sync peak RSS (MiB)", "sync_peak_rss_mib_max"),
    ("dbt build wall (s)", "dbt_build_seconds_mean"),
    ("dbt build CPU (s)", "dbt_build_cpu_seconds_mean"),
    ("dbt build peak RSS (MiB)", "dbt_build_peak_rss_mib_max"),
    ("file after sync (MiB)", "database_mib_after_sync"),
    ("file after dbt build (MiB)", "database_mib_after_dbt_build"),
]


def table(ours: str, theirs: str, by_version: dict[str, dict[str, Any]]) -> str:
    """The comparison as a Markdown table: each version's figure and the ratio ours/theirs."""
    lines = [
        f"| figure | DuckDB {ours} | DuckDB {theirs} | {ours} / {theirs} |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, key in _ROWS:
        a, b = by_version[ours][key], by_version[theirs][key]
        if a is not None and b is not None:
            lines.append(f"| {label} | {a:,} | {b:,} | {a / b:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--export-page-size", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2, help="runs per version, alternating")
    parser.add_argument("--sync-workers", default="2", help="entities synced at once")
    parser.add_argument(
        "--dbt-rounds",
        type=int,
        help="rounds that also run the full dbt build (default: every round), the first ones; "
        "0: the syncs only. On a loaded machine a build takes minutes where a sync takes seconds",
    )
    parser.add_argument(
        "--prepare-only", action="store_true", help=f"only make {OTHER_VENV.name}, then stop"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or (args.dbt_rounds is not None and args.dbt_rounds < 0):
        parser.error("--rounds must be at least 1, --dbt-rounds at least 0")

    other_python = ensure_other_venv()
    if args.prepare_only:
        print(f"{OTHER_VENV.name}: DuckDB {_duckdb_version(other_python)}")
        return 0
    ours, theirs = _duckdb_version(PROJECT_PYTHON), _duckdb_version(other_python)
    if theirs != OTHER_VERSION or ours == theirs:
        raise SystemExit(f"{OTHER_VENV.name} has DuckDB {theirs}, .venv {ours}: remake them")
    pythons = {ours: PROJECT_PYTHON, theirs: other_python}

    started = datetime.now(UTC)
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs: dict[str, list[dict[str, Any]]] = {ours: [], theirs: []}
    path = RESULTS / f"duckdb_versions_{args.customers}_{started:%Y%m%dT%H%M%SZ}.json"
    sim, url = start_simulator(args)
    try:
        with tempfile.TemporaryDirectory(prefix="st-duckdb-versions-") as tmp:
            for round_number in range(1, args.rounds + 1):
                for version in (ours, theirs):
                    print(f"\n=== round {round_number}: DuckDB {version} ===", flush=True)
                    output = Path(tmp) / f"{version}-{round_number}.json"
                    dbt_build = args.dbt_rounds is None or round_number <= args.dbt_rounds
                    summary = run_benchmark(pythons[version], url, args, output, dbt_build)
                    if summary["duckdb"] != version:
                        raise SystemExit(f"the {version} run reported DuckDB {summary['duckdb']}")
                    runs[version].append(summary)
                # Written after every round: an interrupted comparison keeps its whole rounds.
                result = comparison(args, started, load_before, ours, theirs, runs)
                write_result(path, result)
    finally:
        sim.terminate()
        try:
            sim.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sim.kill()
    by_version = result["by_version"]
    print(f"\n{by_version[ours]['records']:,} records, {args.rounds} rounds per version\n")
    print(table(ours, theirs, by_version))
    print(f"\nload {load_before} -> {result['loadavg_after']}; written to {path}")
    return 0


def comparison(
    args: argparse.Namespace,
    started: datetime,
    load_before: list[float],
    ours: str,
    theirs: str,
    runs: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """The comparison of the rounds run so far, as written to ``bench/results/``."""
    by_version = {version: figures(version_runs) for version, version_runs in runs.items()}
    return {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "customers": args.customers,
        "rounds": len(runs[theirs]),
        "order": [
            f"{v} round {r}" for r in range(1, len(runs[theirs]) + 1) for v in (ours, theirs)
        ],
        "by_version": by_version,
        f"ratio_{ours}_over_{theirs}": {
            key: round(by_version[ours][key] / by_version[theirs][key], 3)
            for _, key in _ROWS
            if by_version[ours][key] is not None and by_version[theirs][key] is not None
        },
        "table": table(ours, theirs, by_version),
        "runs": runs,
        "loadavg_before": load_before,
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.platform(),
    }


def write_result(path: Path, result: dict[str, Any]) -> None:
    """Write ``result`` to ``path`` (``bench/results/``, gitignored)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
