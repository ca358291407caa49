"""ServiceTitan's Reporting API, served from the simulated world (``/reporting/v2/...``).

Endpoints (as ``reporting-v2.json`` describes them):

* ``GET  /reporting/v2/tenant/{tenant}/report-categories``: the categories, paged;
* ``GET  .../report-category/{category}/reports``: the reports of a category, paged;
* ``GET  .../report-category/{category}/reports/{reportId}``: a report's description (its
  parameters and fields, with their ``dataType``);
* ``POST .../report-category/{category}/reports/{reportId}/data``: its rows for the
  ``parameters`` of the JSON body, paged by ``page``/``pageSize`` (1000 rows by default, at most
  25000), ``fields`` beside ``data`` (rows as arrays of values in field order), ``hasMore``.

The two reports are computed in Python from the world's current records, by the definitions the
pipeline's dbt models implement (see :func:`revenue_by_business_unit` and
:func:`technician_performance`), one row per day and business unit or technician, so that the
pipeline's comparison of its marts with them agrees to the cent. ServiceTitan's rate limit of
the Reporting API is enforced: ``SimulatorConfig.report_requests_per_minute`` requests of the
same report (its description and its data) per minute; more answer 429 with ``Retry-After``.
"""

from __future__ import annotations

import collections
import datetime as dt
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from .api import ApiProblem, bad_request
from .config import SimulatorConfig
from .world import World

PREFIX = "/reporting/v2"
# The report list of the demo and `make dev` (the two reports below, compared with the marts).
DEMO_REPORTS_FILE = Path(__file__).with_name("demo_reports.toml")
_PATH = re.compile(
    r"^/reporting/v2/tenant/(?P<tenant>[^/]+)/"
    r"(?:(?P<categories>report-categories)"
    r"|report-category/(?P<category>[^/]+)/reports(?:/(?P<report>[^/]+)(?P<data>/data)?)?)/?$"
)
DEFAULT_DATA_PAGE_SIZE = 1000
MAX_DATA_PAGE_SIZE = 25000
RATE_WINDOW_SECONDS = 60.0
_MODIFIED_ON = "2026-01-05T09:00:00Z"  # when the simulated reports' structure last changed
_ZERO = Decimal("0.00")

Records = Mapping[str, Sequence[Mapping[str, Any]]]
Row = list[Any]


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    data_type: str  # String, Number, Boolean, Date, Time


@dataclass(frozen=True)
class SimulatedReport:
    """A report the simulator serves: its description and how its rows are computed."""

    category: str
    report_id: int
    name: str
    description: str
    fields: tuple[Field, ...]
    compute: Callable[[Records, dt.date, dt.date], list[Row]]
    # the entities whose records it reads
    reads: tuple[str, ...]

    def description_body(self) -> dict[str, Any]:
        date = {"dataType": "Date", "isArray": False, "isRequired": True, "acceptValues": None}
        return {
            "id": self.report_id,
            "name": self.name,
            "description": self.description,
            "modifiedOn": _MODIFIED_ON,
            "parameters": [
                {"name": "From", "label": "From", **date},
                {"name": "To", "label": "To", **date},
            ],
            "fields": [
                {"name": f.name, "label": f.label, "dataType": f.data_type} for f in self.fields
            ],
        }


CATEGORIES: tuple[tuple[str, str], ...] = (
    ("accounting", "Accounting"),
    ("technician", "Technician"),
    ("marketing", "Marketing"),
)


# -- the shared definitions, in Python ----------------------------------------------------------


def _money(value: object) -> Decimal:
    """Money as ServiceTitan sends it (``"123.45"`` on invoices, a number on estimates)."""
    if value is None or value == "":
        return _ZERO
    return Decimal(repr(value) if isinstance(value, float) else str(value))


def _utc_date(timestamp: object) -> dt.date | None:
    """The UTC calendar date of an RFC 3339 timestamp (``...Z``), ``None`` when absent."""
    if not isinstance(timestamp, str) or not timestamp:
        return None
    when = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).date()


