"""A hostile ServiceTitan on 127.0.0.1: the first export page is normal, then it misbehaves.

Its one job: reproduce on real sockets each way the network (or ServiceTitan) can turn against
the pipeline, so that hardening tests meet httpx, the client and the sync engine exactly as a
hostile peer would make them fail -- not as a mock imagines they would.

The server speaks ServiceTitan's shape: a correct OAuth token endpoint (``POST /connect/token``)
and, for every entity of :data:`servicetitan_pipeline.entities.ENTITIES`, its export path
(``/{module}/v2/tenant/{tenant}/export/{resource}``, ``from`` -> ``continueFrom`` while
``hasMore``) and list path (``/{module}/v2/tenant/{tenant}/{resource}``, ``page``/``pageSize``).
An export request without a continuation token gets the normal first page (ids 1-3,
``continueFrom: "t1"``, ``hasMore: true``); what comes after is the route's :class:`Behaviour`.

A test chooses behaviours per route (an entity name, or an exact path) and reads the request log::

    with HostileServer({"customers": CyclingTokens()}) as server:
        ...  # point a client at server.base_url / server.auth_url
        assert len(server.api_requests("/crm/v2/tenant/1234567/export/customers")) < 10

or, in a test, through the ``hostile_server`` fixture (a factory; every server it started is
stopped at teardown)::

    def test_x(hostile_server):
        server = hostile_server({"customers": GzipBomb(size=8 << 30)})

Adding a behaviour is one frozen dataclass with an ``answer(call) -> Reply`` method.

Every loop here is bounded: a streamed body stops after ``stream_limit_seconds`` (60 s by
default) or as soon as the server stops; idle keep-alive connections time out; the server
answers at most ``max_requests`` requests; ``stop()`` waits a bounded time for its threads.
The listener is bound to 127.0.0.1 and nothing else (there is no parameter to change that).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import socketserver
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlsplit

import pytest

from servicetitan_pipeline.entities import ENTITIES, Entity, get_entity

if TYPE_CHECKING:
    from servicetitan_pipeline.client import ConnectionSettings

LOOPBACK = "127.0.0.1"  # the only address this server ever binds

# Long, distinctive credentials, so that "the secret appears nowhere" is a meaningful assertion.
TENANT_ID = 1234567
CLIENT_ID = "cid.hostile-client-0001"
CLIENT_SECRET = "cs1.HOSTILE-client-secret-5d1e9a"
APP_KEY = "ak1.HOSTILE-app-key-77c0f3"
ACCESS_TOKEN = "eyJ-HOSTILE-ACCESS-TOKEN-0001"
TOKEN_PATH = "/connect/token"

FIRST_PAGE_IDS = (1, 2, 3)
FIRST_TOKEN = "t1"
NEXT_PAGE_IDS = (4, 5, 6)

STREAM_LIMIT_SECONDS = 60.0  # a body that would stream forever is cut after this long
MAX_REQUESTS = 10_000  # after this many requests every answer is 410, so a runaway loop ends
IDLE_TIMEOUT_SECONDS = 10.0  # an idle keep-alive connection is closed after this long
STOP_WAIT_SECONDS = 5.0  # stop() waits at most this long for the connection threads
_MAX_REQUEST_BODY = 1 << 20  # a token request is a few hundred bytes; refuse to read more

_BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
_SECRET_HEADERS = frozenset({"authorization", "st-app-key", "cookie"})
_REDACTED = "<redacted>"
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}")

Kind = Literal["token", "export", "list", "other", "tls"]


# -- records and pages ---------------------------------------------------------------------------


def modified_on(record_id: int) -> str:
    """A plausible ``modifiedOn`` for a record: one minute per id after 2024-01-01."""
    return (_BASE_TIME + timedelta(minutes=record_id)).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(record_id: int, **fields: Any) -> dict[str, Any]:
    """A ServiceTitan-shaped record; ``fields`` override or add to the defaults."""
    return {
        "id": record_id,
        "modifiedOn": modified_on(record_id),
        "active": True,
        "name": f"Record {record_id}",
        **fields,
    }


def export_page(data: list[dict[str, Any]], *, continue_from: str | None, has_more: bool) -> bytes:
    """An export answer's body."""
    return json.dumps({"hasMore": has_more, "continueFrom": continue_from, "data": data}).encode()


