"""The simulator's HTTP server: a ``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive.

The handler parses requests and writes answers; which simulated tenant answers comes from
:mod:`.routing` (one server may serve several), what they say from :mod:`.api` (the token and
API endpoints), :mod:`.control` (``/_simulator/``) and :mod:`.faults` (body faults are applied
here, on the wire). The ``Date`` header carries the *simulated* clock of the tenant answering,
as a real server's carries its own "now".
"""

from __future__ import annotations

import base64
import email.utils
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

import orjson

from .api import ApiProblem, OAuthProblem, problem_body
from .config import REPORTING_MODULE
from .control import PREFIX as CONTROL_PREFIX
from .control import answer_control, tenants_body
from .routing import TenantRoutes

if TYPE_CHECKING:
    from .server import Simulator

log = logging.getLogger(__name__)
TOKEN_PATH = "/connect/token"
_JSON = "application/json; charset=utf-8"
_NO_STORE = {"Cache-Control": "no-store"}


class HttpServer(ThreadingHTTPServer):
    """The listening server of one or more simulated tenants (``routes``); it tracks open
    connections so that stopping closes them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], routes: TenantRoutes) -> None:
        self.routes = routes
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(host): a reverse DNS lookup that can
        # hang for tens of seconds on machines without a reachable resolver (CI sandboxes,
        # loopback-only networks). The name is only used for the CGI server; skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = port

    @contextmanager
    def tracking(self, conn: socket.socket) -> Iterator[None]:
        with self._connections_lock:
            self._connections.add(conn)
        try:
            yield
        finally:
            with self._connections_lock:
                self._connections.discard(conn)

    def close_all(self) -> None:
        """Shut idle keep-alive connections, so that handler threads end with the server."""
        with self._connections_lock:
            conns = list(self._connections)
        for conn in conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ServiceTitanSimulator/1.0"
    # Idle keep-alive connections are closed after this many seconds.
    timeout = 120
    server: HttpServer
    # The tenant answering the current request (its clock dates the answer); set by routing.
    tenant: Simulator | None = None

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm
        # and delayed ACKs add ~40 ms to every small keep-alive answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        with self.server.tracking(self.connection), suppress(ConnectionError, TimeoutError):
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header: the simulated now (unless a time is given)."""
        if timestamp is None:
            sim = self.tenant or self.server.routes.first
            timestamp = sim.world.now_ms / 1000
        return email.utils.formatdate(timestamp, usegmt=True)

    # ------------------------------------------------------------ plumbing

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = _JSON,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_problem(self, problem: ApiProblem) -> None:
        self._send(
            problem.status,
            problem_body(problem.status, problem.title, problem.errors),
            "application/problem+json; charset=utf-8",
            problem.headers,
        )

    def _drop(self, body: bytes) -> None:
        """Promise the whole body, send half of it, and close the socket."""
        self.send_response(200)
        self.send_header("Content-Type", _JSON)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # ------------------------------------------------------------ verbs

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        routes = self.server.routes
        # Until routing picks a tenant (and for requests it cannot route), the first answers.
        self.tenant = None
        url = urlsplit(self.path)
        body = self._read_body()
        try:
            if url.path == TOKEN_PATH:
                self._token(method, body)
            elif url.path == CONTROL_PREFIX + "tenants" and method == "GET":
                self._send(200, tenants_body(routes.simulators))
            elif url.path.startswith(CONTROL_PREFIX):
                query = dict(parse_qsl(url.query, keep_blank_values=True))
                self.tenant = routes.for_control(query)
                self._send(200, answer_control(self.tenant, method, url.path, body))
            elif routes.first.reporting.handles(url.path):
                self._reporting(method, url.path, url.query, body)
            else:
                self._api(method, url.path, url.query)
        except ApiProblem as problem:
            self._send_problem(problem)
        except Exception:  # pragma: no cover - a bug; answer as an API would
            log.exception("simulator error on %s %s", method, self.path)
            (self.tenant or routes.first).stats["server_errors"] += 1
            self._send_problem(ApiProblem(500, "Internal Server Error"))

    def _token(self, method: str, body: bytes) -> None:
        if method != "POST":
            raise ApiProblem(405, "Method Not Allowed")
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        basic = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                basic = (unquote_plus(user), unquote_plus(password))
            except (ValueError, UnicodeError):
                basic = None
        # Credentials are per tenant: the client id says whose token this is.
        sim = self.tenant = self.server.routes.for_client(
            basic[0] if basic else form.get("client_id")
        )
        if sim.faults.faults_on_token_endpoint and sim.fault_injector.draw(
            sim.stats, sim.world.now_ms / 1000
        ):
            # On the token endpoint a body fault is a dropped connection.
            self._drop(b"{}")
            return
        try:
            answer = sim.api.issue_token(form, basic, sim.faults.token_ttl_seconds)
        except OAuthProblem as exc:
            self._send(400, orjson.dumps({"error": exc.error}), headers=_NO_STORE)
            return
        sim.stats["tokens"] += 1
        self._send(200, orjson.dumps(answer), headers=_NO_STORE)

    def _api(self, method: str, path: str, query_string: str) -> None:
        routes = self.server.routes
        # Every tenant serves the same routes (they come from the entity table).
        route, tenant = routes.first.api.route(path)
        if method != "GET":
            raise ApiProblem(405, "Method Not Allowed")
        sim = self.tenant = routes.authorize(
            tenant, self.headers.get("Authorization"), self.headers.get("ST-App-Key")
        )
        _wait_latency(sim)
        fault = sim.fault_injector.draw(sim.stats, sim.world.now_ms / 1000)
        # ASP.NET binds query parameters case-insensitively; so do we. The last value wins.
        query = {k.lower(): v for k, v in parse_qsl(query_string, keep_blank_values=True)}
        # Body faults are applied to the real answer, computed normally: faults never touch
        # the data or the tokens.
        body = sim.api.answer(route, query)
        sim.stats["pages"] += 1
        self._send_with_fault(fault, body)

    def _reporting(self, method: str, path: str, query_string: str, request: bytes) -> None:
        """The Reporting API: the same token, app key, tenant and fault rules as the others."""
        routes = self.server.routes
        tenant = routes.first.reporting.tenant_of(path)
        sim = self.tenant = routes.authorize(
            tenant, self.headers.get("Authorization"), self.headers.get("ST-App-Key")
        )
        _wait_latency(sim)
        if REPORTING_MODULE in sim.config.denied_modules:
            raise ApiProblem(403, "Forbidden")
        fault = sim.fault_injector.draw(sim.stats, sim.world.now_ms / 1000)
        query = {k.lower(): v for k, v in parse_qsl(query_string, keep_blank_values=True)}
        body = sim.reporting.answer(method, path, query, request)
        sim.stats["report_pages"] += 1
        self._send_with_fault(fault, body)

    def _send_with_fault(self, fault: str | None, body: bytes) -> None:
        """Send the answer, with the body fault drawn for it (if any) applied on the wire."""
        sim = self.tenant or self.server.routes.first
        if fault == "drop":
            sim.stats["fault_drop"] += 1
            self._drop(body)
        elif fault == "truncate":
            sim.stats["fault_truncate"] += 1
            self._send(200, body[: max(1, len(body) // 2)])
        elif fault == "invalid":
            sim.stats["fault_invalid"] += 1
            self._send(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>")
        else:
            self._send(200, body)


def _wait_latency(sim: Simulator) -> None:
    """Sleep the tenant's configured latency (``FaultConfig.latency_seconds``), if any.

    Each request sleeps on its own handler thread, so concurrent requests overlap their waits,
    as they do against the real API.
    """
    latency = sim.faults.latency_seconds
    if latency > 0:
        time.sleep(latency)
