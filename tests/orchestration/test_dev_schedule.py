"""``make dev`` (``servicetitan-pipeline dev``) starts its UI with the hourly sync schedule
stopped, unless ``SERVICETITAN_SYNC_SCHEDULE`` says otherwise; outside dev the schedule still
loads running. The environment checked is the one ``dev`` hands ``dagster dev`` (captured in
place of starting it), and the schedule is built from it as the code location builds it."""

from __future__ import annotations

import argparse
import os
import socket

import dagster as dg
import pytest

from servicetitan_pipeline.cli import dev
from servicetitan_pipeline.config import SYNC_SCHEDULE_ENV
from servicetitan_pipeline.defs.jobs import build_sync_job, build_sync_schedule


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _dagster_dev_environment(tmp_path, monkeypatch) -> dict[str, str]:
    """The environment ``servicetitan-pipeline dev --no-seed`` starts ``dagster dev`` with."""
    captured: dict[str, str] = {}

    def call(command, *, cwd, env):
        assert command[1] == "dev"
        captured.update(env)
        return 0

    monkeypatch.setattr(dev.subprocess, "call", call)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser()
    dev.add_arguments(parser)
    args = parser.parse_args(
        [
            "--no-seed",
            "--customers",
            "20",
            "--simulator-port",
            str(_free_port()),
            "--duckdb-path",
            str(tmp_path / "dev.duckdb"),
        ]
    )
    assert dev.run(args) == 0
    return captured


def _schedule_status(environ: dict[str, str], monkeypatch) -> dg.DefaultScheduleStatus:
    """The schedule's status at first load in ``environ`` (as the code location builds it)."""
    monkeypatch.setenv(SYNC_SCHEDULE_ENV, environ.get(SYNC_SCHEDULE_ENV, ""))
    return build_sync_schedule(build_sync_job()).default_status


def test_dev_starts_the_schedule_stopped(tmp_path, monkeypatch):
    monkeypatch.delenv(SYNC_SCHEDULE_ENV, raising=False)
    environ = _dagster_dev_environment(tmp_path, monkeypatch)
    assert environ[SYNC_SCHEDULE_ENV] == "stopped"
    assert _schedule_status(environ, monkeypatch) is dg.DefaultScheduleStatus.STOPPED


@pytest.mark.parametrize("state", ["running", "stopped"])
def test_the_setting_still_decides_in_dev(tmp_path, monkeypatch, state):
    monkeypatch.setenv(SYNC_SCHEDULE_ENV, state)
    environ = dev.dagster_dev_environment()
    assert environ[SYNC_SCHEDULE_ENV] == state
    expected = {
        "running": dg.DefaultScheduleStatus.RUNNING,
        "stopped": dg.DefaultScheduleStatus.STOPPED,
    }[state]
    assert _schedule_status(environ, monkeypatch) is expected


def test_outside_dev_the_schedule_loads_running(monkeypatch):
    monkeypatch.delenv(SYNC_SCHEDULE_ENV, raising=False)
    assert _schedule_status(dict(os.environ), monkeypatch) is dg.DefaultScheduleStatus.RUNNING
