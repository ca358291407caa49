"""``ServiceTitanClient``: one connection's pooled HTTP client, auth, retries and paging."""

from __future__ import annotations

import copy
import functools
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, overload
from urllib.parse import quote

import httpx
import orjson

from servicetitan_pipeline.client.auth import TokenProvider
from servicetitan_pipeline.client.errors import (
    ApiError,
    AuthenticationError,
    EndpointSettingsError,
    InvalidResponseError,
    PaginationError,
    PermissionDeniedError,
    describe_request,
)
from servicetitan_pipeline.client.pagination import (
    BodyNotJsonError,
    DecodedBody,
    ExportPage,
    JsonRecords,
    ListPage,
    NotAPageError,
    PageDecoder,
    PageIds,
    PagingLimits,
    decode_json_page,
    json_record_ids,
)
from servicetitan_pipeline.client.ratelimit import RateLimiter
from servicetitan_pipeline.client.reporting import (
    ReportDataPage,
    ReportField,
    ReportRateLimiter,
    decode_report_page,
)
from servicetitan_pipeline.client.settings import ConnectionSettings
from servicetitan_pipeline.client.transport import (
    ClientStats,
    Problem,
    ResponseLimits,
    RetryNow,
    RetryPolicy,
    SecretScrubber,
    StatsRecorder,
    Transport,
    invalid_json_failure,
    is_retryable_status,
    parse_json_body,
    retryable_status_failure,
)
from servicetitan_pipeline.config import connection_label

logger = logging.getLogger(__name__)

# httpx logs every request at INFO ("HTTP Request: GET ..."): a line per page is noise at INFO,
# and this package logs each request at DEBUG itself (with timing and size). Quieten it unless
# the application configured the "httpx" logger explicitly.
if logging.getLogger("httpx").level == logging.NOTSET:
    logging.getLogger("httpx").setLevel(logging.WARNING)

DEFAULT_LIST_PAGE_SIZE = 5000  # ServiceTitan's practical maximum: fewest requests per record
REPORTING_PREFIX = "/reporting/v2"

T = TypeVar("T")


