"""ServiceTitanResource: EnvVar wiring, early validation, shared client, no secret shown.

What Dagster stores and shows for a ConfigurableResource built from ``EnvVar`` was checked in
dagster's source (``_config/field_utils.py``: an EnvVar becomes ``{"env": NAME}`` in the config
schema defaults); the tests below check the same through the repository snapshot the UI reads
and through a real run's event log.
"""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value

from servicetitan_pipeline.client import ResponseLimits, ServiceTitanClient, SettingsError
from servicetitan_pipeline.defs.resources import (
    ServiceTitanResource,
    servicetitan_resource_from_env,
)

SECRET = "cs1.resource-test-SECRET-9d2f61"
APP_KEY = "ak1.resource-test-APPKEY-5e7a03"
CLIENT_ID = "cid.resource-test-client"

ENV = {
    "SERVICETITAN_CONNECTION_NAME": "acme-hvac",
    "SERVICETITAN_ENVIRONMENT": "Production",
    "SERVICETITAN_TENANT_ID": "1234567",
    "SERVICETITAN_CLIENT_ID": CLIENT_ID,
    "SERVICETITAN_CLIENT_SECRET": SECRET,
    "SERVICETITAN_APP_KEY": APP_KEY,
}
OPTIONAL = (
    "SERVICETITAN_API_BASE_URL",
    "SERVICETITAN_AUTH_URL",
    "SERVICETITAN_MAX_RESPONSE_MB",
    "SERVICETITAN_REQUEST_DEADLINE_SECONDS",
)


@pytest.fixture
def env(monkeypatch):
    for name in OPTIONAL:
        monkeypatch.delenv(name, raising=False)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def plain(**overrides) -> ServiceTitanResource:
    values = {
        "name": "acme-hvac",
        "environment": "integration",
        "tenant_id": "42",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "app_key": APP_KEY,
    }
    values.update(overrides)
    return ServiceTitanResource(**values)


def test_from_env_wires_every_required_field_as_an_env_var(env):
    resource = servicetitan_resource_from_env()
    wired = {
        field: getattr(resource, field).env_var_name
        for field in ("name", "environment", "tenant_id", "client_id", "client_secret", "app_key")
    }
    assert wired == {
        "name": "SERVICETITAN_CONNECTION_NAME",
        "environment": "SERVICETITAN_ENVIRONMENT",
        "tenant_id": "SERVICETITAN_TENANT_ID",
        "client_id": "SERVICETITAN_CLIENT_ID",
        "client_secret": "SERVICETITAN_CLIENT_SECRET",
        "app_key": "SERVICETITAN_APP_KEY",
    }
    assert resource.api_base_url is None and resource.auth_url is None


@pytest.mark.parametrize("value", ["", "   "])
def test_from_env_leaves_empty_optional_urls_to_the_environment_default(env, value):
    env.setenv("SERVICETITAN_API_BASE_URL", value)
    assert servicetitan_resource_from_env().api_base_url is None


def test_from_env_wires_optional_urls_when_set(env):
    env.setenv("SERVICETITAN_API_BASE_URL", "http://127.0.0.1:9000")
    env.setenv("SERVICETITAN_AUTH_URL", "http://127.0.0.1:9000/connect/token")
    resource = servicetitan_resource_from_env(rate_limit_per_second=30.0)
    assert isinstance(resource.api_base_url, dg.EnvVar)
    assert resource.api_base_url.env_var_name == "SERVICETITAN_API_BASE_URL"
    assert resource.auth_url.env_var_name == "SERVICETITAN_AUTH_URL"
    assert resource.rate_limit_per_second == 30.0


def test_get_settings_validates_and_resolves_defaults():
    settings = plain(environment="Production", tenant_id=7).get_settings()
    assert settings.tenant_id == 7
    assert settings.api_base_url == "https://api.servicetitan.io"
    assert settings.auth_url == "https://auth.servicetitan.io/connect/token"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tenant_id", "abc", "SERVICETITAN_TENANT_ID / tenant_id must be a positive integer, got "),
        ("environment", "staging", "SERVICETITAN_ENVIRONMENT / environment must be"),
        ("client_secret", "", "SERVICETITAN_CLIENT_SECRET / client_secret must not be empty"),
        ("api_base_url", "not a url", "SERVICETITAN_API_BASE_URL / api_base_url must be"),
        *(
            (field, value, f"{env} / {field} must be a positive number, got {value!r}")
            for field, env in (
                ("max_response_mb", "SERVICETITAN_MAX_RESPONSE_MB"),
                ("request_deadline_seconds", "SERVICETITAN_REQUEST_DEADLINE_SECONDS"),
            )
            for value in ("0", "-1", "abc")
        ),
    ],
)
def test_bad_settings_name_the_setting(field, value, message):
    with pytest.raises(SettingsError, match=message):
        plain(**{field: value}).get_settings()


def test_repr_shows_no_secret(env):
    for resource in (plain(), servicetitan_resource_from_env()):
        for text in (repr(resource), str(resource)):
            assert SECRET not in text and APP_KEY not in text and CLIENT_ID not in text
    assert "EnvVar('SERVICETITAN_TENANT_ID')" in repr(servicetitan_resource_from_env())


def test_ui_snapshot_shows_env_var_names_never_values(env):
    @dg.asset
    def uses_connection(servicetitan: ServiceTitanResource) -> None: ...

    defs = dg.Definitions(
        assets=[uses_connection], resources={"servicetitan": servicetitan_resource_from_env()}
    )
    # What the webserver receives from the code location: config schemas with their defaults.
    snapshot = serialize_value(RepositorySnap.from_def(defs.get_repository_def()))
    assert '{\\"env\\": \\"SERVICETITAN_CLIENT_SECRET\\"}' in snapshot
    assert '{\\"env\\": \\"SERVICETITAN_APP_KEY\\"}' in snapshot
    for value in (SECRET, APP_KEY, CLIENT_ID):
        assert value not in snapshot


