"""Benchmark: a full sync into DuckDB against the bare download-and-parse rate, in one run.

Starts the simulator in a subprocess (``servicetitan-pipeline simulator``), then, each in its
own child process so that both are measured the same way:

* **bare**: a plain ``httpx.Client`` downloads every export page (and the list pages of the
  list-only entities) of every entity and parses each body with ``orjson.loads`` -- nothing
  else. This is the ceiling for any pipeline over this API from this machine.
* **sync**: ``dagster.materialize`` of the ingestion assets (the exact code path of a UI or
  ``servicetitan-pipeline sync`` run) into a fresh DuckDB file.

By default the order is bare, sync, bare, and the ratio is taken against the mean of the two
bare runs, so that a change in machine load during the run is visible instead of biasing the
result. A last child, **download only**, fetches the same pages without parsing them (it reads
``hasMore`` and ``continueFrom`` from the envelope's first bytes): the network's own rate, the
strictest reference there is, reported beside the target ratio. Peak RSS is the child's
``ru_maxrss``. Results go to ``bench/results/`` (gitignored).

Usage::

    .venv/bin/python bench/sync_benchmark.py                # 100,000 customers (~1.3M records)
    .venv/bin/python bench/sync_benchmark.py --customers 5000   # a quick run
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import re
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

# What a child reports (and the summary written to bench/results/): plain JSON.
Report: TypeAlias = dict[str, Any]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_until_serving(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the simulator exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the simulator did not listen on port {port} within {timeout:.0f}s")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


# --------------------------------------------------------------------------------------------
# Children
# --------------------------------------------------------------------------------------------


_ENVELOPE_FIELD = re.compile(rb'"(hasMore|continueFrom)"\s*:\s*(true|false|null|"[^"]*")')


def _envelope_only(content: bytes) -> Report:
    """``hasMore`` and ``continueFrom`` of a page without parsing it: ServiceTitan (and the
    simulator) write them before ``data``. ``data`` is left as the raw bytes."""
    fields = {k.decode(): v for k, v in _ENVELOPE_FIELD.findall(content[:1024])}
    token = fields.get("continueFrom", b"null")
    return {
        "hasMore": fields.get("hasMore") == b"true",
        "continueFrom": token[1:-1].decode() if token.startswith(b'"') else None,
        "data": (),
    }


def child_bare(
    base_url: str, tenant_id: int, client_id: str, secret: str, app_key: str, parse: bool = True
) -> Report:
    """Download and parse every page of every entity, nothing else (``parse=False``: only
    download them)."""
    import httpx
    import orjson

    decode = orjson.loads if parse else _envelope_only

    from servicetitan_pipeline.entities import ENTITIES, SyncMode

    records = pages = nbytes = 0
    cpu_at_start = _cpu()
    started = time.perf_counter()
    with httpx.Client(base_url=base_url, timeout=120) as http:
        token = http.post(
            "/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "ST-App-Key": app_key}
        for entity in ENTITIES:
            if entity.sync_mode is SyncMode.EXPORT:
                path = entity.export_path(tenant_id)
                # What the sync sends with every export request of the entity.
                params: dict[str, str | int] = {**entity.export_params}
                while True:
                    r = http.get(path, params=params, headers=headers)
                    r.raise_for_status()
                    body = decode(r.content)
                    records += len(body["data"])
                    pages += 1
                    nbytes += len(r.content)
                    if not body["hasMore"]:
                        break
                    params = {**entity.export_params, "from": body["continueFrom"]}
            else:
                page = 1
                while True:
                    params = {**entity.list_inactive_params, "page": page, "pageSize": 5000}
                    r = http.get(entity.list_path(tenant_id), params=params, headers=headers)
                    r.raise_for_status()
                    body = decode(r.content)
                    records += len(body["data"])
                    pages += 1
                    nbytes += len(r.content)
                    if not body["hasMore"]:
                        break
                    page += 1
    elapsed = time.perf_counter() - started
    return {
        "records": records,
        "pages": pages,
        "bytes": nbytes,
        "seconds": elapsed,
        "cpu_at_start": cpu_at_start,
    }


def child_sync(
    base_url: str,
    tenant_id: int,
    client_id: str,
    secret: str,
    app_key: str,
    database: str,
    workers: int,
) -> Report:
    """``dagster.materialize`` of every ingestion asset into a fresh DuckDB file, ``workers``
    entities at a time."""
    import dagster as dg
    from dagster_duckdb import DuckDBResource

    from servicetitan_pipeline.defs.ingestion import (
        SYNC_OP_NAME,
        build_ingestion_assets,
        ingestion_run_config,
    )
    from servicetitan_pipeline.defs.resources import ServiceTitanResource
    from servicetitan_pipeline.entities import ENTITIES

    resources = {
        "servicetitan": ServiceTitanResource(
            name="bench",
            environment="integration",
            tenant_id=str(tenant_id),
            client_id=client_id,
            client_secret=secret,
            app_key=app_key,
            api_base_url=base_url,
            auth_url=base_url + "/connect/token",
            # The bare client has no client-side limiter either: this measures the pipeline's
            # own cost, not ServiceTitan's 60 requests/second policy.
            rate_limit_per_second=None,
        ),
        "duckdb": DuckDBResource(database=database),
    }
    assets = build_ingestion_assets()
    instance = dg.DagsterInstance.ephemeral()
    cpu_at_start = _cpu()
    started = time.perf_counter()
    run_config = ingestion_run_config([e.name for e in ENTITIES])
    run_config["ops"][SYNC_OP_NAME]["config"]["concurrent_entities"] = workers
    result = dg.materialize(assets, resources=resources, run_config=run_config, instance=instance)
    elapsed = time.perf_counter() - started
    # The ingestion step's own wall time (its start to its end in the event log): what the
    # sync costs without Dagster's per-run overhead and the DuckDB file's final checkpoint.
    stamps = {
        entry.dagster_event.event_type_value: entry.timestamp
        for entry in instance.all_logs(result.run_id)
        if entry.dagster_event is not None and entry.step_key == SYNC_OP_NAME
    }
    step_seconds = stamps["STEP_SUCCESS"] - stamps["STEP_START"]
    per_asset: Report = {}
    records = pages = 0
    for event in result.get_asset_materialization_events():
        # The asset's metadata as plain values (ints and floats, see defs.ingestion).
        md: Report = {k: v.value for k, v in event.materialization.metadata.items()}
        name = event.materialization.asset_key.path[-1]
        per_asset[name] = {
            "records": md["records_read"],
            "rows": md["dagster/row_count"],
            "pages": md["pages"],
            "seconds": md["duration_seconds"],
            "write_seconds": md["write_seconds"],
            "api_wait_seconds": md["api_wait_seconds"],
        }
        records += md["records_read"]
        pages += md["pages"]
    return {
        "records": records,
        "pages": pages,
        "seconds": elapsed,
        "asset_seconds": step_seconds,
        "per_asset": per_asset,
        "database_bytes": Path(database).stat().st_size,
        "cpu_at_start": cpu_at_start,
    }


def child_dbt(database: str, workdir: str) -> Report:
    """``dbt build`` of the whole project on ``database`` (the dbt CLI in a subprocess, as
    dagster-dbt runs it), with its wall time and the dbt process's peak RSS."""
    env = {
        **os.environ,
        "SERVICETITAN_DUCKDB_PATH": database,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DBT_LOG_PATH": str(Path(workdir) / "logs"),
    }
    project = REPO / "dbt_project"
    started = time.perf_counter()
    proc = subprocess.run(
        [
            str(Path(PYTHON).parent / "dbt"),
            "build",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(Path(workdir) / "target"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"dbt build failed:\n{proc.stdout[-6000:]}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = [line for line in proc.stdout.splitlines() if "Done. PASS=" in line]
    return {
        "seconds": elapsed,
        "summary": done[-1].split("Done. ", 1)[1] if done else "",
        "dbt_peak_rss_mib": round(children.ru_maxrss / 1024, 1),
        "dbt_cpu_seconds": round(children.ru_utime + children.ru_stime, 1),
        "cpu_at_start": 0.0,
    }


def _run_child(kind: str, args: list[str]) -> Report:
    """Run a child, return its JSON result plus its peak RSS (from getrusage of children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(
        [PYTHON, __file__, f"--child={kind}", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    # ru_maxrss of RUSAGE_CHILDREN is the max over all waited-for children so far (KiB on
    # Linux); each child is larger than the previous max or the max is unchanged, so report
    # the child's own figure only when it raised the max -- otherwise read it from the child.
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result: Report = json.loads(proc.stdout.strip().splitlines()[-1])
    result["peak_rss_mib_children_max"] = round(max(before, after) / 1024, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--export-page-size", type=int, default=5000)
    parser.add_argument(
        "--bare-runs", type=int, default=2, help="bare runs: 2 = before and after the sync"
    )
    parser.add_argument(
        "--download-runs", type=int, default=1, help="download-only runs (after the others)"
    )
    parser.add_argument(
        "--sync-workers",
        default="2",
        help="entities synced at once, comma-separated for several sync runs side by side "
        "(e.g. 2,1: the default, then one entity at a time); the first is the headline",
    )
    parser.add_argument(
        "--dbt-build",
        action="store_true",
        help="after the syncs, time a full `dbt build` on the headline sync's warehouse",
    )
    parser.add_argument(
        "--simulator-url",
        help="use this running simulator (started with the same --customers, --seed and "
        "--export-page-size) instead of starting one: bench/duckdb_versions.py runs every "
        "version against one simulator",
    )
    parser.add_argument(
        "--output", type=Path, help="write the summary JSON here (default: bench/results/)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from servicetitan_pipeline.simulator.config import (
        DEMO_APP_KEY,
        DEMO_CLIENT_ID,
        DEMO_CLIENT_SECRET,
        DEMO_TENANT_ID,
    )

    creds = (DEMO_TENANT_ID, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_APP_KEY)
    if args.child:
        if args.child == "dbt":
            out = child_dbt(args.database, str(Path(args.database).parent))
        elif args.child in ("bare", "download"):
            out = child_bare(args.base_url, *creds, parse=args.child == "bare")
        else:
            out = child_sync(args.base_url, *creds, args.database, args.workers)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        out["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)
        # CPU of every thread of the child (DuckDB's included), imports excluded: a figure
        # that machine load does not distort, unlike wall time.
        out["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime - out.pop("cpu_at_start"), 2)
        print(json.dumps(out))
        return 0

    port = _free_port()
    sim_cmd = [
        str(Path(PYTHON).parent / "servicetitan-pipeline"),
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
    sim: subprocess.Popen[bytes] | None = None
    if args.simulator_url:
        base_url = args.simulator_url
    else:
        print(f"starting the simulator: {' '.join(sim_cmd[1:])}", flush=True)
        started = time.perf_counter()
        sim = subprocess.Popen(sim_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
        base_url = f"http://127.0.0.1:{port}"
    try:
        if sim is not None:
            _wait_until_serving(port, sim, timeout=1800)
            print(f"simulator ready in {time.perf_counter() - started:.1f}s", flush=True)
        base = ["--base-url", base_url]
        load_before = _loadavg()
        bares: list[Report] = []
        downloads: list[Report] = []
        sync: Report | None = None
        syncs: dict[int, Report] = {}
        workers = [int(w) for w in args.sync_workers.split(",")]
        headline_database: str | None = None
        dbt: Report | None = None
        with tempfile.TemporaryDirectory(prefix="st-bench-") as tmp:
            order = ["bare", *(f"sync:{w}" for w in workers)]
            order += ["bare"] * max(0, args.bare_runs - 1)
            order += ["download"] * args.download_runs
            for kind in order:
                print(f"running {kind} ...", flush=True)
                if kind.startswith("sync:"):
                    n = int(kind.split(":")[1])
                    database = str(Path(tmp) / f"bench-{n}.duckdb")
                    out = _run_child("sync", [*base, "--database", database, f"--workers={n}"])
                    if sync is None and args.dbt_build:
                        headline_database = database
                    else:
                        Path(database).unlink()
                    syncs[n] = out
                    sync = sync or out
                else:
                    out = _run_child(kind, base)
                    (bares if kind == "bare" else downloads).append(out)
                if kind == "download":  # it does not count records: it reads the same pages
                    out["records"] = bares[0]["records"]
                rate = out["records"] / out["seconds"]
                print(
                    f"  {kind}: {out['records']:,} records in {out['seconds']:.2f}s = "
                    f"{rate:,.0f} records/s, peak RSS {out['peak_rss_mib']:.0f} MiB, "
                    f"CPU {out['cpu_seconds']:.1f}s",
                    flush=True,
                )
            if headline_database is not None:
                print("running dbt build ...", flush=True)
                dbt = _run_child("dbt", ["--database", headline_database])
                dbt["database_bytes"] = Path(headline_database).stat().st_size
                print(
                    f"  dbt build: {dbt['seconds']:.1f}s, peak RSS {dbt['dbt_peak_rss_mib']:.0f} "
                    f"MiB ({dbt['summary']})",
                    flush=True,
                )
        assert sync is not None
        bare_rate = sum(b["records"] / b["seconds"] for b in bares) / len(bares)
        sync_rate = sync["records"] / sync["seconds"]
        step_rate = sync["records"] / sync["asset_seconds"]
        download_rate = (
            sum(d["records"] / d["seconds"] for d in downloads) / len(downloads)
            if downloads
            else None
        )
        if any(b["records"] != sync["records"] for b in bares):
            print("WARNING: bare and sync read different record counts", flush=True)
        summary = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "customers": args.customers,
            "export_page_size": args.export_page_size,
            "records": sync["records"],
            "bare_records_per_second": [round(b["records"] / b["seconds"]) for b in bares],
            "bare_records_per_second_mean": round(bare_rate),
            "sync_records_per_second": round(sync_rate),
            "sync_records_per_second_in_asset_steps": round(step_rate),
            "ratio": round(sync_rate / bare_rate, 3),
            "ratio_in_asset_steps": round(step_rate / bare_rate, 3),
            "download_only_records_per_second": round(download_rate) if download_rate else None,
            "ratio_to_download_only": round(sync_rate / download_rate, 3)
            if download_rate
            else None,
            "sync_seconds": round(sync["seconds"], 2),
            "sync_asset_seconds": round(sync["asset_seconds"], 2),
            "sync_peak_rss_mib": sync["peak_rss_mib"],
            "bare_peak_rss_mib": [b["peak_rss_mib"] for b in bares],
            "database_mib": round(sync["database_bytes"] / 2**20, 1),
            "bare_cpu_seconds": [b["cpu_seconds"] for b in bares],
            "download_only_cpu_seconds": [d["cpu_seconds"] for d in downloads],
            "sync_cpu_seconds": sync["cpu_seconds"],
            "cpu_ratio_bare_over_sync": round(
                (sum(b["cpu_seconds"] for b in bares) / len(bares)) / sync["cpu_seconds"], 3
            ),
            "sync_workers": workers[0],
            # Every sync run of --sync-workers, side by side with the same bare runs.
            "sync_by_workers": {
                str(n): {
                    "seconds": round(out["seconds"], 2),
                    "asset_seconds": round(out["asset_seconds"], 2),
                    "ratio": round(out["records"] / out["seconds"] / bare_rate, 3),
                    "peak_rss_mib": out["peak_rss_mib"],
                    "cpu_seconds": out["cpu_seconds"],
                }
                for n, out in syncs.items()
            },
            "dbt_build": None
            if dbt is None
            else {
                "seconds": round(dbt["seconds"], 1),
                "peak_rss_mib": dbt["dbt_peak_rss_mib"],
                "cpu_seconds": dbt["dbt_cpu_seconds"],
                "summary": dbt["summary"],
                "database_mib_after": round(dbt["database_bytes"] / 2**20, 1),
            },
            "per_asset": sync["per_asset"],
            "loadavg_before": load_before,
            "loadavg_after": _loadavg(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            # The DuckDB of this interpreter's environment, which the children run too.
            "duckdb": importlib.metadata.version("duckdb"),
            "machine": platform.platform(),
        }
    finally:
        if sim is not None:
            sim.terminate()
            try:
                sim.wait(timeout=30)
            except subprocess.TimeoutExpired:
                sim.kill()
    path = args.output or RESULTS / f"sync_{args.customers}_{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n")
    for n, figures in summary["sync_by_workers"].items():
        print(
            f"sync with {n} at once: {figures['seconds']:.1f}s, {figures['ratio']:.0%} of bare, "
            f"peak RSS {figures['peak_rss_mib']:.0f} MiB, CPU {figures['cpu_seconds']}s"
        )
    print(
        f"\nbare {bare_rate:,.0f} records/s | sync {sync_rate:,.0f} records/s end to end "
        f"({summary['ratio']:.0%} of bare; {summary['ratio_in_asset_steps']:.0%} counting asset "
        f"steps only"
        + (
            f"; {summary['ratio_to_download_only']:.0%} of download-only, "
            f"{download_rate:,.0f} records/s"
            if download_rate
            else ""
        )
        + f") | sync peak RSS {summary['sync_peak_rss_mib']:.0f} MiB | "
        f"{summary['records']:,} records | CPU: sync {summary['sync_cpu_seconds']}s, bare "
        f"{summary['bare_cpu_seconds']}s | load {load_before} -> {summary['loadavg_after']}\n"
        f"written to {path}"
    )
    target_met = summary["ratio"] >= 0.8 and summary["sync_peak_rss_mib"] < 1024
    print("target (>= 80% of bare, < 1 GiB): " + ("met" if target_met else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
