"""Settings of the embedded ServiceTitan simulator: the tenant it serves and the faults it injects.

The credentials below are *documented demo values*: the simulator accepts exactly these unless
told otherwise, and the demo and tests pass them to the client. They are not secrets. So are
those of the further demo tenants of :func:`demo_tenant_configs` (``cid.demo2``,
``cs1.demo-secret2``, ... for tenant ``DEMO_TENANT_ID + 1``, ...).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ..entities import MODULES

DEMO_TENANT_ID = 1000001
DEMO_CLIENT_ID = "cid.demo"
DEMO_CLIENT_SECRET = "cs1.demo-secret"
DEMO_APP_KEY = "ak1.demo"
# The further demo tenants' sizes, as shares of the first's: different sizes (as well as seeds)
# so that the tenants' data differ visibly in every count.
DEMO_TENANT_SIZE_SHARES = (1.0, 0.6, 0.8, 0.45)

# ServiceTitan's access tokens live 15 minutes.
DEFAULT_TOKEN_TTL_SECONDS = 900
# The simulated clock starts here unless told otherwise, so that the same seed gives the same
# data on every machine and every day (a clock derived from "now" would not).
DEFAULT_START = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
MAX_PAGE_SIZE = 5000
# ServiceTitan's Reporting API: requests of one report per minute (its description and data).
REPORT_REQUESTS_PER_MINUTE = 5
# The Reporting API's scope, deniable like an entity module's (it serves no entity).
REPORTING_MODULE = "reporting"

RetryAfterMode = Literal["mixed", "seconds", "http-date", "none"]


@dataclass(frozen=True)
class FaultConfig:
    """Faults the simulator injects into API answers (never into its data or its tokens).

    Rates are probabilities per API request, drawn from a RNG seeded with ``seed`` so that a
    sequential test sees the same faults on every run. At most one fault is injected per request;
    they are tried in the order: rate-limit cap, 429, 5xx, slow, drop, truncated, invalid.

    Attributes:
        seed: seed of the fault RNG.
        error_429_rate: probability of a 429 Too Many Requests.
        retry_after: how a 429 says when to come back: ``"seconds"`` (``Retry-After: 2``),
            ``"http-date"`` (``Retry-After: Wed, 21 Oct 2026 07:28:00 GMT``), ``"none"`` (no header,
            only ServiceTitan's title "Try again in N seconds"), or ``"mixed"`` (each in turn, at
            random).
        retry_after_seconds: the wait a 429 asks for.
        error_5xx_rate: probability of a 500/502/503/504 answer.
        drop_connection_rate: probability that the server closes the socket mid-body.
        truncated_json_rate: probability of a 200 whose JSON body is cut short.
        invalid_json_rate: probability of a 200 whose body is not JSON at all (an HTML error page).
        slow_rate: probability of answering only after ``slow_seconds``.
        slow_seconds: delay of a slow answer.
        latency_seconds: a fixed delay before every API and Reporting API answer (errors and
            faults included; not the token endpoint or the controls), as the real API takes
            some 0.3-1 s per export page: for benchmarks of concurrent downloads. Unlike
            ``slow_rate=1.0`` it is not a fault: it is not counted, and the faults still draw.
        token_ttl_seconds: lifetime of the access tokens issued from now on.
        rate_limit_rps: requests per second allowed (per tenant, as ServiceTitan counts them);
            above it the simulator answers 429 with ``Retry-After: 1``. ``None``: no cap.
        faults_on_token_endpoint: also inject the random faults into ``POST /connect/token``.
    """

    seed: int = 0
    error_429_rate: float = 0.0
    retry_after: RetryAfterMode = "mixed"
    retry_after_seconds: int = 1
    error_5xx_rate: float = 0.0
    drop_connection_rate: float = 0.0
    truncated_json_rate: float = 0.0
    invalid_json_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.5
    latency_seconds: float = 0.0
    token_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS
    rate_limit_rps: float | None = None
    faults_on_token_endpoint: bool = False

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if f.name.endswith("_rate"):
                value = getattr(self, f.name)
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"FaultConfig.{f.name} must be between 0 and 1, got {value}")
        if self.retry_after not in ("mixed", "seconds", "http-date", "none"):
            raise ValueError(f"FaultConfig.retry_after: unknown mode {self.retry_after!r}")
        if self.latency_seconds < 0:
            raise ValueError("FaultConfig.latency_seconds must not be negative")
        if self.token_ttl_seconds <= 0:
            raise ValueError("FaultConfig.token_ttl_seconds must be positive")
        if self.rate_limit_rps is not None and self.rate_limit_rps <= 0:
            raise ValueError("FaultConfig.rate_limit_rps must be positive (or None for no cap)")

    @classmethod
    def uniform(cls, fault_rate: float, **overrides: Any) -> FaultConfig:
        """Spread one overall fault probability over the kinds of transient fault.

        Half of the faults are 429s, a quarter 5xx, and the rest split between dropped
        connections, truncated bodies and slow answers: roughly what a busy API shows.
        """
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {fault_rate}")
        values: dict[str, Any] = {
            "error_429_rate": fault_rate / 2,
            "error_5xx_rate": fault_rate / 4,
            "drop_connection_rate": fault_rate / 12,
            "truncated_json_rate": fault_rate / 12,
            "slow_rate": fault_rate / 12,
            "slow_seconds": 0.2,
        }
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        """Build from a JSON object (the ``POST /_simulator/faults`` body); unknown keys fail."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown FaultConfig fields: {', '.join(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-serialisable dict."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SimulatorConfig:
    """What the simulator serves: one tenant, its credentials, its size and its seed.

    Attributes:
        customers: number of customers generated at start (everything else scales with it:
            about 13 records of other entities per customer).
        seed: seed of the data generator; the same seed and size give the same data.
        tenant_id, client_id, client_secret, app_key: the credentials the simulator accepts
            (documented demo values by default).
        host, port: where to listen; port 0 picks a free port.
        start: the simulated "now" at start; history is generated over the three years before.
        export_page_size: records per export page (ServiceTitan's export pages hold up to 5000).
        faults: faults injected from the start (none by default).
        generation_workers: processes that generate the history; ``None``: one per two CPUs
            (up to 8) for tenants of 20,000 customers or more, else in-process. The data does
            not depend on it.
        denied_modules: API modules (``entities.MODULES`` names, e.g. ``"payroll"``) whose
            scopes the app was not granted: every endpoint of them answers 403, as
            ServiceTitan does for an app without the scope; ``"reporting"`` denies the
            Reporting API.
        report_requests_per_minute: requests of the same report the Reporting API answers per
            minute (ServiceTitan's limit is 5); more answer 429. ``None``: no limit.
    """

    customers: int = 300
    seed: int = 42
    tenant_id: int = DEMO_TENANT_ID
    client_id: str = DEMO_CLIENT_ID
    client_secret: str = DEMO_CLIENT_SECRET
    app_key: str = DEMO_APP_KEY
    host: str = "127.0.0.1"
    port: int = 0
    start: datetime = DEFAULT_START
    export_page_size: int = MAX_PAGE_SIZE
    faults: FaultConfig = field(default_factory=FaultConfig)
    generation_workers: int | None = None
    denied_modules: frozenset[str] = frozenset()
    report_requests_per_minute: int | None = REPORT_REQUESTS_PER_MINUTE

    def __post_init__(self) -> None:
        if self.report_requests_per_minute is not None and self.report_requests_per_minute < 1:
            raise ValueError("SimulatorConfig.report_requests_per_minute must be >= 1 (or None)")
        unknown = sorted(set(self.denied_modules) - {*MODULES, REPORTING_MODULE})
        if unknown:
            raise ValueError(
                f"SimulatorConfig.denied_modules: unknown module(s) {', '.join(unknown)}; "
                f"known: {', '.join(MODULES)}"
            )
        if self.customers < 1:
            raise ValueError("SimulatorConfig.customers must be at least 1")
        if not 1 <= self.export_page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"SimulatorConfig.export_page_size must be in 1..{MAX_PAGE_SIZE}")
        if self.start.tzinfo is None:
            raise ValueError("SimulatorConfig.start must be timezone-aware (UTC)")


