"""ConnectionSettings: defaults by environment, and errors that name the setting."""

from __future__ import annotations

from typing import Any

import pytest
from client_fakes import APP_KEY, CLIENT_ID, CLIENT_SECRET

from servicetitan_pipeline.client import ConnectionSettings, Environment, SettingsError

BASE: dict[str, Any] = {
    "name": "acme-hvac",
    "environment": "production",
    "tenant_id": "1234567",
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "app_key": APP_KEY,
}


def settings(**overrides: Any) -> ConnectionSettings:
    return ConnectionSettings(**{**BASE, **overrides})


@pytest.mark.parametrize(
    ("environment", "api", "auth"),
    [
        (
            "integration",
            "https://api-integration.servicetitan.io",
            "https://auth-integration.servicetitan.io/connect/token",
        ),
        ("production", "https://api.servicetitan.io", "https://auth.servicetitan.io/connect/token"),
        ("Production", "https://api.servicetitan.io", "https://auth.servicetitan.io/connect/token"),
        (
            " INTEGRATION ",
            "https://api-integration.servicetitan.io",
            "https://auth-integration.servicetitan.io/connect/token",
        ),
    ],
)
def test_environment_decides_default_urls(environment, api, auth):
    s = settings(environment=environment)
    assert s.api_base_url == api
    assert s.auth_url == auth
    assert s.environment in (Environment.INTEGRATION, Environment.PRODUCTION)


def test_values_are_normalised():
    s = settings(
        tenant_id=" 42 ",
        api_base_url="http://127.0.0.1:8080/proxy/",
        auth_url="http://127.0.0.1:8080/connect/token",
        name="  acme  ",
    )
    assert s.tenant_id == 42 and isinstance(s.tenant_id, int)
    assert s.api_base_url == "http://127.0.0.1:8080/proxy"
    assert s.name == "acme"
    assert settings(tenant_id=7).tenant_id == 7


@pytest.mark.parametrize("empty", ["", "   ", None])
def test_empty_url_override_means_the_default(empty):
    s = settings(api_base_url=empty, auth_url=empty)
    assert s.api_base_url == "https://api.servicetitan.io"
    assert s.auth_url == "https://auth.servicetitan.io/connect/token"


@pytest.mark.parametrize("bad", ["abc", "0", "-5", "1.5", "1e6", "+5", "", " ", True, 0, -1, None])
def test_tenant_must_be_a_positive_integer(bad):
    with pytest.raises(SettingsError) as info:
        settings(tenant_id=bad)
    message = str(info.value)
    assert "SERVICETITAN_TENANT_ID / tenant_id" in message
    assert "positive integer" in message or "must not be empty" in message


def test_tenant_error_quotes_the_value():
    with pytest.raises(SettingsError, match=r"must be a positive integer, got 'abc'"):
        settings(tenant_id="abc")


@pytest.mark.parametrize("bad", ["staging", "prod", "sandbox", ""])
def test_unknown_environment(bad):
    with pytest.raises(SettingsError) as info:
        settings(environment=bad)
    assert "SERVICETITAN_ENVIRONMENT / environment" in str(info.value)
    if bad:
        assert "'integration' or 'production'" in str(info.value)


@pytest.mark.parametrize(
    ("field", "env"),
    [
        ("name", "SERVICETITAN_CONNECTION_NAME"),
        ("client_id", "SERVICETITAN_CLIENT_ID"),
        ("client_secret", "SERVICETITAN_CLIENT_SECRET"),
        ("app_key", "SERVICETITAN_APP_KEY"),
    ],
)
@pytest.mark.parametrize("empty", ["", "  \t", None])
def test_empty_required_values(field, env, empty):
    with pytest.raises(SettingsError, match=f"^{env} / {field} must not be empty$"):
        settings(**{field: empty})


@pytest.mark.parametrize(
    "bad",
    [
        "api.servicetitan.io",
        "ftp://api.servicetitan.io",
        "https://",
        "https:///path",
        "https://api.servicetitan.io?x=1",
        "https://api.servicetitan.io/#frag",
        "https://api.servicetitan.io:notaport",
    ],
)
@pytest.mark.parametrize(
    ("field", "env"),
    [("api_base_url", "SERVICETITAN_API_BASE_URL"), ("auth_url", "SERVICETITAN_AUTH_URL")],
)
def test_malformed_urls(bad, field, env):
    with pytest.raises(SettingsError) as info:
        settings(**{field: bad})
    assert f"{env} / {field}" in str(info.value)


def test_credentials_in_a_url_are_refused_without_echoing_them():
    with pytest.raises(SettingsError) as info:
        settings(api_base_url="https://user:hunter2-proxy-pass@proxy.example/")
    assert "hunter2-proxy-pass" not in str(info.value)
    assert "SERVICETITAN_API_BASE_URL" in str(info.value)


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("rate_limit_per_second", 0),
        ("rate_limit_per_second", -1),
        ("rate_limit_per_second", float("nan")),
        ("max_attempts", 0),
        ("max_attempts", "x"),
        ("connect_timeout_seconds", 0),
        ("read_timeout_seconds", -3),
        ("max_total_wait_seconds", -1),
        ("max_response_mb", 0),
        ("max_response_mb", "-1"),
        ("max_response_mb", "abc"),
        ("max_response_mb", "inf"),
        ("request_deadline_seconds", "0"),
        ("request_deadline_seconds", -1),
        ("request_deadline_seconds", "abc"),
    ],
)
def test_tuning_values_are_validated(field, bad):
    with pytest.raises(SettingsError, match=field):
        settings(**{field: bad})


@pytest.mark.parametrize(
    ("field", "env"),
    [
        ("max_response_mb", "SERVICETITAN_MAX_RESPONSE_MB"),
        ("request_deadline_seconds", "SERVICETITAN_REQUEST_DEADLINE_SECONDS"),
    ],
)
def test_a_bad_response_limit_names_the_variable_and_the_field(field, env):
    with pytest.raises(SettingsError) as caught:
        settings(**{field: "abc"})
    assert str(caught.value) == f"{env} / {field} must be a positive number, got 'abc'"


def test_response_limits_from_text_are_numbers():
    values = settings(max_response_mb="512", request_deadline_seconds=" 600 ")
    assert (values.max_response_mb, values.request_deadline_seconds) == (512.0, 600.0)


def test_rate_limit_none_disables_the_limiter():
    assert settings(rate_limit_per_second=None).rate_limit_per_second is None


def test_repr_and_str_show_no_secret():
    s = settings()
    for text in (repr(s), str(s), f"{s}", f"{s!r}"):
        assert CLIENT_SECRET not in text
        assert APP_KEY not in text
        assert CLIENT_ID not in text
        assert "acme-hvac" in text and "1234567" in text


@pytest.mark.parametrize("field", ["environment", "tenant_id", "api_base_url", "auth_url"])
@pytest.mark.parametrize("secret_field", ["client_secret", "app_key"])
def test_a_secret_pasted_into_the_wrong_setting_is_not_echoed(field, secret_field):
    secret = BASE[secret_field]
    with pytest.raises(SettingsError) as info:
        settings(**{field: secret})
    assert secret not in str(info.value)
    assert field in str(info.value)
