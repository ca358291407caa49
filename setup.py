"""Build hook: ship the repository's ``dbt_project/`` inside the package, as package data.

The metadata is all in pyproject.toml; this file only extends ``build_py``. The dbt project
stays at the repository root (where analysts and dbt's own CLI find it) and is copied into the
built package as ``servicetitan_pipeline/dbt_project``, which
``servicetitan_pipeline.defs.dbt_project`` looks for first. Editable installs copy nothing:
they read the repository's folder directly.
"""

from __future__ import annotations

import os
from pathlib import Path

# setuptools ships no type information (types-setuptools is not a dev dependency).
from setuptools import setup  # type: ignore[import-untyped]
from setuptools.command.build_py import build_py  # type: ignore[import-untyped]

DBT_PROJECT = Path(__file__).resolve().parent / "dbt_project"
PACKAGED_AS = Path("servicetitan_pipeline", "dbt_project")
# dbt's output folders, skipped like in servicetitan_pipeline/defs/dbt_project.py's digest.
NON_SOURCE_DIRS = {"target", "logs", "dbt_packages"}


class BuildPyWithDbtProject(build_py):  # type: ignore[misc]  # build_py is untyped, above
    """``build_py`` that also copies the dbt project's sources into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        destination = Path(self.build_lib, PACKAGED_AS)
        for root, dirs, names in os.walk(DBT_PROJECT):
            at_top = Path(root) == DBT_PROJECT
            dirs[:] = [
                d for d in dirs if not d.startswith(".") and not (at_top and d in NON_SOURCE_DIRS)
            ]
            for name in names:
                if name.startswith("."):
                    continue
                source = Path(root, name)
                target = destination / source.relative_to(DBT_PROJECT)
                self.mkpath(str(target.parent))
                self.copy_file(str(source), str(target))


setup(cmdclass={"build_py": BuildPyWithDbtProject})
