"""The running simulator: generated worlds (:class:`~.world.World`) served over HTTP, with controls.

``Simulator`` ties the parts of one tenant together (the world, ServiceTitan's API rules in
:mod:`.api`, the faults of :mod:`.faults`) and is what tests and the CLI hold: its lifecycle
(bind, start, stop) and its Python controls (``truth``, ``advance``, ``set_faults``,
``expire_tokens``), which :mod:`.control` also serves over HTTP. :class:`SimulatedTenants` is
the HTTP server (:mod:`.http`) of one or more of them on one port, as ServiceTitan serves all
its tenants from one host: :func:`start_simulator` serves one, :func:`start_tenants` several.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import orjson

from ..entities import ENTITIES_BY_NAME
from .api import ServiceTitanApi
from .config import FaultConfig, SimulatorConfig
from .faults import FaultInjector
from .http import HttpServer
from .reporting import ReportingApi
from .routing import TenantRoutes
from .store import EntityStore
from .timefmt import iso
from .world import World
from .world.events import AdvanceSummary


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
        self.api = ServiceTitanApi(self.config, self.world)
        self.reporting = ReportingApi(self.config, self.world)
        self.fault_injector = FaultInjector(self.config.faults)
        # The server serving this tenant (alone, or with others), once bound.
        self._serving: SimulatedTenants | None = None
        # Requests served and faults injected, by kind (best-effort counts across threads).
        self.stats: collections.Counter[str] = collections.Counter()

    # ---------------------------------------------------------------- lifecycle

    def bind(self) -> Simulator:
        """Bind the listening socket (port 0: a free port) without serving yet.

        A tenant already bound (alone or as one of :class:`SimulatedTenants`) stays as it is.
        """
        if self._serving is None:
            SimulatedTenants([self], host=self.config.host, port=self.config.port)
        return self

    def start(self) -> Simulator:
        """Bind (port 0: a free port) and serve from a daemon thread."""
        self.bind()
        assert self._serving is not None
        self._serving.start()
        return self

    def serve_forever(self) -> None:
        """Bind and serve in the calling thread until interrupted (for the CLI)."""
        self.bind()
        assert self._serving is not None
        self._serving.serve_forever()

    def stop(self) -> None:
        """Stop serving, close open keep-alive connections and release the port.

        A tenant of :class:`SimulatedTenants` shares its server: stopping it stops them all.
        """
        if self._serving is not None:
            self._serving.stop()

    def __enter__(self) -> Simulator:
        if self._serving is None or not self._serving.started:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def _thread(self) -> threading.Thread | None:
        """The thread serving this tenant (None when not started or serving in the caller)."""
        return None if self._serving is None else self._serving.thread

    @property
    def port(self) -> int:
        if self._serving is None:
            raise RuntimeError("simulator not started")
        return self._serving.port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: the client's ``api_base_url`` (the shared server's)."""
        if self._serving is None:
            raise RuntimeError("simulator not started")
        return self._serving.base_url

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
        records: list[dict[str, Any]] = orjson.loads(b"[" + b",".join(blobs) + b"]")
        return records

    def advance(self, hours: float = 24) -> AdvanceSummary:
        """Move the simulated clock ``hours`` forward and apply the changes of that period.

        See :meth:`World.advance`; returns its summary.
        """
        summary = self.world.advance(hours)
        self.api.data_changed()
        return summary

    def set_faults(self, faults: FaultConfig) -> None:
        """Inject these faults from now on (``FaultConfig()`` turns them off)."""
        self.fault_injector.configure(faults)

    @property
    def faults(self) -> FaultConfig:
        return self.fault_injector.config

    def expire_tokens(self) -> int:
        """Expire every access token issued so far (as if 15 minutes passed); returns how many."""
        return self.api.expire_tokens()

    @property
    def clock(self) -> str:
        """The simulated "now"."""
        return iso(self.world.now_ms)

    def _store(self, entity: str) -> EntityStore:
        if entity not in ENTITIES_BY_NAME:
            known = ", ".join(ENTITIES_BY_NAME)
            raise KeyError(f"unknown entity {entity!r}; known entities: {known}")
        return self.world.stores[entity]


