"""What several commands share: ``--select`` and ``--env-file``, and the local Dagster instance."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from servicetitan_pipeline.client import SettingsError
from servicetitan_pipeline.config import DAGSTER_HOME_ENV, DEFAULT_ENV_FILE, load_dotenv_file
from servicetitan_pipeline.entities import ENTITIES, ENTITIES_BY_NAME, Entity

if TYPE_CHECKING:
    import dagster as dg


def add_select_argument(parser: argparse.ArgumentParser, *, verb: str) -> None:
    """``--select a,b``: the entities to ``verb`` (default: all)."""
    parser.add_argument(
        "--select",
        metavar="ENTITIES",
        help=f"comma-separated entities to {verb} (default: all): " + ",".join(ENTITIES_BY_NAME),
    )


def selected_entities(value: str | None) -> list[Entity]:
    """Entities named in ``--select`` (all by default), in the order given.

    Raises:
        SettingsError: naming every unknown entity, and the known ones.
    """
    if not value:
        return list(ENTITIES)
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in ENTITIES_BY_NAME]
    if unknown:
        raise SettingsError(
            f"unknown entity {', '.join(map(repr, unknown))} in --select; known entities: "
            + ", ".join(ENTITIES_BY_NAME)
        )
    return [ENTITIES_BY_NAME[n] for n in names]


def add_env_file_argument(parser: argparse.ArgumentParser) -> None:
    """``--env-file PATH``: KEY=value settings for variables not already set."""
    parser.add_argument(
        "--env-file",
        default=DEFAULT_ENV_FILE,
        help="file of KEY=value settings for variables not already set (default: .env; "
        "`make dev` writes .dagster_home/simulator.env for its simulator)",
    )


def load_env_file(path: str | None) -> None:
    """Load ``--env-file`` (nothing when empty); a file given but missing is an error."""
    if not path:
        return
    if path != DEFAULT_ENV_FILE and not Path(path).is_file():
        raise SettingsError(f"--env-file {path}: no such file")
    load_dotenv_file(path)


def local_dagster_instance() -> dg.DagsterInstance | None:
    """The Dagster instance of DAGSTER_HOME when set (runs then show in the UI), else None."""
    import dagster as dg

    home = os.environ.get(DAGSTER_HOME_ENV)
    if not home:
        return None
    os.makedirs(home, exist_ok=True)
    return dg.DagsterInstance.get()