def list_page(data: list[dict[str, Any]], *, page: int, page_size: int, has_more: bool) -> bytes:
    """A list answer's body."""
    envelope = {"page": page, "pageSize": page_size, "hasMore": has_more, "totalCount": None}
    return json.dumps({**envelope, "data": data}).encode()


def raw_export_page(records: list[bytes], *, continue_from: str | None, has_more: bool) -> bytes:
    """An export body assembled from records already written as JSON bytes.

    For records that no JSON library would write (repeated keys, lone surrogates, depths past
    any recursion limit): they go on the wire byte for byte."""
    head = json.dumps({"hasMore": has_more, "continueFrom": continue_from})[:-1]
    return head.encode() + b', "data": [' + b", ".join(records) + b"]}"


# -- what a behaviour sees and answers -------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request, as a behaviour sees it.

    Attributes:
        kind: ``token``, ``export`` or ``list``.
        path: the URL path.
        query: the query parameters (first value of each).
        form: the form fields of a token request.
        entity: the entity of an API path.
        seen: how many earlier requests of this path reached the same behaviour (from 0).
    """

    kind: Kind
    path: str
    query: Mapping[str, str]
    form: Mapping[str, str]
    entity: Entity | None
    seen: int

    @property
    def from_token(self) -> str | None:
        return self.query.get("from")

    @property
    def is_first_export_page(self) -> bool:
        """No continuation token: a first sync (no ``from``, or a date such as 2024-01-01)."""
        token = self.from_token
        return self.kind == "export" and (not token or bool(_DATE_LIKE.match(token)))

    @property
    def page(self) -> int:
        try:
            return int(self.query.get("page", "1"))
        except ValueError:
            return 1

    @property
    def page_size(self) -> int:
        try:
            return int(self.query.get("pageSize", "50"))
        except ValueError:
            return 50


@dataclass(frozen=True)
class Reply:
    """An answer to write.

    Attributes:
        status: HTTP status.
        body: the body; or a function making it lazily as chunks (sent chunked), so that a huge
            body is never held in memory.
        content_type: ``Content-Type``.
        headers: more headers.
        byte_interval: > 0 sends a ``bytes`` body one byte at a time, this many seconds apart.
    """

    status: int = 200
    body: bytes | Callable[[], Iterator[bytes]] = b""
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    byte_interval: float = 0.0


def json_reply(body: bytes, status: int = 200) -> Reply:
    return Reply(status=status, body=body)


def problem(status: int, title: str) -> Reply:
    """An error answer shaped like ServiceTitan's (RFC 7807 problem details)."""
    body = {"type": "about:blank", "title": title, "status": status, "traceId": "hostile-trace"}
    return Reply(status=status, body=json.dumps(body).encode())


def first_export_page() -> Reply:
    """The normal first export page every behaviour starts from."""
    data = [record(i) for i in FIRST_PAGE_IDS]
    return json_reply(export_page(data, continue_from=FIRST_TOKEN, has_more=True))


def token_reply(form: Mapping[str, str]) -> Reply:
    """A correct OAuth 2.0 client-credentials answer (or the error ServiceTitan would give)."""
    if form.get("grant_type") != "client_credentials":
        return Reply(status=400, body=b'{"error": "unsupported_grant_type"}')
    if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
        return Reply(status=400, body=b'{"error": "invalid_client"}')
    body = {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 900}
    return json_reply(json.dumps(body).encode())


# -- behaviours ----------------------------------------------------------------------------------


