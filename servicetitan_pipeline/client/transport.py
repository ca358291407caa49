"""Sending one request: rate limit, retries with capped waits, stats, and clear failures.

What is retried, and how long to wait:

* 429: as ``Retry-After`` says (seconds, or an HTTP date read against the answer's ``Date``);
  without it, the "N seconds" in the RFC 7807 body's ``title`` ("Rate limit exceeded. Try
  again in 3 seconds."); else backoff.
* 408, 5xx (but 501/505, which will not change), connection errors, dropped connections and
  timeouts: ``Retry-After`` if a 503 sends one, else capped exponential backoff with jitter.
* a 2xx whose body is not valid JSON (truncated by a proxy or a dropped connection), or whose
  gzip/deflate encoding is corrupt or cut short: backoff.

Attempts and the total wait of one request are capped (``RetryPolicy``); a wait that would break
the cap ends the retries at once instead of sleeping in vain.

What is never retried: an answer that broke a bound of ``ResponseLimits`` (a body expanding past
``SERVICETITAN_MAX_RESPONSE_MB``, an attempt outlasting ``SERVICETITAN_REQUEST_DEADLINE_SECONDS``:
the same answer would cost the same again), raised as ``ResponseLimitError`` naming the setting
to raise; and a URL setting that cannot work (a failed TLS handshake, a host name that does not
exist, a malformed URL), raised as ``EndpointSettingsError`` naming the setting.
"""

from __future__ import annotations

import copy
import logging
import random
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
import orjson

from servicetitan_pipeline.client.errors import (
    ApiError,
    EndpointSettingsError,
    InvalidResponseError,
    ResponseLimitError,
    RetriesExhaustedError,
    describe_request,
)
from servicetitan_pipeline.client.ratelimit import RateLimiter
from servicetitan_pipeline.config import (
    DEFAULT_MAX_RESPONSE_MB,
    DEFAULT_REQUEST_DEADLINE_SECONDS,
    connection_label,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Transport failures worth another attempt, unless `endpoint_problem` finds a setting at fault.
# Excluded on purpose: UnsupportedProtocol, ProxyError, invalid URLs (configuration mistakes that
# no retry fixes).
RETRYABLE_EXCEPTIONS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.DecodingError,  # a compressed body that is corrupt or cut short, like invalid JSON
)
# What sending may raise that is not an answer: retried, or an EndpointSettingsError.
_SEND_EXCEPTIONS: tuple[type[Exception], ...] = (
    *RETRYABLE_EXCEPTIONS,
    httpx.UnsupportedProtocol,
    httpx.InvalidURL,
)
MIB = 2**20
_NOT_RETRYABLE_5XX = frozenset({501, 505})
_TITLE_SECONDS = re.compile(r"(\d+(?:\.\d+)?)\s*(?:seconds?|secs?|s)\b", re.IGNORECASE)
_EXCERPT_CHARS = 300


