"""``servicetitan-pipeline simulator``: run the embedded ServiceTitan simulator standalone.

It prints the URLs and the (demo) credentials to configure a connection with, then serves until
Ctrl-C. Useful to point the pipeline, ``curl`` or a benchmark at a separate process. With
``--tenants N`` it serves N demo tenants (:func:`~.config.demo_tenant_configs`) on one port.
"""

from __future__ import annotations

import argparse
import logging
import resource
import signal
import sys
from typing import Any

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
    demo_tenant_configs,
)
from .server import SimulatedTenants, Simulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's options to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    parser.add_argument(
        "--customers",
        type=int,
        default=5000,
        help="customers to generate (with --tenants: the first tenant's; the others a share of it)",
    )
    parser.add_argument(
        "--tenants",
        type=int,
        default=1,
        help="serve this many demo tenants on the one port, each with its own credentials "
        "and data (tenant ids from 1000001, client ids cid.demo, cid.demo2, ...)",
    )
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
    """Generate the tenant(s), print how to connect, serve until interrupted."""
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s"
    )
    faults = FaultConfig.uniform(
        args.fault_rate,
        seed=args.fault_seed,
        token_ttl_seconds=args.token_ttl,
        rate_limit_rps=args.rate_limit,
    )
    shared: dict[str, Any] = {
        "app_key": args.app_key,
        "host": args.host,
        "port": args.port,
        "export_page_size": args.export_page_size,
        "faults": faults,
        "denied_modules": frozenset(args.deny_module),
    }
    if args.tenants < 1:
        print("--tenants must be at least 1", file=sys.stderr)
        return 2
    if args.tenants == 1:
        configs = [
            SimulatorConfig(
                customers=args.customers,
                seed=args.seed,
                tenant_id=args.tenant_id,
                client_id=args.client_id,
                client_secret=args.client_secret,
                **shared,
            )
        ]
    elif (args.tenant_id, args.client_id, args.client_secret) != (
        DEMO_TENANT_ID,
        DEMO_CLIENT_ID,
        DEMO_CLIENT_SECRET,
    ):
        # The demo tenants' credentials are numbered from the demo values; one set of
        # options cannot say what the others' would be.
        print(
            "--tenant-id, --client-id and --client-secret apply to a single tenant; "
            "--tenants serves the demo tenants' documented credentials",
            file=sys.stderr,
        )
        return 2
    else:
        configs = demo_tenant_configs(
            args.tenants, customers=args.customers, seed=args.seed, **shared
        )
    sizes = ", ".join(str(c.customers) for c in configs)
    print(f"Generating {sizes} customers (seed {args.seed})...", flush=True)
    sims = [Simulator(config) for config in configs]
    records = sum(len(s) for sim in sims for s in sim.world.stores.values())
    seconds = sum(sim.startup_seconds for sim in sims)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"Generated {records} records in {seconds:.1f} s (peak RSS {rss_mb:.0f} MB).",
        flush=True,
    )
    served = SimulatedTenants(sims, host=args.host, port=args.port)
    base = served.base_url
    lines = [
        "",
        "ServiceTitan simulator (demo credentials, not secrets)",
        f"  API base URL : {base}",
        f"  Auth URL     : {served.auth_url}",
    ]
    for config in configs:
        lines += [
            f"  Tenant ID    : {config.tenant_id}",
            f"  Client ID    : {config.client_id}",
            f"  Client secret: {config.client_secret}",
        ]
    lines += [
        f"  App key      : {args.app_key}",
        f'  Controls     : POST {base}/_simulator/advance {{"hours": 24}} | '
        f"GET {base}/_simulator/truth/<entity> | POST {base}/_simulator/faults",
    ]
    if len(configs) > 1:
        lines.append("                 (?tenant=<id> picks a tenant; the first without it)")
    lines.append("Serving; Ctrl-C to stop.")
    print("\n".join(lines), flush=True)
    # Stop the same way on SIGTERM (a process manager, a test, `kill`) as on Ctrl-C. Installed
    # explicitly: a process started from a background job may inherit SIGTERM as ignored.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        served.serve_forever()
    except KeyboardInterrupt:
        print("\nStopped.", file=sys.stderr)
    return 0


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
