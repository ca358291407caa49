"""Alert settings: defaults, and every bad value refused with the setting named, the webhook
URL (a Slack token) never echoed."""

from __future__ import annotations

import pytest

from servicetitan_pipeline.alerts import AlertSettings, AlertSettingsError
from servicetitan_pipeline.config import DOCUMENTED_SETTINGS

TOKEN_URL = "https://hooks.slack.com/services/T000/B000/sEcReTtOkEn123"
SMTP = {
    "SERVICETITAN_ALERT_SMTP_HOST": "smtp.example.com",
    "SERVICETITAN_ALERT_EMAIL_FROM": "pipeline@example.com",
    "SERVICETITAN_ALERT_EMAIL_TO": "ops@example.com, owner@example.com",
}


def test_nothing_configured_means_no_alerts_and_the_default_freshness() -> None:
    settings = AlertSettings.from_env({})
    assert not settings.enabled
    assert settings.webhook is None and settings.smtp is None
    assert settings.freshness_hours == 3.0
    assert settings.run_url("abc") is None


def test_a_full_configuration_is_read_and_documented() -> None:
    environ = {
        **SMTP,
        "SERVICETITAN_ALERT_WEBHOOK_URL": TOKEN_URL,
        "SERVICETITAN_ALERT_WEBHOOK_FORMAT": "blocks",
        "SERVICETITAN_ALERT_SMTP_SECURITY": "ssl",
        "SERVICETITAN_ALERT_SMTP_USER": "pipeline",
        "SERVICETITAN_ALERT_UI_BASE_URL": "http://127.0.0.1:3000/",
        "SERVICETITAN_FRESHNESS_HOURS": "1.5",
    }
    settings = AlertSettings.from_env(environ)
    assert settings.enabled
    assert settings.webhook is not None and settings.webhook.blocks
    assert settings.webhook.host == "hooks.slack.com"
    assert settings.smtp is not None
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == (
        "smtp.example.com",
        465,
        "ssl",
    )
    assert settings.smtp.recipients == ("ops@example.com", "owner@example.com")
    assert settings.smtp.password_env == "SERVICETITAN_ALERT_SMTP_PASSWORD"
    assert settings.run_url("r1") == "http://127.0.0.1:3000/runs/r1"
    assert settings.freshness_hours == 1.5
    # The settings object can be logged: the URL's token is not in it.
    assert "sEcReTtOkEn123" not in repr(settings)
    # A settings file may set every one of them.
    assert set(environ) | {"SERVICETITAN_ALERT_SMTP_PASSWORD"} <= DOCUMENTED_SETTINGS


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"SERVICETITAN_ALERT_WEBHOOK_URL": "hooks.slack.com/x"}, "SERVICETITAN_ALERT_WEBHOOK_URL"),
        (
            {"SERVICETITAN_ALERT_WEBHOOK_URL": "http://hooks.slack.com/services/sEcReTtOkEn123"},
            "must use https",
        ),
        (
            {"SERVICETITAN_ALERT_WEBHOOK_URL": "https://u:sEcReTtOkEn123@hooks.slack.com/x"},
            "credentials",
        ),
        ({"SERVICETITAN_ALERT_WEBHOOK_FORMAT": "xml"}, "SERVICETITAN_ALERT_WEBHOOK_FORMAT"),
        ({**SMTP, "SERVICETITAN_ALERT_SMTP_PORT": "99999"}, "SERVICETITAN_ALERT_SMTP_PORT"),
        ({**SMTP, "SERVICETITAN_ALERT_SMTP_SECURITY": "tls1"}, "SERVICETITAN_ALERT_SMTP_SECURITY"),
        ({**SMTP, "SERVICETITAN_ALERT_SMTP_SECURITY": "plain"}, "only for a server on this"),
        ({**SMTP, "SERVICETITAN_ALERT_EMAIL_TO": "ops at example"}, "SERVICETITAN_ALERT_EMAIL_TO"),
        ({**SMTP, "SERVICETITAN_ALERT_EMAIL_TO": " , "}, "SERVICETITAN_ALERT_EMAIL_TO"),
        ({**SMTP, "SERVICETITAN_ALERT_EMAIL_FROM": ""}, "SERVICETITAN_ALERT_EMAIL_FROM"),
        ({"SERVICETITAN_ALERT_EMAIL_TO": "ops@example.com"}, "SERVICETITAN_ALERT_SMTP_HOST"),
        (
            {**SMTP, "SERVICETITAN_ALERT_SMTP_PASSWORD_ENV": "SERVICETITAN_CLIENT_SECRET"},
            "a pipeline setting",
        ),
        (
            {**SMTP, "SERVICETITAN_ALERT_SMTP_PASSWORD_ENV": "MY-PASSWORD"},
            "SERVICETITAN_ALERT_SMTP_PASSWORD_ENV",
        ),
        ({"SERVICETITAN_ALERT_UI_BASE_URL": "127.0.0.1:3000"}, "SERVICETITAN_ALERT_UI_BASE_URL"),
        ({"SERVICETITAN_FRESHNESS_HOURS": "three"}, "SERVICETITAN_FRESHNESS_HOURS"),
        ({"SERVICETITAN_FRESHNESS_HOURS": "0"}, "SERVICETITAN_FRESHNESS_HOURS"),
        ({"SERVICETITAN_FRESHNESS_HOURS": "nan"}, "SERVICETITAN_FRESHNESS_HOURS"),
    ],
)
def test_bad_values_are_refused_naming_the_setting(environ: dict[str, str], named: str) -> None:
    with pytest.raises(AlertSettingsError, match=named) as caught:
        AlertSettings.from_env(environ)
    assert "sEcReTtOkEn123" not in str(caught.value)


