"""Benchmark: the fixed cost of a run, before and after, in one benchmark run.

Measures two trees of the project side by side -- a git ref (``--baseline``, default
``main``), unpacked with ``git archive`` into a temporary folder, and this working tree --
with the same Python and virtualenv, alternating between them so that a change of machine
load biases neither:

* **code location load**: the wall time of a process that imports
  ``servicetitan_pipeline.defs.definitions`` (what ``dagster dev`` and every run worker do),
  and ``python -X importtime``'s cumulative figures for it and for ``dagster_dbt``;
* **CLI sync**: ``servicetitan-pipeline sync --select business_units --no-dbt`` against the
  embedded simulator (nine records): the time from starting the process to its first request
  (the OAuth token request, seen by a small forwarding server in front of the simulator's
  token endpoint), and the whole process's wall time.

Each tree is warmed up once first (its dbt manifest parsed, bytecode compiled); then
``--runs`` measured rounds. The medians go to stdout and, as JSON, to ``bench/results/``
(gitignored).

Usage::

    .venv/bin/python bench/startup_benchmark.py                  # main against this tree
    .venv/bin/python bench/startup_benchmark.py --baseline HEAD~3 --runs 5
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
PYTHON = sys.executable
SYNC_ARGS = ["sync", "--select", "business_units", "--no-dbt"]
# The console script's code, run by this Python with the tree's package first on the path.
CLI = "import sys; from servicetitan_pipeline.cli import main; sys.exit(main())"


class _FirstRequest(http.server.ThreadingHTTPServer):
    """Forwards POSTs to the simulator's token endpoint and notes when each arrived."""

    target: str
    arrivals: list[float]


