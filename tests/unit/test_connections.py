"""The connections file (``client.connections``): validation, defaults, the single-tenant
fallback, duplicates, and that no value that could be a secret is ever echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from servicetitan_pipeline.client import SettingsError
from servicetitan_pipeline.client.connections import (
    CONNECTIONS_FILE_ENV,
    UNNAMED_CONNECTION,
    ConnectionsFileError,
    TenantConnection,
    configured_connections,
    connections_file,
    load_connections,
    parse_connections,
)

# A value that looks like a secret pasted where a variable's name belongs.
PASTED_SECRET = "cs1.pasted-SECRET-4b7e9a"

TWO_TENANTS = """
[defaults]
environment = "integration"
app_key_env = "GROUP_APP_KEY"

[[connections]]
name = "Acme HVAC"
tenant_id = 1234567
client_id_env = "ACME_CLIENT_ID"
client_secret_env = "ACME_CLIENT_SECRET"

[[connections]]
name = "Bolt Plumbing"
environment = "production"
tenant_id = "7654321"
client_id_env = "BOLT_CLIENT_ID"
client_secret_env = "BOLT_CLIENT_SECRET"
rate_limit_per_second = 30
api_base_url = "http://127.0.0.1:9999"
auth_url = "http://127.0.0.1:9999/connect/token"
"""

ENV = {
    "GROUP_APP_KEY": "ak1.group-key",
    "ACME_CLIENT_ID": "cid.acme",
    "ACME_CLIENT_SECRET": "cs1.acme-secret",
    "BOLT_CLIENT_ID": "cid.bolt",
    "BOLT_CLIENT_SECRET": "cs1.bolt-secret",
}


def _entry(**overrides: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "name": "Acme HVAC",
        "tenant_id": 1234567,
        "client_id_env": "ACME_CLIENT_ID",
        "client_secret_env": "ACME_CLIENT_SECRET",
        "app_key_env": "GROUP_APP_KEY",
    }
    entry.update(overrides)
    return {k: v for k, v in entry.items() if v is not None}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "servicetitan_connections.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_of_two_tenants_sharing_an_app_key(tmp_path):
    acme, bolt = load_connections(_write(tmp_path, TWO_TENANTS))
    assert acme == TenantConnection(
        name="Acme HVAC",
        environment="integration",
        tenant_id=1234567,
        client_id_env="ACME_CLIENT_ID",
        client_secret_env="ACME_CLIENT_SECRET",
        app_key_env="GROUP_APP_KEY",
        rate_limit_per_second=60.0,
    )
    assert (bolt.environment, bolt.tenant_id, bolt.rate_limit_per_second) == (
        "production",
        7654321,
        30.0,
    )
    assert bolt.app_key_env == acme.app_key_env == "GROUP_APP_KEY"
    assert bolt.api_base_url == "http://127.0.0.1:9999"


def test_defaults_environment_production_and_the_standard_rate_limit():
    (connection,) = parse_connections({"connections": [_entry()]}, source="f.toml")
    assert connection.environment == "production"
    assert connection.rate_limit_per_second == 60.0
    assert (connection.api_base_url, connection.auth_url) == ("", "")
    assert not connection.from_environment


def test_settings_read_each_tenants_own_credentials(tmp_path):
    acme, bolt = load_connections(_write(tmp_path, TWO_TENANTS))
    a, b = acme.settings(ENV), bolt.settings(ENV, max_attempts=2)
    assert (a.name, a.tenant_id, a.client_id, a.client_secret) == (
        "Acme HVAC",
        1234567,
        "cid.acme",
        "cs1.acme-secret",
    )
    assert (b.client_id, b.app_key, b.max_attempts) == ("cid.bolt", "ak1.group-key", 2)
    assert b.api_base_url == "http://127.0.0.1:9999"


@pytest.mark.parametrize("variable", ["ACME_CLIENT_ID", "ACME_CLIENT_SECRET", "GROUP_APP_KEY"])
def test_a_missing_variable_names_the_tenant_and_the_variable(tmp_path, variable):
    acme, _ = load_connections(_write(tmp_path, TWO_TENANTS))
    env = {k: v for k, v in ENV.items() if k != variable}
    with pytest.raises(SettingsError) as caught:
        acme.settings(env)
    message = str(caught.value)
    assert "'Acme HVAC'" in message and "1234567" in message and variable in message
    assert not any(value in message for value in ENV.values())


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (_entry(name=None), "connection 1: 'name' is missing"),
        (_entry(tenant_id=None), "'tenant_id' is missing"),
        (_entry(client_id_env=None), "'client_id_env' is missing"),
        (_entry(app_key_env=None), "'app_key_env' is missing"),
        (_entry(name="  "), "'name' must be a non-empty string"),
        (_entry(name="a,b"), "must not contain ','"),
        (_entry(name="a|b"), "must not contain '|'"),
        (_entry(name="x" * 300), "at most"),
        (_entry(tenant_id=0), "'tenant_id' must be a positive integer"),
        (_entry(tenant_id="12ab"), "'tenant_id' must be a positive integer"),
        (_entry(tenant_id=True), "'tenant_id' must be a positive integer"),
        (_entry(environment="staging"), "'environment' must be 'integration' or 'production'"),
        (_entry(rate_limit_per_second=0), "'rate_limit_per_second' must be a positive number"),
        (_entry(rate_limit_per_second="fast"), "'rate_limit_per_second'"),
        (_entry(api_base_url=5), "'api_base_url' must be a string"),
        (_entry(api_base_url="ftp://example.com"), "api_base_url"),
        (_entry(colour="blue"), "unknown key(s) colour"),
    ],
)
def test_every_mistake_names_the_file_the_connection_and_the_key(entry, expected):
    with pytest.raises(ConnectionsFileError) as caught:
        parse_connections({"connections": [entry]}, source="conn.toml")
    message = str(caught.value)
    assert message.startswith("conn.toml: ")
    assert expected in message
    if entry.get("name") == "Acme HVAC":
        assert "connection 'Acme HVAC'" in message


@pytest.mark.parametrize("key", ["client_id_env", "client_secret_env", "app_key_env"])
def test_a_secret_pasted_for_a_variable_name_is_refused_and_never_echoed(tmp_path, key):
    document = {"connections": [_entry(**{key: PASTED_SECRET})]}
    with pytest.raises(ConnectionsFileError) as caught:
        parse_connections(document, source="conn.toml")
    assert key in str(caught.value) and "not the value itself" in str(caught.value)
    assert PASTED_SECRET not in str(caught.value)
    # Through a real file too, in [defaults].
    path = _write(
        tmp_path,
        f'[defaults]\n{key} = "{PASTED_SECRET}"\n[[connections]]\nname = "a"\ntenant_id = 1\n'
        + "".join(
            f'{k} = "V_{i}"\n'
            for i, k in enumerate(("client_id_env", "client_secret_env", "app_key_env"))
            if k != key
        ),
    )
    with pytest.raises(ConnectionsFileError) as caught:
        load_connections(path)
    assert str(path) in str(caught.value) and PASTED_SECRET not in str(caught.value)


def test_a_toml_syntax_error_names_the_file(tmp_path):
    path = _write(tmp_path, "[[connections]]\nname = \n")
    with pytest.raises(ConnectionsFileError, match="not valid TOML") as caught:
        load_connections(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({}, "lists no connection"),
        ({"connections": []}, "lists no connection"),
        ({"connections": ["x"]}, "connection 1 must be a table"),
        ({"defaults": 3, "connections": [_entry()]}, "[defaults] must be a table"),
        ({"defaults": {"name": "x"}, "connections": [_entry()]}, "[defaults] cannot hold name"),
        ({"tenants": [], "connections": [_entry()]}, "unknown top-level key(s) tenants"),
    ],
)
def test_the_files_shape_is_checked(document, expected):
    with pytest.raises(ConnectionsFileError) as caught:
        parse_connections(document, source="conn.toml")
    assert expected in str(caught.value) and str(caught.value).startswith("conn.toml: ")


def test_two_connections_with_one_name_are_refused_whatever_the_case():
    document = {"connections": [_entry(), _entry(name="acme hvac", tenant_id=2)]}
    with pytest.raises(ConnectionsFileError, match="two connections are named 'acme hvac'"):
        parse_connections(document, source="conn.toml")


def test_two_connections_to_one_tenant_are_refused():
    document = {"connections": [_entry(), _entry(name="Acme again")]}
    with pytest.raises(ConnectionsFileError) as caught:
        parse_connections(document, source="conn.toml")
    assert "'Acme HVAC' and 'Acme again' both have tenant_id 1234567" in str(caught.value)


def test_without_a_file_the_single_tenant_settings_are_a_one_entry_list(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no servicetitan_connections.toml here
    env = {"SERVICETITAN_CONNECTION_NAME": "acme", "SERVICETITAN_TENANT_ID": "42"}
    (connection,) = configured_connections(env)
    assert (connection.name, connection.tenant_id, connection.from_environment) == (
        "acme",
        42,
        True,
    )
    assert connection.client_secret_env == "SERVICETITAN_CLIENT_SECRET"
    # Unnamed: the partition key is a fixed word; the run then names the missing variable.
    (unnamed,) = configured_connections({})
    assert unnamed.name == UNNAMED_CONNECTION and unnamed.tenant_id is None
    with pytest.raises(SettingsError, match="SERVICETITAN_CONNECTION_NAME is not set"):
        unnamed.settings({})


def test_the_single_tenant_connection_reads_every_setting_at_run_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {
        "SERVICETITAN_CONNECTION_NAME": "acme",
        "SERVICETITAN_ENVIRONMENT": "integration",
        "SERVICETITAN_TENANT_ID": "42",
        "SERVICETITAN_CLIENT_ID": "cid.x",
        "SERVICETITAN_CLIENT_SECRET": "cs1.x",
        "SERVICETITAN_APP_KEY": "ak1.x",
    }
    (connection,) = configured_connections(env)
    settings = connection.settings(env)
    assert (settings.name, settings.tenant_id, settings.client_secret) == ("acme", 42, "cs1.x")


def test_the_file_in_the_working_directory_is_found_and_the_variable_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, TWO_TENANTS)
    assert [c.name for c in configured_connections({})] == ["Acme HVAC", "Bolt Plumbing"]
    other = tmp_path / "other.toml"
    other.write_text('[[connections]]\nname = "Solo"\ntenant_id = 9\n' + _names(), "utf-8")
    assert [c.name for c in configured_connections({CONNECTIONS_FILE_ENV: str(other)})] == ["Solo"]


def test_a_connections_file_variable_naming_no_file_is_an_error(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConnectionsFileError) as caught:
        connections_file({CONNECTIONS_FILE_ENV: str(missing)})
    assert CONNECTIONS_FILE_ENV in str(caught.value) and "nope.toml" in str(caught.value)


def _names() -> str:
    return 'client_id_env = "A"\nclient_secret_env = "B"\napp_key_env = "C"\n'