# Fields of demo_tenant_configs' tenants that it sets per tenant (the overrides may not).
_PER_TENANT_FIELDS = frozenset({"tenant_id", "client_id", "client_secret", "customers", "seed"})


def demo_tenant_configs(
    n: int = 2,
    *,
    customers: int | Sequence[int] = SimulatorConfig.customers,
    seed: int = SimulatorConfig.seed,
    **overrides: Any,
) -> list[SimulatorConfig]:
    """``n`` demo tenants to serve side by side (:func:`~.server.start_tenants`).

    Tenant *k* (from 0) has tenant id ``DEMO_TENANT_ID + k``, client id ``cid.demo`` then
    ``cid.demo2``, ``cid.demo3``..., client secret ``cs1.demo-secret`` then
    ``cs1.demo-secret2``..., the one app key ``DEMO_APP_KEY`` (one app, many tenants, as
    ServiceTitan issues them) and seed ``seed + k``. These are documented demo values, not
    secrets. Tenant 0 with the defaults is ``SimulatorConfig()`` exactly, so the
    single-tenant demo keeps its data.

    Every world numbers its records from the same id bases, so the tenants' ids overlap: a
    pipeline that keyed records by id alone would mix them up.

    Args:
        n: how many tenants (at least 1).
        customers: one size per tenant, or the first tenant's size, the others' then being
            the shares ``DEMO_TENANT_SIZE_SHARES`` of it (so the tenants differ in size).
        seed: the first tenant's seed.
        overrides: other ``SimulatorConfig`` fields, the same for every tenant (the app key,
            export page size, faults...).

    Raises:
        ValueError: ``n`` below 1, a size list of another length, or an override of a field
            set per tenant.
    """
    if n < 1:
        raise ValueError(f"demo_tenant_configs needs at least one tenant, got n={n}")
    clash = sorted(_PER_TENANT_FIELDS & set(overrides))
    if clash:
        raise ValueError(f"demo_tenant_configs sets {', '.join(clash)} per tenant")
    if isinstance(customers, int):
        shares = DEMO_TENANT_SIZE_SHARES
        sizes = [max(1, round(customers * shares[k % len(shares)])) for k in range(n)]
    else:
        sizes = list(customers)
        if len(sizes) != n:
            raise ValueError(f"demo_tenant_configs: {len(sizes)} sizes for {n} tenants")
    return [
        SimulatorConfig(
            customers=sizes[k],
            seed=seed + k,
            tenant_id=DEMO_TENANT_ID + k,
            client_id=DEMO_CLIENT_ID + _suffix(k),
            client_secret=DEMO_CLIENT_SECRET + _suffix(k),
            **overrides,
        )
        for k in range(n)
    ]


def _suffix(k: int) -> str:
    """The demo credentials' suffix of tenant ``k``: none for the first, then 2, 3, ..."""
    return "" if k == 0 else str(k + 1)
