"""The simulator's HTTP server: ServiceTitan's token, list and export endpoints, plus controls.

Routes are derived from ``entities.ENTITIES``: ``/{module}/v2/tenant/{tenant}/{resource}`` for
entities with a list schema and ``/{module}/v2/tenant/{tenant}/export/{resource}`` for those with
an export schema. Errors are RFC 7807 bodies as ServiceTitan sends them. The server is a
``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive; page bodies are assembled by joining
pre-serialised record bytes, so serving stays far cheaper than consuming.
"""

from __future__ import annotations

import base64
import collections
import email.utils
import logging
import random
import re
import secrets
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

import orjson

from ..entities import ENTITIES, ENTITIES_BY_NAME, Entity
from .config import MAX_PAGE_SIZE, FaultConfig, SimulatorConfig
from .generator import World
from .store import _LRU, EntityStore, decode_token
from .timefmt import iso, parse_client_datetime

log = logging.getLogger(__name__)

_API_PATH = re.compile(r"^/([a-z-]+)/v2/tenant/([^/]+)/(export/)?([a-z0-9-]+)/?$")
# Entities whose list endpoint has no active filter in the spec (and no "active" field).
_LIST_WITHOUT_ACTIVE = frozenset({"jobs"})
_SCOPE = "tn.crm tn.jpm tn.accounting tn.settings tn.marketing"


# RFC 7807 "type" URIs as ASP.NET Core (and so ServiceTitan) sends them.
_PROBLEM_TYPES = {
    400: "https://tools.ietf.org/html/rfc7231#section-6.5.1",
    401: "https://tools.ietf.org/html/rfc7235#section-3.1",
    403: "https://tools.ietf.org/html/rfc7231#section-6.5.3",
    404: "https://tools.ietf.org/html/rfc7231#section-6.5.4",
    405: "https://tools.ietf.org/html/rfc7231#section-6.5.5",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    500: "https://tools.ietf.org/html/rfc7231#section-6.6.1",
    502: "https://tools.ietf.org/html/rfc7231#section-6.6.3",
    503: "https://tools.ietf.org/html/rfc7231#section-6.6.4",
    504: "https://tools.ietf.org/html/rfc7231#section-6.6.5",
}


