"""The dbt project (``<repo>/dbt_project``) as dagster-dbt sees it.

Kept in its own module, free of other imports, because ``@dbt_assets`` reads the project's
``target/manifest.json`` when ``servicetitan_pipeline.defs.dbt`` is imported: the Makefile
(``make prepare``), the tests and CI build it with ``dbt parse`` first, and this module tells
them (and Dagster) where the project is without importing any asset.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from dagster_dbt import DbtProject

from servicetitan_pipeline.config import dbt_executable

# The package lives next to the dbt project in a repository checkout:
# <repo>/servicetitan_pipeline/dbt_project.py and <repo>/dbt_project/dbt_project.yml.
DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    # profiles.yml ships with the project (it reads SERVICETITAN_DUCKDB_PATH); ~/.dbt is not used.
    profiles_dir=DBT_PROJECT_DIR,
)


def prepare_manifest(project: DbtProject = dbt_project) -> None:
    """``dbt parse`` the project into ``target/manifest.json`` (the project has no packages).

    Runs the dbt installed beside this Python: dagster-dbt's own ``prepare_if_dev`` runs ``dbt``
    from PATH, which does not hold the virtualenv when ``.venv/bin/dagster dev`` is started
    without activating it, and the code location would then fail to load.
    """
    subprocess.run(
        [
            dbt_executable(),
            "parse",
            "--quiet",
            "--project-dir",
            str(project.project_dir),
            "--profiles-dir",
            str(project.profiles_dir),
            "--target-path",
            str(project.project_dir / project.target_path),
        ],
        check=True,
    )


# Under `dagster dev` (which sets DAGSTER_IS_DEV_CLI) re-parse on load, so edits to models show
# up without `make prepare`. Elsewhere (tests, CI, `servicetitan-pipeline sync`) the prepared
# manifest is used as is.
if os.environ.get("DAGSTER_IS_DEV_CLI"):
    prepare_manifest()