def test_plain_smtp_is_allowed_to_this_machine_and_the_port_follows_the_security() -> None:
    settings = AlertSettings.from_env(
        {
            **SMTP,
            "SERVICETITAN_ALERT_SMTP_HOST": "127.0.0.1",
            "SERVICETITAN_ALERT_SMTP_SECURITY": "plain",
        }
    )
    assert settings.smtp is not None and settings.smtp.port == 25
    assert AlertSettings.from_env(SMTP).smtp.port == 587  # type: ignore[union-attr]


def test_the_smtp_password_is_read_when_needed_and_its_absence_named() -> None:
    settings = AlertSettings.from_env(
        {
            **SMTP,
            "SERVICETITAN_ALERT_SMTP_USER": "pipeline",
            "SERVICETITAN_ALERT_SMTP_PASSWORD_ENV": "ALERTS_SMTP_PASSWORD",
        }
    )
    assert settings.smtp is not None
    assert settings.smtp.password({"ALERTS_SMTP_PASSWORD": "pw-123456"}) == "pw-123456"
    with pytest.raises(AlertSettingsError, match="set ALERTS_SMTP_PASSWORD"):
        settings.smtp.password({})


def test_every_alert_setting_is_in_the_readme_and_env_example() -> None:
    from pathlib import Path

    from servicetitan_pipeline.config import ALERT_SETTINGS

    repo = Path(__file__).resolve().parents[2]
    readme = (repo / "README.md").read_text(encoding="utf-8")
    alerts = readme[readme.index("## Alerts") : readme.index("## What lands in DuckDB")]
    example = (repo / ".env.example").read_text(encoding="utf-8")
    for name in ALERT_SETTINGS:
        assert f"| `{name}` |" in alerts, name
        assert f"# {name}=" in example, name


def _env_file(tmp_path, text: str, name: str = ".env"):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_a_settings_file_may_not_send_the_environments_smtp_password_to_its_server(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    from servicetitan_pipeline.config import (
        ConfigError,
        load_dotenv_file,
        refuse_credentials_redirected_by,
    )

    planted = _env_file(tmp_path, "SERVICETITAN_ALERT_SMTP_HOST=smtp.elsewhere.example\n")
    environ = {"SERVICETITAN_ALERT_SMTP_PASSWORD": "env-pass-123456"}
    with pytest.raises(ConfigError, match="SERVICETITAN_ALERT_SMTP_HOST would come from") as e:
        load_dotenv_file(planted, environ)
    assert "env-pass-123456" not in str(e.value)
    assert "SERVICETITAN_ALERT_SMTP_HOST" not in environ  # nothing loaded
    # The variable the setting names counts too, and `dagster dev`'s check says the same.
    named = {"SERVICETITAN_ALERT_SMTP_PASSWORD_ENV": "OPS_SMTP_PASSWORD", "OPS_SMTP_PASSWORD": "x"}
    with pytest.raises(ConfigError, match=r"\(OPS_SMTP_PASSWORD\)"):
        load_dotenv_file(planted, dict(named))
    with pytest.raises(ConfigError, match="SERVICETITAN_ALERT_SMTP_HOST would come from"):
        refuse_credentials_redirected_by(planted, {**environ, "SERVICETITAN_ALERT_SMTP_HOST": "x"})

    # A file holding both, or an environment without a password, is fine.
    both = _env_file(
        tmp_path,
        "SERVICETITAN_ALERT_SMTP_HOST=smtp.example.com\nSERVICETITAN_ALERT_SMTP_PASSWORD=p\n",
        name="both.env",
    )
    loaded = load_dotenv_file(both, {})
    assert set(loaded.loaded) == {
        "SERVICETITAN_ALERT_SMTP_HOST",
        "SERVICETITAN_ALERT_SMTP_PASSWORD",
    }
    refuse_credentials_redirected_by(both, {})
    assert load_dotenv_file(planted, {}).loaded == ("SERVICETITAN_ALERT_SMTP_HOST",)
