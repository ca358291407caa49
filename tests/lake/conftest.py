"""Fixtures of the DuckLake tests: a real PostgreSQL server (``tests/support``) and the
ingestion tests' helpers (``tests/ingestion``: the simulated tenants, the ground truth).

The test tree has no packages, so the folders are put on ``sys.path`` as
``tests/hardening/conftest.py`` does.
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
for folder in (TESTS / "support", TESTS / "ingestion", Path(__file__).parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from postgres_server import lake, postgres_server  # noqa: E402 - needs the path above

__all__ = ["lake", "postgres_server"]