def is_retryable_status(status: int) -> bool:
    """True for statuses that another attempt may cure: 408, 429 and most 5xx."""
    return status in (408, 429) or (status >= 500 and status not in _NOT_RETRYABLE_5XX)


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header (delay seconds or an HTTP date) into seconds >= 0."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = parse_http_date(value)
        if when is None:
            return None
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date (``Date``, ``Retry-After``: ``Sun, 06 Nov 1994 08:49:37 GMT``) as aware UTC.

    ``None`` when absent or unparseable.
    """
    if not value or not value.strip():
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT by definition
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def seconds_from_title(title: str | None) -> float | None:
    """The "N seconds" of a problem title such as "Rate limit exceeded. Try again in 3 seconds."."""
    if not title:
        return None
    match = _TITLE_SECONDS.search(title)
    return float(match.group(1)) if match else None


@dataclass(frozen=True)
class Problem:
    """The parts of an error answer worth quoting (RFC 7807 ``title`` and ``traceId``)."""

    title: str | None
    trace_id: str | None
    error_code: str | None = None  # OAuth's "error" field on the token endpoint

    @classmethod
    def from_response(cls, response: httpx.Response) -> Problem:
        content = response.content
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            title = body.get("title") or body.get("error_description") or body.get("message")
            trace = body.get("traceId") or response.headers.get("traceparent")
            code = body.get("error")
            return cls(
                str(title) if title is not None else None,
                str(trace) if trace is not None else None,
                str(code) if code is not None else None,
            )
        text = content[:_EXCERPT_CHARS].decode("utf-8", "replace").strip()
        return cls(" ".join(text.split()) or None, response.headers.get("traceparent"))


@dataclass(frozen=True)
class RetryPolicy:
    """Caps and backoff of retries.

    Attributes:
        max_attempts: total sends of one request (1 = never retry).
        max_total_wait_seconds: the most one request may wait between its attempts.
        backoff_initial_seconds: first backoff; doubles per retry.
        backoff_max_seconds: cap of one backoff.
    """

    max_attempts: int = 6
    max_total_wait_seconds: float = 300.0
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 60.0

    def backoff(self, retry_number: int, rng: Callable[[], float] = random.random) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random.

        The fixed half keeps a floor under the wait (full jitter can retry almost at once,
        which a struggling server does not need); the random half spreads out threads and
        processes that failed together.
        """
        ceiling = min(
            self.backoff_max_seconds, self.backoff_initial_seconds * 2.0 ** max(0, retry_number - 1)
        )
        return ceiling / 2 + rng() * ceiling / 2


@dataclass(frozen=True)
class ResponseLimits:
    """What one attempt may cost; an answer that breaks a bound is not retried.

    Set by ``SERVICETITAN_MAX_RESPONSE_MB`` and ``SERVICETITAN_REQUEST_DEADLINE_SECONDS``
    (:meth:`of_megabytes`, used by the client for its settings).

    Attributes:
        max_body_bytes: the most a body may hold once decoded (gzip and deflate expanded).
        deadline_seconds: the most one attempt may take, from sending the request to the
            body's last byte (checked as the body arrives, so it ends within one read timeout
            of the deadline).
    """

    max_body_bytes: int = int(DEFAULT_MAX_RESPONSE_MB * MIB)
    deadline_seconds: float = DEFAULT_REQUEST_DEADLINE_SECONDS

    @classmethod
    def of_megabytes(cls, max_response_mb: float, deadline_seconds: float) -> ResponseLimits:
        """A body of at most ``max_response_mb`` MiB (at least a byte), an attempt of at most
        ``deadline_seconds``: the limits of the settings."""
        return cls(
            max_body_bytes=max(1, int(max_response_mb * MIB)), deadline_seconds=deadline_seconds
        )


# Decoded bytes per decompression step: a compressed body expands at most this far past the cap
# before the count stops it. (httpx decodes each network read whole, and 64 KiB of deflate can
# expand to 64 MiB.)
_DECODE_STEP_BYTES = 1 << 20
_ZLIB_WBITS = {
    "gzip": zlib.MAX_WBITS | 16,
    "x-gzip": zlib.MAX_WBITS | 16,
    "deflate": zlib.MAX_WBITS,
}


