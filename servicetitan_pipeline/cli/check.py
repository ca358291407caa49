"""``servicetitan-pipeline check``: the "test connection" of ServiceTitan integration tools.

Checks every connection of the connections file (``--tenant NAME`` picks some), one block per
tenant, or, without a file, the single-tenant ``SERVICETITAN_*`` settings. Reads the settings
from the environment (and a ``.env`` file for variables not already set; the single-tenant
non-secret settings can be overridden on the command line) and validates them before any
request (:func:`servicetitan_pipeline.cli.common.prepare_settings`),
gets an access token, then makes one small request per selected entity (``--select``, else
``SERVICETITAN_ENTITIES``: all by default), several at a time, and prints per entity ``OK`` or
why not (a 403 names the API scope the entity needs), the unselected ones as skipped, and a line
per module. A tenant whose variable is missing is reported by name, the others are checked
anyway. Exits 0 when every tenant's selected entities are OK, 1 when any tenant's settings,
token or selected entity failed, 2, with one line naming it, when a setting is missing or
invalid (of the single-tenant settings, or the connections file itself). Prints no secret:
secrets are read only from the environment (never from arguments, which would land in shell
history and process lists) and the client scrubs them from every error message.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import httpx

from servicetitan_pipeline.cli.common import (
    EXIT_BAD_SETTINGS,
    SETTINGS_ERRORS,
    TenantSettings,
    add_env_file_argument,
    add_select_argument,
    add_tenant_argument,
    prepare_settings,
    resource_from_environment,
    selected_entities,
    tenant_names,
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
from servicetitan_pipeline.config import (
    CONNECTION_ENV_VARS,
    GRANT_SCOPE_STEPS,
    EntitySelection,
    selection_name,
)
from servicetitan_pipeline.entities import (
    ENTITIES,
    ENTITIES_BY_NAME,
    MODULES,
    Entity,
    Module,
    SyncMode,
)

EXIT_OK = 0
EXIT_FAILED = 1
# Probes in flight at once. The client's rate limiter keeps them within ServiceTitan's 60
# requests per second; eight hide the round trips, so 69 probes take a second or two.
PROBE_CONCURRENCY = 8
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
    add_tenant_argument(parser, verb="check")
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
    missing_scope: str | None = None  # the API scope a 403 says the app lacks


def probe_request(entity: Entity, tenant_id: int, today: str) -> tuple[str, str, dict[str, Any]]:
    """The one small request that proves the pipeline can read ``entity``: (kind, path, params).

    Why these requests:

    * Entities synced from their export endpoint are checked on that very endpoint, with the
      parameters the sync sends (``entity.export_params``): the sync needs that endpoint and
      its API scope, and an app can be granted a module's list scope without its export
      scope, so a list request could pass while the sync would fail. Export endpoints have no
      page size; ``from=<today>`` keeps the answer to at most one page of today's changes
      (usually a handful), where no ``from`` would start the full history. Only the first page
      is read. "Today" is the server's (see :func:`run_check`).
    * Entities without an export endpoint (job types, campaigns, the reference lists) are
      synced from the list endpoint, checked with ``page=1&pageSize=1``: the smallest answer it
      can give.
    """
    if entity.sync_mode is SyncMode.EXPORT and entity.has_export:
        return "export", entity.export_path(tenant_id), {"from": today, **entity.export_params}
    return "list", entity.list_path(tenant_id), {"page": 1, "pageSize": 1}


def check_entity(client: ServiceTitanClient, entity: Entity, today: str) -> EntityResult:
    """Make the entity's probe request and describe the outcome (never raises for API errors)."""
    kind, path, params = probe_request(entity, client.tenant_id, today)
    started = time.monotonic()
    try:
        body = client.get_json(path, params)
    except PermissionDeniedError as exc:
        trace = f", traceId {exc.trace_id}" if exc.trace_id else ""
        return EntityResult(
            entity.name,
            kind,
            False,
            f"HTTP 403: missing API scope '{entity.scope}'",
            # The way out is said once, after the table, for every entity that lacks one.
            f"ServiceTitan answered HTTP 403 to {exc.request}{trace}.",
            missing_scope=entity.scope,
        )
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
    selection: EntitySelection,
    out: TextIO,
    *,
    transport: httpx.BaseTransport | None = None,
    client_factory: ClientFactory = ServiceTitanClient,
    today: str | None = None,
    concurrency: int = PROBE_CONCURRENCY,
) -> int:
    """Get a token, probe each selected entity, print a report to ``out``; returns the exit code.

    The probes go ``concurrency`` at a time through one client, whose rate limiter keeps them
    within ServiceTitan's limit; the report lists every entity, module by module, in the
    order of the entity table (the unselected ones as skipped), then a line per module.

    The export probes ask for today's changes, and "today" is the server's: the date of the
    token answer's ``Date`` header (every server stamps its answers with its own now), or this
    machine's date, in UTC, when the header is missing or unparseable. A machine whose clock is
    off, or a simulated tenant living at another date, would otherwise probe a day without
    changes. ``today`` (YYYY-MM-DD) fixes the date instead.

    Args:
        selection: the entities to probe (the others are reported as skipped).
        transport: what sends the requests (default: the network; ``httpx.MockTransport`` in
            tests).
        client_factory: builds the client from the settings and the transport.
        concurrency: probes in flight at once.
    """
    print("ServiceTitan connection check", file=out)
    for label, value in (
        ("connection", settings.name),
        ("environment", str(settings.environment)),
        ("tenant", settings.tenant_id),
        ("base URL", settings.api_base_url),
        ("auth URL", settings.auth_url),
        ("entities", describe_selection(selection)),
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
        results = _probe_and_report(client, selection, today, out, concurrency)

    _print_module_summary(selection, results, out)
    return _print_verdict(selection, results, out)


def describe_selection(selection: EntitySelection) -> str:
    """``all 69`` or ``62 of 69, as SERVICETITAN_ENTITIES selects (all,-payroll)``."""
    total = len(selection.entities) + len(selection.unselected)
    if selection.is_everything:
        return f"all {total} ({selection.source}={selection.value})"
    return (
        f"{len(selection.entities)} of {total}, as {selection.source} selects ({selection.value})"
    )


def _skipped_reason(selection: EntitySelection) -> str:
    return f"not selected by {selection.source}"


def _probe_and_report(
    client: ServiceTitanClient,
    selection: EntitySelection,
    today: str,
    out: TextIO,
    concurrency: int,
) -> dict[str, EntityResult]:
    """Probe the selected entities concurrently; print each line, in table order, as it lands."""
    chosen = set(selection.names)
    width = max(len(e.name) for e in ENTITIES)
    results: dict[str, EntityResult] = {}
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="check") as pool:
        futures: dict[str, Future[EntityResult]] = {
            e.name: pool.submit(check_entity, client, e, today)
            for e in _in_report_order()
            if e.name in chosen
        }
        for module, entities in _by_module():
            print(f"\n  {module.title} ({module.name})", file=out)
            for entity in entities:
                future = futures.get(entity.name)
                if future is None:
                    status, detail = "skipped", _skipped_reason(selection)
                    print(f"    {entity.name:<{width}}  {status:<7}  {detail}", file=out)
                    continue
                result = results[entity.name] = future.result()
                status = "OK" if result.ok else "FAILED"
                print(f"    {entity.name:<{width}}  {status:<7}  {result.detail}", file=out)
                if not result.ok and result.message:
                    print(f"    {'':<{width}}           {result.message}", file=out)
                out.flush()
    return results


