"""Fixtures of the hardening tests: the hostile ServiceTitan of ``tests/support``.

``tests/support`` holds test helpers shared by every tier. The test tree has no packages
(pytest puts each test folder on ``sys.path``), so a tier that wants them puts that folder on
``sys.path`` and imports the fixtures it uses, as here; the top-level conftest stays untouched.
"""

from __future__ import annotations

import sys
from pathlib import Path

SUPPORT = str(Path(__file__).resolve().parents[1] / "support")
if SUPPORT not in sys.path:
    sys.path.insert(0, SUPPORT)

from hostile_server import hostile_server  # noqa: E402 - needs the path above

__all__ = ["hostile_server"]