class ApiError(Exception):
    """An error answer, rendered as an RFC 7807 problem body."""

    def __init__(
        self,
        status: int,
        title: str,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.errors = errors or {}
        self.headers = headers or {}


def problem_body(status: int, title: str, errors: dict[str, list[str]] | None = None) -> bytes:
    """ServiceTitan's error body: ``{type, title, status, traceId, errors, data}``."""
    return orjson.dumps(
        {
            "type": _PROBLEM_TYPES.get(status, f"https://httpstatuses.io/{status}"),
            "title": title,
            "status": status,
            "traceId": secrets.token_hex(16),
            "errors": errors or {},
            "data": {},
        }
    )


class FaultInjector:
    """Decides, per API request, whether and how to misbehave (seeded; thread-safe)."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self._recent: collections.deque[float] = collections.deque()
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._recent.clear()

    def decide(self) -> tuple[str | None, str | None]:
        """Return ``(fault, detail)``: fault is None, "cap", "429", "5xx", "slow", "drop",
        "truncate" or "invalid"; detail is the Retry-After style for 429s or the 5xx code."""
        with self._lock:
            c = self.config
            if c.rate_limit_rps is not None:
                now = time.monotonic()
                while self._recent and now - self._recent[0] >= 1.0:
                    self._recent.popleft()
                if len(self._recent) >= c.rate_limit_rps:
                    return "cap", None
                self._recent.append(now)
            r = self._rng.random()
            threshold = 0.0
            for fault, rate in (
                ("429", c.error_429_rate),
                ("5xx", c.error_5xx_rate),
                ("slow", c.slow_rate),
                ("drop", c.drop_connection_rate),
                ("truncate", c.truncated_json_rate),
                ("invalid", c.invalid_json_rate),
            ):
                threshold += rate
                if r < threshold:
                    if fault == "429":
                        mode = c.retry_after
                        if mode == "mixed":
                            mode = self._rng.choice(("seconds", "http-date", "none"))
                        return fault, mode
                    if fault == "5xx":
                        return fault, str(self._rng.choice((500, 502, 503, 504)))
                    return fault, None
            return None, None


class Simulator:
    """A running (or runnable) simulated ServiceTitan tenant.

    Use :func:`start_simulator` to get one that serves from a background thread. Attributes
    ``base_url`` and ``auth_url`` are what the client needs as ``api_base_url`` and ``auth_url``;
    ``config`` holds the credentials it accepts.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        started = time.perf_counter()
        self.world = World(self.config)
        self.startup_seconds = time.perf_counter() - started
        self._faults = FaultInjector(self.config.faults)
        self._tokens: dict[str, float] = {}
        self._tokens_lock = threading.Lock()
        # Recent export pages, so that a retried request (after a dropped connection, say) is
        # answered without rebuilding the page. Few: a 5000-invoice page is ~10 MB.
        self._export_cache = _LRU(16, max_bytes=48 * 1024 * 1024)
        self._routes: dict[tuple[str, str, bool], Entity] = {}
        for entity in ENTITIES:
            if entity.has_list:
                self._routes[(entity.module, entity.resource, False)] = entity
            if entity.has_export:
                self._routes[(entity.module, entity.resource, True)] = entity
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        # Requests served and faults injected, by kind (best-effort counts across threads).
        self.stats: collections.Counter[str] = collections.Counter()

    # ---------------------------------------------------------------- lifecycle

    def bind(self) -> Simulator:
        """Bind the listening socket (port 0: a free port) without serving yet."""
        if self._httpd is None:
            self._httpd = _Server((self.config.host, self.config.port), _Handler)
            self._httpd.simulator = self
        return self

    def start(self) -> Simulator:
        """Bind (port 0: a free port) and serve from a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self.bind()
        assert self._httpd is not None
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"servicetitan-simulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Bind and serve in the calling thread until interrupted (for the CLI)."""
        self.bind()
        assert self._httpd is not None
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._httpd.close_all()
            self._httpd.server_close()

    def stop(self) -> None:
        """Stop serving, close open keep-alive connections and release the port."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_all()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Simulator:
        if self._httpd is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("simulator not started")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: the client's ``api_base_url``."""
        return f"http://{self.config.host}:{self.port}"

    @property
    def auth_url(self) -> str:
        """``base_url + "/connect/token"``: the client's ``auth_url``."""
        return self.base_url + "/connect/token"

    # ---------------------------------------------------------------- controls

    def truth(self, entity: str) -> list[dict[str, Any]]:
        """All current records of ``entity`` (inactive included), in the export shape, by id.

        For entities without an export endpoint (job types, campaigns) the list shape.
        """
        store = self._store(entity)
        with self.world.tenant.lock:
            render = store.render_export if store.entity.has_export else store.render_list
            blobs = [render(pos) for pos in range(len(store))]
        return orjson.loads(b"[" + b",".join(blobs) + b"]")

    def advance(self, hours: float = 24) -> dict[str, Any]:
        """Move the simulated clock ``hours`` forward and apply the changes of that period.

        See :meth:`World.advance`; returns its summary.
        """
        summary = self.world.advance(hours)
        with self.world.tenant.lock:
            self._export_cache.clear()
        return summary

    def set_faults(self, faults: FaultConfig) -> None:
        """Inject these faults from now on (``FaultConfig()`` turns them off)."""
        self._faults.configure(faults)

    @property
    def faults(self) -> FaultConfig:
        return self._faults.config

    def expire_tokens(self) -> int:
        """Expire every access token issued so far (as if 15 minutes passed); returns how many."""
        with self._tokens_lock:
            n = len(self._tokens)
            self._tokens.clear()
        return n

    @property
    def clock(self) -> str:
        """The simulated "now"."""
        return iso(self.world.now_ms)

    def _store(self, entity: str) -> EntityStore:
        if entity not in ENTITIES_BY_NAME:
            known = ", ".join(ENTITIES_BY_NAME)
            raise KeyError(f"unknown entity {entity!r}; known entities: {known}")
        return self.world.stores[entity]

    # ---------------------------------------------------------------- auth

    def issue_token(self, form: dict[str, str], basic: tuple[str, str] | None) -> dict[str, Any]:
        """OAuth 2.0 client credentials: the token answer, or raises ``_OAuthError``."""
        if form.get("grant_type") != "client_credentials":
            raise _OAuthError(
                "unsupported_grant_type" if form.get("grant_type") else "invalid_request"
            )
        client_id, client_secret = basic or (form.get("client_id"), form.get("client_secret"))
        if not client_id or not client_secret:
            raise _OAuthError("invalid_request")
        # Compare in constant time, as a real authorisation server would.
        if not (
            secrets.compare_digest(client_id.encode(), self.config.client_id.encode())
            and secrets.compare_digest(client_secret.encode(), self.config.client_secret.encode())
        ):
            raise _OAuthError("invalid_client")
        ttl = self._faults.config.token_ttl_seconds
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._tokens_lock:
            # Forget long-expired tokens so that a long benchmark does not grow the table.
            if len(self._tokens) > 1000:
                self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + ttl
        self.stats["tokens"] += 1
        return {"access_token": token, "expires_in": ttl, "token_type": "Bearer", "scope": _SCOPE}

    def check_auth(self, authorization: str | None, app_key: str | None) -> None:
        if not authorization or not authorization.startswith("Bearer "):
            raise ApiError(401, "Unauthorized: missing bearer token")
        token = authorization[len("Bearer ") :].strip()
        with self._tokens_lock:
            expires = self._tokens.get(token)
        if expires is None:
            raise ApiError(401, "Unauthorized: invalid access token")
        if expires <= time.monotonic():
            raise ApiError(401, "Unauthorized: access token expired")
        if app_key is None or not secrets.compare_digest(
            app_key.encode(), self.config.app_key.encode()
        ):
            raise ApiError(401, "Unauthorized: missing or invalid ST-App-Key header")

    # ---------------------------------------------------------------- API

    def route(self, path: str) -> tuple[Entity, bool, str]:
        """The entity, whether it is the export endpoint, and the tenant segment of a path."""
        match = _API_PATH.match(path)
        if match is None:
            raise ApiError(404, "Not Found")
        module, tenant, export, resource = match.groups()
        entity = self._routes.get((module, resource, bool(export)))
        if entity is None:
            raise ApiError(404, "Not Found")
        return entity, bool(export), tenant

    def check_tenant(self, tenant: str) -> None:
        if not tenant.isdigit():
            raise ApiError(
                400,
                "One or more validation errors occurred.",
                {"tenant": [f"The value '{tenant}' is not valid."]},
            )
        if int(tenant) != self.config.tenant_id:
            raise ApiError(403, f"Forbidden: this application has no access to tenant {tenant}")

    def answer_api(self, entity: Entity, export: bool, query: dict[str, str]) -> bytes:
        store = self.world.stores[entity.name]
        if export:
            return self._answer_export(store, query)
        return self._answer_list(store, query)

    def _answer_export(self, store: EntityStore, query: dict[str, str]) -> bytes:
        include_recent = _parse_bool(query, "includerecentchanges", False)
        raw_from = query.get("from", "")
        tenant = self.world.tenant
        with tenant.lock:
            if raw_from.strip() == "":
                after = 0
            else:
                try:
                    token_seq = decode_token(store.name, raw_from)
                except ValueError as exc:
                    raise _bad("from", str(exc)) from None
                if token_seq is not None:
                    if token_seq > tenant.last_seq:
                        raise _bad("from", "The continuation token is not valid for this tenant.")
                    after = token_seq
                else:
                    try:
                        after = store.seq_before_ms(parse_client_datetime(raw_from))
                    except ValueError:
                        raise _bad(
                            "from",
                            f"The value '{raw_from}' is neither a continuation token nor a date.",
                        ) from None
            key = (store.name, after, include_recent, store.version)
            body = self._export_cache.get(key)
            if body is None:
                page = store.export_page(
                    after, self.config.export_page_size, include_recent, self.config.seed
                )
                head = b'{"hasMore":%s,"continueFrom":"%s","data":[' % (
                    b"true" if page.has_more else b"false",
                    page.continue_from.encode(),
                )
                body = _envelope(head, store.export_parts, page.positions)
                self._export_cache.put(key, body)
        return body

    def _answer_list(self, store: EntityStore, query: dict[str, str]) -> bytes:
        page = _parse_int(query, "page", 1)
        page_size = _parse_int(query, "pagesize", 50)
        if page < 1:
            raise _bad("page", "The page must be 1 or greater.")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise _bad("pageSize", f"The page size must be between 1 and {MAX_PAGE_SIZE}.")
        include_total = _parse_bool(query, "includetotal", False)
        active = self._active_filter(store.entity, query)
        bounds = {}
        for name in ("modifiedOnOrAfter", "modifiedBefore", "createdOnOrAfter", "createdBefore"):
            raw = query.get(name.lower())
            if raw is None or raw == "":
                bounds[name] = None
                continue
            try:
                bounds[name] = parse_client_datetime(raw)
            except ValueError:
                raise _bad(name, f"The value '{raw}' is not valid.") from None
        ids = None
        if query.get("ids"):
            try:
                ids = frozenset(int(x) for x in query["ids"].split(",") if x.strip())
            except ValueError:
                raise _bad("ids", f"The value '{query['ids']}' is not valid.") from None
            if len(ids) > 50:
                raise _bad("ids", "No more than 50 ids can be requested at once.")
        with self.world.tenant.lock:
            positions = store.list_positions(
                active,
                bounds["modifiedOnOrAfter"],
                bounds["modifiedBefore"],
                bounds["createdOnOrAfter"],
                bounds["createdBefore"],
                ids,
            )
            start = (page - 1) * page_size
            chunk = positions[start : start + page_size]
            has_more = start + page_size < len(positions)
            total = b"%d" % len(positions) if include_total else b"null"
            head = b'{"page":%d,"pageSize":%d,"hasMore":%s,"totalCount":%s,"data":[' % (
                page,
                page_size,
                b"true" if has_more else b"false",
                total,
            )
            return _envelope(head, store.list_parts, chunk)

    @staticmethod
    def _active_filter(entity: Entity, query: dict[str, str]) -> str:
        """``"true"``, ``"false"`` or ``"any"`` from ``active`` / ``activeState``."""
        if entity.name in _LIST_WITHOUT_ACTIVE:
            return "any"
        if "activeState" in entity.list_inactive_params:
            raw = query.get("activestate")
            if raw is None or raw == "":
                return "true"
            mapping = {"activeonly": "true", "inactiveonly": "false", "all": "any"}
            if raw.lower() not in mapping:
                raise _bad(
                    "activeState",
                    f"The value '{raw}' is not valid. Values: ActiveOnly, InactiveOnly, All.",
                )
            return mapping[raw.lower()]
        raw = query.get("active")
        if raw is None or raw == "":
            return "true"
        mapping = {"true": "true", "false": "false", "any": "any"}
        if raw.lower() not in mapping:
            raise _bad("active", f"The value '{raw}' is not valid. Values: True, Any, False.")
        return mapping[raw.lower()]


def _envelope(
    head: bytes,
    parts_of: Callable[[int, list[bytes | memoryview]], None],
    positions: Iterable[int],
) -> bytes:
    """``head`` + the records at ``positions``, comma-separated, + ``]}``: one page buffer.

    ``parts_of(pos, out)`` appends a record's pieces (bytes or memoryviews of stored bytes);
    the single ``b"".join`` is the only copy of the (multi-MB) page.
    """
    out: list[bytes | memoryview] = [head]
    first = True
    for pos in positions:
        if not first:
            out.append(b",")
        parts_of(pos, out)
        first = False
    out.append(b"]}")
    return b"".join(out)


class _OAuthError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _bad(field: str, message: str) -> ApiError:
    return ApiError(400, "One or more validation errors occurred.", {field: [message]})


def _parse_int(query: dict[str, str], key: str, default: int) -> int:
    raw = query.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _bad(key, f"The value '{raw}' is not valid.") from None


def _parse_bool(query: dict[str, str], key: str, default: bool) -> bool:
    raw = query.get(key)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise _bad(key, f"The value '{raw}' is not valid.")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    simulator: Simulator

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ServiceTitanSimulator/1.0"
    # Idle keep-alive connections are closed after this many seconds.
    timeout = 120
    server: _Server

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

    # ------------------------------------------------------------ plumbing

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_problem(self, error: ApiError) -> None:
        self._send(
            error.status,
            problem_body(error.status, error.title, error.errors),
            "application/problem+json; charset=utf-8",
            error.headers,
        )

    def _drop(self, body: bytes) -> None:
        """Promise the whole body, send half of it, and close the socket."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
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
        sim = self.server.simulator
        url = urlsplit(self.path)
        body = self._read_body()
        try:
            if url.path == "/connect/token":
                self._token(method, body)
            elif url.path.startswith("/_simulator/"):
                self._control(method, url.path, body)
            else:
                self._api(method, url.path, url.query)
        except ApiError as error:
            self._send_problem(error)
        except Exception:  # pragma: no cover - a bug; answer as an API would
            log.exception("simulator error on %s %s", method, self.path)
            sim.stats["server_errors"] += 1
            self._send_problem(ApiError(500, "Internal Server Error"))

    def _token(self, method: str, body: bytes) -> None:
        sim = self.server.simulator
        if method != "POST":
            raise ApiError(405, "Method Not Allowed")
        if sim.faults.faults_on_token_endpoint and self._inject_fault(body_for_drop=b"{}"):
            return
        form = {k: v for k, v in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)}
        basic = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                basic = (unquote_plus(user), unquote_plus(password))
            except (ValueError, UnicodeError):
                basic = None
        try:
            answer = sim.issue_token(form, basic)
        except _OAuthError as exc:
            self._send(
                400, orjson.dumps({"error": exc.error}), headers={"Cache-Control": "no-store"}
            )
            return
        self._send(200, orjson.dumps(answer), headers={"Cache-Control": "no-store"})

    def _api(self, method: str, path: str, query_string: str) -> None:
        sim = self.server.simulator
        entity, export, tenant = sim.route(path)
        if method != "GET":
            raise ApiError(405, "Method Not Allowed")
        sim.check_auth(self.headers.get("Authorization"), self.headers.get("ST-App-Key"))
        sim.check_tenant(tenant)
        if self._inject_fault(body_for_drop=None):
            return
        # ASP.NET binds query parameters case-insensitively; so do we. The last value wins.
        query = {k.lower(): v for k, v in parse_qsl(query_string, keep_blank_values=True)}
        body = sim.answer_api(entity, export, query)
        sim.stats["pages"] += 1
        fault = getattr(self, "_pending_body_fault", None)
        self._pending_body_fault = None
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

    def _inject_fault(self, body_for_drop: bytes | None) -> bool:
        """Answer with a fault if one is drawn; returns True when the request is answered.

        Body faults (drop, truncate, invalid) are remembered and applied to the real answer,
        which is computed normally: faults never touch the data or the tokens.
        """
        sim = self.server.simulator
        fault, detail = sim._faults.decide()
        self._pending_body_fault = None
        if fault is None:
            return False
        config = sim.faults
        if fault == "cap":
            sim.stats["fault_rate_cap"] += 1
            raise ApiError(
                429,
                "Rate limit is exceeded. Try again in 1 seconds.",
                headers={"Retry-After": "1"},
            )
        if fault == "429":
            sim.stats["fault_429"] += 1
            seconds = config.retry_after_seconds
            headers = {}
            if detail == "seconds":
                headers["Retry-After"] = str(seconds)
            elif detail == "http-date":
                headers["Retry-After"] = email.utils.formatdate(time.time() + seconds, usegmt=True)
            raise ApiError(
                429, f"Rate limit is exceeded. Try again in {seconds} seconds.", headers=headers
            )
        if fault == "5xx":
            sim.stats["fault_5xx"] += 1
            status = int(detail or 500)
            raise ApiError(status, HTTPStatus(status).phrase)
        if fault == "slow":
            sim.stats["fault_slow"] += 1
            time.sleep(config.slow_seconds)
            return False
        if body_for_drop is not None:
            # On the token endpoint a body fault is a dropped connection.
            self._drop(body_for_drop)
            return True
        self._pending_body_fault = fault
        return False

    def _control(self, method: str, path: str, body: bytes) -> None:
        sim = self.server.simulator
        parts = path.strip("/").split("/")
        try:
            payload = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            raise ApiError(400, "The request body is not valid JSON.") from None
        if parts == ["_simulator", "advance"] and method == "POST":
            hours = payload.get("hours", 24) if isinstance(payload, dict) else None
            if not isinstance(hours, int | float) or isinstance(hours, bool) or hours < 0:
                raise _bad("hours", "hours must be a non-negative number.")
            self._send(200, orjson.dumps(sim.advance(hours)))
        elif parts[:2] == ["_simulator", "truth"] and len(parts) == 3 and method == "GET":
            try:
                records = sim.truth(parts[2])
            except KeyError as exc:
                raise ApiError(404, str(exc.args[0])) from None
            self._send(200, orjson.dumps(records))
        elif parts == ["_simulator", "faults"] and method == "POST":
            if not isinstance(payload, dict):
                raise ApiError(400, "The faults body must be a JSON object.")
            try:
                faults = FaultConfig.from_dict(payload)
            except (TypeError, ValueError) as exc:
                raise ApiError(400, str(exc)) from None
            sim.set_faults(faults)
            self._send(200, orjson.dumps(faults.to_dict()))
        elif parts == ["_simulator", "faults"] and method == "GET":
            self._send(200, orjson.dumps(sim.faults.to_dict()))
        elif parts == ["_simulator", "expire-tokens"] and method == "POST":
            self._send(200, orjson.dumps({"expired": sim.expire_tokens()}))
        elif parts == ["_simulator", "status"] and method == "GET":
            self._send(
                200,
                orjson.dumps(
                    {
                        "tenantId": sim.config.tenant_id,
                        "clock": sim.clock,
                        "records": {n: len(s) for n, s in sim.world.stores.items()},
                        "stats": dict(sim.stats),
                    }
                ),
            )
        else:
            raise ApiError(404, "Not Found")


def start_simulator(config: SimulatorConfig | None = None, **overrides: Any) -> Simulator:
    """Generate the tenant and serve it on ``config.host`` (a free port by default).

    Use it as a context manager: ``with start_simulator(SimulatorConfig(customers=300)) as sim:``
    stops the server on exit. Keyword arguments override fields of ``config``.
    """
    config = config or SimulatorConfig()
    if overrides:
        config = replace(config, **overrides)
    return Simulator(config).start()
