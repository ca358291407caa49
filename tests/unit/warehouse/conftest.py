"""Fixtures of the warehouse's unit tests (pure DuckDB on a temporary file)."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from servicetitan_pipeline.warehouse import session
from servicetitan_pipeline.warehouse.schema import ensure_entity_table


@pytest.fixture
def conn(tmp_path):
    c = duckdb.connect(str(tmp_path / "wh.duckdb"))
    session.configure_connection(c)
    for entity in ("customers", "invoices"):
        ensure_entity_table(c, entity)
    yield c
    c.close()