class SimulatedTenants:
    """One HTTP server, on one port, serving one or more simulated tenants.

    ServiceTitan serves every tenant from the same hosts: the token endpoint tells them apart
    by the client id, the API by the path's ``/tenant/{id}/`` segment (see :mod:`.routing`),
    and the ``/_simulator/`` controls by ``?tenant=<id>`` (the first tenant without it). Each
    tenant keeps its own world, credentials, tokens, faults, stats and clock.

    Binds at construction; :meth:`start` serves from a daemon thread. Use it as a context
    manager (``with start_tenants(configs) as served:``) to stop the server on exit.

    Raises:
        ValueError: no tenant, or two with the same tenant id or client id.
        RuntimeError: a simulator already bound to another server.
    """

    def __init__(self, simulators: Sequence[Simulator], *, host: str, port: int) -> None:
        routes = TenantRoutes(simulators)
        for sim in simulators:
            if sim._serving is not None:
                raise RuntimeError(f"tenant {sim.config.tenant_id} is already being served")
        self.host = host
        # Config order; the first tenant answers what names no tenant.
        self.tenants: dict[int, Simulator] = dict(routes.by_tenant)
        self._httpd: HttpServer | None = HttpServer((host, port), routes)
        self._port = self._httpd.server_address[1]
        self.thread: threading.Thread | None = None
        self.started = False
        for sim in simulators:
            sim._serving = self

    def start(self) -> SimulatedTenants:
        """Serve from a daemon thread (once)."""
        if self.started:
            raise RuntimeError("simulator already started")
        if self._httpd is None:
            raise RuntimeError("simulator stopped")
        self.started = True
        self.thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"servicetitan-simulator:{self.port}",
            daemon=True,
        )
        self.thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (for the CLI)."""
        if self._httpd is None:
            raise RuntimeError("simulator stopped")
        self.started = True
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._release()

    def stop(self) -> None:
        """Stop serving, close open keep-alive connections and release the port."""
        httpd = self._httpd
        if httpd is None:
            return
        if self.started:
            # Only a running loop answers shutdown(); on a server never served it would hang.
            httpd.shutdown()
        self._release()
        if self.thread is not None:
            self.thread.join(timeout=5)
            self.thread = None

    def _release(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.close_all()
            httpd.server_close()
        for sim in self.tenants.values():
            sim._serving = None

    def __enter__(self) -> SimulatedTenants:
        if not self.started:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port every tenant is served on."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: every tenant's ``api_base_url``."""
        return f"http://{self.host}:{self.port}"

    @property
    def auth_url(self) -> str:
        """``base_url + "/connect/token"``: every tenant's ``auth_url``."""
        return self.base_url + "/connect/token"


def start_simulator(config: SimulatorConfig | None = None, **overrides: Any) -> Simulator:
    """Generate the tenant and serve it on ``config.host`` (a free port by default).

    Use it as a context manager: ``with start_simulator(SimulatorConfig(customers=300)) as sim:``
    stops the server on exit. Keyword arguments override fields of ``config``.
    """
    config = config or SimulatorConfig()
    if overrides:
        config = replace(config, **overrides)
    return Simulator(config).start()


def start_tenants(
    configs: Sequence[SimulatorConfig], *, host: str = "127.0.0.1", port: int = 0
) -> SimulatedTenants:
    """Generate a tenant per config and serve them all on ``host:port`` (a free port by default).

    The configs' own ``host`` and ``port`` are not used: the tenants share one server. Their
    tenant ids and client ids must differ; app keys may be shared (one app, many tenants).
    Worlds are generated one after another: a large one already spreads its history over the
    worker processes (``generation_workers``), and small ones take well under a second each.

    Use it as a context manager: ``with start_tenants(demo_tenant_configs(2)) as served:``.
    """
    # Check the table before spending seconds generating worlds that could not be served.
    _check_distinct(configs)
    return SimulatedTenants([Simulator(c) for c in configs], host=host, port=port).start()


def _check_distinct(configs: Sequence[SimulatorConfig]) -> None:
    if not configs:
        raise ValueError("start_tenants needs at least one SimulatorConfig")
    for field in ("tenant_id", "client_id"):
        values = [getattr(c, field) for c in configs]
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(
                f"simulated tenants must have distinct {field}s: {', '.join(repeated)}"
            )
