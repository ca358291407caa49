"""The CLI's tenant plumbing: --tenant parsing, the runs a selection of tenants makes, and
what a run's events say about each tenant."""

from __future__ import annotations

import pytest

from servicetitan_pipeline.cli.common import select_tenants, tenant_names
from servicetitan_pipeline.cli.runner import (
    AssetOutcome,
    tenant_groups,
    tenant_metadata,
    tenant_outcomes,
)
from servicetitan_pipeline.client.connections import parse_connections
from servicetitan_pipeline.config import ConfigError

KNOWN = ["north", "south", "east", "west"]


def test_tenant_option_values_are_repeatable_and_comma_separated():
    assert tenant_names(None) is None and tenant_names([]) is None
    assert tenant_names(["north", "south, east", "north"]) == ["north", "south", "east"]


def test_an_unknown_tenant_is_named_with_the_known_ones():
    entries = [
        {
            "name": name,
            "tenant_id": i + 1,
            "client_id_env": "A",
            "client_secret_env": "B",
            "app_key_env": "C",
        }
        for i, name in enumerate(KNOWN)
    ]
    connections = parse_connections({"connections": entries}, source="c.toml")
    assert [c.name for c in select_tenants(connections, ["west", "north"])] == ["north", "west"]
    assert select_tenants(connections, None) == connections
    with pytest.raises(ConfigError) as caught:
        select_tenants(connections, ["nort"])
    assert str(caught.value) == (
        "--tenant: no connection named 'nort'; known: 'north', 'south', 'east', 'west'"
    )


def test_consecutive_tenants_make_one_run_others_one_run_per_group():
    assert tenant_groups(KNOWN, None) == [KNOWN]
    assert tenant_groups(KNOWN, ["south"]) == [["south"]]
    assert tenant_groups(KNOWN, ["east", "south"]) == [["south", "east"]]
    assert tenant_groups(KNOWN, ["north", "east", "west"]) == [["north"], ["east", "west"]]
    with pytest.raises(KeyError, match="'nort'"):
        tenant_groups(KNOWN, ["nort"])


PER_TENANT = "\n".join(
    [
        "| connection | tenant_id | rows | inserted | updated | deactivated | unchanged | "
        "rejected | requests | retries | seconds | cursor |",
        "|" + " --- |" * 12,
        "| north | 1000001 | 60 | 60 | 0 | 0 | 0 | 0 | 2 | 0 | 0.25 | t1 |",
        "| south | 1000002 | 40 | 38 | 2 | 1 | 0 | 0 | 1 | 0 | 0.10 | t2 |",
    ]
)


def test_a_tenant_shows_its_own_figures_of_a_run_wide_materialization():
    totals = {"dagster/row_count": 100, "rows_inserted": 98, "per_tenant": PER_TENANT}
    south = tenant_metadata(totals, "south")
    assert (south["dagster/row_count"], south["rows_inserted"], south["rows_updated"]) == (
        40,
        38,
        2,
    )
    assert south["duration_seconds"] == 0.10 and "pages" not in south
    assert tenant_metadata(totals, None) is totals
    assert tenant_metadata({"rows_inserted": 3}, "north") == {"rows_inserted": 3}


def test_each_failure_line_goes_to_the_tenant_it_names():
    assets = [
        AssetOutcome("servicetitan/customers", "materialized", partition="north"),
        AssetOutcome("servicetitan/customers", "materialized", partition="south"),
        AssetOutcome("servicetitan/jobs", "materialized", partition="north"),
    ]
    failures = [
        "servicetitan_ingestion: south (tenant 1000002): jobs: HTTP 403: missing API scope",
        "servicetitan_ingestion: east: customers, jobs: AuthenticationError: invalid_client",
    ]
    north, south, east = tenant_outcomes(["north", "south", "east"], assets, failures, False)
    assert north.success and len(north.ingestion()) == 2
    assert not south.success and south.failures == [failures[0]]
    assert not east.success and east.failures == [failures[1]] and east.assets == []


def test_a_run_that_failed_naming_no_tenant_fails_every_tenant_of_it():
    failures = ["run: DagsterResourceFunctionError: the warehouse file is not a DuckDB database"]
    outcomes = tenant_outcomes(["north"], [], failures, False)
    assert [o.failures for o in outcomes] == [failures]


CONNECTIONS = """
[defaults]
app_key_env = "GROUP_APP_KEY"
api_base_url = "http://127.0.0.1:9"
auth_url = "http://127.0.0.1:9/connect/token"

[[connections]]
name = "north"
tenant_id = 1
client_id_env = "NORTH_CLIENT_ID"
client_secret_env = "NORTH_CLIENT_SECRET"
"""


def _settings_file(tmp_path):
    connections = tmp_path / "connections.toml"
    connections.write_text(CONNECTIONS, encoding="utf-8")
    env_file = tmp_path / "group.env"
    env_file.write_text(
        f"SERVICETITAN_CONNECTIONS_FILE={connections}\nNORTH_CLIENT_ID=cid.n\n"
        "NORTH_CLIENT_SECRET=cs1.n\nGROUP_APP_KEY=ak1.g\nOTHER=x\n",
        encoding="utf-8",
    )
    env_file.chmod(0o600)
    return env_file


def test_a_settings_file_may_hold_the_variables_its_connections_file_names(tmp_path):
    from servicetitan_pipeline.client.connections import credential_variables
    from servicetitan_pipeline.config import load_dotenv_file

    environ: dict[str, str] = {}
    file = load_dotenv_file(
        _settings_file(tmp_path), environ, credential_variables=credential_variables
    )
    assert environ["NORTH_CLIENT_SECRET"] == "cs1.n" and environ["GROUP_APP_KEY"] == "ak1.g"
    assert file.ignored == ("OTHER",) and "OTHER" not in environ


def test_it_may_not_send_the_environments_credentials_to_its_connections(tmp_path):
    from servicetitan_pipeline.client.connections import credential_variables
    from servicetitan_pipeline.config import load_dotenv_file

    environ = {"NORTH_CLIENT_SECRET": "cs1.the-real-one"}
    with pytest.raises(ConfigError) as caught:
        load_dotenv_file(
            _settings_file(tmp_path), environ, credential_variables=credential_variables
        )
    message = str(caught.value)
    assert "SERVICETITAN_CONNECTIONS_FILE" in message and "NORTH_CLIENT_SECRET" in message
    assert "cs1.the-real-one" not in message
    assert environ == {"NORTH_CLIENT_SECRET": "cs1.the-real-one"}  # nothing loaded