def _by_module() -> list[tuple[Module, list[Entity]]]:
    """Every module that has entities, in ``MODULES`` order, with its entities in table order."""
    grouped = [(m, [e for e in ENTITIES if e.module == m.name]) for m in MODULES.values()]
    return [(module, entities) for module, entities in grouped if entities]


def _in_report_order() -> list[Entity]:
    return [entity for _, entities in _by_module() for entity in entities]


def _print_module_summary(
    selection: EntitySelection, results: dict[str, EntityResult], out: TextIO
) -> None:
    """One line per module: how many entities are OK, failed (for want of a scope), skipped."""
    print("\nBy module:", file=out)
    width = max(len(m.name) for m, _ in _by_module())
    for module, entities in _by_module():
        checked = [results[e.name] for e in entities if e.name in results]
        ok = sum(r.ok for r in checked)
        failed = len(checked) - ok
        denied = sum(r.missing_scope is not None for r in checked)
        parts = [f"{ok} OK"] if checked else []
        if failed:
            why = ""
            if denied:
                why = " (missing API scope)" if denied == failed else f" ({denied} missing a scope)"
            parts.append(f"{failed} FAILED{why}")
        skipped = len(entities) - len(checked)
        if skipped:
            parts.append(f"{skipped} skipped ({_skipped_reason(selection)})")
        print(f"  {module.name:<{width}}  {', '.join(parts)}", file=out)


