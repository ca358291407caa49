"""What an ingestion run records and how it fails (``defs.ingestion``'s step).

* :func:`materialization_metadata` -- one tenant's sync of one entity as metadata;
* :func:`run_metadata` -- several tenants' syncs of one entity: totals and a per-tenant table;
* :func:`materializations` -- the events of an entity once every tenant of the run is done
  with it (one ``MaterializeResult``, or one ``AssetMaterialization`` per tenant's partition);
* :class:`TenantFailures` and :func:`run_failure` -- the step's failure: one line per failed
  tenant and reason, ``<connection> (tenant N): <entities>: <reason>``;
* :func:`failure_reason`, :func:`settings_reason`, :func:`credentials_hint` -- the reasons.
"""

# No `from __future__ import annotations`, as in defs.ingestion (Dagster types at runtime).
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from servicetitan_pipeline.client import PermissionDeniedError, ServiceTitanError
from servicetitan_pipeline.config import missing_scope_remedy
from servicetitan_pipeline.defs.jobs import is_transient
from servicetitan_pipeline.defs.tenants import RunTenant
from servicetitan_pipeline.entities import ENTITIES, Entity
from servicetitan_pipeline.sync.engine import SyncError, SyncResult
from servicetitan_pipeline.warehouse.upsert import PageCounts

_POSITION = {e.name: n for n, e in enumerate(ENTITIES)}

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _shown(token: str) -> str:
    """A cursor for display, control characters escaped (``t2\\x00tail``): a token is opaque
    and may hold a NUL, which Dagster's Postgres event storage cannot store as text. The
    cursor itself lives, exact, in DuckDB."""
    return _CONTROL_CHARACTERS.sub(lambda m: f"\\x{ord(m[0]):02x}", token)


def materialization_metadata(result: SyncResult) -> dict[str, dg.MetadataValue]:
    """An asset's materialization metadata from what its sync did; the cursor is a
    ServiceTitan token or date, not a secret."""
    c = result.counts
    return {
        "dagster/row_count": dg.MetadataValue.int(result.row_count),
        "rows_inserted": dg.MetadataValue.int(c.inserted),
        "rows_updated": dg.MetadataValue.int(c.updated),
        "rows_deactivated": dg.MetadataValue.int(c.deactivated),
        "rows_unchanged": dg.MetadataValue.int(c.unchanged),
        "rows_rejected": dg.MetadataValue.int(c.rejected),
        "rows_implausible_modified_on": dg.MetadataValue.int(c.implausible_modified_on),
        "records_read": dg.MetadataValue.int(c.records),
        "pages": dg.MetadataValue.int(result.pages),
        "requests": dg.MetadataValue.int(result.requests),
        "retries": dg.MetadataValue.int(result.retries),
        "wait_seconds": dg.MetadataValue.float(round(result.wait_seconds, 3)),
        "bytes_received": dg.MetadataValue.int(result.bytes_received),
        "duration_seconds": dg.MetadataValue.float(round(result.duration_seconds, 3)),
        # Where the time went: writing DuckDB vs blocked on the API (the rest overlapped).
        "write_seconds": dg.MetadataValue.float(round(result.write_seconds, 3)),
        "api_wait_seconds": dg.MetadataValue.float(round(result.api_wait_seconds, 3)),
        "cursor": dg.MetadataValue.text(_shown(result.cursor or "")),
        "sync_mode": dg.MetadataValue.text(result.sync_mode),
        "full_refresh": dg.MetadataValue.bool(result.full_refresh),
        "rows_deleted_by_full_refresh": dg.MetadataValue.int(result.deleted_by_full_refresh),
        "connection": dg.MetadataValue.text(result.connection_name),
        # Text: an identifier, which the UI would otherwise plot over time as if a metric.
        "tenant_id": dg.MetadataValue.text(str(result.tenant_id)),
    }


