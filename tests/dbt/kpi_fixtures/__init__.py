"""Hand-worked fixture worlds of the KPI marts and reports, one module per domain.

Each module defines ``TENANT`` (a tenant id of its own, so its jobs, invoices and estimates
never move a figure that another domain's tests or the original reports' tests expect) and
``records() -> dict[str, list[dict]]`` (entity name -> records shaped like the official export
or list schemas; the builders in ``dbt_fixture_records`` help), loaded under the fixture's
connection at its load time. A module that needs several tenants, or loads under other
connection names or at other times (a renamed connection), defines ``loads() -> list[Load]``
instead. ``create_raw_layer`` loads every module found here, so adding a domain is adding a
file.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class Load:
    """Records of one tenant written by one sync: under ``connection``, at ``loaded_at``."""

    tenant: int
    connection: str
    loaded_at: datetime
    records: dict[str, list[dict[str, Any]]]


def _domain_modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"{__name__}.{module_info.name}")
        for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name)
    ]


def domain_tenants() -> dict[int, dict[str, list[dict[str, Any]]]]:
    """Tenant id -> its records, for every domain module of this package with one ``TENANT``."""
    worlds: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for module in _domain_modules():
        if not hasattr(module, "TENANT"):
            continue
        tenant = module.TENANT
        if tenant in worlds:
            raise ValueError(f"{module.__name__}: tenant {tenant} is taken")
        worlds[tenant] = module.records()
    return worlds


def domain_loads() -> list[Load]:
    """The loads of the domain modules that define ``loads()``, in module order; their tenants
    must be their own (none of a ``TENANT`` module's)."""
    taken = set(domain_tenants())
    loads: list[Load] = []
    for module in _domain_modules():
        if not hasattr(module, "loads"):
            continue
        module_loads = module.loads()
        tenants = {load.tenant for load in module_loads}
        if tenants & taken:
            raise ValueError(f"{module.__name__}: tenant(s) {sorted(tenants & taken)} are taken")
        taken |= tenants
        loads.extend(module_loads)
    return loads
