"""ServiceTitan's API rules: tokens, routing, list paging, export tokens and error bodies.

Routes come from ``entities.ENTITIES`` and the bundled OpenAPI data (``servicetitan_pipeline
.openapi``): each module's URL prefix (``/crm/v2``) plus ``/tenant/{tenant}/{resource}`` for
entities with a list schema and ``/tenant/{tenant}/export/{resource}`` for those with an
export schema; whether a list endpoint filters on ``active`` or ``activeState``, and the values
those take, are the spec's too. Answers are bytes: page bodies are assembled by joining
pre-serialised record bytes, so serving stays far cheaper than consuming.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from .. import openapi
from ..entities import ENTITIES, MODULES, Entity
from .config import MAX_PAGE_SIZE, SimulatorConfig
from .store import LRU, EntityStore, decode_token
from .timefmt import parse_client_datetime
from .world import World

_API_PATH = re.compile(r"^(/.+?)/tenant/([^/]+)/((?:export/)?[a-z0-9-]+(?:/[a-z0-9-]+)?)/?$")
# The token grants every module the simulator serves (a denied module answers 403 instead).
_SCOPE = " ".join(f"tn.{name}" for name in MODULES)
_DATE_BOUNDS = ("modifiedOnOrAfter", "modifiedBefore", "createdOnOrAfter", "createdBefore")

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

ActiveFilter = Literal["true", "false", "any"]
# What each value of the spec's active-status enums selects (ActiveRequestArg on most list
# endpoints, Accounting.Share.ActiveStateFilterType on invoices and payments).
_ACTIVE_MEANING: Mapping[str, ActiveFilter] = {
    "true": "true",
    "false": "false",
    "any": "any",
    "activeonly": "true",
    "inactiveonly": "false",
    "all": "any",
}


class ApiProblem(Exception):
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


class OAuthProblem(Exception):
    """A token request refused with an OAuth 2.0 ``error`` code (answered as 400)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


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


def bad_request(field: str, message: str) -> ApiProblem:
    """A 400 validation problem on one field, as ASP.NET words it."""
    return ApiProblem(400, "One or more validation errors occurred.", {field: [message]})


# The list parameter that makes some endpoints (dispatch teams) include inactive records: a
# boolean rather than an active-status enum.
_INCLUDE_INACTIVE = "includeInactive"


@dataclass(frozen=True)
class Route:
    """An endpoint the simulator serves: the entity, which endpoint, and its filters."""

    entity: Entity
    export: bool
    # The endpoint's active-status parameter ("active", "activeState" or "includeInactive")
    # and the values the spec gives it; None when the endpoint has none (the jobs list).
    active_param: str | None = None
    active_values: tuple[str, ...] = ()
    # What the endpoint returns without the parameter: list endpoints hide inactive records;
    # export endpoints return them all, except where the entity table says the export must
    # be asked for them (appointment assignments' export: active ones only by default).
    active_default: ActiveFilter = "true"
    # The date filters the spec gives the list endpoint (ASP.NET ignores any other query).
    date_bounds: tuple[str, ...] = _DATE_BOUNDS


def _routes() -> dict[tuple[str, str], Route]:
    """``(module prefix, resource path)`` -> route, e.g. ``("/crm/v2", "export/customers")``."""
    routes: dict[tuple[str, str], Route] = {}
    for entity in ENTITIES:
        spec = openapi.module(entity.module)
        if entity.has_list:
            path = _operation_path(spec, entity.resource)
            active_param, values = _active_parameter(spec, path)
            bounds = tuple(b for b in _DATE_BOUNDS if b in spec.operations[path].parameters)
            routes[(spec.path_prefix, entity.resource)] = Route(
                entity, False, active_param, values, "true", bounds
            )
        if entity.has_export:
            path = _operation_path(spec, f"export/{entity.resource}")
            active_param, values = _active_parameter(spec, path)
            hides_inactive = active_param is not None and active_param in entity.export_params
            routes[(spec.path_prefix, f"export/{entity.resource}")] = Route(
                entity, True, active_param, values, "true" if hides_inactive else "any", ()
            )
    return routes


def _active_parameter(spec: openapi.ModuleSpec, path: str) -> tuple[str | None, tuple[str, ...]]:
    """An operation's active-status parameter and its values, as the spec gives them."""
    for name in ("activeState", "active"):
        enum = spec.enum(path, name)
        if enum is not None:
            return name, enum
    if _INCLUDE_INACTIVE in spec.operations[path].parameters:
        return _INCLUDE_INACTIVE, ("true", "false")
    return None, ()


