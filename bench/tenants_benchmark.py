"""Benchmark: a run of several equal tenants against one tenant alone, in one benchmark run.

Starts one simulator process serving ``--tenants`` tenants of ``--customers`` customers each
(``simulator.server.start_tenants``; every answer delayed by ``--latency`` seconds, as the real
API takes a while per export page: a simulator on loopback answers in microseconds, so without
a delay the comparison would only measure this machine's two cores). Then, each in its own
child process, runs the ingestion job exactly as the UI or the schedule would (the tenant
partitions of the range, ``concurrent_entities`` per tenant) into a fresh DuckDB file:

* **one**: the first tenant alone;
* **all**: every tenant in one run;
* **one** again, so that a change in machine load during the run shows instead of biasing
  the ratio, which is taken against the mean of the two.

The headline is ``all / one``: the goal is far less than the number of tenants. Results go to
``bench/results/`` (gitignored).

Usage::

    .venv/bin/python bench/tenants_benchmark.py                 # 4 tenants of 2,000 customers
    .venv/bin/python bench/tenants_benchmark.py --latency 0     # no API latency: CPU-bound
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
PYTHON = sys.executable

Report: TypeAlias = dict[str, Any]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _configs(tenants: int, customers: int, latency: float, port: int) -> list[Any]:
    from servicetitan_pipeline.simulator.config import FaultConfig, demo_tenant_configs

    faults = FaultConfig(latency_seconds=latency)
    # Equal sizes (an int would give the other tenants shares of the first one's size).
    return demo_tenant_configs(tenants, customers=[customers] * tenants, faults=faults)


def child_simulator(tenants: int, customers: int, latency: float, port: int) -> None:
    """Serve the tenants on ``port`` until killed; print a line when ready."""
    from servicetitan_pipeline.simulator.server import start_tenants

    with start_tenants(_configs(tenants, customers, latency, port), port=port):
        print("ready", flush=True)
        while True:
            time.sleep(3600)


def child_sync(port: int, tenants: int, customers: int, latency: float, database: str) -> Report:
    """The ingestion job over the first ``tenants`` tenants (one partition range), every
    entity, into a fresh DuckDB file."""
    import dagster as dg
    from dagster_duckdb import DuckDBResource

    from servicetitan_pipeline.client.connections import TenantConnection
    from servicetitan_pipeline.defs.ingestion import build_ingestion_assets
    from servicetitan_pipeline.defs.resources import servicetitan_tenants_from_connections
    from servicetitan_pipeline.defs.tenants import partition_range_tags

    base_url = f"http://127.0.0.1:{port}"
    connections = []
    for k, config in enumerate(_configs(tenants, customers, latency, port)):
        prefix = f"BENCH_TENANT_{k}"
        os.environ[f"{prefix}_CLIENT_ID"] = config.client_id
        os.environ[f"{prefix}_CLIENT_SECRET"] = config.client_secret
        os.environ[f"{prefix}_APP_KEY"] = config.app_key
        connections.append(
            TenantConnection(
                name=f"bench tenant {k + 1}",
                environment="integration",
                tenant_id=config.tenant_id,
                client_id_env=f"{prefix}_CLIENT_ID",
                client_secret_env=f"{prefix}_CLIENT_SECRET",
                app_key_env=f"{prefix}_APP_KEY",
                api_base_url=base_url,
                auth_url=base_url + "/connect/token",
            )
        )
    names = [c.name for c in connections]
    assets = build_ingestion_assets(tenants=names)
    defs = dg.Definitions(
        assets=assets,
        jobs=[dg.define_asset_job("bench", selection=dg.AssetSelection.all())],
        resources={
            "servicetitan": servicetitan_tenants_from_connections(connections),
            "duckdb": DuckDBResource(database=database),
        },
    )
    instance = dg.DagsterInstance.ephemeral()
    cpu_at_start = _cpu()
    started = time.perf_counter()
    result = defs.resolve_job_def("bench").execute_in_process(
        instance=instance, tags=partition_range_tags(names[0], names[-1])
    )
    elapsed = time.perf_counter() - started
    if not result.success:
        raise RuntimeError("the sync failed")
    # A materialization of a range is recorded once per partition, each with the totals of
    # every tenant of the run: count each asset once.
    records_by_asset: dict[str, int] = {}
    for event in result.get_asset_materialization_events():
        md = {k: v.value for k, v in event.materialization.metadata.items()}
        key = event.materialization.asset_key.to_user_string()
        records_by_asset.setdefault(key, int(md.get("records_read") or 0))  # type: ignore[arg-type]
    records = sum(records_by_asset.values())
    return {
        "tenants": tenants,
        "records": records,
        "seconds": elapsed,
        "database_bytes": Path(database).stat().st_size,
        "cpu_at_start": cpu_at_start,
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run_child(args: list[str]) -> Report:
    proc = subprocess.run(
        [PYTHON, __file__, *args], capture_output=True, text=True, check=False, cwd=REPO
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    result: Report = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--customers", type=int, default=2000, help="customers per tenant")
    parser.add_argument(
        "--latency", type=float, default=0.3, help="seconds added to every API answer"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--run-tenants", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child == "simulator":
        child_simulator(args.tenants, args.customers, args.latency, args.port)
        return 0
    if args.child == "sync":
        out = child_sync(args.port, args.run_tenants, args.customers, args.latency, args.database)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        out["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)
        out["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime - out.pop("cpu_at_start"), 2)
        print(json.dumps(out))
        return 0

    port = _free_port()
    common = [f"--tenants={args.tenants}", f"--customers={args.customers}"]
    common += [f"--latency={args.latency}"]
    print(
        f"starting the simulator: {args.tenants} tenants of {args.customers:,} customers, "
        f"{args.latency}s per answer",
        flush=True,
    )
    started = time.perf_counter()
    sim = subprocess.Popen(
        [PYTHON, __file__, "--child=simulator", f"--port={port}", *common],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert sim.stdout is not None
        if sim.stdout.readline().strip() != "ready":
            raise RuntimeError("the simulator did not start")
        print(f"simulator ready in {time.perf_counter() - started:.1f}s", flush=True)
        runs: list[tuple[str, Report]] = []
        with tempfile.TemporaryDirectory(prefix="st-bench-tenants-") as tmp:
            for label, count in (("one", 1), ("all", args.tenants), ("one", 1)):
                database = str(Path(tmp) / f"{label}-{len(runs)}.duckdb")
                print(f"running {label} ({count} tenant(s)) ...", flush=True)
                out = _run_child(
                    [
                        "--child=sync",
                        f"--port={port}",
                        f"--run-tenants={count}",
                        "--database",
                        database,
                        *common,
                    ]
                )
                Path(database).unlink()
                print(
                    f"  {count} tenant(s): {out['records']:,} records in {out['seconds']:.1f}s, "
                    f"peak RSS {out['peak_rss_mib']:.0f} MiB, CPU {out['cpu_seconds']:.1f}s",
                    flush=True,
                )
                runs.append((label, out))
    finally:
        sim.kill()
        sim.wait()
    ones = [out for label, out in runs if label == "one"]
    (everything,) = [out for label, out in runs if label == "all"]
    one_seconds = sum(o["seconds"] for o in ones) / len(ones)
    ratio = everything["seconds"] / one_seconds
    print(
        f"\n{args.tenants} tenants in one run took {ratio:.2f}x one tenant alone "
        f"({everything['seconds']:.1f}s vs a mean {one_seconds:.1f}s; "
        f"{args.tenants}x would be serial)"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"tenants_{args.tenants}x{args.customers}_{stamp}.json"
    path.write_text(
        json.dumps(
            {
                "args": vars(args),
                "runs": [{"label": label, **out} for label, out in runs],
                "ratio_all_to_one": round(ratio, 3),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "load_average": os.getloadavg(),
            },
            indent=2,
        )
    )
    print(f"results: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
