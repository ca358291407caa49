"""Fixtures of the DuckLake tests: a real PostgreSQL server for the lake's catalog.

``tests/support`` holds test helpers shared by every tier; as in ``tests/hardening``, its
folder is put on ``sys.path`` and the fixtures used here are imported.
"""

from __future__ import annotations

import sys
from pathlib import Path

SUPPORT = str(Path(__file__).resolve().parents[1] / "support")
if SUPPORT not in sys.path:
    sys.path.insert(0, SUPPORT)

from postgres_server import lake, postgres_server  # noqa: E402 - needs the path above

__all__ = ["lake", "postgres_server"]