def _operation_path(spec: openapi.ModuleSpec, resource: str) -> str:
    """The spec's path of a resource's GET operation (which must be bundled)."""
    path = f"/tenant/{{tenant}}/{resource}"
    if path not in spec.operations:
        raise KeyError(f"{spec.document} has no bundled operation {path}")
    return path


class ServiceTitanApi:
    """The tenant's API: issues tokens, checks requests and answers list and export pages."""

    def __init__(self, config: SimulatorConfig, world: World) -> None:
        self.config = config
        self.world = world
        self._tokens: dict[str, float] = {}
        self._tokens_lock = threading.Lock()
        # Recent export pages, so that a retried request (after a dropped connection, say) is
        # answered without rebuilding the page. Few: a 5000-invoice page is ~10 MB.
        self._export_cache: LRU[bytes] = LRU(16, max_bytes=48 * 1024 * 1024)
        self._routes = _routes()

    def data_changed(self) -> None:
        """Forget cached pages (the world moved on)."""
        with self.world.tenant.lock:
            self._export_cache.clear()

    # ---------------------------------------------------------------- auth

    def issue_token(
        self, form: Mapping[str, str], basic: tuple[str, str] | None, ttl_seconds: int
    ) -> dict[str, Any]:
        """OAuth 2.0 client credentials: the token answer, or raises :class:`OAuthProblem`."""
        grant_type = form.get("grant_type")
        if grant_type != "client_credentials":
            raise OAuthProblem("unsupported_grant_type" if grant_type else "invalid_request")
        client_id, client_secret = basic or (form.get("client_id"), form.get("client_secret"))
        if not client_id or not client_secret:
            raise OAuthProblem("invalid_request")
        # Compare in constant time, as a real authorisation server would.
        if not (
            secrets.compare_digest(client_id.encode(), self.config.client_id.encode())
            and secrets.compare_digest(client_secret.encode(), self.config.client_secret.encode())
        ):
            raise OAuthProblem("invalid_client")
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._tokens_lock:
            # Forget long-expired tokens so that a long benchmark does not grow the table.
            if len(self._tokens) > 1000:
                self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + ttl_seconds
        return {
            "access_token": token,
            "expires_in": ttl_seconds,
            "token_type": "Bearer",
            "scope": _SCOPE,
        }

    def expire_tokens(self) -> int:
        """Expire every access token issued so far; returns how many."""
        with self._tokens_lock:
            n = len(self._tokens)
            self._tokens.clear()
        return n

    def check_auth(self, authorization: str | None, app_key: str | None) -> None:
        if not authorization or not authorization.startswith("Bearer "):
            raise ApiProblem(401, "Unauthorized: missing bearer token")
        token = authorization[len("Bearer ") :].strip()
        with self._tokens_lock:
            expires = self._tokens.get(token)
        if expires is None:
            raise ApiProblem(401, "Unauthorized: invalid access token")
        if expires <= time.monotonic():
            raise ApiProblem(401, "Unauthorized: access token expired")
        if app_key is None or not secrets.compare_digest(
            app_key.encode(), self.config.app_key.encode()
        ):
            raise ApiProblem(401, "Unauthorized: missing or invalid ST-App-Key header")

    # ---------------------------------------------------------------- routing

    def route(self, path: str) -> tuple[Route, str]:
        """The route of a path and its tenant segment."""
        match = _API_PATH.match(path)
        if match is None:
            raise ApiProblem(404, "Not Found")
        prefix, tenant, resource = match.groups()
        route = self._routes.get((prefix, resource))
        if route is None:
            raise ApiProblem(404, "Not Found")
        return route, tenant

    def check_tenant(self, tenant: str) -> None:
        if not tenant.isdigit():
            raise ApiProblem(
                400,
                "One or more validation errors occurred.",
                {"tenant": [f"The value '{tenant}' is not valid."]},
            )
        if int(tenant) != self.config.tenant_id:
            raise ApiProblem(403, f"Forbidden: this application has no access to tenant {tenant}")

    def answer(self, route: Route, query: Mapping[str, str]) -> bytes:
        """The page a GET answers; ``query`` keys lower-cased (ASP.NET binds them so)."""
        if route.entity.module in self.config.denied_modules:
            # What ServiceTitan answers an app whose scopes leave out the endpoint's module.
            raise ApiProblem(403, "Forbidden")
        store = self.world.stores[route.entity.name]
        if route.export:
            return self._answer_export(store, query, _active_filter(route, query))
        return self._answer_list(route, store, query)

    # ---------------------------------------------------------------- export

    def _answer_export(
        self, store: EntityStore, query: Mapping[str, str], active: ActiveFilter
    ) -> bytes:
        include_recent = _parse_bool(query, "includerecentchanges", False)
        raw_from = query.get("from", "")
        tenant = self.world.tenant
        with tenant.lock:
            if raw_from.strip() == "":
                after = 0
            else:
                try:
                    token_seq = decode_token(store.name, raw_from, self.config.tenant_id)
                except ValueError as exc:
                    raise bad_request("from", str(exc)) from None
                if token_seq is not None:
                    if token_seq > tenant.last_seq:
                        raise bad_request(
                            "from", "The continuation token is not valid for this tenant."
                        )
                    after = token_seq
                else:
                    try:
                        after = store.seq_before_ms(parse_client_datetime(raw_from))
                    except ValueError:
                        raise bad_request(
                            "from",
                            f"The value '{raw_from}' is neither a continuation token nor a date.",
                        ) from None
            key = (store.name, after, include_recent, active, store.version)
            body = self._export_cache.get(key)
            if body is None:
                page = store.export_page(
                    after,
                    self.config.export_page_size,
                    include_recent,
                    self.config.seed,
                    active,
                    self.config.tenant_id,
                )
                head = b'{"hasMore":%s,"continueFrom":"%s","data":[' % (
                    b"true" if page.has_more else b"false",
                    page.continue_from.encode(),
                )
                body = _envelope(head, store.export_parts, page.positions)
                self._export_cache.put(key, body)
        return body

    # ---------------------------------------------------------------- list

    def _answer_list(self, route: Route, store: EntityStore, query: Mapping[str, str]) -> bytes:
        page = _parse_int(query, "page", 1)
        page_size = _parse_int(query, "pagesize", 50)
        if page < 1:
            raise bad_request("page", "The page must be 1 or greater.")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise bad_request("pageSize", f"The page size must be between 1 and {MAX_PAGE_SIZE}.")
        include_total = _parse_bool(query, "includetotal", False)
        active = _active_filter(route, query)
        bounds: dict[str, int | None] = dict.fromkeys(_DATE_BOUNDS)
        for name in route.date_bounds:
            raw = query.get(name.lower())
            if raw is None or raw == "":
                bounds[name] = None
                continue
            try:
                bounds[name] = parse_client_datetime(raw)
            except ValueError:
                raise bad_request(name, f"The value '{raw}' is not valid.") from None
        ids = None
        raw_ids = query.get("ids")
        if raw_ids:
            try:
                ids = frozenset(int(x) for x in raw_ids.split(",") if x.strip())
            except ValueError:
                raise bad_request("ids", f"The value '{raw_ids}' is not valid.") from None
            if len(ids) > 50:
                raise bad_request("ids", "No more than 50 ids can be requested at once.")
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


def _active_filter(route: Route, query: Mapping[str, str]) -> ActiveFilter:
    """``"true"``, ``"false"`` or ``"any"`` from the route's active-status parameter."""
    if route.active_param is None:
        return "any"
    raw = query.get(route.active_param.lower())
    if raw is None or raw == "":
        return route.active_default
    if route.active_param == _INCLUDE_INACTIVE:
        return "any" if _parse_bool(query, _INCLUDE_INACTIVE.lower(), False) else "true"
    if raw.lower() not in {value.lower() for value in route.active_values}:
        values = ", ".join(route.active_values)
        raise bad_request(route.active_param, f"The value '{raw}' is not valid. Values: {values}.")
    return _ACTIVE_MEANING[raw.lower()]


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


def _parse_int(query: Mapping[str, str], key: str, default: int) -> int:
    raw = query.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(key, f"The value '{raw}' is not valid.") from None


def _parse_bool(query: Mapping[str, str], key: str, default: bool) -> bool:
    raw = query.get(key)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise bad_request(key, f"The value '{raw}' is not valid.")
