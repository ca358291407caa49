"""The embedded ServiceTitan simulator: a seeded tenant served over loopback HTTP.

```python
from servicetitan_pipeline.simulator import SimulatorConfig, FaultConfig, start_simulator
with start_simulator(SimulatorConfig(customers=300, seed=42)) as sim:
    sim.base_url, sim.auth_url          # the client's api_base_url and auth_url
    sim.truth("customers")              # every current record, export shape
    sim.advance(hours=24)               # move the clock: updates, deactivations, merges, new data
    sim.set_faults(FaultConfig(error_429_rate=0.2))
```

The credentials it accepts default to the documented demo values ``DEMO_TENANT_ID``,
``DEMO_CLIENT_ID``, ``DEMO_CLIENT_SECRET`` and ``DEMO_APP_KEY``.

Several tenants on one port, each with its own credentials and data:

```python
from servicetitan_pipeline.simulator import demo_tenant_configs, start_tenants
with start_tenants(demo_tenant_configs(2, customers=300)) as served:
    served.base_url, served.auth_url    # shared by every tenant
    served.tenants[1000002].truth("customers")
```
"""

from .config import (
    DEMO_APP_KEY,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_TENANT_ID,
    FaultConfig,
    SimulatorConfig,
    demo_tenant_configs,
)
from .server import SimulatedTenants, Simulator, start_simulator, start_tenants

__all__ = [
    "DEMO_APP_KEY",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_TENANT_ID",
    "FaultConfig",
    "SimulatedTenants",
    "Simulator",
    "SimulatorConfig",
    "demo_tenant_configs",
    "start_simulator",
    "start_tenants",
]