def decoded_chunks(response: httpx.Response) -> Iterator[bytes]:
    """The body of a streamed ``response``, decoded, in chunks of at most 1 MiB more than read.

    gzip and deflate (what ServiceTitan and proxies send) are decompressed here, a step at a
    time, so that a caller counting the bytes can stop a gzip bomb before it expands; anything
    else (identity, or an encoding of an optional httpx extra) is httpx's own decoding.
    """
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    wbits = _ZLIB_WBITS.get(encoding)
    if wbits is None or response.is_stream_consumed:  # (consumed: an answer made in memory)
        yield from response.iter_bytes()
        return
    decompressor = zlib.decompressobj(wbits)
    started = False
    try:
        for raw in response.iter_raw():
            data = raw
            while data:
                try:
                    chunk = decompressor.decompress(data, _DECODE_STEP_BYTES)
                except zlib.error:
                    if started or encoding != "deflate":
                        raise
                    # "deflate" is often sent raw, without the zlib wrapper (httpx does this too).
                    decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
                    chunk = decompressor.decompress(data, _DECODE_STEP_BYTES)
                started = True
                data = decompressor.unconsumed_tail
                if chunk:
                    yield chunk
        tail = decompressor.flush()
        if not decompressor.eof:
            raise zlib.error(f"the {encoding} body ended before its end of stream")
    except zlib.error as exc:
        raise httpx.DecodingError(str(exc), request=response.request) from exc
    if tail:
        yield tail


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it (httpx wraps httpcore's error, which wraps the socket's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def endpoint_problem(exc: BaseException) -> str | None:
    """Why a failure to send means the URL setting is wrong, or ``None`` if it may pass.

    A TLS handshake that fails on the protocol or the certificate, a host name the resolver
    says does not exist, a malformed URL: no retry changes them. A TLS connection cut during
    the handshake (EOF) and a resolver that is temporarily unavailable (EAI_AGAIN) may pass.
    """
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return f"the URL is not usable ({exc})"
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (
                f"the server's TLS certificate was not accepted ({cause.verify_message}); if a "
                "proxy re-signs TLS, point SSL_CERT_FILE at its CA bundle"
            )
        if isinstance(cause, ssl.SSLError) and not isinstance(
            cause, ssl.SSLEOFError | ssl.SSLZeroReturnError
        ):
            if cause.reason == "WRONG_VERSION_NUMBER":
                return (
                    "the TLS handshake failed: the server does not speak TLS on this port "
                    "(an https:// URL to a plain-HTTP port?)"
                )
            return f"the TLS handshake failed ({cause.reason or cause})"
        if isinstance(cause, socket.gaierror) and cause.errno != socket.EAI_AGAIN:
            return f"the host name could not be resolved ({cause.strerror or cause})"
    return None


@dataclass(frozen=True)
class ClientStats:
    """Counters of one client since it was created (a snapshot; subtract two for a delta).

    Attributes:
        requests: API requests sent (every attempt counts; token requests do not).
        retries: attempts that failed retryably and were tried again (API and token requests).
        total_wait_seconds: retry_wait_seconds + rate_limit_wait_seconds.
        retry_wait_seconds: time slept between attempts.
        rate_limit_wait_seconds: time the client-side rate limiter held requests back.
        token_requests: requests to the OAuth token endpoint.
        bytes_received: body bytes of successful API answers.
    """

    requests: int = 0
    retries: int = 0
    total_wait_seconds: float = 0.0
    retry_wait_seconds: float = 0.0
    rate_limit_wait_seconds: float = 0.0
    token_requests: int = 0
    bytes_received: int = 0

    def __sub__(self, other: ClientStats) -> ClientStats:
        return ClientStats(
            **{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)}
        )


class StatsRecorder:
    """Thread-safe accumulator behind ``ServiceTitanClient.stats``.

    ``forward_to``: a recorder that counts everything this one counts too (a client view's
    counters add up into its client's, see ``ServiceTitanClient.with_own_stats``).
    """

    def __init__(self, forward_to: StatsRecorder | None = None) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {f.name: f.default for f in fields(ClientStats)}
        self._forward_to = forward_to

    def add(self, **increments: float) -> None:
        with self._lock:
            for key, inc in increments.items():
                self._values[key] += inc
        if self._forward_to is not None:
            self._forward_to.add(**increments)

    def snapshot(self) -> ClientStats:
        with self._lock:
            values = dict(self._values)
        values["total_wait_seconds"] = (
            values["retry_wait_seconds"] + values["rate_limit_wait_seconds"]
        )
        return ClientStats(**values)


# OAuth fields whose values are credentials, quoted as JSON: redacted wherever they appear, even
# in a body cut short inside the value (the closing quote is optional).
_CREDENTIAL_FIELDS = re.compile(
    r'("(?:access_token|refresh_token|id_token|client_secret)"\s*:\s*")[^"]*("?)'
)
_ACCESS_TOKEN_VALUE = re.compile(r'"access_token"\s*:\s*"([^"\\]+)')


