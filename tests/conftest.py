"""Suite-wide set-up.

Nothing to build first: importing ``servicetitan_pipeline.defs.dbt_project`` (which every test
of the definitions does) parses the dbt project when its manifest is missing or stale.
"""

from __future__ import annotations

import os


def pytest_configure(config):
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
