"""Errors raised by the ServiceTitan client.

Every error names what failed (the setting, or the request's method, path and query), the HTTP
status, and ServiceTitan's ``title`` and ``traceId`` when it sent them, so that a failed Dagster
run says what to fix without anyone reading a stack trace. No error ever contains a secret: the
client secret, app key and access tokens never appear in a request line (they travel in headers
and the form body), and response text is scrubbed of them before it is quoted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

# Query parameters that must never be quoted in an error or log line. ServiceTitan's API never
# takes secrets in the query string, but a caller-supplied parameter might (e.g. a proxy token).
_SECRET_PARAM_WORDS = ("secret", "token", "password", "key", "authorization")
# ...except these, which are ServiceTitan's pagination cursors and are needed to resume.
_PUBLIC_PARAMS = frozenset({"from", "continueFrom"})


def describe_request(method: str, path: str, params: Mapping[str, Any] | None = None) -> str:
    """Render ``METHOD /path?query`` for errors and logs, with secret-looking parameters hidden."""
    if not params:
        return f"{method} {path}"
    shown = []
    for key, value in params.items():
        lowered = key.lower()
        if key not in _PUBLIC_PARAMS and any(w in lowered for w in _SECRET_PARAM_WORDS):
            value = "***"
        elif isinstance(value, bool):
            value = "true" if value else "false"
        shown.append((key, value))
    return f"{method} {path}?{urlencode(shown)}"


class ServiceTitanError(Exception):
    """Base class of every error raised by ``servicetitan_pipeline.client``."""


class SettingsError(ServiceTitanError, ValueError):
    """A connection setting is missing or invalid; the message names the setting."""


class ApiError(ServiceTitanError):
    """ServiceTitan answered a request with an error (or could not be reached).

    Attributes:
        method: HTTP method of the failed request.
        path: URL path (without host), e.g. ``/crm/v2/tenant/1/export/customers``.
        query: the query string as sent, with secret-looking parameters hidden.
        status: the HTTP status of the last answer, or ``None`` if there was no answer.
        title: ServiceTitan's RFC 7807 ``title`` (or a short excerpt of a non-JSON body).
        trace_id: ServiceTitan's ``traceId``, for their support.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        query: str | None = None,
        status: int | None = None,
        title: str | None = None,
        trace_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.query = query
        self.status = status
        self.title = title
        self.trace_id = trace_id

    @property
    def request(self) -> str:
        """``METHOD /path?query`` of the failed request (no secrets)."""
        if self.method is None or self.path is None:
            return ""
        return f"{self.method} {self.path}" + (f"?{self.query}" if self.query else "")


class AuthenticationError(ApiError):
    """ServiceTitan refused the OAuth client or the access token."""


class PermissionDeniedError(ApiError):
    """HTTP 403: the tenant has not granted the app the API scope this endpoint needs."""


class RetriesExhaustedError(ApiError):
    """A retryable failure (429, 5xx, connection error, timeout) persisted past the retry caps.

    Attributes:
        attempts: how many times the request was sent.
        waited_seconds: how long the client waited between attempts in total.
    """

    def __init__(self, message: str, *, attempts: int, waited_seconds: float, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.attempts = attempts
        self.waited_seconds = waited_seconds


class InvalidResponseError(ApiError):
    """A successful answer whose body is not the JSON ServiceTitan promises.

    Raised when a body stays invalid (e.g. truncated) JSON after the retries, or when valid JSON
    does not have the expected envelope. ``body`` holds the body text (decoded leniently and
    scrubbed of secrets) so that ingestion can record it in ``raw_servicetitan._rejected``.
    """

    def __init__(self, message: str, *, body: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.body = body


class PaginationError(ApiError):
    """ServiceTitan's paging would never end: ``hasMore`` without a new ``continueFrom``, a
    token already followed in this walk, too many empty pages in a row, a list page repeating an
    earlier page's records, or more list pages than any tenant has. Not retried."""


class ResponseLimitError(ApiError):
    """An answer broke a bound of the client: its decoded body grew past
    ``SERVICETITAN_MAX_RESPONSE_MB``, or it took longer than
    ``SERVICETITAN_REQUEST_DEADLINE_SECONDS`` (see ``transport.ResponseLimits``); the message
    names the setting to raise.

    Not retried, by the client or by the job's retry policy: the same answer would cost the same
    again (a gzip bomb, a body trickling in byte by byte).

    Attributes:
        limit: ``"size"`` or ``"deadline"``.
    """

    def __init__(self, message: str, *, limit: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.limit = limit


class EndpointSettingsError(SettingsError):
    """A URL setting cannot work as configured: the TLS handshake failed (``https://`` to a
    plain-HTTP port, an untrusted certificate), the host name does not exist, or the URL is
    malformed. Not retried: the message names the setting to fix.

    Attributes:
        setting: the connection field, ``api_base_url`` or ``auth_url``.
        url: the URL as configured.
    """

    def __init__(self, message: str, *, setting: str, url: str) -> None:
        super().__init__(message)
        self.setting = setting
        self.url = url
