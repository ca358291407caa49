"""``dev`` and the simulator helpers it shares with ``demo``: ports, settings file, warnings."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from servicetitan_pipeline.cli import dev
from servicetitan_pipeline.cli.check import resource_from_environment
from servicetitan_pipeline.cli.simulated import write_settings_file
from servicetitan_pipeline.config import DEV_SIMULATOR_PORT_ENV, DEV_UI_PORT_ENV
from servicetitan_pipeline.simulator import SimulatorConfig, start_simulator


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


def test_the_settings_file_connects_check_to_the_simulator(tmp_path: Path):
    from dotenv import dotenv_values

    with start_simulator(SimulatorConfig(customers=20, seed=1)) as sim:
        path = tmp_path / "simulator.env"
        write_settings_file(path, sim, tmp_path / "dev.duckdb", connection_name="dev")
        values = {k: v or "" for k, v in dotenv_values(path).items()}
        settings = resource_from_environment(values, {}).get_settings()
        assert (settings.api_base_url, settings.auth_url) == (sim.base_url, sim.auth_url)
        assert settings.tenant_id == sim.config.tenant_id
        assert values["SERVICETITAN_DUCKDB_PATH"] == str(tmp_path / "dev.duckdb")


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
