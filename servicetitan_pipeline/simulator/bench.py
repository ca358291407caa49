"""Measure the simulator itself: start-up time, memory, and how fast it serves pages.

    python -m servicetitan_pipeline.simulator.bench --customers 100000

It must never be what a pipeline benchmark measures; this shows by how much it is not.
Pages are fetched the way the pipeline fetches them (a token, then export pages of 5000 records
over one keep-alive connection), but nothing is parsed.
"""

from __future__ import annotations

import argparse
import resource
import time

import httpx

from ..entities import ENTITIES
from .config import SimulatorConfig
from .server import Simulator


def _export_all(http: httpx.Client, path: str, headers: dict[str, str]) -> tuple[int, int]:
    """Fetch every page of one export endpoint; returns (pages, bytes)."""
    pages = 0
    nbytes = 0
    # Typed up front: mypy 1.19 crashes ("Too many iterations when checking a loop") inferring
    # a variable first bound to None and rebound to str inside nested loops.
    token_from: str | None = None
    while True:
        params: dict[str, str] = {"from": token_from} if token_from else {}
        response = http.get(path, params=params, headers=headers)
        response.raise_for_status()
        pages += 1
        nbytes += len(response.content)
        # The envelope's fields come first: read them without parsing the page.
        head = response.content[:400]
        token_from = head.split(b'"continueFrom":"', 1)[1].split(b'"', 1)[0].decode()
        if not head.startswith(b'{"hasMore":true'):
            return pages, nbytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=None, help="generation processes")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    sim = Simulator(
        SimulatorConfig(customers=args.customers, seed=args.seed, generation_workers=args.workers)
    )
    startup = time.perf_counter() - started
    records = sum(len(s) for s in sim.world.stores.values())
    json_mb = sum(sum(map(len, s.blobs)) for s in sim.world.stores.values()) / 1e6
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"customers        {args.customers}")
    print(f"records          {records}")
    print(f"start-up         {startup:.1f} s")
    print(f"record JSON      {json_mb:.0f} MB")
    print(f"peak RSS         {rss_mb:.0f} MB (this process; generation workers are separate)")

    with sim.start():
        c = sim.config
        with httpx.Client(base_url=sim.base_url, timeout=60) as http:
            token = http.post(
                "/connect/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": c.client_id,
                    "client_secret": c.client_secret,
                },
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}", "ST-App-Key": c.app_key}
            pages = 0
            nbytes = 0
            t0 = time.perf_counter()
            for entity in ENTITIES:
                if entity.has_export:
                    n_pages, n_bytes = _export_all(http, entity.export_path(c.tenant_id), headers)
                    pages += n_pages
                    nbytes += n_bytes
            elapsed = time.perf_counter() - t0
    print(f"full export      {pages} pages, {nbytes / 1e6:.0f} MB in {elapsed:.1f} s")
    print(
        f"serving          {pages / elapsed:.1f} pages/s, {nbytes / 1e6 / elapsed:.0f} MB/s "
        "(one connection, client included)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