class ServiceTitanClient:
    """HTTP client of one ServiceTitan connection; thread-safe.

    One pooled ``httpx.Client`` (keep-alive, explicit connect/read timeouts), one cached OAuth
    token with single-flight refresh, one rate limiter and one set of stats are shared by every
    request made through this object, including from background threads (ingestion prefetches
    the next page while it writes the current one).

    Every API request sends ``Authorization: Bearer <token>`` and ``ST-App-Key``; on a 401 the
    token is refreshed once and the request retried. Retries, their caps and error reporting are
    described in :mod:`servicetitan_pipeline.client.transport`.

    Use it as a context manager, or call :meth:`close`.

    Args:
        settings: validated connection settings.
        transport: an ``httpx`` transport to use instead of the network (``httpx.MockTransport``
            in tests).
        sleep: sleep function for retry waits and the rate limiter (injectable for tests).
        clock: monotonic clock for the token cache and rate limiter (injectable for tests).
        rng: ``random.random``-like jitter source.
        retry_policy: overrides the retry caps derived from ``settings``.
        response_limits: overrides what one answer may cost (decoded bytes, seconds), derived
            from ``settings``; an answer that breaks a bound raises ``ResponseLimitError`` and
            is not retried.
        paging_limits: what ends a walk whose paging would never end (``PaginationError``).
        report_limiter: the Reporting API's limit per report (5 a minute by default), on top
            of the tenant's rate limit; shared by every report request of this client.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        transport: httpx.BaseTransport | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        retry_policy: RetryPolicy | None = None,
        response_limits: ResponseLimits | None = None,
        paging_limits: PagingLimits | None = None,
        report_limiter: ReportRateLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.report_limiter = report_limiter or ReportRateLimiter(clock=clock, sleep=sleep)
        self.paging_limits = paging_limits or PagingLimits()
        try:
            self._http = httpx.Client(
                base_url=settings.api_base_url,
                transport=transport,
                timeout=httpx.Timeout(
                    connect=settings.connect_timeout_seconds,
                    read=settings.read_timeout_seconds,
                    write=settings.read_timeout_seconds,
                    pool=settings.read_timeout_seconds,
                ),
                limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
                # Redirects would forward the bearer token to wherever they point; ServiceTitan
                # does not redirect API calls, so a redirect is reported as an error instead.
                follow_redirects=False,
                headers={"User-Agent": "servicetitan-pipeline (httpx)"},
            )
        except httpx.InvalidURL as exc:
            raise EndpointSettingsError(
                f"{connection_label('api_base_url')} is not a usable URL ({exc})",
                setting="api_base_url",
                url=settings.api_base_url,
            ) from None
        self._stats = StatsRecorder()
        # The client ID is not a secret to ServiceTitan, but it is half of the credentials.
        self._scrubber = SecretScrubber((*settings.secrets(), settings.client_id))
        limiter = (
            RateLimiter(settings.rate_limit_per_second, clock=clock, sleep=sleep)
            if settings.rate_limit_per_second
            else None
        )
        self._transport = Transport(
            self._http,
            policy=retry_policy
            or RetryPolicy(
                max_attempts=settings.max_attempts,
                max_total_wait_seconds=settings.max_total_wait_seconds,
            ),
            limits=response_limits
            or ResponseLimits.of_megabytes(
                float(settings.max_response_mb), float(settings.request_deadline_seconds)
            ),
            limiter=limiter,
            stats=self._stats,
            scrubber=self._scrubber,
            sleep=sleep,
            rng=rng,
            clock=clock,
        )
        self._auth = TokenProvider(settings, self._transport, clock=clock)

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"ServiceTitanClient(name={s.name!r}, environment={str(s.environment)!r}, "
            f"tenant_id={s.tenant_id}, api_base_url={s.api_base_url!r})"
        )

    def __enter__(self) -> ServiceTitanClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def with_own_stats(self) -> ServiceTitanClient:
        """A view of this client that counts its own :attr:`stats` (also added to this
        client's) and shares everything else: the connection pool, the token, the rate
        limiter. For work done at the same time on one connection (several entities synced at
        once) whose requests must be counted apart."""
        view = copy.copy(self)
        view._stats = StatsRecorder(forward_to=self._stats)
        view._transport = self._transport.with_stats(view._stats)
        return view

    @property
    def server_date(self) -> datetime | None:
        """The ``Date`` of ServiceTitan's latest answer that had one (token answers included)."""
        return self._transport.server_date

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the counters since creation (thread-safe; subtract two for a delta)."""
        return self._stats.snapshot()

    @property
    def tenant_id(self) -> int:
        """The tenant this client talks to."""
        return int(self.settings.tenant_id)

    def get_token(self) -> str:
        """An access token (cached; fetched if needed). Mostly useful to test the credentials."""
        return self._auth.get_token()

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` (e.g. ``/crm/v2/tenant/1/customers``) and return the parsed JSON body."""
        return self._get(path, params, parse_json_body)[0]

    @overload
    def iter_export(
        self,
        path: str,
        from_token: str | None = None,
        include_recent_changes: bool = False,
        *,
        params: Mapping[str, str] | None = None,
    ) -> Iterator[ExportPage[JsonRecords]]: ...

    @overload
    def iter_export(
        self,
        path: str,
        from_token: str | None = None,
        include_recent_changes: bool = False,
        *,
        params: Mapping[str, str] | None = None,
        decode: PageDecoder[T],
    ) -> Iterator[ExportPage[T]]: ...

    def iter_export(
        self,
        path: str,
        from_token: str | None = None,
        include_recent_changes: bool = False,
        *,
        params: Mapping[str, str] | None = None,
        decode: PageDecoder[object] = decode_json_page,
    ) -> Iterator[ExportPage[object]]:
        """Iterate the pages of an export endpoint, following ``continueFrom`` while ``hasMore``.

        Every page is yielded, empty ones included (an empty page still moves the cursor, and
        ingestion commits the cursor per page). Iteration stops after the first page with
        ``hasMore`` false; its ``continue_from`` is where the next sync starts.

        A walk that would never end raises :class:`PaginationError` after the page that shows
        it: ``hasMore`` without a new ``continueFrom``, a ``continueFrom`` this walk already
        followed (tokens that cycle), or more than ``paging_limits.max_consecutive_empty_pages``
        empty pages in a row.

        Args:
            path: export path, e.g. ``/crm/v2/tenant/1/export/customers``.
            from_token: a ``continueFrom`` token from an earlier sync, a date such as
                ``"2024-01-01"``, or ``None`` to start from the beginning.
            include_recent_changes: ask for recent changes sooner (may repeat records).
            params: query parameters sent with every request of the walk, the first and
                each continuation (e.g. ``active=Any`` for appointment assignments).
            decode: turns each body into the page's ``data`` (default: the parsed records).
        """
        max_empty = self.paging_limits.max_consecutive_empty_pages
        token = from_token
        followed = {token}  # every `from` of this walk: a token seen again means a cycle
        empty_in_a_row = 0
        fixed: dict[str, Any] = dict(params or {})
        while True:
            query = dict(fixed)
            if token is not None:
                query["from"] = token
            if include_recent_changes:
                query["includeRecentChanges"] = "true"
            body, size = self._get_page(path, query, decode)
            has_more, continue_from = body.has_more, body.continue_from
            empty_in_a_row = empty_in_a_row + 1 if body.record_count == 0 else 0
            yield ExportPage(body.data, continue_from, has_more, size, token)
            del body  # a generator frame would keep the page alive until the next one
            if not has_more:
                return
            if not continue_from or continue_from == token:
                # Following the same token again would loop forever on the same page.
                raise _paging_error(path, query, f"without a new continueFrom ({continue_from!r})")
            if continue_from in followed:
                raise _paging_error(
                    path,
                    query,
                    f"with continueFrom {continue_from!r}, a token this walk already followed "
                    f"(the tokens cycle after {len(followed)} pages)",
                )
            if empty_in_a_row > max_empty:
                raise _paging_error(
                    path,
                    query,
                    f"on {empty_in_a_row} empty pages in a row, each with a new continueFrom "
                    f"(the last {continue_from!r}; the limit is {max_empty})",
                )
            followed.add(continue_from)
            token = continue_from

    @overload
    def iter_list(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        page_size: int = DEFAULT_LIST_PAGE_SIZE,
        *,
        start_page: int = 1,
        page_ids: PageIds[JsonRecords] = json_record_ids,
    ) -> Iterator[ListPage[JsonRecords]]: ...

    @overload
    def iter_list(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        page_size: int = DEFAULT_LIST_PAGE_SIZE,
        *,
        start_page: int = 1,
        decode: PageDecoder[T],
        page_ids: PageIds[T] | None = None,
    ) -> Iterator[ListPage[T]]: ...

    def iter_list(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        page_size: int = DEFAULT_LIST_PAGE_SIZE,
        *,
        start_page: int = 1,
        decode: PageDecoder[Any] = decode_json_page,
        page_ids: PageIds[Any] | None = None,
    ) -> Iterator[ListPage[object]]:
        """Iterate the pages of a list endpoint (``page``, ``pageSize``, ``hasMore``).

        List endpoints hide inactive records unless asked: pass the entity's
        ``list_inactive_params`` (``active=Any``, or ``activeState=All`` on invoices and
        payments) in ``params``, with filters such as ``modifiedOnOrAfter``.

        Args:
            path: list path, e.g. ``/jpm/v2/tenant/1/job-types``.
            params: filters; ``page`` and ``pageSize`` are set by the iterator.
            page_size: records per page (5000, ServiceTitan's practical maximum, by default).
            start_page: first page number (1-based).
            decode: turns each body into the page's ``data`` (default: the parsed records).
            page_ids: the ids of a page's ``data`` (for the default decoder: the records'
                ``id``), to recognise a page that repeats an earlier one; ``None``: not checked.

        A walk that would never end raises :class:`PaginationError` after the page that shows
        it: an empty page with ``hasMore``, a page holding the same ids as an earlier page of
        the walk, or more than ``paging_limits.max_list_pages`` pages.
        """
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        if page_ids is None and decode is decode_json_page:
            page_ids = json_record_ids
        max_pages = self.paging_limits.max_list_pages
        # hash of a page's ids -> its page number (a few bytes per page, not the ids).
        pages_by_ids: dict[int, int] = {}
        page = start_page
        while True:
            query = {**(params or {}), "page": page, "pageSize": page_size}
            body, size = self._get_page(path, query, decode)
            has_more, empty = body.has_more, body.record_count == 0
            ids = tuple(page_ids(body.data)) if page_ids is not None and has_more else ()
            yield ListPage(body.data, page, has_more, size, page_size, body.total_count)
            del body  # a generator frame would keep the page alive until the next one
            if not has_more:
                return
            if empty:
                raise _paging_error(path, query, "on an empty page")
            if ids:
                earlier = pages_by_ids.setdefault(hash(ids), page)
                if earlier != page:
                    raise _paging_error(
                        path,
                        query,
                        f"on page {page}, which holds the same {len(ids)} records as page "
                        f"{earlier} (ids {ids[0]!r}..{ids[-1]!r}); ServiceTitan is not "
                        "advancing through the pages",
                    )
            if page - start_page + 1 >= max_pages:
                raise _paging_error(
                    path, query, f"after {max_pages} pages (the limit of one list walk)"
                )
            page += 1

    # -- the Reporting API -------------------------------------------------------------------

    def report_path(self, category: str, report_id: int, *, data: bool = False) -> str:
        """``/reporting/v2/tenant/{tenant}/report-category/{category}/reports/{id}[/data]``."""
        path = (
            f"{REPORTING_PREFIX}/tenant/{self.tenant_id}/report-category/"
            f"{quote(category, safe='')}/reports/{int(report_id)}"
        )
        return f"{path}/data" if data else path

    def get_report_description(self, category: str, report_id: int) -> dict[str, Any]:
        """A report's description: its ``parameters`` and ``fields`` (with their ``dataType``).

        Counted against the report's 5-per-minute limit like its data requests.
        """
        self._wait_for_report(category, report_id)
        body = self.get_json(self.report_path(category, report_id))
        if not isinstance(body, dict) or not isinstance(body.get("fields"), list):
            path = self.report_path(category, report_id)
            raise InvalidResponseError(
                f"ServiceTitan GET {path} answered without a 'fields' list",
                body=self._scrubber.scrub(orjson.dumps(body)[:300].decode("utf-8", "replace")),
                method="GET",
                path=path,
                status=200,
            )
        return body

    def iter_report_data(
        self,
        category: str,
        report_id: int,
        parameters: Sequence[Mapping[str, Any]],
        *,
        page_size: int = 5000,
    ) -> Iterator[ReportDataPage]:
        """Iterate the pages of a report's data (POST ``.../data``) until ``hasMore`` is false.

        Each request waits for the report's own limit (5 a minute; see
        :class:`~servicetitan_pipeline.client.reporting.ReportRateLimiter`) and then the
        tenant's; a 429 is waited out as ``Retry-After`` says.

        Args:
            category: the report category's id (``accounting``, ...).
            report_id: the report's id within the category.
            parameters: ``[{"name": ..., "value": ...}]``, sent as the JSON body of every page.
            page_size: rows per page (the endpoint allows 1..25000).

        Raises:
            PaginationError: an empty page that says ``hasMore``, a page whose fields differ
                from the first page's, or more than ``paging_limits.max_list_pages`` pages.
        """
        if not 1 <= page_size <= 25000:
            raise ValueError(f"page_size must be in 1..25000, got {page_size}")
        path = self.report_path(category, report_id, data=True)
        content = orjson.dumps({"parameters": [dict(p) for p in parameters]})
        fields: tuple[ReportField, ...] | None = None
        page = 1
        while True:
            query = {"page": page, "pageSize": page_size}
            self._wait_for_report(category, report_id)
            result, _size = self._send_page(
                "POST",
                path,
                query,
                functools.partial(decode_report_page, page=page, page_size=page_size),
                content=content,
            )
            if fields is not None and result.fields != fields:
                raise _paging_error(
                    path,
                    query,
                    f"on page {page} with other fields than page 1 "
                    f"({[f.name for f in result.fields]} vs {[f.name for f in fields]}): the "
                    "report changed while it was read",
                    method="POST",
                )
            fields = result.fields
            yield result
            if not result.has_more:
                return
            if not result.rows:
                raise _paging_error(path, query, "on an empty page", method="POST")
            if page >= self.paging_limits.max_list_pages:
                raise _paging_error(
                    path,
                    query,
                    f"after {page} pages (the limit of one walk)",
                    method="POST",
                )
            page += 1

    def _wait_for_report(self, category: str, report_id: int) -> None:
        waited = self.report_limiter.acquire((category, int(report_id)))
        if waited:
            self._stats.add(rate_limit_wait_seconds=waited)
            logger.info(
                "ServiceTitan report %s/%s: waited %.1fs for its limit of %d requests a minute",
                category,
                report_id,
                waited,
                self.report_limiter.requests,
            )

    # -- internals ---------------------------------------------------------------------------

    def _get_page(
        self, path: str, params: Mapping[str, Any], decode: PageDecoder[T]
    ) -> tuple[DecodedBody[T], int]:
        """GET one page and decode it; a body the decoder finds not to be JSON is retried."""
        return self._send_page("GET", path, params, decode)

    def _send_page(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any],
        decode: Callable[[bytes], T],
        *,
        content: bytes | None = None,
    ) -> tuple[T, int]:
        """Send one page request and decode it; a body the decoder finds not JSON is retried.

        Returns the decoded page and the body's size in bytes.
        """

        def decoded(response: httpx.Response) -> T:
            try:
                return decode(response.content)
            except BodyNotJsonError as exc:
                raise invalid_json_failure(response, exc) from None
            except NotAPageError as exc:
                request = describe_request(method, path, params)
                raise InvalidResponseError(
                    f"ServiceTitan {request} answered JSON without a 'data' list",
                    body=self._scrubber.scrub(exc.excerpt),
                    method=method,
                    path=path,
                    query=request.partition("?")[2] or None,
                    status=response.status_code,
                ) from None

        return self._request(method, path, params, decoded, content=content)

    def _get(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        decode: Callable[[httpx.Response], T],
    ) -> tuple[T, int]:
        return self._request("GET", path, params, decode)

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        decode: Callable[[httpx.Response], T],
        *,
        content: bytes | None = None,
    ) -> tuple[T, int]:
        params = dict(params) if params else None
        used: dict[str, Any] = {"token": None, "refreshed": False}

        def headers() -> dict[str, str]:
            used["token"] = token = self._auth.get_token()
            sent = {
                "Authorization": f"Bearer {token}",
                "ST-App-Key": self.settings.app_key,
                "Accept": "application/json",
            }
            if content is not None:
                sent["Content-Type"] = "application/json"
            return sent

        def interpret(response: httpx.Response) -> tuple[T, int]:
            status = response.status_code
            if 200 <= status < 300:
                return decode(response), len(response.content)
            if status == 401 and not used["refreshed"]:
                # The token may have been revoked or expired early: refresh once, then retry.
                used["refreshed"] = True
                self._auth.invalidate(used["token"])
                logger.debug("ServiceTitan answered 401; refreshing the access token once")
                raise RetryNow
            if is_retryable_status(status):
                raise retryable_status_failure(response)
            raise self._error(response, path, params, method=method)

        return self._transport.send(
            method, path, params=params, headers=headers, interpret=interpret, content=content
        )

    def _error(
        self,
        response: httpx.Response,
        path: str,
        params: dict[str, Any] | None,
        *,
        method: str = "GET",
    ) -> ApiError:
        status = response.status_code
        problem = Problem.from_response(response)
        request = describe_request(method, path, params)
        detail = f"HTTP {status}"
        if response.reason_phrase:
            detail += f" {response.reason_phrase}"
        if problem.title:
            detail += f": {problem.title}"
        if problem.trace_id:
            detail += f" (traceId {problem.trace_id})"
        error_type: type[ApiError] = ApiError
        if status == 401:
            error_type = AuthenticationError
            hint = (
                "ServiceTitan refused the access token even after a refresh: check "
                f"{self.settings.credential_label('app_key')} and that the app is connected to "
                f"tenant {self.settings.tenant_id}."
            )
        elif status == 403:
            error_type = PermissionDeniedError
            hint = (
                f"Tenant {self.settings.tenant_id} has not granted this app the API scope this "
                "endpoint needs: add the scope to the app in ServiceTitan's developer portal and "
                "have the tenant re-approve it (Settings > Integrations > API Application Access)."
            )
        elif status == 404:
            hint = (
                f"Check {connection_label('tenant_id')} ({self.settings.tenant_id}) and "
                f"{connection_label('api_base_url')} ({self.settings.api_base_url})."
            )
        elif 300 <= status < 400:
            hint = f"Redirects are not followed (Location: {response.headers.get('location')})."
        else:
            hint = ""
        message = f"ServiceTitan {request} failed: {detail}." + (f" {hint}" if hint else "")
        return error_type(
            self._scrubber.scrub(message),
            method=method,
            path=path,
            query=request.partition("?")[2] or None,
            status=status,
            title=self._scrubber.scrub(problem.title) if problem.title else None,
            trace_id=problem.trace_id,
        )


def _paging_error(
    path: str, params: Mapping[str, Any], why: str, *, method: str = "GET"
) -> PaginationError:
    """The error of a walk that would never end; ``why`` completes "answered hasMore=true ..."."""
    request = describe_request(method, path, params)
    return PaginationError(
        f"ServiceTitan {request} answered hasMore=true {why}; stopping instead of paging "
        "forever (the pages before it are kept). If it happens again, report the request to "
        "ServiceTitan.",
        method=method,
        path=path,
        query=request.partition("?")[2] or None,
        status=200,
    )