class Behaviour:
    """What a route answers after the normal first export page.

    A subclass is a frozen dataclass (declarative, reusable across servers) with ``answer``.
    Per-path state is not kept in the behaviour but passed in as ``call.seen``.
    """

    def serves_first_page(self) -> bool:
        """Whether the behaviour also answers the first export page (normally the server does)."""
        return False

    def answer(self, call: Call) -> Reply:
        raise NotImplementedError


@dataclass(frozen=True)
class Normal(Behaviour):
    """A well-behaved ServiceTitan: after the first page, ids 4-6 and ``hasMore: false``."""

    def answer(self, call: Call) -> Reply:
        if call.kind == "token":
            return token_reply(call.form)
        if call.kind == "list":
            data = [record(i) for i in FIRST_PAGE_IDS] if call.page == 1 else []
            return json_reply(
                list_page(data, page=call.page, page_size=call.page_size, has_more=False)
            )
        data = [record(i) for i in NEXT_PAGE_IDS]
        return json_reply(export_page(data, continue_from="t2", has_more=False))


NORMAL = Normal()


@dataclass(frozen=True)
class CyclingTokens(Behaviour):
    """1. Export tokens that cycle ``t1 -> t2 -> t1``, always with ``hasMore: true``."""

    def answer(self, call: Call) -> Reply:
        if call.kind != "export":
            return NORMAL.answer(call)
        following = "t2" if call.from_token == "t1" else "t1"
        data = [record(i) for i in NEXT_PAGE_IDS]
        return json_reply(export_page(data, continue_from=following, has_more=True))


@dataclass(frozen=True)
class EmptyPages(Behaviour):
    """2. Empty export pages with ``hasMore: true`` and a new token every time (t2, t3, ...)."""

    def answer(self, call: Call) -> Reply:
        if call.kind != "export":
            return NORMAL.answer(call)
        return json_reply(export_page([], continue_from=f"t{call.seen + 2}", has_more=True))


@dataclass(frozen=True)
class SameListPage(Behaviour):
    """3. A list endpoint answering ``hasMore: true`` with the same records (ids 1-3) on every
    page, whatever page is asked for."""

    def answer(self, call: Call) -> Reply:
        if call.kind != "list":
            return NORMAL.answer(call)
        data = [record(i) for i in FIRST_PAGE_IDS]
        return json_reply(list_page(data, page=call.page, page_size=call.page_size, has_more=True))


@dataclass(frozen=True)
class Slowloris(Behaviour):
    """4. The next page's headers at once, then its body one byte per ``byte_interval`` seconds.

    Every read returns within the interval, so a per-read timeout never fires; the server cuts
    the body after ``stream_limit_seconds``. On the ``token`` route the token answer trickles."""

    byte_interval: float = 1.0

    def answer(self, call: Call) -> Reply:
        return replace(NORMAL.answer(call), byte_interval=self.byte_interval)


GIB = 1 << 30