class SecretScrubber:
    """Replaces credentials in text quoted from answers: the known secret values (client ID and
    secret, app key, every access token seen) and the values of OAuth credential fields."""

    _MAX_TOKENS = 16  # a token lives ~15 minutes: 16 cover hours, memory stays tiny
    # Real secrets, app keys and tokens are dozens of characters; replacing every occurrence of
    # a one- or two-letter test value would garble messages without protecting anything.
    MIN_SECRET_LENGTH = 6

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._fixed = tuple(s for s in secrets if len(s) >= self.MIN_SECRET_LENGTH)
        self._tokens: list[str] = []
        self._lock = threading.Lock()

    def add_token(self, token: str) -> None:
        with self._lock:
            if len(token) >= self.MIN_SECRET_LENGTH and token not in self._tokens:
                self._tokens = [*self._tokens[-(self._MAX_TOKENS - 1) :], token]

    def learn_tokens(self, body: bytes) -> None:
        """Remember the access tokens in a token answer that could not be parsed (e.g. cut
        short): they are valid credentials all the same, and must not be quoted anywhere."""
        text = body.decode("utf-8", "replace")
        for match in _ACCESS_TOKEN_VALUE.finditer(text):
            self.add_token(match.group(1))

    def scrub(self, text: str) -> str:
        for secret in (*self._fixed, *self._tokens):
            if secret in text:
                text = text.replace(secret, "***")
        return _CREDENTIAL_FIELDS.sub(r"\1***\2", text)


