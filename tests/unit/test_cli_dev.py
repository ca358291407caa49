"""``dev`` and the simulator helpers it shares with ``demo``: ports, settings file, warnings."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from servicetitan_pipeline.cli import dev
from servicetitan_pipeline.cli.simulated import CONNECTIONS_FILE_NAME, write_group_files
from servicetitan_pipeline.config import DEV_SIMULATOR_PORT_ENV, DEV_UI_PORT_ENV
from servicetitan_pipeline.simulator import demo_tenant_configs, start_tenants


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    dev.add_arguments(parser)
    return parser.parse_args(argv)


def test_ports_default_to_the_settings_then_to_8765_and_3000(monkeypatch):
    monkeypatch.delenv(DEV_SIMULATOR_PORT_ENV, raising=False)
    monkeypatch.delenv(DEV_UI_PORT_ENV, raising=False)
    args = _parse()
    assert (args.simulator_port, args.ui_port) == (8765, 3000)
    monkeypatch.setenv(DEV_SIMULATOR_PORT_ENV, "9001")
    monkeypatch.setenv(DEV_UI_PORT_ENV, "3001")
    assert (_parse().simulator_port, _parse().ui_port) == (9001, 3001)
    args = _parse("--simulator-port", "9002", "--ui-port", "3002")
    assert (args.simulator_port, args.ui_port) == (9002, 3002)
    assert _parse("--port", "3003").ui_port == 3003  # the option's former name


def test_a_bad_port_setting_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setenv(DEV_UI_PORT_ENV, "http")
    with pytest.raises(SystemExit):
        _parse()
    assert DEV_UI_PORT_ENV in capsys.readouterr().err


def test_the_settings_file_connects_every_simulated_tenant(tmp_path: Path):
    from servicetitan_pipeline.client.connections import (
        configured_connections,
        credential_variables,
    )
    from servicetitan_pipeline.config import load_dotenv_file

    names = ("north", "south")
    with start_tenants(demo_tenant_configs(2, customers=20)) as group:
        _, path, _ = write_group_files(tmp_path, group, tmp_path / "dev.duckdb", names, by="dev")
        environ: dict[str, str] = {}
        file = load_dotenv_file(path, environ, credential_variables=credential_variables)
        assert not file.ignored
        connections = configured_connections(environ)
        assert [c.name for c in connections] == list(names)
        for connection, sim in zip(connections, group.tenants.values(), strict=True):
            settings = connection.settings(environ)
            assert (settings.api_base_url, settings.auth_url) == (group.base_url, group.auth_url)
            assert settings.tenant_id == sim.config.tenant_id
            assert settings.client_secret == sim.config.client_secret
            # The connections file holds variable names, never a credential.
            assert sim.config.client_secret not in (tmp_path / CONNECTIONS_FILE_NAME).read_text()
        assert environ["SERVICETITAN_DUCKDB_PATH"] == str(tmp_path / "dev.duckdb")


def test_dagster_dev_starts_without_its_supersession_warning():
    emit = (
        "import warnings; from dagster_shared.utils.warnings import SupersessionWarning; "
        'warnings.warn("Function `dev_command` is superseded and its usage is discouraged. '
        "Use 'dg dev' instead.\", SupersessionWarning)"
    )

    def stderr(env: dict[str, str] | None) -> str:
        run = subprocess.run([sys.executable, "-c", emit], env=env, capture_output=True, text=True)
        return run.stderr

    assert "SupersessionWarning" in stderr(None)  # the filter, not the message, changed
    assert stderr(dev.dagster_dev_environment()) == ""


def test_dagster_home_is_owner_only_even_when_made_before(tmp_path: Path, monkeypatch):
    import os
    import stat

    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("SERVICETITAN_FILE_MODE", raising=False)
    umask = os.umask(0o022)
    try:
        assert dev.ensure_dagster_home() == home
    finally:
        os.umask(umask)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
