"""``servicetitan-pipeline check``: the "test connection" of ServiceTitan integration tools.

Reads the connection from the ``SERVICETITAN_*`` environment variables (and a ``.env`` file for
variables not already set; non-secret settings can be overridden on the command line) and
validates it before any request (:func:`servicetitan_pipeline.cli.common.prepare_settings`),
gets an access token, then makes one small request per entity the pipeline syncs, and prints
per entity ``OK`` or why not (e.g. a missing API scope). Exits 0 when everything is OK, 1 when
the token or any entity failed, 2, with one line naming it, when a setting is missing or
invalid. Prints no secret:
secrets are read only from the environment (never from arguments, which would land in shell
history and process lists) and the client scrubs them from every error message.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import httpx

from servicetitan_pipeline.cli.common import (
    EXIT_BAD_SETTINGS,
    SETTINGS_ERRORS,
    add_env_file_argument,
    add_select_argument,
    prepare_settings,
    resource_from_environment,
    selected_entities,
)
from servicetitan_pipeline.client import (
    ApiError,
    ConnectionSettings,
    InvalidResponseError,
    PermissionDeniedError,
    RetriesExhaustedError,
    ServiceTitanClient,
    ServiceTitanError,
)
from servicetitan_pipeline.config import CONNECTION_ENV_VARS
from servicetitan_pipeline.entities import Entity, SyncMode

EXIT_OK = 0
EXIT_FAILED = 1
__all__ = ["EXIT_BAD_SETTINGS", "resource_from_environment", "run", "run_check"]

# How `check` builds its client: the settings and a transport (None: the network).
ClientFactory = Callable[[ConnectionSettings, httpx.BaseTransport | None], ServiceTitanClient]

# Non-secret settings that may be given on the command line: option -> resource field.
_OVERRIDES = {
    "connection_name": "name",
    "environment": "environment",
    "tenant_id": "tenant_id",
    "api_base_url": "api_base_url",
    "auth_url": "auth_url",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``servicetitan-pipeline check``."""
    env = CONNECTION_ENV_VARS
    parser.add_argument(
        "--connection-name", help=f"overrides {env['name']} (secrets: environment only)"
    )
    parser.add_argument(
        "--environment", help=f"integration or production; overrides {env['environment']}"
    )
    parser.add_argument("--tenant-id", help=f"overrides {env['tenant_id']}")
    parser.add_argument("--api-base-url", help=f"overrides {env['api_base_url']}")
    parser.add_argument("--auth-url", help=f"overrides {env['auth_url']}")
    add_select_argument(parser, verb="check")
    add_env_file_argument(parser)


@dataclass(frozen=True)
class EntityResult:
    """Outcome of the request made for one entity."""

    entity: str
    endpoint: str  # "export" or "list"
    ok: bool
    detail: str  # what was checked (OK) or the short reason (failed)
    message: str = ""  # the full error message, when failed


def probe_request(entity: Entity, tenant_id: int, today: str) -> tuple[str, str, dict[str, Any]]:
    """The one small request that proves the pipeline can read ``entity``: (kind, path, params).

    Why these requests:

    * Entities synced from their export endpoint are checked on that very endpoint: the sync
      needs that endpoint and its API scope, and an app can be granted a module's list scope
      without its export scope, so a list request could pass while the sync would fail.
      Export endpoints have no page size; ``from=<today>`` keeps the answer to at most one
      page of today's changes (usually a handful), where no ``from`` would start the full
      history. Only the first page is read. "Today" is the server's (see :func:`run_check`).
    * Entities without an export endpoint (job types, campaigns) are synced from the list
      endpoint, checked with ``page=1&pageSize=1``: the smallest answer it can give.
    """
    if entity.sync_mode is SyncMode.EXPORT and entity.has_export:
        return "export", entity.export_path(tenant_id), {"from": today}
    return "list", entity.list_path(tenant_id), {"page": 1, "pageSize": 1}


