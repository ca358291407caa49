"""What the commands share: ``--select`` and ``--env-file``."""

from __future__ import annotations

import pytest

from servicetitan_pipeline.cli.common import load_env_file, selected_entities
from servicetitan_pipeline.client import SettingsError
from servicetitan_pipeline.entities import ENTITIES


def test_selected_entities():
    assert selected_entities(None) == list(ENTITIES)
    assert [e.name for e in selected_entities("jobs, customers")] == ["jobs", "customers"]
    with pytest.raises(SettingsError, match="'nope'"):
        selected_entities("jobs,nope")


def test_a_missing_env_file_is_an_error_unless_it_is_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    load_env_file(".env")  # no .env here: nothing to load, no error
    with pytest.raises(SettingsError, match=r"no-such\.env"):
        load_env_file(str(tmp_path / "no-such.env"))