def failure_reason(entity: Entity, exc: Exception) -> tuple[str, bool]:
    """What an entity's failed sync tells the run -- what went wrong, without the tenant's
    or the entity's name (the failure line gives them) -- and whether a retry can help."""
    if isinstance(exc, SyncError):
        # An answer that stayed unusable after the client's retries: not transient.
        text = str(exc).removeprefix(f"{entity.name}: ")
        return text, is_transient(exc.__cause__ or exc)
    if isinstance(exc, PermissionDeniedError):
        # A missing API scope fails this entity alone (the others go on); no retry can grant
        # a scope, so say which one and how to do without it.
        trace = f", traceId {exc.trace_id}" if exc.trace_id else ""
        return (
            f"the app lacks the API scope '{entity.scope}' "
            f"(ServiceTitan answered HTTP 403 to {exc.request}{trace}). "
            f"{missing_scope_remedy(entity)}",
            False,
        )
    if isinstance(exc, ServiceTitanError):
        # Bad settings, refused credentials fail at once; a source that kept answering
        # 429/5xx is worth the job's retry policy (which resumes from the committed cursors).
        return str(exc), is_transient(exc)
    return f"{type(exc).__name__}: {exc}", True


def credentials_hint(tenant: RunTenant) -> str:
    """Where this tenant's credentials are, when the connections file names the variables
    (the client's message names the single-tenant ``SERVICETITAN_*`` ones)."""
    v = tenant.credential_variables
    if not v:
        return ""
    return (
        f" This connection's client ID and secret are in {v['client_id']} and "
        f"{v['client_secret']} (app key: {v['app_key']})."
    )


def settings_reason(tenant: RunTenant, exc: Exception) -> str:
    """A tenant's settings error without the connection's own label (the line starts with
    it): ``environment variable X (its OAuth client secret) is not set``."""
    text = str(exc)
    label = f"connection {tenant.name!r}"
    if text.startswith(label):
        rest = text[len(label) :]
        if tenant.tenant_id is not None:
            rest = rest.removeprefix(f" (tenant {tenant.tenant_id})")
        if rest.startswith(": "):
            return rest[2:]
    return text


def _in_table_order(names: Iterable[str]) -> list[str]:
    return sorted(names, key=lambda name: _POSITION.get(name, len(_POSITION)))


@dataclass
class TenantFailures:
    """The failures of one tenant of a run, grouped by reason (a refused secret fails every
    entity of it with one reason: one line, not one per entity)."""

    label: str
    reasons: dict[str, list[str]] = field(default_factory=dict)  # reason -> entity names
    retryable: bool = True

    def add(self, entities: Iterable[str], reason: str, allow_retries: bool) -> None:
        self.reasons.setdefault(reason, []).extend(entities)
        self.retryable = self.retryable and allow_retries

    @property
    def entities(self) -> int:
        return sum(len(names) for names in self.reasons.values())

    def lines(self) -> list[str]:
        """``<connection> (tenant N): <entity>[, <entity>...]: <reason>`` per reason, the
        entities in the entity table's order."""
        return [
            f"{self.label}: {', '.join(_in_table_order(names))}: {reason}"
            for reason, names in self.reasons.items()
        ]


def run_failure(
    failures: Mapping[str, TenantFailures],
    tenants: Sequence[RunTenant],
    selected: int,
    partitioned: bool,
) -> dg.Failure:
    """The step's failure: which tenants failed, one line per tenant and reason (in the
    run's tenant order), and that the rest of the run landed."""
    failed = [(t.name, failures[t.name]) for t in tenants if t.name in failures]
    lines = [line for _, f in failed for line in f.lines()]
    if len(tenants) == 1:
        ((_, f),) = failed
        names = ", ".join(_in_table_order(n for names in f.reasons.values() for n in names))
        header = f"{f.entities} of {selected} entities failed ({names}); the others are synced."
    else:
        which = ", ".join(f"{name} ({f.entities} of {selected} entities)" for name, f in failed)
        recorded = " (each tenant's partition records what it synced)" if partitioned else ""
        header = (
            f"{len(failed)} of {len(tenants)} tenants failed: {which}. Everything else "
            f"landed: the other tenants' data is synced{recorded}."
        )
    return dg.Failure(
        description=header + "\n" + "\n".join(lines),
        # Worth the job's retry (which resumes each from its committed cursor) only when
        # every failure is transient.
        allow_retries=all(f.retryable for _, f in failed),
    )


