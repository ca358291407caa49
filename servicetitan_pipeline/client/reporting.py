"""ServiceTitan's Reporting API on the client side: its per-report rate limit and its pages.

The data endpoint (``POST /reporting/v2/tenant/{tenant}/report-category/{category}/reports/
{reportId}/data``) is limited far tighter than the rest of the API: 5 requests of the same
report per minute, per tenant, on top of the tenant's 60 per second. :class:`ReportRateLimiter`
keeps one sliding window per report, so a run that pulls several reports waits only on the one
it has used up. A 429 that still comes (another app of the tenant pulling the same report) is
waited out by the transport, as ``Retry-After`` says.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import orjson

from servicetitan_pipeline.client.pagination import BodyNotJsonError, NotAPageError
from servicetitan_pipeline.config import REPORT_RATE_WINDOW_SECONDS, REPORT_REQUESTS_PER_MINUTE

# Our clock and ServiceTitan's are not the same clock, and a request is counted when it
# arrives: leave a little room after a window ends before the next request.
DEFAULT_WINDOW_MARGIN_SECONDS = 1.0


class ReportRateLimiter:
    """At most ``requests`` request starts per ``window_seconds`` and key (report); thread-safe.

    A sliding window, as ServiceTitan counts: the (n+1)-th request of a report waits until the
    n-th before it is a whole window old. Each caller reserves its slot under the lock and
    sleeps outside it, so threads pulling different reports never wait on each other.

    Args:
        requests: requests allowed per window and key (>= 1).
        window_seconds: the window (> 0).
        margin_seconds: added to every wait that the window imposes (clock skew, latency).
        clock: monotonic clock in seconds (injectable for tests).
        sleep: sleep function (injectable for tests).
    """

    def __init__(
        self,
        requests: int = REPORT_REQUESTS_PER_MINUTE,
        window_seconds: float = REPORT_RATE_WINDOW_SECONDS,
        *,
        margin_seconds: float = DEFAULT_WINDOW_MARGIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests < 1:
            raise ValueError(f"requests must be >= 1, got {requests!r}")
        if not window_seconds > 0:
            raise ValueError(f"window_seconds must be > 0, got {window_seconds!r}")
        if margin_seconds < 0:
            raise ValueError(f"margin_seconds must be >= 0, got {margin_seconds!r}")
        self.requests = requests
        self.window_seconds = float(window_seconds)
        self._margin = float(margin_seconds)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # key -> the start times reserved by its last `requests` requests, oldest first.
        self._starts: dict[Hashable, deque[float]] = {}

    def acquire(self, key: Hashable) -> float:
        """Block until one request of ``key`` may start; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            starts = self._starts.setdefault(key, deque(maxlen=self.requests))
            slot = now
            if len(starts) == self.requests:
                slot = max(now, starts[0] + self.window_seconds + self._margin, starts[-1])
            starts.append(slot)
            wait = slot - now
        if wait > 1e-9:
            self._sleep(wait)
            return wait
        return 0.0


@dataclass(frozen=True)
class ReportField:
    """A column of a report's data: its unique ``name`` and its display ``label``."""

    name: str
    label: str


@dataclass(frozen=True)
class ReportDataPage:
    """One page of a report's data, in field order, with the page's own JSON.

    Attributes:
        fields: the columns, in the order of every row's values.
        rows: the page's rows (lists of values, one per field).
        page: its page number (1-based).
        page_size: the page size asked for.
        has_more: ServiceTitan has more rows after this page.
        total_count: the total rows, when ServiceTitan said.
        body: the answer's bytes exactly as received (kept in the warehouse).
    """

    fields: tuple[ReportField, ...]
    rows: list[list[Any]]
    page: int
    page_size: int
    has_more: bool
    total_count: int | None
    body: bytes


def decode_report_page(content: bytes, page: int, page_size: int) -> ReportDataPage:
    """A data answer's body as a :class:`ReportDataPage`.

    Raises:
        BodyNotJsonError: the body is not JSON (cut short: worth another attempt).
        NotAPageError: JSON, but not a report page (``data`` rows, ``fields``, ``hasMore``).
    """
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise BodyNotJsonError(str(exc)) from None
    excerpt = content[:300].decode("utf-8", "replace")
    if not isinstance(body, dict):
        raise NotAPageError(excerpt)
    rows, raw_fields, has_more = body.get("data"), body.get("fields"), body.get("hasMore")
    if (
        not isinstance(rows, list)
        or not isinstance(raw_fields, list)
        or not isinstance(has_more, bool)
    ):
        raise NotAPageError(excerpt)
    fields: list[ReportField] = []
    for field in raw_fields:
        if not isinstance(field, dict) or not isinstance(field.get("name"), str):
            raise NotAPageError(excerpt)
        fields.append(ReportField(field["name"], str(field.get("label") or field["name"])))
    width = len(fields)
    if not all(isinstance(row, list) and len(row) == width for row in rows):
        raise NotAPageError(excerpt)
    total = body.get("totalCount")
    return ReportDataPage(
        fields=tuple(fields),
        rows=rows,
        page=page,
        page_size=page_size,
        has_more=has_more,
        total_count=total if isinstance(total, int) else None,
        body=content,
    )