def check_entity(client: ServiceTitanClient, entity: Entity, today: str) -> EntityResult:
    """Make the entity's probe request and describe the outcome (never raises for API errors)."""
    kind, path, params = probe_request(entity, client.tenant_id, today)
    started = time.monotonic()
    try:
        body = client.get_json(path, params)
    except ServiceTitanError as exc:
        return EntityResult(entity.name, kind, False, short_reason(exc), str(exc))
    except httpx.HTTPError as exc:  # e.g. an unsupported URL scheme: not retried, not wrapped
        return EntityResult(entity.name, kind, False, type(exc).__name__, str(exc))
    elapsed = time.monotonic() - started
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return EntityResult(
            entity.name,
            kind,
            False,
            "unexpected answer",
            f"GET {path} answered JSON without a 'data' list",
        )
    return EntityResult(
        entity.name,
        kind,
        True,
        f"{kind} endpoint answered in {elapsed:.2f}s ({len(data)} record(s) in the sample)",
    )


def short_reason(exc: BaseException) -> str:
    """A few words for the result table; the full message is printed below it."""
    if isinstance(exc, PermissionDeniedError):
        return "HTTP 403: missing API scope"
    if isinstance(exc, InvalidResponseError):
        return "invalid JSON answer"
    if isinstance(exc, RetriesExhaustedError):
        status = f"HTTP {exc.status}" if exc.status else "no answer"
        return f"{status}, gave up after {exc.attempts} attempt(s)"
    if isinstance(exc, ApiError) and exc.status is not None:
        return f"HTTP {exc.status}" + (f": {exc.title}" if exc.title else "")
    return type(exc).__name__


def run_check(
    settings: ConnectionSettings,
    entities: Sequence[Entity],
    out: TextIO,
    *,
    transport: httpx.BaseTransport | None = None,
    client_factory: ClientFactory = ServiceTitanClient,
    today: str | None = None,
) -> int:
    """Get a token, probe each entity, print a report to ``out``; returns the exit code.

    The export probes ask for today's changes, and "today" is the server's: the date of the
    token answer's ``Date`` header (every server stamps its answers with its own now), or this
    machine's date, in UTC, when the header is missing or unparseable. A machine whose clock is
    off, or a simulated tenant living at another date, would otherwise probe a day without
    changes. ``today`` (YYYY-MM-DD) fixes the date instead.

    Args:
        transport: what sends the requests (default: the network; ``httpx.MockTransport`` in
            tests).
        client_factory: builds the client from the settings and the transport.
    """
    print("ServiceTitan connection check", file=out)
    for label, value in (
        ("connection", settings.name),
        ("environment", str(settings.environment)),
        ("tenant", settings.tenant_id),
        ("base URL", settings.api_base_url),
        ("auth URL", settings.auth_url),
    ):
        print(f"  {label:<12} {value}", file=out)

    with client_factory(settings, transport) as client:
        started = time.monotonic()
        try:
            client.get_token()
        except (ServiceTitanError, httpx.HTTPError) as exc:
            print(f"  {'token':<12} FAILED  {exc}", file=out)
            print("No entity was checked: without a token no request can succeed.", file=out)
            return EXIT_FAILED
        print(f"  {'token':<12} OK ({time.monotonic() - started:.2f}s)", file=out)
        if today is None:
            today = (client.server_date or datetime.now(UTC)).strftime("%Y-%m-%d")
            source = "the server's date" if client.server_date else "this machine's date (UTC)"
            print(f"  {'changes of':<12} {today} ({source})", file=out)
        print(file=out)

        width = max(len(e.name) for e in entities)
        results = []
        for entity in entities:
            result = check_entity(client, entity, today)
            results.append(result)
            status = "OK    " if result.ok else "FAILED"
            print(f"  {entity.name:<{width}}  {status}  {result.detail}", file=out)
            if not result.ok and result.message:
                print(f"  {'':<{width}}          {result.message}", file=out)
            out.flush()

    failed = [r.entity for r in results if not r.ok]
    print(file=out)
    if failed:
        print(
            f"{len(failed)} of {len(results)} entities FAILED: {', '.join(failed)}.",
            file=out,
        )
        return EXIT_FAILED
    print(f"All {len(results)} entities OK.", file=out)
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """Entry point of ``servicetitan-pipeline check``."""
    try:
        entities = selected_entities(args.select)
        settings = prepare_settings(
            args.env_file,
            warehouse=False,
            overrides={field: getattr(args, opt) for opt, field in _OVERRIDES.items()},
        )
        # A check should answer in seconds, not wait out a long outage like a sync would.
        settings = dataclasses.replace(settings, max_attempts=3, max_total_wait_seconds=30.0)
    except SETTINGS_ERRORS as exc:
        print(f"servicetitan-pipeline check: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    return run_check(settings, entities, sys.stdout)
