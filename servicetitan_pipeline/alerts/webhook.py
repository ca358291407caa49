"""Posting an alert to a webhook (Slack's incoming webhooks, or anything that reads their
``{"text": ...}`` body), with bounded time and retries.

A webhook that is down or slow must never hang the sensor that sends, nor the run behind it:
each attempt has connect/read/write timeouts, attempts stop at :data:`MAX_ATTEMPTS` or when
the overall deadline is spent, and the answer's body is read only up to a few kilobytes. The
URL is a secret for Slack (its path is the token): it is never logged (httpx logs every
request's URL, so that log line is held back while we send) nor put in an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import httpx

from servicetitan_pipeline.alerts.settings import WebhookSettings

MAX_ATTEMPTS: Final = 3
CONNECT_TIMEOUT_SECONDS: Final = 5.0
READ_TIMEOUT_SECONDS: Final = 10.0
# All attempts and the waits between them: well inside Dagster's 60 s for a sensor tick.
DEADLINE_SECONDS: Final = 25.0
RETRY_WAIT_SECONDS: Final = 1.0  # then 2 s
MAX_ANSWER_BYTES: Final = 4096


@dataclass(frozen=True)
class Delivery:
    """How sending one alert to one channel went: ``ok``, the attempts, and what failed
    (``detail`` names the channel's host and the status or error type, never a secret)."""

    channel: str
    ok: bool
    attempts: int
    detail: str


class _HideUrl(logging.Filter):
    """Drops log records that would quote the webhook URL (httpx's "HTTP Request: POST ...")."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            return self._url not in record.getMessage()
        except Exception:
            return False


@contextmanager
def _url_kept_out_of_logs(url: str) -> Iterator[None]:
    hide = _HideUrl(url)
    loggers = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    for logger in loggers:
        logger.addFilter(hide)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(hide)


def _retryable(status: int) -> bool:
    # 429: Slack's rate limit; 5xx: the receiver's trouble. 4xx other than 429 will not pass.
    return status == 429 or status >= 500


def post_webhook(
    settings: WebhookSettings,
    body: dict[str, Any],
    *,
    deadline_seconds: float = DEADLINE_SECONDS,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POST ``body`` as JSON to the webhook; retry 429, 5xx and connection errors.

    Never raises for the receiver's sake and never takes much longer than
    ``deadline_seconds`` in all (each attempt's timeouts are cut to what is left).
    """
    channel = f"webhook ({settings.host})"
    started = time.monotonic()
    attempts = 0
    detail = "not attempted"
    with (
        _url_kept_out_of_logs(settings.url),
        httpx.Client(transport=transport, follow_redirects=False) as client,
    ):
        while attempts < MAX_ATTEMPTS:
            left = deadline_seconds - (time.monotonic() - started)
            if left <= 0.05:
                detail += f"; gave up at the {deadline_seconds:g} s deadline"
                break
            attempts += 1
            timeout = httpx.Timeout(
                min(READ_TIMEOUT_SECONDS, left), connect=min(CONNECT_TIMEOUT_SECONDS, left)
            )
            try:
                status = _post_once(client, settings.url, body, timeout, started + deadline_seconds)
            except httpx.TimeoutException as exc:
                detail, retry = f"timed out ({type(exc).__name__})", True
            except httpx.TransportError as exc:
                detail, retry = f"could not be reached ({type(exc).__name__})", True
            except httpx.HTTPError as exc:
                # Anything else httpx refuses (a malformed answer...): another try won't help.
                detail, retry = f"failed ({type(exc).__name__})", False
            else:
                if 200 <= status < 300:
                    return Delivery(channel, True, attempts, f"HTTP {status}")
                detail, retry = f"answered HTTP {status}", _retryable(status)
            if not retry:
                break
            if attempts < MAX_ATTEMPTS:
                wait = RETRY_WAIT_SECONDS * attempts
                left = deadline_seconds - (time.monotonic() - started)
                if wait >= left:
                    detail += f"; gave up at the {deadline_seconds:g} s deadline"
                    break
                sleep(wait)
    return Delivery(channel, False, attempts, detail)


def _post_once(
    client: httpx.Client,
    url: str,
    body: dict[str, Any],
    timeout: httpx.Timeout,
    deadline: float,
) -> int:
    """One POST; the status. The answer's body says nothing we need: a little of it is read,
    and no more once the deadline has passed (a server trickling it a byte at a time)."""
    with client.stream("POST", url, json=body, timeout=timeout) as response:
        read = 0
        for chunk in response.iter_raw():
            read += len(chunk)
            if read >= MAX_ANSWER_BYTES or time.monotonic() > deadline:
                break
        return response.status_code
