"""Pulling a configured report from ServiceTitan's Reporting API into the raw layer.

A report is pulled window by window (``window_days`` each, on a grid that starts at the
report's ``start_date``, so a window pulled again is the same window). A run starts with the
window holding the day ``lookback_days`` before the last day stored, since ServiceTitan's
figures change after the fact (an invoice adjusted, a job completed late), and ends with the
window holding today, today being ServiceTitan's day (the ``Date`` of its answers), not this
machine's. Each window's pages are read whole, then written in one transaction that replaces
what was stored of it (``warehouse.reports.replace_window``): a run that stops leaves every
window either as it was or as ServiceTitan answers now.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information

from servicetitan_pipeline.client import ServiceTitanClient
from servicetitan_pipeline.sync.report_specs import ReportSpec
from servicetitan_pipeline.warehouse.reports import (
    ReportColumn,
    ReportValueError,
    ReportWindow,
    delete_report,
    ensure_report_table,
    last_window_end,
    replace_window,
    report_columns,
    report_table,
    stored_row_count,
    typed_rows,
)

logger = logging.getLogger(__name__)


class Log(Protocol):
    """Where progress goes: a ``logging.Logger`` or Dagster's ``context.log``."""

    def info(self, msg: str) -> None: ...


class ReportSyncError(RuntimeError):
    """A report's answer could not be stored (a value not of its field's type, say)."""


@dataclass(frozen=True)
class WindowResult:
    """What one window's pull wrote."""

    start: dt.date
    end: dt.date
    rows: int
    pages: int
    rows_replaced: int


@dataclass(frozen=True)
class ReportSyncResult:
    """What one pull of a report did."""

    report: str
    table: str
    tenant_id: int
    category: str
    report_id: int
    today: dt.date
    windows: Sequence[WindowResult] = field(default_factory=tuple)
    row_count: int = 0  # the tenant's rows of the table after the pull
    full_refresh: bool = False
    rows_deleted_by_full_refresh: int = 0
    requests: int = 0
    wait_seconds: float = 0.0
    duration_seconds: float = 0.0

    @property
    def rows_written(self) -> int:
        return sum(w.rows for w in self.windows)

    @property
    def rows_replaced(self) -> int:
        return sum(w.rows_replaced for w in self.windows)

    @property
    def pages(self) -> int:
        return sum(w.pages for w in self.windows)

    def summary(self) -> str:
        if not self.windows:
            return f"{self.table}: nothing to pull (today is {self.today})"
        first, last = self.windows[0].start, self.windows[-1].end
        return (
            f"{self.table}: {self.rows_written} rows from {first} to {last} in "
            f"{len(self.windows)} window(s), {self.pages} page(s), {self.requests} request(s) "
            f"({self.rows_replaced} stored rows replaced; {self.wait_seconds:.1f}s waited)"
        )


