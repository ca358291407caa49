"""Sending one request: rate limit, retries with capped waits, stats, and clear failures.

What is retried, and how long to wait:

* 429: as ``Retry-After`` says (seconds, or an HTTP date read against the answer's ``Date``);
  without it, the "N seconds" in the RFC 7807 body's ``title`` ("Rate limit exceeded. Try
  again in 3 seconds."); else backoff.
* 408, 5xx (but 501/505, which will not change), connection errors, dropped connections and
  timeouts: ``Retry-After`` if a 503 sends one, else capped exponential backoff with jitter.
* a 2xx whose body is not valid JSON (truncated by a proxy or a dropped connection): backoff.

Attempts and the total wait of one request are capped (``RetryPolicy``); a wait that would break
the cap ends the retries at once instead of sleeping in vain.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
import orjson

from servicetitan_pipeline.client.errors import (
    ApiError,
    InvalidResponseError,
    RetriesExhaustedError,
    describe_request,
)
from servicetitan_pipeline.client.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Transport failures worth another attempt. Excluded on purpose: UnsupportedProtocol, ProxyError,
# invalid URLs (configuration mistakes that no retry fixes).
RETRYABLE_EXCEPTIONS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)
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
    """Thread-safe accumulator behind ``ServiceTitanClient.stats``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {f.name: f.default for f in fields(ClientStats)}

    def add(self, **increments: float) -> None:
        with self._lock:
            for key, inc in increments.items():
                self._values[key] += inc

    def snapshot(self) -> ClientStats:
        with self._lock:
            values = dict(self._values)
        values["total_wait_seconds"] = (
            values["retry_wait_seconds"] + values["rate_limit_wait_seconds"]
        )
        return ClientStats(**values)


class SecretScrubber:
    """Replaces known secret values (client secret, app key, access tokens) in text."""

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

    def scrub(self, text: str) -> str:
        for secret in (*self._fixed, *self._tokens):
            if secret in text:
                text = text.replace(secret, "***")
        return text


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
        limiter: RateLimiter | None,
        stats: StatsRecorder,
        scrubber: SecretScrubber,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.policy = policy
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

    def send(
        self,
        method: str,
        url: str,
        *,
        interpret: Callable[[httpx.Response], T],
        headers: Callable[[], dict[str, str]],
        params: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
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
            path: the path to quote in errors and logs (defaults to ``url``).
            is_token_request: count in ``token_requests`` and skip the rate limiter.
        """
        shown = describe_request(method, path or url, params)
        attempts = 0
        waited = 0.0
        while True:
            request = self.http.build_request(
                method, url, params=params, data=data, headers=headers()
            )
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
                response = self.http.send(request)
            except RETRYABLE_EXCEPTIONS as exc:
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
