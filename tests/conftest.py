"""Suite-wide set-up.

Nothing to build first: importing ``servicetitan_pipeline.defs.dbt_project`` (which every test
of the definitions does) parses the dbt project when its manifest is missing or stale.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


def pytest_configure(config):
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")


@pytest.fixture(autouse=True)
def _environment_restored_after_each_test() -> Iterator[None]:
    """Whatever a test leaves in ``os.environ`` is undone after it.

    The CLI's in-process entry point loads a ``.env`` into the environment, as it must for the
    process it runs in; a test that calls it would otherwise hand its settings (an entity
    selection, say) to every later test in the same process (pytest-xdist runs many files in
    one worker).
    """
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)