def _by_id(records: Iterable[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    return {int(r["id"]): r for r in records}


def _ref_id(value: object) -> int | None:
    """The id of a reference: ``{"id": 5}`` or ``5``."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _is_income_account(account: Mapping[str, Any]) -> bool:
    return "income" in str(account.get("type") or "").lower()


def _is_completed(job: Mapping[str, Any]) -> bool:
    return job.get("jobStatus") == "Completed" and job.get("active", True) is not False


def revenue_rows(records: Records, start: dt.date, end: dt.date) -> list[Row]:
    """Revenue as ServiceTitan counts it, per day and business unit, ``start``..``end``.

    Active items of active invoices whose general-ledger account is an income account count,
    pre-tax (the item's ``total``); an item whose account is not among the GL accounts counts
    too, and is shown again as unmapped. An invoice of a job (not an adjustment) counts on the
    job's completion date (UTC), and only once the job is completed; a non-job invoice and an
    adjustment count on their invoice date (the creation date when there is none). The
    business unit is the invoice's; an adjustment without one inherits the original's.

    Rows: ``[date, business unit id, name, completed-job, non-job, adjustment, unmapped,
    total]``, sorted by date and business unit.
    """
    invoices = _by_id(records["invoices"])
    jobs = _by_id(records["jobs"])
    accounts = _by_id(records["gl_accounts"])
    unit_names = {int(u["id"]): str(u.get("name") or "") for u in records["business_units"]}
    sums: dict[tuple[dt.date, int | None], list[Decimal]] = collections.defaultdict(
        lambda: [_ZERO, _ZERO, _ZERO, _ZERO]
    )
    names: dict[int | None, str] = {}
    for invoice in invoices.values():
        if invoice.get("active") is False:
            continue
        original = invoices.get(invoice.get("adjustmentToId") or -1)
        unit = invoice.get("businessUnit") or (original or {}).get("businessUnit")
        unit_id = _ref_id(unit)
        job_id = _ref_id(invoice.get("job"))
        if invoice.get("adjustmentToId") is not None:
            kind, day = 2, _utc_date(invoice.get("invoiceDate") or invoice.get("createdOn"))
        elif job_id is not None:
            job = jobs.get(job_id)
            if job is None or not _is_completed(job):
                continue
            kind, day = 0, _utc_date(job.get("completedOn"))
        else:
            kind, day = 1, _utc_date(invoice.get("invoiceDate") or invoice.get("createdOn"))
        if day is None or not start <= day <= end:
            continue
        for item in invoice.get("items") or ():
            if item.get("active") is False:
                continue
            account_id = _ref_id(item.get("generalLedgerAccount"))
            account = accounts.get(account_id) if account_id is not None else None
            if account is not None and not _is_income_account(account):
                continue
            amount = _money(item.get("total"))
            cell = sums[(day, unit_id)]
            cell[kind] += amount
            if account is None:
                cell[3] += amount
        if unit_id is not None and unit_id not in names:
            names[unit_id] = unit_names.get(unit_id) or str((unit or {}).get("name") or "")
    rows: list[Row] = []
    for (day, unit_id), (job_revenue, non_job, adjustment, unmapped) in sorted(
        sums.items(), key=lambda kv: (kv[0][0], kv[0][1] if kv[0][1] is not None else -1)
    ):
        total = job_revenue + non_job + adjustment
        rows.append(
            [
                day.isoformat(),
                unit_id,
                names.get(unit_id, ""),
                _number(job_revenue),
                _number(non_job),
                _number(adjustment),
                _number(unmapped),
                _number(total),
            ]
        )
    return rows


@dataclass(frozen=True)
class JobOutcome:
    """What ServiceTitan's scorecards decide about a completed job."""

    job_id: int
    completed_on: dt.date
    invoice_subtotal: Decimal
    is_opportunity: bool
    is_converted: bool
    is_sales_opportunity: bool
    is_sales_won: bool


def job_outcomes(records: Records) -> dict[int, JobOutcome]:
    """Every completed job's outcome, by the definitions of ``int_job_outcomes``.

    The invoice subtotal is the pre-tax total (``total - salesTax``) of the job's active
    invoices, adjustments (which inherit the original's job) included. A job is an opportunity
    unless it is No Charge and neither that subtotal nor its sold estimates' subtotal reaches
    its job type's sold threshold (0 when unset); it converts when the invoice subtotal alone
    reaches the threshold; it is a sales opportunity when it is an opportunity with an active
    estimate, won when one was sold and the sold subtotal reaches the threshold.
    """
    invoices = _by_id(records["invoices"])
    thresholds = {int(t["id"]): _money(t.get("soldThreshold")) for t in records["job_types"]}
    subtotal: dict[int, Decimal] = collections.defaultdict(lambda: _ZERO)
    for invoice in invoices.values():
        if invoice.get("active") is False:
            continue
        job_id = _ref_id(invoice.get("job"))
        if job_id is None and invoice.get("adjustmentToId") is not None:
            job_id = _ref_id((invoices.get(invoice["adjustmentToId"]) or {}).get("job"))
        if job_id is None:
            continue
        subtotal[job_id] += _money(invoice.get("total")) - _money(invoice.get("salesTax"))
    estimates: dict[int, list[Mapping[str, Any]]] = collections.defaultdict(list)
    for estimate in records["estimates"]:
        if estimate.get("active") is not False and estimate.get("jobId") is not None:
            estimates[int(estimate["jobId"])].append(estimate)
    outcomes: dict[int, JobOutcome] = {}
    for job in records["jobs"]:
        completed_on = _utc_date(job.get("completedOn"))
        if not _is_completed(job) or completed_on is None:
            continue
        job_id = int(job["id"])
        sold = [e for e in estimates[job_id] if (e.get("status") or {}).get("name") == "Sold"]
        sold_subtotal = sum((_money(e.get("subtotal")) for e in sold), _ZERO)
        threshold = thresholds.get(job.get("jobTypeId") or -1, _ZERO)
        invoiced = subtotal[job_id]
        opportunity = not job.get("noCharge") or max(invoiced, sold_subtotal) >= threshold
        outcomes[job_id] = JobOutcome(
            job_id=job_id,
            completed_on=completed_on,
            invoice_subtotal=invoiced,
            is_opportunity=opportunity,
            is_converted=invoiced >= threshold,
            is_sales_opportunity=opportunity and bool(estimates[job_id]),
            is_sales_won=opportunity and bool(sold) and sold_subtotal >= threshold,
        )
    return outcomes


def split_amounts(amount: Decimal, splits: Sequence[tuple[int, int, Decimal]]) -> list[Decimal]:
    """``amount`` shared over ``splits`` (split id, technician id, percentage), in cents,
    adding up exactly, as ``fct_job_splits`` shares it: each split gets its share rounded down
    (all equal when the percentages add up to 0); the cents left go one each to the largest
    remainders, ties to the lower technician id, then the lower split id. Returns each
    split's part, in the order given."""
    cents = int(amount * 100)
    percents = [share for _, _, share in splits]
    total = sum(percents, Decimal(0))
    if total > 0:
        numerators = [cents * int(p * 10000) for p in percents]
        denominator = int(total * 10000)
    else:
        numerators, denominator = [cents] * len(splits), len(splits)
    floors = [n // denominator for n in numerators]
    left_over = cents - sum(floors)
    order = sorted(
        range(len(splits)),
        key=lambda k: (-(numerators[k] - floors[k] * denominator), splits[k][1], splits[k][0]),
    )
    parts = list(floors)
    for k in order[:left_over]:
        parts[k] += 1
    return [Decimal(part) / 100 for part in parts]


def technician_rows(records: Records, start: dt.date, end: dt.date) -> list[Row]:
    """Technician performance per day (of job completion, UTC) and technician, by the
    definitions of ``rpt_technician_scorecard``.

    A completed job counts for each technician credited with it: those of its active job
    splits, or, when it has none, its ``soldById``; else nobody. Each of them counts it as
    completed and, by its outcome (:func:`job_outcomes`), as an opportunity and a converted
    opportunity; the job's invoice subtotal is shared between them by :func:`split_amounts`
    (all of it to the ``soldById``). Sales opportunities and wins go to the sellers (``soldBy``)
    of the job's estimates, else to its credited technicians. Memberships sold: active
    memberships that renew no other, by their technician ``soldById``, on their ``from`` date.

    Rows: ``[date, technician id, name, completed jobs, opportunities, converted jobs, sales
    opportunities, sales won, split revenue, memberships sold]``, sorted by date and technician.
    """
    outcomes = job_outcomes(records)
    names = {int(t["id"]): str(t.get("name") or "") for t in records["technicians"]}
    splits: dict[int, list[tuple[int, int, Decimal]]] = collections.defaultdict(list)
    for split in records["job_splits"]:
        if split.get("active") is not False and split.get("technicianId") is not None:
            splits[int(split["jobId"])].append(
                (int(split["id"]), int(split["technicianId"]), _money(split.get("split")))
            )
    sellers: dict[int, set[int]] = collections.defaultdict(set)
    for estimate in records["estimates"]:
        if (
            estimate.get("active") is not False
            and estimate.get("jobId") is not None
            and estimate.get("soldBy") is not None
        ):
            sellers[int(estimate["jobId"])].add(int(estimate["soldBy"]))
    jobs = _by_id(records["jobs"])
    counts: dict[tuple[dt.date, int], list[Any]] = collections.defaultdict(
        lambda: [0, 0, 0, 0, 0, _ZERO, 0]
    )
    for job_id, outcome in outcomes.items():
        if not start <= outcome.completed_on <= end:
            continue
        credited: dict[int, Decimal] = collections.defaultdict(lambda: _ZERO)
        if splits.get(job_id):
            parts = split_amounts(outcome.invoice_subtotal, splits[job_id])
            for (_, tech, _), part in zip(splits[job_id], parts, strict=True):
                credited[tech] += part
        elif jobs[job_id].get("soldById") is not None:
            credited[int(jobs[job_id]["soldById"])] = outcome.invoice_subtotal
        for tech, amount in credited.items():
            cell = counts[(outcome.completed_on, tech)]
            cell[0] += 1
            cell[1] += outcome.is_opportunity
            cell[2] += outcome.is_opportunity and outcome.is_converted
            cell[5] += amount
        if outcome.is_sales_opportunity:
            for tech in sellers.get(job_id) or credited:
                cell = counts[(outcome.completed_on, tech)]
                cell[3] += 1
                cell[4] += outcome.is_sales_won
    renewals = {m.get("renewedById") for m in records["memberships"] if m.get("renewedById")}
    for membership in records["memberships"]:
        sold_by = membership.get("soldById")
        started = _utc_date(membership.get("from"))
        if (
            membership.get("active") is False
            or membership.get("id") in renewals
            or sold_by is None
            or int(sold_by) not in names
            or started is None
        ):
            continue
        if start <= started <= end:
            counts[(started, int(sold_by))][6] += 1
    return [
        [day.isoformat(), tech, names.get(tech, ""), *cell[:5], _number(cell[5]), cell[6]]
        for (day, tech), cell in sorted(counts.items())
    ]


def _number(amount: Decimal) -> float:
    """Money as a JSON number (ServiceTitan's reports send numbers; repr reads back exact)."""
    return float(amount)


REPORTS: tuple[SimulatedReport, ...] = (
    SimulatedReport(
        category="accounting",
        report_id=1001,
        name="Revenue by Business Unit",
        description=(
            "Revenue per day and business unit: income items of active invoices, pre-tax; job "
            "invoices on the job's completion date, others on their invoice date."
        ),
        fields=(
            Field("Date", "Date", "Date"),
            Field("BusinessUnitId", "Business Unit ID", "Number"),
            Field("BusinessUnitName", "Business Unit", "String"),
            Field("CompletedJobRevenue", "Completed Job Revenue", "Number"),
            Field("NonJobRevenue", "Non-Job Revenue", "Number"),
            Field("AdjustmentRevenue", "Adjustment Revenue", "Number"),
            Field("UnmappedRevenue", "Unmapped Revenue", "Number"),
            Field("TotalRevenue", "Total Revenue", "Number"),
        ),
        compute=revenue_rows,
        reads=("invoices", "jobs", "gl_accounts", "business_units"),
    ),
    SimulatedReport(
        category="technician",
        report_id=2001,
        name="Technician Performance",
        description=(
            "Per day of job completion and technician: completed jobs, opportunities, "
            "converted jobs, sales opportunities and wins, revenue through job splits, "
            "memberships sold."
        ),
        fields=(
            Field("Date", "Date", "Date"),
            Field("TechnicianId", "Technician ID", "Number"),
            Field("TechnicianName", "Technician", "String"),
            Field("CompletedJobs", "Completed Jobs", "Number"),
            Field("Opportunities", "Opportunities", "Number"),
            Field("ConvertedJobs", "Converted Jobs", "Number"),
            Field("SalesOpportunities", "Sales Opportunities", "Number"),
            Field("SalesWon", "Sales Won", "Number"),
            Field("SplitRevenue", "Split Revenue", "Number"),
            Field("MembershipsSold", "Memberships Sold", "Number"),
        ),
        compute=technician_rows,
        reads=(
            "invoices",
            "jobs",
            "job_types",
            "estimates",
            "job_splits",
            "technicians",
            "memberships",
        ),
    ),
)
REPORTS_BY_KEY: Mapping[tuple[str, int], SimulatedReport] = {
    (r.category, r.report_id): r for r in REPORTS
}


def world_records(world: World, entities: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The current records of ``entities`` in the export shape (the list shape for entities
    without an export), as ``Simulator.truth`` gives them. The caller holds the tenant lock."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name in entities:
        store = world.stores[name]
        render = store.render_export if store.entity.has_export else store.render_list
        blobs = [render(pos) for pos in range(len(store))]
        out[name] = orjson.loads(b"[" + b",".join(blobs) + b"]")
    return out


# -- the endpoints ------------------------------------------------------------------------------


class ReportingApi:
    """The Reporting API of the simulated tenant (routing, paging, the per-report limit)."""

    def __init__(self, config: SimulatorConfig, world: World) -> None:
        self.config = config
        self.world = world
        self._lock = threading.Lock()
        self._recent: dict[tuple[str, int], collections.deque[float]] = {}

    @staticmethod
    def handles(path: str) -> bool:
        return path.startswith(PREFIX + "/")

    def tenant_of(self, path: str) -> str:
        match = _PATH.match(path)
        if match is None:
            raise ApiProblem(404, "Not Found")
        return match["tenant"]

    def answer(self, method: str, path: str, query: Mapping[str, str], body: bytes) -> bytes:
        """The answer to an authenticated request of the tenant (query keys lower-cased)."""
        match = _PATH.match(path)
        if match is None:
            raise ApiProblem(404, "Not Found")
        if match["categories"]:
            self._allow(method, "GET")
            categories: list[dict[str, Any]] = [
                {"id": cid, "name": name} for cid, name in CATEGORIES
            ]
            return _paged(categories, query)
        category = match["category"]
        if category not in {cid for cid, _ in CATEGORIES}:
            raise ApiProblem(404, f"Report category '{category}' was not found")
        if match["report"] is None:
            self._allow(method, "GET")
            items: list[dict[str, Any]] = [
                {"id": r.report_id, "name": r.name, "description": r.description}
                for r in REPORTS
                if r.category == category
            ]
            return _paged(items, query)
        report = self._report(category, match["report"])
        if match["data"] is None:
            self._allow(method, "GET")
            self._count_request(report)
            return orjson.dumps(report.description_body())
        self._allow(method, "POST")
        start, end = _date_range(body)
        page = _int(query, "page", 1)
        page_size = _int(query, "pagesize", DEFAULT_DATA_PAGE_SIZE)
        if page < 1:
            raise bad_request("page", "The page must be 1 or greater.")
        if not 1 <= page_size <= MAX_DATA_PAGE_SIZE:
            raise bad_request(
                "pageSize", f"The field pageSize must be between 1 and {MAX_DATA_PAGE_SIZE}."
            )
        self._count_request(report)
        rows = self.rows(report, start, end)
        chunk = rows[(page - 1) * page_size : page * page_size]
        include_total = query.get("includetotal", "").lower() == "true"
        return orjson.dumps(
            {
                "page": page,
                "pageSize": page_size,
                "hasMore": page * page_size < len(rows),
                "totalCount": len(rows) if include_total else None,
                "data": chunk,
                "fields": [{"name": f.name, "label": f.label} for f in report.fields],
            }
        )

    def rows(self, report: SimulatedReport, start: dt.date, end: dt.date) -> list[Row]:
        """The report's rows for ``start``..``end`` from the world as it is now."""
        with self.world.tenant.lock:
            records = world_records(self.world, report.reads)
        return report.compute(records, start, end)

    def _report(self, category: str, raw_id: str) -> SimulatedReport:
        if not raw_id.isdigit():
            raise bad_request("reportId", f"The value '{raw_id}' is not valid.")
        report = REPORTS_BY_KEY.get((category, int(raw_id)))
        if report is None:
            raise ApiProblem(404, f"Report {raw_id} was not found in category '{category}'")
        return report

    @staticmethod
    def _allow(method: str, allowed: str) -> None:
        if method != allowed:
            raise ApiProblem(405, "Method Not Allowed")

    def _count_request(self, report: SimulatedReport) -> None:
        """ServiceTitan's limit: so many requests of one report per minute, else 429."""
        limit = self.config.report_requests_per_minute
        if limit is None:
            return
        key = (report.category, report.report_id)
        now = time.monotonic()
        with self._lock:
            recent = self._recent.setdefault(key, collections.deque())
            while recent and now - recent[0] >= RATE_WINDOW_SECONDS:
                recent.popleft()
            if len(recent) >= limit:
                wait = max(1, math.ceil(recent[0] + RATE_WINDOW_SECONDS - now))
                raise ApiProblem(
                    429,
                    f"Rate limit is exceeded for report {report.report_id}. "
                    f"Try again in {wait} seconds.",
                    headers={"Retry-After": str(wait)},
                )
            recent.append(now)


def _paged(items: list[dict[str, Any]], query: Mapping[str, str]) -> bytes:
    page = _int(query, "page", 1)
    page_size = _int(query, "pagesize", 50)
    if page < 1 or page_size < 1:
        raise bad_request("page", "The page and page size must be 1 or greater.")
    chunk = items[(page - 1) * page_size : page * page_size]
    include_total = query.get("includetotal", "").lower() == "true"
    return orjson.dumps(
        {
            "page": page,
            "pageSize": page_size,
            "hasMore": page * page_size < len(items),
            "totalCount": len(items) if include_total else None,
            "data": chunk,
        }
    )


def _int(query: Mapping[str, str], key: str, default: int) -> int:
    raw = query.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(key, f"The value '{raw}' is not valid.") from None


def _date_range(body: bytes) -> tuple[dt.date, dt.date]:
    """The From/To parameters of a data request's JSON body (both required)."""
    try:
        request = orjson.loads(body or b"null")
    except orjson.JSONDecodeError:
        raise bad_request("request", "The request body is not valid JSON.") from None
    if not isinstance(request, dict) or not isinstance(request.get("parameters"), list):
        raise bad_request("parameters", "The parameters field is required.")
    values: dict[str, Any] = {}
    for parameter in request["parameters"]:
        if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
            raise bad_request("parameters", "Every parameter needs a name.")
        values[parameter["name"].lower()] = parameter.get("value")
    unknown = sorted(set(values) - {"from", "to"})
    if unknown:
        raise bad_request("parameters", f"Unknown parameter '{unknown[0]}'.")
    dates = []
    for name in ("From", "To"):
        raw = values.get(name.lower())
        if raw is None:
            raise bad_request(name, f"The parameter {name} is required.")
        try:
            dates.append(dt.date.fromisoformat(str(raw)[:10]))
        except ValueError:
            raise bad_request(name, f"The value '{raw}' is not a valid date.") from None
    if dates[0] > dates[1]:
        raise bad_request("To", "To must not be before From.")
    return dates[0], dates[1]