def _md_cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def run_metadata(results: Sequence[SyncResult], failed: Sequence[str]) -> dict[str, Any]:
    """An entity's materialization metadata for a run of several tenants: the totals over
    the tenants that synced it, and a table of each tenant's own numbers (``per_tenant``).
    ``failed``: the tenants of the run that did not sync it."""
    if len(results) == 1 and not failed:
        return materialization_metadata(results[0])
    total = PageCounts()
    for r in results:
        total.add(r.counts)
    header = (
        "| connection | tenant_id | rows | inserted | updated | deactivated | unchanged | "
        "rejected | requests | retries | seconds | cursor |"
    )
    rows = [
        "| "
        + " | ".join(
            _md_cell(v)
            for v in (
                r.connection_name,
                r.tenant_id,
                r.row_count,
                r.counts.inserted,
                r.counts.updated,
                r.counts.deactivated,
                r.counts.unchanged,
                r.counts.rejected,
                r.requests,
                r.retries,
                f"{r.duration_seconds:.2f}",
                _shown(r.cursor or ""),
            )
        )
        + " |"
        for r in results
    ]
    rows += [f"| {_md_cell(name)} | | failed | | | | | | | | | |" for name in failed]
    modes = sorted({r.sync_mode for r in results})
    return {
        # Totals over the run's tenants (each tenant's own are in per_tenant).
        "dagster/row_count": dg.MetadataValue.int(sum(r.row_count for r in results)),
        "rows_inserted": dg.MetadataValue.int(total.inserted),
        "rows_updated": dg.MetadataValue.int(total.updated),
        "rows_deactivated": dg.MetadataValue.int(total.deactivated),
        "rows_unchanged": dg.MetadataValue.int(total.unchanged),
        "rows_rejected": dg.MetadataValue.int(total.rejected),
        "rows_implausible_modified_on": dg.MetadataValue.int(total.implausible_modified_on),
        "records_read": dg.MetadataValue.int(total.records),
        "pages": dg.MetadataValue.int(sum(r.pages for r in results)),
        "requests": dg.MetadataValue.int(sum(r.requests for r in results)),
        "retries": dg.MetadataValue.int(sum(r.retries for r in results)),
        "wait_seconds": dg.MetadataValue.float(round(sum(r.wait_seconds for r in results), 3)),
        "bytes_received": dg.MetadataValue.int(sum(r.bytes_received for r in results)),
        # The tenants ran side by side: the longest is what the entity took.
        "duration_seconds": dg.MetadataValue.float(
            round(max((r.duration_seconds for r in results), default=0.0), 3)
        ),
        "write_seconds": dg.MetadataValue.float(round(sum(r.write_seconds for r in results), 3)),
        "api_wait_seconds": dg.MetadataValue.float(
            round(sum(r.api_wait_seconds for r in results), 3)
        ),
        "sync_mode": dg.MetadataValue.text(", ".join(modes)),
        "full_refresh": dg.MetadataValue.bool(any(r.full_refresh for r in results)),
        "rows_deleted_by_full_refresh": dg.MetadataValue.int(
            sum(r.deleted_by_full_refresh for r in results)
        ),
        "tenants": dg.MetadataValue.int(len(results)),
        "tenants_synced": dg.MetadataValue.text(", ".join(r.connection_name for r in results)),
        "tenants_failed": dg.MetadataValue.text(", ".join(failed)),
        "per_tenant": dg.MetadataValue.md("\n".join([header, "|" + " --- |" * 12, *rows])),
    }


def materializations(
    entity: Entity, results: Sequence[SyncResult], run: Sequence[str], partitioned: bool
) -> Iterator[dg.MaterializeResult[Any] | dg.AssetMaterialization]:
    """What the run records for ``entity`` once every tenant of the run is done with it: one
    ``MaterializeResult`` when all synced it (or, unpartitioned, when any did: the one
    asset's table changed), else one ``AssetMaterialization`` per tenant that synced it, for
    its partition."""
    synced = {r.connection_name for r in results}
    failed = [name for name in run if name not in synced]
    if not results:
        return
    if not failed or not partitioned:
        yield dg.MaterializeResult(
            asset_key=entity.asset_key_path, metadata=run_metadata(results, failed)
        )
        return
    for result in results:
        yield dg.AssetMaterialization(
            asset_key=entity.asset_key_path,
            partition=result.connection_name,
            metadata=materialization_metadata(result),
        )