def test_a_run_resolves_env_vars_and_stores_no_secret(env):
    seen = {}

    @dg.asset
    def first(context, servicetitan: ServiceTitanResource) -> None:
        settings = servicetitan.get_settings()
        seen["settings"] = settings
        seen["clients"] = [servicetitan.get_client()]
        context.log.info(f"connection {servicetitan!r} settings {settings!r}")

    @dg.asset(deps=[first])
    def second(servicetitan: ServiceTitanResource) -> None:
        seen["clients"].append(servicetitan.get_client())
        seen["second settings"] = servicetitan.get_settings()

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [first, second],
        resources={"servicetitan": servicetitan_resource_from_env()},
        instance=instance,
    )
    assert result.success
    settings = seen["settings"]
    assert (settings.name, settings.tenant_id, str(settings.environment)) == (
        "acme-hvac",
        1234567,
        "production",
    )
    assert settings.client_secret == SECRET  # resolved inside the run...
    first_client, second_client = seen["clients"]
    assert isinstance(first_client, ServiceTitanClient)
    assert first_client is second_client  # one client (token, rate limiter) per run
    # ...and one validation of the settings: every asset and the client share the object.
    assert seen["second settings"] is settings and first_client.settings is settings
    assert first_client._http.is_closed  # closed at teardown

    # ...but stored nowhere: not in the run's config nor in any event.
    stored = serialize_value(instance.all_logs(result.run_id)) + serialize_value(
        instance.get_run_by_id(result.run_id)
    )
    for value in (SECRET, APP_KEY):
        assert value not in stored


def test_a_bad_setting_fails_the_run_at_resource_init_naming_it(env):
    env.setenv("SERVICETITAN_TENANT_ID", "acme")
    ran = []

    @dg.asset
    def never_runs(servicetitan: ServiceTitanResource) -> None:
        ran.append(True)

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [never_runs],
        resources={"servicetitan": servicetitan_resource_from_env()},
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success and ran == []
    failures = serialize_value(instance.all_logs(result.run_id))
    assert "SERVICETITAN_TENANT_ID / tenant_id must be a positive integer" in failures
    assert SECRET not in failures and APP_KEY not in failures


def test_client_outside_dagster_is_shared_and_closed_by_the_context_manager():
    with plain(api_base_url="http://127.0.0.1:1") as resource:
        client = resource.get_client()
        assert resource.get_client() is client
        assert client.settings.api_base_url == "http://127.0.0.1:1"
    assert client._http.is_closed
    # A new client is created on the next use, not a closed one handed out.
    replacement = resource.get_client()
    assert replacement is not client and not replacement._http.is_closed
    resource.close()


def test_tuning_fields_reach_the_settings():
    settings = plain(
        rate_limit_per_second=None,
        max_attempts=2,
        max_total_wait_seconds=5,
        connect_timeout_seconds=1.5,
        read_timeout_seconds=9,
    ).get_settings()
    assert settings.rate_limit_per_second is None
    assert (settings.max_attempts, settings.max_total_wait_seconds) == (2, 5.0)
    assert (settings.connect_timeout_seconds, settings.read_timeout_seconds) == (1.5, 9.0)


def test_response_limits_reach_the_client():
    with plain(max_response_mb=0.5, request_deadline_seconds="45") as resource:
        limits = resource.get_client()._transport.limits
    assert limits == ResponseLimits(max_body_bytes=2**19, deadline_seconds=45.0)
    with plain() as resource:  # the defaults: 256 MiB, 300 seconds
        assert resource.get_client()._transport.limits == ResponseLimits(256 * 2**20, 300.0)


def test_from_env_wires_the_response_limits_when_set(env):
    assert servicetitan_resource_from_env().max_response_mb == "256"
    env.setenv("SERVICETITAN_MAX_RESPONSE_MB", "512")
    env.setenv("SERVICETITAN_REQUEST_DEADLINE_SECONDS", "600")
    resource = servicetitan_resource_from_env()
    assert resource.max_response_mb.env_var_name == "SERVICETITAN_MAX_RESPONSE_MB"
    assert resource.request_deadline_seconds.env_var_name == "SERVICETITAN_REQUEST_DEADLINE_SECONDS"


def test_a_bad_response_limit_fails_the_run_at_resource_init_naming_it(env):
    env.setenv("SERVICETITAN_MAX_RESPONSE_MB", "-1")

    @dg.asset
    def never_runs(servicetitan: ServiceTitanResource) -> None:
        raise AssertionError("ran")

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [never_runs],
        resources={"servicetitan": servicetitan_resource_from_env()},
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    failures = serialize_value(instance.all_logs(result.run_id))
    assert "SERVICETITAN_MAX_RESPONSE_MB / max_response_mb must be a positive number" in failures


def test_settings_are_validated_once_per_resource(monkeypatch):
    calls = []
    validate = ServiceTitanResource._validated_settings

    def counting(self: ServiceTitanResource) -> object:
        calls.append(self)
        return validate(self)

    monkeypatch.setattr(ServiceTitanResource, "_validated_settings", counting)
    with plain(api_base_url="http://127.0.0.1:1") as resource:
        settings = resource.get_settings()
        assert resource.get_client().settings is settings
        assert resource.get_settings() is settings
    assert len(calls) == 1