def _print_verdict(
    selection: EntitySelection, results: dict[str, EntityResult], out: TextIO
) -> int:
    """The closing lines, and how to sync without the entities whose scope is missing."""
    checked = [results[e.name] for e in _in_report_order() if e.name in results]
    skipped = len(selection.unselected)
    skipped_note = f"; {skipped} skipped ({_skipped_reason(selection)})" if skipped else ""
    failed = [r.entity for r in checked if not r.ok]
    print(file=out)
    if not failed:
        print(f"All {len(checked)} entities OK{skipped_note}.", file=out)
        return EXIT_OK
    print(f"{len(failed)} of {len(checked)} entities FAILED: {', '.join(failed)}.", file=out)
    denied = [ENTITIES_BY_NAME[r.entity] for r in checked if r.missing_scope is not None]
    if denied:
        print(f"Missing API scopes, {len(denied)}:", file=out)
        for entity in denied:
            print(f"  {entity.scope}  ({entity.name})", file=out)
        without = selection_without(selection, denied)
        # The value ends the line, with no full stop to be copied along with it.
        way_out = f"; or sync without those entities: {selection.source}={without}"
        print(f"To grant a scope, {GRANT_SCOPE_STEPS}{way_out if without else '.'}", file=out)
    return EXIT_FAILED


def selection_without(selection: EntitySelection, left_out: Sequence[Entity]) -> str | None:
    """A selection value like ``selection``'s that also leaves out ``left_out`` (a module whose
    every selected entity is left out by the module's name, the others one by one); None when
    nothing would be left."""
    names = {e.name for e in left_out}
    chosen = set(selection.names)
    exclusions: list[str] = []
    for module, entities in _by_module():
        selected = [e for e in entities if e.name in chosen]
        gone = [e for e in selected if e.name in names]
        if gone and len(gone) == len(selected):
            exclusions.append(f"-{module.name}")
        else:
            exclusions += [f"-{selection_name(e)}" for e in gone]
    return ",".join([selection.value, *exclusions]) if chosen - names else None


def run(args: argparse.Namespace) -> int:
    """Entry point of ``servicetitan-pipeline check``."""
    try:
        prepared = prepare_settings(
            args.env_file,
            warehouse=False,
            overrides={field: getattr(args, opt) for opt, field in _OVERRIDES.items()},
            tenants=tenant_names(getattr(args, "tenants", None)),
            every_tenant_valid=False,
        )
        # After the settings file, which may hold SERVICETITAN_ENTITIES.
        selection = selected_entities(args.select)
        single = len(prepared) == 1 and prepared[0].connection.from_environment
        if single and prepared[0].error is not None:
            # The single-tenant settings: a bad one is a bad setting, as before the file.
            raise prepared[0].error
    except SETTINGS_ERRORS as exc:
        print(f"servicetitan-pipeline check: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    return run_tenant_checks(prepared, selection, sys.stdout)


def run_tenant_checks(
    prepared: Sequence[TenantSettings], selection: EntitySelection, out: TextIO, **kwargs: Any
) -> int:
    """:func:`run_check` for each tenant, one block each, then (for several) a line per tenant.

    A tenant whose settings are not valid (a variable not set) is reported in its block and
    the others are checked all the same. Returns 0 when every tenant passed, else 1.
    """
    verdicts: list[tuple[TenantSettings, str]] = []
    for position, tenant in enumerate(prepared, start=1):
        if len(prepared) > 1:
            if position > 1:
                print(file=out)
            print(f"=== [{position}/{len(prepared)}] {tenant.connection.label} ===", file=out)
        if tenant.settings is None:
            print("ServiceTitan connection check", file=out)
            print(f"  {'connection':<12} {tenant.name}", file=out)
            print(f"  {'settings':<12} FAILED  {tenant.error}", file=out)
            print("No entity was checked: the connection's settings are not valid.", file=out)
            verdicts.append((tenant, "FAILED: settings not valid"))
            continue
        # A check should answer in seconds, not wait out a long outage like a sync would.
        settings = dataclasses.replace(tenant.settings, max_attempts=3, max_total_wait_seconds=30.0)
        code = run_check(settings, selection, out, **kwargs)
        verdicts.append((tenant, "OK" if code == EXIT_OK else "FAILED"))
        out.flush()
    failed = [tenant for tenant, verdict in verdicts if verdict != "OK"]
    if len(prepared) > 1:
        print(f"\nBy tenant ({len(prepared) - len(failed)} of {len(prepared)} OK):", file=out)
        width = max(len(t.name) for t in prepared)
        for tenant, verdict in verdicts:
            print(f"  {tenant.name:<{width}}  {verdict}", file=out)
        if failed:
            print(
                f"{len(failed)} of {len(prepared)} tenants FAILED: "
                + ", ".join(repr(t.name) for t in failed)
                + ".",
                file=out,
            )
    return EXIT_FAILED if failed else EXIT_OK
