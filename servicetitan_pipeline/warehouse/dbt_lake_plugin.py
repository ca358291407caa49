"""A dbt-duckdb plugin that readies dbt's connection for the DuckLake warehouse.

``dbt_project/profiles.yml`` names this module in its ``lake`` target (chosen when
``SERVICETITAN_WAREHOUSE=ducklake``). dbt-duckdb opens an in-memory DuckDB, calls each plugin's
``configure_connection``, and only then runs the profile's ``attach:`` entries. The lake's
``ATTACH 'ducklake:postgres:...'`` needs the ``ducklake`` and ``postgres_scanner`` extensions,
which dbt-duckdb would otherwise ``INSTALL`` from the network (refused here and in CI): this
plugin ``LOAD``s them from the wheels the package depends on instead, as every other lake
connection of the pipeline does (``lake.load_lake_extensions``).

The settings are checked when dbt creates the plugin, before any connection: a missing catalog
or data path, or a catalog string carrying a password, fails dbt at once with the setting's
name (``lake.lake_settings``), not with libpq's or DuckLake's words halfway through a build.
The attachment itself stays in the profile (not here) because dbt-duckdb recognises a DuckLake
by its ``ducklake:`` attach path and then drops relations without ``CASCADE``, which DuckLake
refuses.
"""

from __future__ import annotations

from typing import Any

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin

from servicetitan_pipeline.config import WAREHOUSE_ENV, ConfigError
from servicetitan_pipeline.warehouse.lake import (
    LakeSettings,
    extension_files,
    lake_settings,
    load_lake_extensions,
)

__all__ = ["Plugin"]


class Plugin(BasePlugin):
    """Checks the lake's settings, then loads the lake's extensions into dbt's connection."""

    settings: LakeSettings

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        """Validate the lake's settings and that the extension wheels match this DuckDB.

        Raises:
            ConfigError: naming the setting that is missing or wrong.
        """
        settings = lake_settings()
        if settings is None:
            raise ConfigError(
                f"{WAREHOUSE_ENV}: dbt's lake target needs {WAREHOUSE_ENV}=ducklake "
                "(profiles.yml picks that target only then)"
            )
        extension_files()
        self.settings = settings

    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        """``LOAD`` the ``ducklake`` and ``postgres_scanner`` extensions from their wheels."""
        load_lake_extensions(conn)
