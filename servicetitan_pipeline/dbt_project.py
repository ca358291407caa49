"""The dbt project (``<repo>/dbt_project``) as dagster-dbt sees it.

Kept in its own module, free of other imports, because ``@dbt_assets`` reads the project's
``target/manifest.json`` when ``servicetitan_pipeline.assets.dbt`` is imported: the Makefile
(``make prepare``), the tests and CI build it with ``dbt parse`` first, and this module tells
them (and Dagster) where the project is without importing any asset.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtProject

# The package lives next to the dbt project in a repository checkout:
# <repo>/servicetitan_pipeline/dbt_project.py and <repo>/dbt_project/dbt_project.yml.
DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"

# The dbt CLI of this environment: the one installed next to the running Python (the .venv the
# Makefile creates), which is the dbt-core dagster-dbt was installed with. `dbt` on PATH is only
# a fallback: `.venv/bin/servicetitan-pipeline` runs without the venv activated, and
# DbtCliResource's default ("dbt" on PATH) would then not be found or be another install.
_VENV_DBT = Path(sys.executable).parent / "dbt"
DBT_EXECUTABLE = str(_VENV_DBT) if _VENV_DBT.exists() else (shutil.which("dbt") or "dbt")

dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    # profiles.yml ships with the project (it reads SERVICETITAN_DUCKDB_PATH); ~/.dbt is not used.
    profiles_dir=DBT_PROJECT_DIR,
)

# Under `dagster dev` re-parse on load, so edits to models show up without `make prepare`.
# Elsewhere (tests, CI, `servicetitan-pipeline sync`) the prepared manifest is used as is.
dbt_project.prepare_if_dev()