class RetryableFailure(Exception):
    """Raised by an ``interpret`` callback: this answer is worth another attempt."""

    def __init__(
        self,
        reason: str,
        *,
        wait_hint: float | None = None,
        status: int | None = None,
        problem: Problem | None = None,
        invalid_body: bytes | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait_hint = wait_hint
        self.status = status
        self.problem = problem
        self.invalid_body = invalid_body


class RetryNow(Exception):
    """Raised by an ``interpret`` callback: send again at once, without counting an attempt
    (used once per request after a 401, with a fresh token)."""


def retryable_status_failure(response: httpx.Response) -> RetryableFailure:
    """A :class:`RetryableFailure` for a 408/429/5xx answer, with the wait it asks for."""
    problem = Problem.from_response(response)
    # A Retry-After date is on the server's clock: measure it from the answer's own Date.
    wait = retry_after_seconds(
        response.headers.get("Retry-After"), now=parse_http_date(response.headers.get("Date"))
    )
    if wait is None and response.status_code == 429:
        wait = seconds_from_title(problem.title)
    return RetryableFailure(
        f"HTTP {response.status_code}", wait_hint=wait, status=response.status_code, problem=problem
    )


def invalid_json_failure(response: httpx.Response, detail: object) -> RetryableFailure:
    """The :class:`RetryableFailure` for a 2xx body that is not valid JSON (e.g. truncated)."""
    return RetryableFailure(
        f"invalid JSON in the answer ({detail})",
        status=response.status_code,
        invalid_body=response.content,
    )


def parse_json_body(response: httpx.Response) -> Any:
    """Parse a 2xx body with orjson; invalid (e.g. truncated) JSON is a retryable failure."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise invalid_json_failure(response, exc) from None


class Transport:
    """Sends requests of one connection through its pooled client, limiter, retries and stats.

    Args:
        http: the connection's pooled ``httpx.Client``.
        policy: retry caps and backoff.
        limits: what one answer may cost (decoded bytes, seconds).
        limiter: shared rate limiter, or ``None`` for no client-side limit.
        stats: the connection's counters.
        scrubber: removes secrets from text quoted in errors.
        sleep: sleep function between attempts (injectable for tests).
        rng: ``random.random``-like source of jitter (injectable for tests).
        clock: monotonic clock, for request durations in DEBUG logs.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        policy: RetryPolicy,
        limits: ResponseLimits | None = None,
        limiter: RateLimiter | None,
        stats: StatsRecorder,
        scrubber: SecretScrubber,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.policy = policy
        self.limits = limits or ResponseLimits()
        self.limiter = limiter
        self.stats = stats
        self.scrubber = scrubber
        self._sleep = sleep
        self._rng = rng
        self._clock = clock
        # The server's "now" (the Date of its latest answer that had one): requests about
        # "today" should use the server's day, not this machine's (a clock set wrong, a time
        # zone around midnight, a simulated tenant living at another date).
        self.server_date: datetime | None = None

    def with_stats(self, stats: StatsRecorder) -> Transport:
        """This transport (same connection pool, retry policy, limits, rate limiter) counting
        into ``stats``."""
        view = copy.copy(self)
        view.stats = stats
        return view

    def send(
        self,
        method: str,
        url: str,
        *,
        interpret: Callable[[httpx.Response], T],
        headers: Callable[[], dict[str, str]],
        params: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        content: bytes | None = None,
        path: str | None = None,
        is_token_request: bool = False,
    ) -> T:
        """Send until ``interpret`` returns, a non-retryable error is raised, or a cap is hit.

        Args:
            method: HTTP method.
            url: path relative to the client's base URL, or an absolute URL.
            interpret: turns an answer into the result; raises :class:`RetryableFailure`,
                :class:`RetryNow` or a final :class:`ApiError`.
            headers: called per attempt, so that a refreshed token is picked up.
            params: query parameters.
            data: form fields (token requests).
            content: a raw body (the Reporting API's JSON requests; headers say its type).
            path: the path to quote in errors and logs (defaults to ``url``).
            is_token_request: count in ``token_requests`` and skip the rate limiter.
        """
        shown = describe_request(method, path or url, params)
        attempts = 0
        waited = 0.0
        while True:
            try:
                request = self.http.build_request(
                    method, url, params=params, data=data, content=content, headers=headers()
                )
            except httpx.InvalidURL as exc:
                raise self._endpoint_error(exc, url, is_token_request) from None
            if self.limiter is not None and not is_token_request:
                limited = self.limiter.acquire()
                if limited:
                    self.stats.add(rate_limit_wait_seconds=limited)
            attempts += 1
            if is_token_request:
                self.stats.add(token_requests=1)
            else:
                self.stats.add(requests=1)
            started = self._clock()
            try:
                response = self.http.send(request, stream=True)
                try:
                    self._read_body(response, started, method, path or url, params)
                finally:
                    response.close()
            except _SEND_EXCEPTIONS as exc:
                if endpoint_problem(exc) is not None:
                    raise self._endpoint_error(exc, url, is_token_request) from None
                failure = RetryableFailure(f"{type(exc).__name__}: {exc}".rstrip(": "))
                logger.debug("%s -> %s after %.3fs", shown, failure.reason, self._elapsed(started))
            else:
                self.server_date = parse_http_date(response.headers.get("Date")) or self.server_date
                logger.debug(
                    "%s -> %s (%d bytes, %.3fs)",
                    shown,
                    response.status_code,
                    len(response.content),
                    self._elapsed(started),
                )
                try:
                    result = interpret(response)
                except RetryableFailure as exc:
                    failure = exc
                except RetryNow:
                    attempts -= 1
                    continue
                else:
                    if not is_token_request:
                        self.stats.add(bytes_received=len(response.content))
                    return result

            wait = failure.wait_hint
            if wait is None:
                wait = self.policy.backoff(attempts, self._rng)
            if attempts >= self.policy.max_attempts:
                raise self._give_up(method, path or url, params, failure, attempts, waited, None)
            if waited + wait > self.policy.max_total_wait_seconds:
                raise self._give_up(method, path or url, params, failure, attempts, waited, wait)
            logger.warning(
                "ServiceTitan %s: %s; retrying in %.1fs (attempt %d of %d)",
                shown,
                self.scrubber.scrub(failure.reason),
                wait,
                attempts + 1,
                self.policy.max_attempts,
            )
            self.stats.add(retries=1, retry_wait_seconds=wait)
            if wait > 0:
                self._sleep(wait)
            waited += wait

    def _elapsed(self, started: float) -> float:
        return self._clock() - started

    def _read_body(
        self,
        response: httpx.Response,
        started: float,
        method: str,
        path: str,
        params: dict[str, Any] | None,
    ) -> None:
        """Read the body within ``self.limits``, or raise :class:`ResponseLimitError`.

        The chunks are decoded as they arrive (:func:`decoded_chunks`), so a gzip bomb is
        stopped at most 1 MiB past the cap; joining them is the one copy that
        ``Response.read`` makes too (none for a body that arrives in one chunk).
        """
        limits = self.limits
        deadline = started + limits.deadline_seconds
        declared = response.headers.get("Content-Length", "")
        too_big = (
            "content-encoding" not in response.headers
            and declared.isdigit()
            and int(declared) > limits.max_body_bytes
        )
        chunks: list[bytes] = []
        size = 0
        if not too_big:
            for chunk in decoded_chunks(response):
                size += len(chunk)
                if size > limits.max_body_bytes:
                    too_big = True
                    break
                if self._clock() > deadline:
                    raise self._limit_error(
                        "deadline",
                        f"took longer than {limits.deadline_seconds:g}s (the per-request "
                        f"deadline; {size} bytes had arrived)",
                        response,
                        method,
                        path,
                        params,
                    )
                chunks.append(chunk)
        if too_big:
            encoding = response.headers.get("Content-Encoding")
            raise self._limit_error(
                "size",
                f"sent a body of more than {limits.max_body_bytes} bytes"
                + (f" once decoded (Content-Encoding: {encoding})" if encoding else ""),
                response,
                method,
                path,
                params,
            )
        # What Response.read() would have stored: the body, for `response.content`.
        response._content = b"".join(chunks)

    def _limit_error(
        self,
        limit: str,
        what: str,
        response: httpx.Response,
        method: str,
        path: str,
        params: dict[str, Any] | None,
    ) -> ResponseLimitError:
        request = describe_request(method, path, params)
        setting = "max_response_mb" if limit == "size" else "request_deadline_seconds"
        really = (
            "ServiceTitan really sends answers that large"
            if limit == "size"
            else "the network to ServiceTitan really is that slow"
        )
        message = (
            f"ServiceTitan {request} {what}; stopped reading and not retrying, as the same "
            f"answer would cost as much again. If {really}, raise {connection_label(setting)}."
        )
        return ResponseLimitError(
            self.scrubber.scrub(message),
            limit=limit,
            method=method,
            path=path,
            query=request.partition("?")[2] or None,
            status=response.status_code,
        )

    def _endpoint_error(
        self, exc: BaseException, url: str, is_token_request: bool
    ) -> EndpointSettingsError:
        setting = "auth_url" if is_token_request else "api_base_url"
        configured = url if is_token_request else str(self.http.base_url).rstrip("/")
        why = endpoint_problem(exc) or f"{type(exc).__name__}: {exc}"
        return EndpointSettingsError(
            self.scrubber.scrub(
                f"ServiceTitan could not be reached at {configured}: {why}. "
                f"Check {connection_label(setting)}."
            ),
            setting=setting,
            url=configured,
        )

    def _give_up(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        failure: RetryableFailure,
        attempts: int,
        waited: float,
        next_wait: float | None,
    ) -> ApiError:
        request = describe_request(method, path, params)
        query = request.partition("?")[2] or None
        problem = failure.problem or Problem(None, None)
        why = (
            f"the next wait of {next_wait:.1f}s would exceed the "
            f"{self.policy.max_total_wait_seconds:.0f}s retry budget"
            if next_wait is not None
            else f"max_attempts={self.policy.max_attempts} reached"
        )
        detail = failure.reason
        if problem.title:
            detail += f": {problem.title}"
        if problem.trace_id:
            detail += f" (traceId {problem.trace_id})"
        common: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": query,
            "status": failure.status,
            "title": self.scrubber.scrub(problem.title) if problem.title else None,
            "trace_id": problem.trace_id,
        }
        if failure.invalid_body is not None:
            body = self.scrubber.scrub(failure.invalid_body.decode("utf-8", "replace"))
            message = (
                f"ServiceTitan {request} kept answering with invalid JSON "
                f"({len(failure.invalid_body)} bytes) after {attempts} attempt(s), "
                f"waited {waited:.1f}s: {detail}"
            )
            return InvalidResponseError(self.scrubber.scrub(message), body=body, **common)
        message = (
            f"ServiceTitan {request} failed: {detail}. Gave up after {attempts} attempt(s) and "
            f"{waited:.1f}s of waiting ({why})."
        )
        return RetriesExhaustedError(
            self.scrubber.scrub(message), attempts=attempts, waited_seconds=waited, **common
        )
