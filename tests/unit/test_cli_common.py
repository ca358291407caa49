"""What the commands share: ``--select`` and ``--env-file``."""

from __future__ import annotations

import pytest

from servicetitan_pipeline.cli.common import load_env_file, selected_entities
from servicetitan_pipeline.client import SettingsError
from servicetitan_pipeline.config import ConfigError
from servicetitan_pipeline.entities import ENTITIES


def test_selected_entities():
    assert selected_entities(None, {}).entities == ENTITIES
    # in the table's order, whatever the order given
    assert selected_entities("jobs, customers", {}).names == ("customers", "jobs")
    with pytest.raises(ConfigError, match=r"^--select: unknown module or entity 'nope'"):
        selected_entities("jobs,nope", {})


def test_select_overrides_the_setting_for_one_run():
    environ = {"SERVICETITAN_ENTITIES": "payroll"}
    payroll = tuple(e.name for e in ENTITIES if e.module == "payroll")
    assert selected_entities(None, environ).names == payroll
    assert selected_entities("", environ).names == payroll
    chosen = selected_entities("jobs", environ)
    assert chosen.names == ("jobs",) and chosen.source == "--select"


def test_a_missing_env_file_is_an_error_unless_it_is_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    load_env_file(".env")  # no .env here: nothing to load, no error
    with pytest.raises(SettingsError, match=r"no-such\.env"):
        load_env_file(str(tmp_path / "no-such.env"))


# --- the settings file: the pipeline's own settings only, the environment wins -----------------

CREDENTIALS = {
    "SERVICETITAN_CLIENT_ID": "cid",
    "SERVICETITAN_CLIENT_SECRET": "secret-1",
    "SERVICETITAN_APP_KEY": "ak1.key",
}


def _write(path, values):
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    return path


def test_a_settings_file_fills_gaps_with_documented_settings_only(tmp_path):
    from servicetitan_pipeline.config import load_dotenv_file

    file = _write(
        tmp_path / ".env",
        {
            "SERVICETITAN_TENANT_ID": "2",
            "SERVICETITAN_CONNECTION_NAME": "from-file",
            "SERVICETITAN_ENVIRONMENT": "",
            "PYTHONPATH": "/tmp/evil",
            "LD_PRELOAD": "/tmp/evil.so",
            "SERVICETITAN_TYPO": "x",
        },
    )
    environ = {"SERVICETITAN_TENANT_ID": "1", "PATH": "/bin"}
    report = load_dotenv_file(file, environ)
    assert environ == {
        "SERVICETITAN_TENANT_ID": "1",  # the environment wins
        "SERVICETITAN_CONNECTION_NAME": "from-file",
        "PATH": "/bin",
    }
    assert report.loaded == ("SERVICETITAN_CONNECTION_NAME",)
    assert report.shadowed == ("SERVICETITAN_TENANT_ID",)
    assert report.ignored == ("LD_PRELOAD", "PYTHONPATH", "SERVICETITAN_TYPO")
    assert report.source("SERVICETITAN_TENANT_ID") == "the environment"
    assert report.source("SERVICETITAN_CONNECTION_NAME") == str(file)


@pytest.mark.parametrize("url", ["SERVICETITAN_API_BASE_URL", "SERVICETITAN_AUTH_URL"])
def test_a_settings_file_may_not_move_the_environments_credentials(tmp_path, url):
    from servicetitan_pipeline.config import ConfigError, load_dotenv_file

    file = _write(
        tmp_path / ".env", {url: "https://elsewhere.example", "SERVICETITAN_TENANT_ID": "3"}
    )
    environ = {"SERVICETITAN_APP_KEY": "ak1.key"}
    with pytest.raises(ConfigError, match=f"{url} would come from .*SERVICETITAN_APP_KEY"):
        load_dotenv_file(file, environ)
    assert environ == {"SERVICETITAN_APP_KEY": "ak1.key"}  # nothing loaded


def test_a_settings_file_holding_the_credentials_may_point_them_anywhere(tmp_path):
    from servicetitan_pipeline.config import load_dotenv_file

    urls = {"SERVICETITAN_API_BASE_URL": "http://127.0.0.1:1", "SERVICETITAN_AUTH_URL": "x"}
    file = _write(tmp_path / "simulator.env", {**CREDENTIALS, **urls})
    environ: dict[str, str] = {}
    load_dotenv_file(file, environ)
    assert environ == {**CREDENTIALS, **urls}
    # ... and the environment's URLs still win over the file's.
    environ = {"SERVICETITAN_AUTH_URL": "https://auth.servicetitan.io/connect/token"}
    load_dotenv_file(file, environ)
    assert environ["SERVICETITAN_AUTH_URL"] == "https://auth.servicetitan.io/connect/token"


def test_a_settings_file_anyone_may_write_is_not_read(tmp_path):
    from servicetitan_pipeline.config import ConfigError, load_dotenv_file

    file = _write(tmp_path / ".env", {"SERVICETITAN_TENANT_ID": "3"})
    file.chmod(0o666)
    environ: dict[str, str] = {}
    with pytest.raises(ConfigError, match=r"writable by every user .*chmod 600"):
        load_dotenv_file(file, environ)
    assert environ == {}


def test_a_dotenv_loaded_by_dagster_dev_may_not_redirect_the_environments_credentials(tmp_path):
    """`dagster dev` loads ./.env itself; the definitions refuse what load_dotenv_file would."""
    from servicetitan_pipeline.config import ConfigError, refuse_credentials_redirected_by

    file = _write(tmp_path / ".env", {"SERVICETITAN_AUTH_URL": "https://elsewhere.example/t"})
    with pytest.raises(ConfigError, match="SERVICETITAN_AUTH_URL would come from"):
        refuse_credentials_redirected_by(file, {**CREDENTIALS, "SERVICETITAN_AUTH_URL": "x"})
    _write(file, {"SERVICETITAN_AUTH_URL": "https://elsewhere.example/t", **CREDENTIALS})
    refuse_credentials_redirected_by(file, CREDENTIALS)  # the file holds its own credentials
    refuse_credentials_redirected_by(tmp_path / "none.env", CREDENTIALS)
