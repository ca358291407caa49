"""The running simulator: a generated :class:`~.world.World` served over HTTP, with controls.

``Simulator`` ties the parts together (the world, ServiceTitan's API rules in :mod:`.api`, the
faults of :mod:`.faults`, the HTTP server of :mod:`.http`) and is what tests and the CLI hold:
its lifecycle (bind, start, stop) and its Python controls (``truth``, ``advance``,
``set_faults``, ``expire_tokens``), which :mod:`.control` also serves over HTTP.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import replace
from typing import Any

import orjson

from ..entities import ENTITIES_BY_NAME
from .api import ServiceTitanApi
from .config import FaultConfig, SimulatorConfig
from .faults import FaultInjector
from .http import HttpServer
from .reporting import ReportingApi
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
        self._httpd: HttpServer | None = None
        self._thread: threading.Thread | None = None
        # Requests served and faults injected, by kind (best-effort counts across threads).
        self.stats: collections.Counter[str] = collections.Counter()

    # ---------------------------------------------------------------- lifecycle

    def bind(self) -> Simulator:
        """Bind the listening socket (port 0: a free port) without serving yet."""
        if self._httpd is None:
            self._httpd = HttpServer((self.config.host, self.config.port), self)
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


def start_simulator(config: SimulatorConfig | None = None, **overrides: Any) -> Simulator:
    """Generate the tenant and serve it on ``config.host`` (a free port by default).

    Use it as a context manager: ``with start_simulator(SimulatorConfig(customers=300)) as sim:``
    stops the server on exit. Keyword arguments override fields of ``config``.
    """
    config = config or SimulatorConfig()
    if overrides:
        config = replace(config, **overrides)
    return Simulator(config).start()
