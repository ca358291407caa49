"""Suite-wide set-up.

dagster-dbt's ``@dbt_assets`` reads ``dbt_project/target/manifest.json`` when the definitions
are imported. ``make test`` builds it first (``make prepare``); this hook does the same when
pytest is run directly on a fresh clone, so no test depends on having run make before.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DBT_PROJECT = REPO / "dbt_project"
MANIFEST = DBT_PROJECT / "target" / "manifest.json"


def _manifest_is_stale() -> bool:
    if not MANIFEST.exists():
        return True
    built = MANIFEST.stat().st_mtime
    sources = (
        p
        for p in DBT_PROJECT.rglob("*")
        if p.suffix in {".sql", ".yml", ".yaml"} and "target" not in p.parts
    )
    return any(p.stat().st_mtime > built for p in sources)


def pytest_configure(config):
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    if (DBT_PROJECT / "dbt_project.yml").exists() and _manifest_is_stale():
        dbt = Path(sys.executable).parent / "dbt"
        subprocess.run(
            [
                str(dbt),
                "parse",
                "--quiet",
                "--project-dir",
                str(DBT_PROJECT),
                "--profiles-dir",
                str(DBT_PROJECT),
            ],
            check=True,
            cwd=REPO,
        )
