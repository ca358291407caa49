"""Hand-worked fixture worlds of the KPI marts and reports, one module per domain.

Each module defines ``TENANT`` (a tenant id of its own, so its jobs, invoices and estimates
never move a figure that another domain's tests or the original reports' tests expect) and
``records() -> dict[str, list[dict]]`` (entity name -> records shaped like the official export
or list schemas; the builders in ``dbt_fixture_records`` help). ``create_raw_layer`` loads every
module found here, so adding a domain is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def domain_tenants() -> dict[int, dict[str, list[dict[str, Any]]]]:
    """Tenant id -> its records, for every domain module of this package."""
    worlds: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        tenant = module.TENANT
        if tenant in worlds:
            raise ValueError(f"kpi_fixtures.{module_info.name}: tenant {tenant} is taken")
        worlds[tenant] = module.records()
    return worlds
