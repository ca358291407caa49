"""The reports to pull from ServiceTitan's Reporting API: the user's list, read and validated.

The list is a TOML file (``servicetitan_reports.toml``, or what ``SERVICETITAN_REPORTS_FILE``
names; see :func:`servicetitan_pipeline.config.reports_file`)::

    [[reports]]
    name = "revenue_by_business_unit"   # raw table and asset: report_<name>
    category = "accounting"             # the report category's id
    report_id = 1001                    # the report's id within the category
    parameters = { IncludeInactive = false }   # static parameters, sent with every request
    date_parameters = { from = "From", to = "To" }   # the two date parameters paged by
    start_date = 2024-01-01             # the first day pulled by the first run
    window_days = 31                    # days per request window
    lookback_days = 7                   # re-pull the last N days each run
    page_size = 5000                    # rows per page (ServiceTitan: at most 25000)
    money_fields = ["TotalRevenue"]     # Number fields stored as DECIMAL(18,2)
    integer_fields = ["CompletedJobs"]  # Number fields stored as BIGINT
    compare_with = "rpt_revenue_servicetitan"   # the dbt report checked against it (optional)
    compare_columns = { date = "invoice_day" }  # its column for a model column, where they differ

ServiceTitan's figures change after the fact (an invoice is adjusted, a job completed late):
``lookback_days`` is how far back each run re-pulls, replacing what it pulled before.

Every mistake raises :class:`ReportSpecError` naming the file, the report and the key.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servicetitan_pipeline.config import ConfigError
from servicetitan_pipeline.warehouse.report_comparisons import COMPARISONS

MAX_REPORT_PAGE_SIZE = 25000  # the data endpoint's documented maximum
DEFAULT_REPORT_PAGE_SIZE = 5000
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_REPORT_KEYS = frozenset(
    {
        "name",
        "category",
        "report_id",
        "parameters",
        "date_parameters",
        "start_date",
        "window_days",
        "lookback_days",
        "page_size",
        "money_fields",
        "integer_fields",
        "description",
        "compare_with",
        "compare_columns",
    }
)
_REQUIRED_KEYS = ("name", "category", "report_id", "date_parameters", "start_date")

ParameterValue = str | int | float | bool | None | list[str | int | float | bool]


class ReportSpecError(ConfigError):
    """The report list is not valid; the message names the file, the report and the key."""


@dataclass(frozen=True)
class ReportSpec:
    """One report to pull, as the user listed it.

    Attributes:
        name: what the raw table (``report_<name>``) and the asset are called.
        category: the report category's id (``accounting``, ``technician``, ...).
        report_id: the report's id within its category.
        parameters: static parameters sent with every request (name -> value).
        from_parameter, to_parameter: the report's two date parameters (inclusive range).
        start_date: the first day the first run pulls.
        window_days: days per request window (each window replaced atomically).
        lookback_days: days before the last pulled day that every run pulls again.
        page_size: rows per page.
        money_fields: Number fields stored exactly, as DECIMAL(18,2).
        integer_fields: Number fields stored as BIGINT.
        description: what the report is, for the asset's description.
        compare_with: the dbt report an asset check compares with this one (a key of
            ``warehouse.report_comparisons.COMPARISONS``), or ``None``.
        compare_columns: this report's column (snake_case) for a column of that model, where
            the names differ; ``date`` is the report's day.
    """

    name: str
    category: str
    report_id: int
    parameters: Mapping[str, ParameterValue]
    from_parameter: str
    to_parameter: str
    start_date: dt.date
    window_days: int = 31
    lookback_days: int = 7
    page_size: int = DEFAULT_REPORT_PAGE_SIZE
    money_fields: frozenset[str] = frozenset()
    integer_fields: frozenset[str] = frozenset()
    description: str = ""
    compare_with: str | None = None
    compare_columns: Mapping[str, str] = field(default_factory=dict)

    @property
    def table_name(self) -> str:
        """The raw table (and asset) name: ``report_<name>``."""
        return f"report_{self.name}"

    def request_parameters(self, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
        """The ``parameters`` of a data request for the window ``start``..``end`` (inclusive)."""
        parameters: list[dict[str, Any]] = [
            {"name": name, "value": value} for name, value in self.parameters.items()
        ]
        parameters.append({"name": self.from_parameter, "value": start.isoformat()})
        parameters.append({"name": self.to_parameter, "value": end.isoformat()})
        return parameters


def load_report_specs(path: Path) -> tuple[ReportSpec, ...]:
    """Read and validate the report list at ``path``.

    Raises:
        ReportSpecError: the file cannot be read or parsed, or a report is not valid.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportSpecError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ReportSpecError(f"{path}: not valid TOML ({exc})") from None
    return parse_report_specs(document, source=str(path))


def parse_report_specs(document: object, *, source: str) -> tuple[ReportSpec, ...]:
    """Validate a parsed report list (``{"reports": [...]}``); ``source`` names it in errors."""
    if not isinstance(document, dict) or set(document) - {"reports"}:
        raise ReportSpecError(f"{source}: expected a mapping with one key, 'reports'")
    reports = document.get("reports") or []
    if not isinstance(reports, list):
        raise ReportSpecError(f"{source}: 'reports' must be a list of reports ([[reports]] tables)")
    specs: list[ReportSpec] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(reports, start=1):
        spec = _parse_report(raw, source=source, index=index)
        if spec.name in seen:
            raise ReportSpecError(
                f"{source}: report {spec.name!r} (entry {index}): 'name' is used by entry "
                f"{seen[spec.name]} too; each report needs its own table"
            )
        seen[spec.name] = index
        specs.append(spec)
    return tuple(specs)


