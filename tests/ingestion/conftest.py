"""Fixtures of the ingestion integration tests: the embedded simulator on loopback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from servicetitan_pipeline.simulator import SimulatorConfig, start_simulator

# Small tenants with small export pages: every entity spans several pages.
CUSTOMERS = 60
EXPORT_PAGE_SIZE = 40


@pytest.fixture
def sim():
    """A fresh simulated tenant per test (the tests move its clock and inject faults)."""
    with start_simulator(
        SimulatorConfig(customers=CUSTOMERS, seed=7, export_page_size=EXPORT_PAGE_SIZE)
    ) as simulator:
        yield simulator