def report_windows(
    spec: ReportSpec, *, last_end: dt.date | None, today: dt.date
) -> list[tuple[dt.date, dt.date]]:
    """The windows a run pulls: from the grid window holding ``lookback_days`` before the day
    after ``last_end`` (``start_date`` on the first run) to the window holding ``today``,
    which ends ``today``."""
    if today < spec.start_date:
        return []
    if last_end is None:
        resume = spec.start_date
    else:
        resume = max(spec.start_date, last_end + dt.timedelta(days=1 - spec.lookback_days))
    if resume > today:
        return []
    step = spec.window_days
    start = spec.start_date + dt.timedelta(days=(resume - spec.start_date).days // step * step)
    windows = []
    while start <= today:
        end = min(start + dt.timedelta(days=step - 1), today)
        windows.append((start, end))
        start += dt.timedelta(days=step)
    return windows


def sync_report(
    spec: ReportSpec,
    client: ServiceTitanClient,
    conn: duckdb.DuckDBPyConnection,
    *,
    full_refresh: bool = False,
    today: dt.date | None = None,
    log: Log | None = None,
) -> ReportSyncResult:
    """Pull ``spec``'s windows due this run into ``raw_servicetitan.report_<name>``.

    Args:
        spec: the report, as configured.
        client: the connection (its per-report limiter spaces the requests).
        conn: the warehouse.
        full_refresh: delete the tenant's stored rows of the report first and pull from
            ``start_date``.
        today: the last day to pull; default ServiceTitan's today (UTC).
        log: where progress goes (a Dagster log, say); default this module's logger.

    Raises:
        ReportSyncError: a value does not fit its field (nothing of that window is written).
        ServiceTitanError: from the client.
    """
    log = log or logger
    began = time.monotonic()
    before = client.stats
    tenant_id = client.tenant_id
    description = client.get_report_description(spec.category, spec.report_id)
    if today is None:
        server_now = client.server_date or dt.datetime.now(dt.UTC)
        today = server_now.astimezone(dt.UTC).date()
    deleted_by_refresh = delete_report(conn, spec.name, tenant_id) if full_refresh else 0
    columns = report_columns(
        description["fields"],
        money_fields=spec.money_fields,
        integer_fields=spec.integer_fields,
    )
    try:
        ensure_report_table(conn, spec.name, columns)
    except ReportValueError as exc:
        raise ReportSyncError(str(exc)) from None
    windows = report_windows(
        spec,
        last_end=None if full_refresh else last_window_end(conn, spec.name, tenant_id),
        today=today,
    )
    results: list[WindowResult] = []
    for start, end in windows:
        parameters = spec.request_parameters(start, end)
        columns, tables, bodies = _pull_window(spec, client, conn, columns, parameters)
        staged = pa.concat_tables(tables) if tables else _empty(columns)
        replaced = replace_window(
            conn,
            spec.name,
            tenant_id,
            ReportWindow(
                start=start,
                end=end,
                rows=staged,
                pages=bodies,
                category=spec.category,
                report_id=spec.report_id,
                parameters=parameters,
            ),
            loaded_at=dt.datetime.now(dt.UTC),
        )
        results.append(WindowResult(start, end, staged.num_rows, len(bodies), replaced))
        log.info(
            f"{report_table(spec.name)}: {start}..{end}, {staged.num_rows} rows in "
            f"{len(bodies)} page(s) ({replaced} stored rows replaced)"
        )
    spent = client.stats - before
    return ReportSyncResult(
        report=spec.name,
        table=report_table(spec.name),
        tenant_id=tenant_id,
        category=spec.category,
        report_id=spec.report_id,
        today=today,
        windows=tuple(results),
        row_count=stored_row_count(conn, spec.name, tenant_id),
        full_refresh=full_refresh,
        rows_deleted_by_full_refresh=deleted_by_refresh,
        requests=spent.requests,
        wait_seconds=spent.total_wait_seconds,
        duration_seconds=time.monotonic() - began,
    )


def _pull_window(
    spec: ReportSpec,
    client: ServiceTitanClient,
    conn: duckdb.DuckDBPyConnection,
    columns: tuple[ReportColumn, ...],
    parameters: list[dict[str, Any]],
) -> tuple[tuple[ReportColumn, ...], list[pa.Table], list[bytes]]:
    """Every page of one window, typed; a field the description did not list gets a column."""
    tables: list[pa.Table] = []
    bodies: list[bytes] = []
    next_row = 1
    pages = client.iter_report_data(
        spec.category, spec.report_id, parameters, page_size=spec.page_size
    )
    for page in pages:
        names = [f.name for f in page.fields]
        known = {c.field for c in columns}
        extra = [
            {"name": f.name, "label": f.label, "dataType": None}
            for f in page.fields
            if f.name not in known
        ]
        if extra:
            # The data answer names a field the description did not (ServiceTitan warns that
            # report columns change): keep it, as text, rather than drop it.
            described = [
                {"name": c.field, "label": c.label, "dataType": c.data_type} for c in columns
            ]
            columns = report_columns(
                [*described, *extra],
                money_fields=spec.money_fields,
                integer_fields=spec.integer_fields,
            )
            ensure_report_table(conn, spec.name, columns)
            tables = [_with_columns(t, columns) for t in tables]
        try:
            tables.append(
                typed_rows(columns, names, page.rows, report=spec.name, first_row_number=next_row)
            )
        except ReportValueError as exc:
            raise ReportSyncError(
                f"{exc}; window {parameters[-2]['value']}..{parameters[-1]['value']}, page "
                f"{page.page}; nothing of this window was written"
            ) from None
        next_row += len(page.rows)
        bodies.append(page.body)
    return columns, [_with_columns(t, columns) for t in tables], bodies


def _empty(columns: Sequence[ReportColumn]) -> pa.Table:
    return typed_rows(columns, [], [], report="")


def _with_columns(table: pa.Table, columns: Sequence[ReportColumn]) -> pa.Table:
    """``table`` with a NULL column for each of ``columns`` it lacks (fields added later)."""
    for column in columns:
        if column.column not in table.column_names:
            table = table.append_column(
                column.column, pa.nulls(table.num_rows, column.column_type.arrow)
            )
    return table
