"""Fakes for the client's unit tests: a scripted ServiceTitan behind ``httpx.MockTransport``.

A uniquely named module (not ``conftest``) so that test modules can import it: the test tree
has no ``__init__.py`` files, and pytest puts this folder on ``sys.path``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import orjson

from servicetitan_pipeline.client import ConnectionSettings, RetryPolicy, ServiceTitanClient

# Long, distinctive values so that "does not appear anywhere" is a meaningful assertion.
CLIENT_ID = "cid.test-client-0001"
CLIENT_SECRET = "cs1.VERY-SECRET-client-secret-7f3a9c"
APP_KEY = "ak1.APP-KEY-secret-value-42b8e1"
TOKEN_PREFIX = "eyJ-ACCESS-TOKEN-"
API = "https://api.test.invalid"
AUTH = "https://auth.test.invalid/connect/token"
TENANT = 1234567


def make_settings(**overrides: Any) -> ConnectionSettings:
    values: dict[str, Any] = {
        "name": "acme-hvac",
        "environment": "integration",
        "tenant_id": str(TENANT),
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "app_key": APP_KEY,
        "api_base_url": API,
        "auth_url": AUTH,
        "rate_limit_per_second": None,
    }
    values.update(overrides)
    return ConnectionSettings(**values)


def problem(status: int, title: str, trace_id: str = "trace-0001") -> httpx.Response:
    """An RFC 7807 error answer as ServiceTitan sends them."""
    body = {"type": "https://tools.ietf.org/html/rfc7231", "title": title, "status": status}
    body["traceId"] = trace_id
    return httpx.Response(status, content=orjson.dumps(body))


def ok(body: Any) -> httpx.Response:
    return httpx.Response(200, content=orjson.dumps(body))


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps (or the test says)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeServiceTitan:
    """A scripted ServiceTitan: token endpoint plus an API handler chosen by the test.

    ``api`` receives each API request and returns the response (or raises an httpx error).
    Every request is recorded; the token endpoint issues ``eyJ-ACCESS-TOKEN-1``, ``-2``, ...
    """

    api: Callable[[httpx.Request], httpx.Response] = lambda request: ok({"data": []})
    token: Callable[[httpx.Request], httpx.Response] | None = None
    expires_in: int = 900
    token_delay: threading.Event | None = None  # token answers wait for this when set
    requests: list[httpx.Request] = field(default_factory=list)
    token_requests: list[httpx.Request] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == AUTH:
            with self.lock:
                self.token_requests.append(request)
            if self.token_delay is not None:
                self.token_delay.wait(5)
            if self.token is not None:
                return self.token(request)
            with self.lock:
                token = f"{TOKEN_PREFIX}{len(self.issued) + 1}"
                self.issued.append(token)
            return ok(
                {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}
            )
        with self.lock:
            self.requests.append(request)
        return self.api(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def client(self, settings: ConnectionSettings | None = None, **kw: Any) -> ServiceTitanClient:
        kw.setdefault("rng", lambda: 0.5)
        return ServiceTitanClient(settings or make_settings(), self.transport, **kw)

    def all_secrets(self) -> list[str]:
        return [CLIENT_SECRET, APP_KEY, *self.issued]


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def quick_policy(**kw: Any) -> RetryPolicy:
    values = {"max_attempts": 4, "max_total_wait_seconds": 100.0}
    values.update(kw)
    return RetryPolicy(**values)