class _Forward(http.server.BaseHTTPRequestHandler):
    server: _FirstRequest

    def do_POST(self) -> None:
        self.server.arrivals.append(time.time())
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {"Content-Type": self.headers.get("Content-Type") or ""}
        request = urllib.request.Request(self.server.target, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                status, payload = answer.status, answer.read()
                kind = answer.headers.get("Content-Type") or "application/json"
        except urllib.error.HTTPError as error:
            status, payload, kind = error.code, error.read(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _token_forwarder(target: str) -> Iterator[_FirstRequest]:
    server = _FirstRequest(("127.0.0.1", 0), _Forward)
    server.target, server.arrivals = target, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _unpack(ref: str, into: Path) -> Path:
    """The tree of ``ref`` in ``into`` (no worktree registered, nothing of the repo touched)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", ref],
        check=True,
        capture_output=True,
    ).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _env(tree: Path, sim: Any, auth_url: str, work: Path) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        PYTHONPATH=str(tree),  # before the editable install's path: this tree is imported
        DBT_SEND_ANONYMOUS_USAGE_STATS="False",
        SERVICETITAN_CONNECTION_NAME="bench",
        SERVICETITAN_ENVIRONMENT="integration",
        SERVICETITAN_TENANT_ID=str(sim.config.tenant_id),
        SERVICETITAN_CLIENT_ID=sim.config.client_id,
        SERVICETITAN_CLIENT_SECRET=sim.config.client_secret,
        SERVICETITAN_APP_KEY=sim.config.app_key,
        SERVICETITAN_API_BASE_URL=sim.base_url,
        SERVICETITAN_AUTH_URL=auth_url,
        SERVICETITAN_DUCKDB_PATH=str(work / "warehouse.duckdb"),
    )
    return env


def _check_tree(tree: Path, env: dict[str, str], work: Path) -> None:
    """Fail loudly when the process would import another tree than ``tree``."""
    code = "import servicetitan_pipeline as p; print(p.__file__)"
    out = subprocess.run(
        [PYTHON, "-c", code], env=env, cwd=work, capture_output=True, text=True, check=True
    )
    if not Path(out.stdout.strip()).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"{tree}: imports {out.stdout.strip()} instead")


def _timed(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """(start time, wall seconds, stderr) of one process."""
    started = time.time()
    begun = time.monotonic()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.monotonic() - begun
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return started, wall, done.stderr


def _importtime(stderr: str, module: str) -> float | None:
    """``-X importtime``'s cumulative seconds for ``module`` (None: not imported)."""
    pattern = re.compile(rf"^import time:\s+\d+ \|\s+(\d+) \|\s*{re.escape(module)}$")
    for line in stderr.splitlines():
        if match := pattern.match(line):
            return int(match[1]) / 1e6
    return None


def _measure(tree: Path, env: dict[str, str], work: Path, forwarder: _FirstRequest) -> dict:
    _, load, _ = _timed([PYTHON, "-c", "import servicetitan_pipeline.defs.definitions"], env, work)
    _, _, trace = _timed(
        [PYTHON, "-X", "importtime", "-c", "import servicetitan_pipeline.defs.definitions"],
        env,
        work,
    )
    forwarder.arrivals.clear()
    started, wall, _ = _timed([PYTHON, "-c", CLI, *SYNC_ARGS], env, work)
    if not forwarder.arrivals:
        raise SystemExit(f"{tree}: the sync made no token request")
    return {
        "definitions_import_wall_s": load,
        "definitions_importtime_s": _importtime(trace, "servicetitan_pipeline.defs.definitions"),
        "dagster_dbt_importtime_s": _importtime(trace, "dagster_dbt"),
        "cli_first_request_s": forwarder.arrivals[0] - started,
        "cli_wall_s": wall,
    }


def _medians(rounds: list[dict]) -> dict[str, float | None]:
    medians: dict[str, float | None] = {}
    for key in rounds[0]:
        values = [r[key] for r in rounds if r[key] is not None]
        medians[key] = round(statistics.median(values), 2) if values else None
    return medians


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="main", help="git ref to compare with (main)")
    parser.add_argument("--runs", type=int, default=3, help="measured rounds per tree (3)")
    args = parser.parse_args(argv)

    from servicetitan_pipeline.simulator import SimulatorConfig, start_simulator

    with (
        tempfile.TemporaryDirectory(prefix="startup-bench-") as tmp,
        start_simulator(SimulatorConfig(customers=20, seed=3)) as sim,
        _token_forwarder(sim.auth_url) as forwarder,
    ):
        root = Path(tmp)
        trees = {"before": _unpack(args.baseline, root / "baseline"), "after": REPO}
        envs, works = {}, {}
        for name, tree in trees.items():
            works[name] = root / f"work-{name}"
            works[name].mkdir()
            auth_url = f"http://127.0.0.1:{forwarder.server_port}{urlsplit(sim.auth_url).path}"
            envs[name] = _env(tree, sim, auth_url, works[name])
            _check_tree(tree, envs[name], works[name])
            print(f"warming up {name} ({tree})", flush=True)
            _measure(tree, envs[name], works[name], forwarder)  # manifest parsed, bytecode
        rounds: dict[str, list[dict]] = {name: [] for name in trees}
        for n in range(args.runs):
            for name, tree in trees.items() if n % 2 == 0 else reversed(trees.items()):
                rounds[name].append(_measure(tree, envs[name], works[name], forwarder))
                print(f"round {n + 1} {name}: {rounds[name][-1]}", flush=True)

    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "baseline": args.baseline,
        "baseline_commit": subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", args.baseline],
            capture_output=True,
            text=True,
        ).stdout.strip(),
        "runs": args.runs,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average": os.getloadavg(),
        "before": _medians(rounds["before"]),
        "after": _medians(rounds["after"]),
        "rounds": rounds,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"startup-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{'median seconds':32} {'before':>8} {'after':>8}")
    for key in report["before"]:
        before, after = report["before"][key], report["after"][key]
        print(f"{key:32} {_shown(before):>8} {_shown(after):>8}")
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in report['load_average'])}")
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