def _parse_report(raw: object, *, source: str, index: int) -> ReportSpec:
    if not isinstance(raw, dict):
        raise ReportSpecError(f"{source}: entry {index} of 'reports' must be a mapping")
    label = f"report {raw['name']!r}" if isinstance(raw.get("name"), str) else f"entry {index}"

    def fail(key: str, why: str) -> ReportSpecError:
        return ReportSpecError(f"{source}: {label}: '{key}' {why}")

    unknown = sorted(set(map(str, raw)) - _REPORT_KEYS)
    if unknown:
        raise fail(unknown[0], f"is not a known key (known: {', '.join(sorted(_REPORT_KEYS))})")
    for key in _REQUIRED_KEYS:
        if raw.get(key) is None:
            raise fail(key, "is required")

    name = raw["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail("name", "must be lower-case letters, digits and _ (a table name), e.g. revenue")
    category = raw["category"]
    if not isinstance(category, str) or not category.strip():
        raise fail("category", "must be the report category's id, e.g. accounting")
    report_id = _positive_int(raw["report_id"], lambda why: fail("report_id", why))

    dates = raw["date_parameters"]
    if not isinstance(dates, dict) or set(dates) != {"from", "to"}:
        raise fail("date_parameters", 'must be a table { from = "<name>", to = "<name>" }')
    from_parameter, to_parameter = dates["from"], dates["to"]
    if not all(isinstance(p, str) and p for p in (from_parameter, to_parameter)):
        raise fail("date_parameters", 'must name two parameters, e.g. { from = "From", to = "To" }')
    if from_parameter == to_parameter:
        raise fail("date_parameters", "must name two different parameters")

    parameters = raw.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise fail("parameters", "must be a mapping of parameter name to value")
    for key, value in parameters.items():
        if not isinstance(key, str) or not key:
            raise fail("parameters", f"has a parameter name that is not a string ({key!r})")
        if key in (from_parameter, to_parameter):
            raise fail("parameters", f"sets {key!r}, a date parameter that each window sets")
        if not _is_parameter_value(value):
            raise fail("parameters", f"{key!r} must be a string, number, boolean or list of them")

    start_date = raw["start_date"]
    not_a_date = f"must be a date like 2024-01-01, got {start_date!r}"
    if isinstance(start_date, str):
        try:
            start_date = dt.date.fromisoformat(start_date)
        except ValueError:
            raise fail("start_date", not_a_date) from None
    if isinstance(start_date, dt.datetime) or not isinstance(start_date, dt.date):
        raise fail("start_date", not_a_date)

    window_days = _positive_int(raw.get("window_days", 31), lambda why: fail("window_days", why))
    lookback = raw.get("lookback_days", 7)
    if isinstance(lookback, bool) or not isinstance(lookback, int) or lookback < 0:
        raise fail("lookback_days", f"must be a whole number of days >= 0, got {lookback!r}")
    page_size = _positive_int(
        raw.get("page_size", DEFAULT_REPORT_PAGE_SIZE), lambda why: fail("page_size", why)
    )
    if page_size > MAX_REPORT_PAGE_SIZE:
        raise fail("page_size", f"must be at most {MAX_REPORT_PAGE_SIZE}, got {page_size}")
    money = _field_names(raw.get("money_fields"), lambda why: fail("money_fields", why))
    integers = _field_names(raw.get("integer_fields"), lambda why: fail("integer_fields", why))
    both = sorted(money & integers)
    if both:
        raise fail("integer_fields", f"names {both[0]!r}, which money_fields names too")
    description = raw.get("description") or ""
    if not isinstance(description, str):
        raise fail("description", "must be text")
    compare_with = raw.get("compare_with")
    if compare_with is not None and compare_with not in COMPARISONS:
        raise fail("compare_with", f"must be one of {', '.join(sorted(COMPARISONS))}")
    compare_columns = raw.get("compare_columns") or {}
    if not isinstance(compare_columns, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in compare_columns.items()
    ):
        raise fail("compare_columns", "must be a table of model column = report column")
    if compare_columns and compare_with is None:
        raise fail("compare_columns", "needs compare_with (the model they map onto)")
    return ReportSpec(
        name=name,
        category=category.strip(),
        report_id=report_id,
        parameters=dict(parameters),
        from_parameter=from_parameter,
        to_parameter=to_parameter,
        start_date=start_date,
        window_days=window_days,
        lookback_days=lookback,
        page_size=page_size,
        money_fields=money,
        integer_fields=integers,
        description=description.strip(),
        compare_with=compare_with,
        compare_columns=dict(compare_columns),
    )


def _positive_int(value: object, fail: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail(f"must be a whole number >= 1, got {value!r}")
    return value


def _is_parameter_value(value: object) -> bool:
    scalar = (str, int, float, bool)
    if value is None or isinstance(value, scalar):
        return True
    return isinstance(value, list) and all(isinstance(v, scalar) for v in value)


def _field_names(value: object, fail: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise fail("must be a list of the report's field names")
    if not all(isinstance(v, str) and v for v in value):
        raise fail("must hold field names (strings)")
    return frozenset(value)