@dataclass(frozen=True)
class GzipBomb(Behaviour):
    """5. The next page as ``Content-Encoding: gzip`` expanding to about ``size`` bytes.

    The compressed stream is made lazily from one pre-compressed unit (flushed so that it
    references nothing before it, hence can be repeated), so the server never holds more than a
    few MiB, and sends a few MiB per GiB expanded. The expansion is a valid page: ``fill``
    ``records`` repeats one record (a parser builds objects for all of them); ``spaces`` pads
    the array with whitespace before its one record."""

    size: int = 4 * GIB
    fill: Literal["records", "spaces"] = "records"

    def answer(self, call: Call) -> Reply:
        if call.kind != "export":
            return NORMAL.answer(call)
        prefix, unit, repeats, suffix = self.parts()

        def chunks() -> Iterator[bytes]:
            return _gzip_stream(prefix, unit, repeats, suffix)

        return Reply(body=chunks, headers=(("Content-Encoding", "gzip"),))

    def parts(self) -> tuple[bytes, bytes, int, bytes]:
        """(prefix, repeated unit, repeat count, suffix) of the expanded body."""
        one = json.dumps(record(NEXT_PAGE_IDS[0])).encode()
        prefix = b'{"hasMore": false, "continueFrom": "t2", "data": ['
        suffix = one + b"]}"
        unit = (
            (one + b", ") * ((1 << 20) // (len(one) + 2))
            if self.fill == "records"
            else b" " * (1 << 20)
        )
        repeats = max(0, (self.size - len(prefix) - len(suffix)) // len(unit))
        return prefix, unit, repeats, suffix

    def expanded_size(self) -> int:
        prefix, unit, repeats, suffix = self.parts()
        return len(prefix) + len(unit) * repeats + len(suffix)


def _gzip_stream(prefix: bytes, unit: bytes, repeats: int, suffix: bytes) -> Iterator[bytes]:
    """A gzip member of ``prefix + unit * repeats + suffix``, made as it is sent.

    The gzip header and trailer are written here (raw deflate inside) because zlib's own
    container would compute the CRC only over what it compressed, not over the repeats."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    # A full flush ends each segment byte-aligned with the history reset: the unit's
    # compressed bytes decode the same wherever they are repeated.
    yield (
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
        + deflate.compress(prefix)
        + deflate.flush(zlib.Z_FULL_FLUSH)
    )
    unit_z = deflate.compress(unit) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    per_chunk = 64  # 64 MiB expanded (a few hundred KB compressed) per write
    for start in range(0, repeats, per_chunk):
        n = min(per_chunk, repeats - start)
        for _ in range(n):
            crc = zlib.crc32(unit, crc)  # computed as sent: only what is read costs CPU
        yield unit_z * n
    crc = zlib.crc32(suffix, crc)
    total = len(prefix) + len(unit) * repeats + len(suffix)
    yield (
        deflate.compress(suffix)
        + deflate.flush(zlib.Z_FINISH)
        + struct.pack("<II", crc, total & 0xFFFFFFFF)
    )


@dataclass(frozen=True)
class TruncatedTokenJson(Behaviour):
    """7. A token endpoint answering 200 with JSON cut short just after the access token.

    A complete HTTP answer (Content-Length matches) whose JSON is not: a lenient parser would
    find the token in it. Set on the server's ``token`` route."""

    def answer(self, call: Call) -> Reply:
        if call.kind != "token":
            return NORMAL.answer(call)
        full = json.dumps({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 900})
        cut = full.index(ACCESS_TOKEN) + len(ACCESS_TOKEN) + 1  # keep the closing quote
        return json_reply(full[:cut].encode())


def nested_object(depth: int) -> bytes:
    """``{"a": {"a": ... 1 ...}}``, ``depth`` objects deep, written without recursion."""
    return b'{"a": ' * depth + b"1" + b"}" * depth


@dataclass(frozen=True)
class PathologicalRecords(Behaviour):
    """8. The next page holds, between valid records 4 and 8: record 5 with a value nested
    ``depths[0]`` deep, record 6 nested ``depths[1]`` deep, record 7 with a lone ``\\ud800``
    escape in its name. ``hasMore: false``."""

    depths: tuple[int, int] = (1_000, 10_000)

    def answer(self, call: Call) -> Reply:
        if call.kind != "export":
            return NORMAL.answer(call)

        def raw(record_id: int, extra: bytes) -> bytes:
            return json.dumps(record(record_id)).encode()[:-1] + b", " + extra + b"}"

        records = [
            json.dumps(record(4)).encode(),
            raw(5, b'"nested": ' + nested_object(self.depths[0])),
            raw(6, b'"nested": ' + nested_object(self.depths[1])),
            raw(7, b'"note": "\\ud800"'),
            json.dumps(record(8)).encode(),
        ]
        return json_reply(raw_export_page(records, continue_from="t2", has_more=False))


NUL_TOKEN = "t2\u0000tail"


@dataclass(frozen=True)
class NulToken(Behaviour):
    """9. The next page's ``continueFrom`` holds a NUL (``"t2\\u0000tail"``), ``hasMore: true``;
    a request from any other token gets ids 7-9 and ``hasMore: false``."""

    def answer(self, call: Call) -> Reply:
        if call.kind != "export":
            return NORMAL.answer(call)
        if call.from_token == FIRST_TOKEN:
            data = [record(i) for i in NEXT_PAGE_IDS]
            return json_reply(export_page(data, continue_from=NUL_TOKEN, has_more=True))
        data = [record(i) for i in (7, 8, 9)]
        return json_reply(export_page(data, continue_from="t3", has_more=False))


FUTURE_MODIFIED_ON = ("9999-12-31T23:59:59Z", "infinity", "epoch", "10000-01-01")
LATER_EDIT = "2024-06-01T12:00:00Z"


@dataclass(frozen=True)
class FutureModifiedOn(Behaviour):
    """10. From ``t1``: ids 4-7 with ``modifiedOn`` in ``values`` (far future or not a date),
    ``continueFrom: "t2"``, ``hasMore: true``; from ``t2``: the same ids with a real later edit
    (``modifiedOn`` 2024-06-01, ``name: "Edited N"``), ``hasMore: false``."""

    values: tuple[str, ...] = FUTURE_MODIFIED_ON

    def answer(self, call: Call) -> Reply:
        if call.kind != "export":
            return NORMAL.answer(call)
        ids = range(4, 4 + len(self.values))
        if call.from_token == FIRST_TOKEN:
            data = [record(i, modifiedOn=v) for i, v in zip(ids, self.values, strict=True)]
            return json_reply(export_page(data, continue_from="t2", has_more=True))
        data = [record(i, modifiedOn=LATER_EDIT, name=f"Edited {i}") for i in ids]
        return json_reply(export_page(data, continue_from="t3", has_more=False))


@dataclass(frozen=True)
class DuplicateKey(Behaviour):
    """11. The next page's first record repeats its key: ``{"id": 4, ..., "id": 5}`` (raw
    bytes), beside a valid record 6. ``hasMore: false``."""

    def answer(self, call: Call) -> Reply:
        if call.kind != "export":
            return NORMAL.answer(call)
        twice = json.dumps(record(4)).encode()[:-1] + b', "id": 5}'
        records = [twice, json.dumps(record(6)).encode()]
        return json_reply(raw_export_page(records, continue_from="t2", has_more=False))


HTML_503 = (
    b"<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head>\n"
    b"<body><h1>Service Unavailable</h1><p>The server is temporarily unable to service "
    b"your request. Please try again later.</p></body></html>\n"
)


@dataclass(frozen=True)
class HtmlErrors(Behaviour):
    """12. ``count`` answers of ``status`` with an HTML body (a proxy's error page), then
    ``then`` (a normal page by default). ``count=None``: errors forever.

    ``from_first_page`` starts the errors on the first export page instead of after it."""

    count: int | None = 3
    status: int = 503
    then: Behaviour = NORMAL
    retry_after: str | None = None
    from_first_page: bool = False

    def serves_first_page(self) -> bool:
        return self.from_first_page

    def answer(self, call: Call) -> Reply:
        if self.count is None or call.seen < self.count:
            headers = (("Retry-After", self.retry_after),) if self.retry_after else ()
            return Reply(
                status=self.status,
                body=HTML_503,
                content_type="text/html; charset=utf-8",
                headers=headers,
            )
        after = replace(call, seen=call.seen - self.count)
        if after.is_first_export_page and not self.then.serves_first_page():
            return first_export_page()
        return self.then.answer(after)


# -- the request log ---------------------------------------------------------------------------


@dataclass
class LoggedRequest:
    """One request as received, without secrets, and how its answer went.

    ``headers`` have lower-case names; the values of Authorization and ST-App-Key are replaced
    by ``<redacted>`` (so a test sees they were sent, not what), and so is ``client_secret`` in
    ``form``. ``time`` is ``time.monotonic()`` when the request arrived.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    time: float
    kind: Kind
    form: dict[str, str] = field(default_factory=dict)
    authorized: bool = False  # the API request carried the server's token and app key
    status: int | None = None
    body_bytes_sent: int = 0  # as written on the wire (compressed, for a gzip answer)
    completed: bool = False  # the whole answer was written (False: cut, or the peer left)


# -- the server ----------------------------------------------------------------------------------


class HostileServer:
    """A ServiceTitan on 127.0.0.1 whose routes misbehave as told.

    Args:
        routes: behaviour per route: an entity name (its export and list paths) or an exact
            path. Unlisted routes get ``default``.
        default: behaviour of unlisted API routes.
        token: behaviour of the token endpoint.
        tenant_id: the tenant the API paths must name (others: 404).
        stream_limit_seconds: a slow or endless body is cut after this long.
        max_requests: after this many requests every answer is 410 Gone.
        require_auth: API requests need the bearer token and the app key (401 otherwise).
    """

    def __init__(
        self,
        routes: Mapping[str, Behaviour] | None = None,
        *,
        default: Behaviour = NORMAL,
        token: Behaviour = NORMAL,
        tenant_id: int = TENANT_ID,
        stream_limit_seconds: float = STREAM_LIMIT_SECONDS,
        max_requests: int = MAX_REQUESTS,
        require_auth: bool = True,
    ) -> None:
        self.routes = dict(routes or {})
        for key in self.routes:
            if not key.startswith("/"):
                get_entity(key)  # a typo in an entity name fails here, not as a silent default
        self.default = default
        self.token = token
        self.tenant_id = tenant_id
        self.stream_limit_seconds = stream_limit_seconds
        self.max_requests = max_requests
        self.require_auth = require_auth
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET
        self.app_key = APP_KEY
        self.access_token = ACCESS_TOKEN
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._log: list[LoggedRequest] = []
        self._seen: dict[str, int] = {}
        self._connections: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._http = _Listener(self)
        self._serve_thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> HostileServer:
        if self._serve_thread is None:
            self._serve_thread = threading.Thread(
                target=self._http.serve_forever, args=(0.05,), daemon=True, name="hostile-server"
            )
            self._serve_thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, cut every connection (streams end at once), wait for the threads."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        if self._serve_thread is not None:
            self._http.shutdown()
        with self._lock:
            connections = list(self._connections)
            threads = list(self._threads)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                conn.shutdown(socket.SHUT_RDWR)
        self._http.server_close()
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        for thread in [*threads, *([self._serve_thread] if self._serve_thread else [])]:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def alive_threads(self) -> int:
        """Connection threads still running (0 soon after ``stop``)."""
        with self._lock:
            return sum(t.is_alive() for t in self._threads)

    # -- addresses

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def auth_url(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def https_base_url(self) -> str:
        """6. ``https://`` to this plain-HTTP port: a TLS mismatch (the server answers a TLS
        ClientHello with a plain-text 400, as a misconfigured proxy would)."""
        return f"https://{LOOPBACK}:{self.port}"

    @property
    def https_auth_url(self) -> str:
        return self.https_base_url + TOKEN_PATH

    def export_path(self, entity: str) -> str:
        return get_entity(entity).export_path(self.tenant_id)

    def list_path(self, entity: str) -> str:
        return get_entity(entity).list_path(self.tenant_id)

    def connection_settings(self, **overrides: Any) -> ConnectionSettings:
        """Settings of a pipeline connection to this server (no rate limit, few retries)."""
        from servicetitan_pipeline.client import ConnectionSettings

        values: dict[str, Any] = {
            "name": "hostile",
            "environment": "integration",
            "tenant_id": str(self.tenant_id),
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "app_key": self.app_key,
            "api_base_url": self.base_url,
            "auth_url": self.auth_url,
            "rate_limit_per_second": None,
            "max_attempts": 3,
            "max_total_wait_seconds": 5.0,
            "connect_timeout_seconds": 5.0,
            "read_timeout_seconds": 5.0,
        }
        values.update(overrides)
        return ConnectionSettings(**values)

    # -- the log

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._log)

    def api_requests(self, path: str | None = None) -> list[LoggedRequest]:
        """The export and list requests so far, optionally of one path."""
        return [
            r
            for r in self.requests
            if r.kind in ("export", "list") and (path is None or r.path == path)
        ]

    def token_requests(self) -> list[LoggedRequest]:
        return [r for r in self.requests if r.kind == "token"]

    # -- internals used by the handler

    def _behaviour(self, path: str, entity: Entity | None, kind: Kind) -> Behaviour:
        if kind == "token":
            return self.token
        if path in self.routes:
            return self.routes[path]
        if entity is not None and entity.name in self.routes:
            return self.routes[entity.name]
        return self.default

    def _next_seen(self, path: str) -> int:
        with self._lock:
            seen = self._seen.get(path, 0)
            self._seen[path] = seen + 1
            return seen

    def _append(self, entry: LoggedRequest) -> int:
        with self._lock:
            self._log.append(entry)
            return len(self._log)

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)


class _Listener(ThreadingHTTPServer):
    """The socket server; one thread per connection, each tracked so that stop can join it."""

    daemon_threads = True
    allow_reuse_address = False  # a free port of our own, never someone else's

    def __init__(self, owner: HostileServer) -> None:
        self.owner = owner
        super().__init__((LOOPBACK, 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look the address up in DNS (getfqdn) for nothing.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = LOOPBACK, int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            daemon=True,
            name="hostile-server-connection",
        )
        with self.owner._lock:
            self.owner._threads = [t for t in self.owner._threads if t.is_alive()]
            self.owner._threads.append(thread)
        thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a peer that hangs up mid-answer is what these tests are about, not an error


class _Handler(BaseHTTPRequestHandler):
    server: _Listener
    protocol_version = "HTTP/1.1"  # keep-alive, as the pipeline's pooled client expects
    timeout = IDLE_TIMEOUT_SECONDS  # idle connections (and stalled peers) end by themselves

    @property
    def owner(self) -> HostileServer:
        return self.server.owner

    def handle(self) -> None:
        conn: socket.socket = self.request
        self.owner._track(conn, add=True)
        try:
            if self._is_tls_hello(conn):
                self._answer_tls()
                return
            super().handle()
        except OSError:
            pass  # the peer left, or stop() cut the connection
        finally:
            self.owner._track(conn, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is the record; stderr noise would only hide test output

    def _is_tls_hello(self, conn: socket.socket) -> bool:
        try:
            first = conn.recv(1, socket.MSG_PEEK)
        except OSError:
            return False
        return first == b"\x16"  # a TLS handshake record

    def _answer_tls(self) -> None:
        # Answer the ClientHello in plain text (instead of waiting for a request line that never
        # comes), so the client fails on the handshake at once rather than on a timeout.
        self.owner._append(
            LoggedRequest("", "", {}, {}, time.monotonic(), "tls", status=400, completed=True)
        )
        body = b"This port speaks plain HTTP.\n"
        head = (
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        self.wfile.write(head.encode() + body)
        self.close_connection = True

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        owner = self.owner
        arrived = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_REQUEST_BODY:
            self.close_connection = True
            self._write(Reply(status=413, body=b'{"error": "too large"}'), None)
            return
        raw_body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        path, query = split.path, parse_qs(split.query, keep_blank_values=True)
        form = {k: v[0] for k, v in parse_qs(raw_body.decode("utf-8", "replace")).items()}
        kind, entity = self._classify(path)
        headers = {
            k.lower(): (_REDACTED if k.lower() in _SECRET_HEADERS else v)
            for k, v in self.headers.items()
        }
        authorized = (
            self.headers.get("Authorization") == f"Bearer {owner.access_token}"
            and self.headers.get("ST-App-Key") == owner.app_key
        )
        entry = LoggedRequest(
            method=self.command,
            path=path,
            query=query,
            headers=headers,
            time=arrived,
            kind=kind,
            form={k: (_REDACTED if k == "client_secret" else v) for k, v in form.items()},
            authorized=authorized,
        )
        number = owner._append(entry)

        if number > owner.max_requests or owner.stopping.is_set():
            # Hang up too: a client looping on one keep-alive connection must end as well.
            self.close_connection = True
            reply = problem(410, f"hostile server: more than {owner.max_requests} requests")
        elif kind == "other":
            reply = problem(404, f"no such ServiceTitan route: {self.command} {path}")
        elif (kind == "token") != (self.command == "POST"):
            reply = problem(405, "method not allowed")
        elif kind != "token" and owner.require_auth and not authorized:
            reply = problem(401, "missing or wrong bearer token / ST-App-Key")
        else:
            query_one = {k: v[0] for k, v in query.items()}
            behaviour = owner._behaviour(path, entity, kind)
            probe = Call(kind, path, query_one, form, entity, seen=0)
            if probe.is_first_export_page and not behaviour.serves_first_page():
                reply = first_export_page()
            else:
                reply = behaviour.answer(replace(probe, seen=owner._next_seen(path)))
        self._write(reply, entry)

    def _classify(self, path: str) -> tuple[Kind, Entity | None]:
        if path == TOKEN_PATH:
            return "token", None
        tenant = self.owner.tenant_id
        for entity in ENTITIES:
            # The entity table's own paths: module prefixes differ (/telecom/v2) and resources
            # may have two segments (jobs/splits).
            if entity.has_export and path == entity.export_path(tenant):
                return "export", entity
            if entity.has_list and path == entity.list_path(tenant):
                return "list", entity
        return "other", None

    # -- writing answers, every loop bounded by the stream limit and by stop()

    def _write(self, reply: Reply, entry: LoggedRequest | None) -> None:
        owner = self.owner
        if entry is not None:
            entry.status = reply.status
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers:
            self.send_header(name, value)
        deadline = time.monotonic() + owner.stream_limit_seconds
        if isinstance(reply.body, bytes):
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if reply.byte_interval <= 0:
                self._send(reply.body, entry)
            else:
                self.wfile.flush()
                for i in range(len(reply.body)):
                    if i and (self._wait(reply.byte_interval, deadline) is False):
                        self.close_connection = True  # cut: the body was promised whole
                        return
                    self._send(reply.body[i : i + 1], entry)
        else:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in reply.body():
                if owner.stopping.is_set() or time.monotonic() > deadline:
                    self.close_connection = True  # no last chunk: the peer sees a cut body
                    return
                if chunk:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode())
                    self._send(chunk, entry)
                    self.wfile.write(b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        if entry is not None:
            entry.completed = True

    def _send(self, data: bytes, entry: LoggedRequest | None) -> None:
        self.wfile.write(data)
        self.wfile.flush()
        if entry is not None:
            entry.body_bytes_sent += len(data)

    def _wait(self, seconds: float, deadline: float) -> bool:
        """Sleep ``seconds``; False if the stream must end first (limit reached, or stopping)."""
        if time.monotonic() + seconds > deadline:
            self.owner.stopping.wait(max(0.0, deadline - time.monotonic()))
            return False
        return not self.owner.stopping.wait(seconds)


# -- the pytest fixture ---------------------------------------------------------------------------


@pytest.fixture
def hostile_server() -> Iterator[Callable[..., HostileServer]]:
    """A factory of started :class:`HostileServer` (same arguments); all stopped at teardown."""
    servers: list[HostileServer] = []

    def start(routes: Mapping[str, Behaviour] | None = None, **options: Any) -> HostileServer:
        server = HostileServer(routes, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
