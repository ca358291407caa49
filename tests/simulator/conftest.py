"""Fixtures of the simulator's tests: small tenants and an authenticated HTTP client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sim_helpers import Api

from servicetitan_pipeline.simulator import Simulator, SimulatorConfig, start_simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    """A small tenant shared by a module's read-only tests (export pages of 100 records)."""
    with start_simulator(SimulatorConfig(customers=150, seed=7, export_page_size=100)) as s:
        yield s


@pytest.fixture
def fresh_sim() -> Iterator[Simulator]:
    """A small tenant of one's own, for tests that advance the clock or inject faults."""
    with start_simulator(SimulatorConfig(customers=120, seed=11, export_page_size=80)) as s:
        yield s


@pytest.fixture
def api(sim: Simulator) -> Iterator[Api]:
    client = Api(sim)
    yield client
    client.close()


@pytest.fixture
def fresh_api(fresh_sim: Simulator) -> Iterator[Api]:
    client = Api(fresh_sim)
    yield client
    client.close()
