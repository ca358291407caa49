"""``servicetitan-pipeline simulator``: run the embedded ServiceTitan simulator standalone.

It prints the URLs and the (demo) credentials to configure a connection with, then serves until
Ctrl-C. Useful to point the pipeline, ``curl`` or a benchmark at a separate process.
"""

from __future__ import annotations

import argparse
import logging
import resource
import signal
import sys

from ..entities import MODULES
from .config import (
    DEFAULT_TOKEN_TTL_SECONDS,
    DEMO_APP_KEY,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_TENANT_ID,
    MAX_PAGE_SIZE,
    FaultConfig,
    SimulatorConfig,
)
from .server import Simulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's options to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    parser.add_argument("--customers", type=int, default=5000, help="customers to generate")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated data")
    parser.add_argument("--tenant-id", type=int, default=DEMO_TENANT_ID)
    parser.add_argument("--client-id", default=DEMO_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEMO_CLIENT_SECRET)
    parser.add_argument("--app-key", default=DEMO_APP_KEY)
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="probability that an API request fails transiently (429, 5xx, drop, truncation, "
        "slow answer)",
    )
    parser.add_argument("--fault-seed", type=int, default=0, help="seed of the fault RNG")
    parser.add_argument(
        "--token-ttl",
        type=int,
        default=DEFAULT_TOKEN_TTL_SECONDS,
        help="lifetime of access tokens in seconds",
    )
    parser.add_argument(
        "--rate-limit", type=float, default=None, help="requests per second cap (429 above it)"
    )
    parser.add_argument(
        "--export-page-size",
        type=int,
        default=MAX_PAGE_SIZE,
        help="records per export page",
    )
    parser.add_argument(
        "--deny-module",
        action="append",
        default=[],
        choices=sorted(MODULES),
        metavar="MODULE",
        help="answer 403 on every endpoint of this API module, as for an app without its "
        "scope (repeatable), e.g. --deny-module payroll",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")


def run(args: argparse.Namespace) -> int:
    """Generate the tenant, print how to connect, serve until interrupted."""
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s"
    )
    faults = FaultConfig.uniform(
        args.fault_rate,
        seed=args.fault_seed,
        token_ttl_seconds=args.token_ttl,
        rate_limit_rps=args.rate_limit,
    )
    config = SimulatorConfig(
        customers=args.customers,
        seed=args.seed,
        tenant_id=args.tenant_id,
        client_id=args.client_id,
        client_secret=args.client_secret,
        app_key=args.app_key,
        host=args.host,
        port=args.port,
        export_page_size=args.export_page_size,
        faults=faults,
        denied_modules=frozenset(args.deny_module),
    )
    print(f"Generating {args.customers} customers (seed {args.seed})...", flush=True)
    sim = Simulator(config)
    records = sum(len(s) for s in sim.world.stores.values())
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"Generated {records} records in {sim.startup_seconds:.1f} s (peak RSS {rss_mb:.0f} MB).",
        flush=True,
    )
    sim.bind()
    base = sim.base_url
    print(
        "\nServiceTitan simulator (demo credentials, not secrets)\n"
        f"  API base URL : {base}\n"
        f"  Auth URL     : {sim.auth_url}\n"
        f"  Tenant ID    : {config.tenant_id}\n"
        f"  Client ID    : {config.client_id}\n"
        f"  Client secret: {config.client_secret}\n"
        f"  App key      : {config.app_key}\n"
        f'  Controls     : POST {base}/_simulator/advance {{"hours": 24}} | '
        f"GET {base}/_simulator/truth/<entity> | POST {base}/_simulator/faults\n"
        "Serving; Ctrl-C to stop.",
        flush=True,
    )
    # Stop the same way on SIGTERM (a process manager, a test, `kill`) as on Ctrl-C. Installed
    # explicitly: a process started from a background job may inherit SIGTERM as ignored.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        print("\nStopped.", file=sys.stderr)
    return 0


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
