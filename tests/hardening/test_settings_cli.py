"""Hardening of the settings (issue #10, cases 1, 2, 4 and 17), through the CLI's own entry point.

Each test runs ``servicetitan-pipeline check`` or ``sync`` in this process, as a fresh shell
would (its own environment, working directory and umask, all restored afterwards), with the
hostile server as the only host there is: a bad setting must be refused, in one line that names
it, before any request reaches the server.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from servicetitan_pipeline.cli import main
from servicetitan_pipeline.client import ConnectionSettings, SettingsError

CLI_NAME = "servicetitan-pipeline"


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """This process as a fresh shell: no SERVICETITAN_* variables, cwd ``tmp_path``, umask 022.

    Yields the environment (``os.environ`` itself) to fill in; everything is restored after.
    """
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("SERVICETITAN_") or name == "DAGSTER_HOME":
            del os.environ[name]
    os.environ["SERVICETITAN_DUCKDB_PATH"] = str(tmp_path / "warehouse" / "st.duckdb")
    monkeypatch.chdir(tmp_path)
    umask = os.umask(0o022)
    try:
        yield os.environ  # type: ignore[misc]
    finally:
        os.umask(umask)
        os.environ.clear()
        os.environ.update(saved)


def connection_of(server, *, urls: bool = True) -> dict[str, str]:
    """The SERVICETITAN_* variables of a connection to the hostile ``server``."""
    values = {
        "SERVICETITAN_CONNECTION_NAME": "hostile",
        "SERVICETITAN_ENVIRONMENT": "integration",
        "SERVICETITAN_TENANT_ID": str(server.tenant_id),
        "SERVICETITAN_CLIENT_ID": server.client_id,
        "SERVICETITAN_CLIENT_SECRET": server.client_secret,
        "SERVICETITAN_APP_KEY": server.app_key,
    }
    if urls:
        values["SERVICETITAN_API_BASE_URL"] = server.base_url
        values["SERVICETITAN_AUTH_URL"] = server.auth_url
    return values


def dotenv(values: dict[str, str]) -> None:
    Path(".env").write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")


def run(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(code: int, out: str, err: str, command: str) -> str:
    """The one line a refused command printed (asserting it is one line and exit 2)."""
    assert code == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{CLI_NAME} {command}: "), err
    assert "Traceback" not in out + err
    return lines[0]


# --- case 1: a .env in the working directory must not redirect credentials or run code ------


def test_a_dotenv_cannot_send_the_environments_credentials_to_another_host(
    shell, hostile_server, capsys
):
    real = hostile_server()  # stands for ServiceTitan: the credentials' own host
    other = hostile_server()  # the host a planted .env points at
    shell.update(connection_of(real, urls=False))
    dotenv({"SERVICETITAN_API_BASE_URL": other.base_url, "SERVICETITAN_AUTH_URL": other.auth_url})

    line = refused(*run("check", capsys=capsys), command="check")

    assert "SERVICETITAN_API_BASE_URL and SERVICETITAN_AUTH_URL" in line
    assert ".env" in line and "SERVICETITAN_CLIENT_SECRET" in line
    assert other.requests == [] and real.requests == []
    assert real.client_secret not in line and real.app_key not in line


def test_a_dotenv_sets_only_the_pipelines_settings_and_the_environment_wins(
    shell, hostile_server, capsys, tmp_path
):
    server = hostile_server()
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text("raise SystemExit('sitecustomize ran')\n")
    shell["SERVICETITAN_CONNECTION_NAME"] = "from-the-environment"
    dotenv(
        {
            **connection_of(server),
            "SERVICETITAN_CONNECTION_NAME": "from-the-file",
            "PYTHONPATH": str(hook),
            "DAGSTER_HOME": str(tmp_path / "planted-home"),
        }
    )

    code, out, err = run("check", "--select", "business_units", capsys=capsys)

    assert code == 0, out + err
    # Only the pipeline's settings were loaded: dbt and Dagster's children never see the rest.
    assert "PYTHONPATH" not in os.environ and "DAGSTER_HOME" not in os.environ
    assert "ignored in .env, not servicetitan-pipeline settings: DAGSTER_HOME, PYTHONPATH" in err
    # The environment wins; the file fills the gaps, and the run says which.
    assert "from-the-environment" in out and "from-the-file" not in out
    assert "settings: .env gave SERVICETITAN_API_BASE_URL, SERVICETITAN_APP_KEY" in err
    assert "SERVICETITAN_CONNECTION_NAME," not in err.split("gave", 1)[1].split("\n")[0]
    assert "the environment's own values win" in err
    # Where the credentials went, since it is not ServiceTitan's default.
    assert (
        f"settings: SERVICETITAN_AUTH_URL is {server.auth_url} (from .env), not the "
        "integration default https://auth-integration.servicetitan.io/connect/token"
    ) in err
    assert server.client_secret not in out + err


@pytest.mark.parametrize(
    "url",
    [
        "http://api.servicetitan.io",
        "http://192.0.2.10:8080",
        "http://[2001:db8::1]/",
        "http://localhost.evil.example",
        "http://127.0.0.1.nip.io",
    ],
)
def test_plain_http_is_refused_unless_to_loopback(url):
    server_free = {
        "name": "n",
        "environment": "production",
        "tenant_id": "1",
        "client_id": "cid",
        "client_secret": "secret-value-1",
        "app_key": "ak1.value",
    }
    for field_name in ("api_base_url", "auth_url"):
        with pytest.raises(SettingsError, match="must use https") as error:
            ConnectionSettings(**server_free, **{field_name: url})
        assert field_name in str(error.value)
    for loopback in (
        "http://127.0.0.1:9",
        "http://127.8.0.1",
        "http://[::1]:9",
        "http://localhost",
    ):
        assert ConnectionSettings(**server_free, api_base_url=loopback).api_base_url == loopback


def test_http_to_another_host_is_refused_by_the_cli_before_any_request(
    shell, hostile_server, capsys
):
    server = hostile_server()
    shell.update(connection_of(server))
    shell["SERVICETITAN_AUTH_URL"] = "http://auth.servicetitan.io/connect/token"
    line = refused(*run("check", capsys=capsys), command="check")
    assert "SERVICETITAN_AUTH_URL / auth_url must use https" in line
    assert server.requests == []


# --- case 2: a line break or non-ASCII character in a header-bound setting ------------------


@pytest.mark.parametrize("variable", ["SERVICETITAN_APP_KEY", "SERVICETITAN_CLIENT_ID"])
@pytest.mark.parametrize(
    "damage", ["\r\nX-Injected: evil", "\nX-Injected: evil", "\u00e9-evil", "\x1b[2Jevil", " evil"]
)
@pytest.mark.parametrize("command", ["check", "sync"])
def test_a_damaged_header_setting_is_named_never_echoed_and_nothing_is_sent(
    shell, hostile_server, capsys, variable, damage, command
):
    server = hostile_server()
    shell.update(connection_of(server))
    shell[variable] = "ak1.SECRET-PART-4f1e" + damage

    line = refused(*run(command, capsys=capsys), command=command)

    assert line.split(": ", 1)[1].startswith(variable)
    assert "SECRET-PART" not in line and "evil" not in line
    assert server.requests == []


def test_a_damaged_secret_is_refused_without_echo():
    with pytest.raises(SettingsError, match="SERVICETITAN_CLIENT_SECRET") as error:
        ConnectionSettings(
            name="n",
            environment="production",
            tenant_id=1,
            client_id="cid",
            client_secret="cs1.SECRET\r\nX: y",
            app_key="ak1.k",
        )
    assert "SECRET" not in str(error.value).replace("SERVICETITAN_CLIENT_SECRET", "")


def test_a_connection_name_with_a_line_break_is_refused():
    with pytest.raises(SettingsError, match="SERVICETITAN_CONNECTION_NAME"):
        ConnectionSettings(
            name="acme\nX: y",
            environment="production",
            tenant_id=1,
            client_id="cid",
            client_secret="secret",
            app_key="ak1.k",
        )


# --- case 4: what the pipeline writes is readable by its owner only, unless shared ----------


@pytest.mark.parametrize(
    ("setting", "umask"), [(None, 0o077), ("owner", 0o077), ("group", 0o027), ("GROUP", 0o027)]
)
def test_the_file_mode_setting_decides_the_umask(shell, setting, umask):
    from servicetitan_pipeline.config import apply_file_mode

    if setting is not None:
        shell["SERVICETITAN_FILE_MODE"] = setting
    apply_file_mode()
    assert os.umask(0o022) == umask
    Path("kept").touch()
    # A umask the user chose stricter than the setting is kept.
    os.umask(0o077)
    shell["SERVICETITAN_FILE_MODE"] = "group"
    apply_file_mode()
    assert os.umask(0o022) == 0o077


def test_the_warehouse_directory_and_run_logs_are_created_owner_only(shell):
    from servicetitan_pipeline.config import apply_file_mode, run_logs_directory

    apply_file_mode()
    logs = run_logs_directory()
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    assert stat.S_IMODE(logs.parent.stat().st_mode) == 0o700


def test_a_warehouse_made_before_is_narrowed_to_the_file_mode(shell, tmp_path):
    from servicetitan_pipeline.config import apply_file_mode, check_warehouse_location

    warehouse = tmp_path / "warehouse"
    (warehouse / "logs").mkdir(parents=True, mode=0o755)
    for name in ("st.duckdb", "st.duckdb.wal"):
        (warehouse / name).write_bytes(b"customers' phone numbers")
        (warehouse / name).chmod(0o664)
    shell["SERVICETITAN_FILE_MODE"] = "group"
    apply_file_mode()
    check_warehouse_location()
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in warehouse.iterdir()}
    assert modes == {"st.duckdb": 0o640, "st.duckdb.wal": 0o640, "logs": 0o750}


# --- case 17: every setting validated up front, one line naming it, before any request ------

_BAD_SETTINGS: dict[str, tuple[dict[str, str | None], str]] = {
    "tenant not a number": ({"SERVICETITAN_TENANT_ID": "acme"}, "SERVICETITAN_TENANT_ID"),
    "tenant over 64 bits": ({"SERVICETITAN_TENANT_ID": str(2**70)}, "SERVICETITAN_TENANT_ID"),
    "tenant of 5000 digits": ({"SERVICETITAN_TENANT_ID": "9" * 5000}, "SERVICETITAN_TENANT_ID"),
    "missing variables": (
        {"SERVICETITAN_CLIENT_ID": None, "SERVICETITAN_APP_KEY": None},
        "missing ServiceTitan settings: SERVICETITAN_CLIENT_ID, SERVICETITAN_APP_KEY",
    ),
    "bad environment": ({"SERVICETITAN_ENVIRONMENT": "staging"}, "SERVICETITAN_ENVIRONMENT"),
    "huge URL": (
        {"SERVICETITAN_API_BASE_URL": "https://" + "a" * 100_000 + ".com"},
        "SERVICETITAN_API_BASE_URL / api_base_url is 100012 characters long",
    ),
    "unclosed IPv6": (
        {"SERVICETITAN_API_BASE_URL": "http://[::1"},
        "SERVICETITAN_API_BASE_URL / api_base_url is not a valid URL",
    ),
    "bad port": ({"SERVICETITAN_AUTH_URL": "http://127.0.0.1:99999/t"}, "SERVICETITAN_AUTH_URL"),
    "bad cron": ({"SERVICETITAN_SYNC_CRON": "every hour"}, "SERVICETITAN_SYNC_CRON"),
    "bad timezone": ({"SERVICETITAN_SYNC_TIMEZONE": "Mars/Olympus"}, "SERVICETITAN_SYNC_TIMEZONE"),
    "timezone path": ({"SERVICETITAN_SYNC_TIMEZONE": "../../etc/x"}, "SERVICETITAN_SYNC_TIMEZONE"),
    "bad schedule": ({"SERVICETITAN_SYNC_SCHEDULE": "paused"}, "SERVICETITAN_SYNC_SCHEDULE"),
    "warehouse under /proc": (
        {"SERVICETITAN_DUCKDB_PATH": "/proc/no-such/st.duckdb"},
        "SERVICETITAN_DUCKDB_PATH: cannot create the directory",
    ),
    "run logs under /proc": (
        {"SERVICETITAN_DUCKDB_PATH": "/proc/self/st.duckdb"},
        "SERVICETITAN_DUCKDB_PATH: cannot create the directory of run logs",
    ),
    "warehouse is a directory": ({"SERVICETITAN_DUCKDB_PATH": "."}, "SERVICETITAN_DUCKDB_PATH"),
    "bad AR date": ({"SERVICETITAN_AR_AS_OF_DATE": "31/12/2024"}, "SERVICETITAN_AR_AS_OF_DATE"),
    "bad file mode": ({"SERVICETITAN_FILE_MODE": "world"}, "SERVICETITAN_FILE_MODE"),
    **{
        f"{field} {value}": (
            {setting: value},
            f"{setting} / {field} must be a positive number, got {value!r}",
        )
        for setting, field in (
            ("SERVICETITAN_MAX_RESPONSE_MB", "max_response_mb"),
            ("SERVICETITAN_REQUEST_DEADLINE_SECONDS", "request_deadline_seconds"),
        )
        for value in ("0", "-1", "abc")
    },
}


@pytest.mark.parametrize("case", list(_BAD_SETTINGS))
def test_sync_refuses_a_bad_setting_in_one_line_before_any_request(
    shell, hostile_server, capsys, case
):
    changes, named = _BAD_SETTINGS[case]
    server = hostile_server()
    shell.update(connection_of(server))
    for name, value in changes.items():
        if value is None:
            shell.pop(name, None)
        else:
            shell[name] = value

    line = refused(*run("sync", "--no-dbt", capsys=capsys), command="sync")

    assert named in line
    assert len(line) < 400, "the value must not be echoed whole"
    assert server.requests == []


def test_the_run_logs_directory_must_be_writable(shell, hostile_server, capsys, tmp_path):
    server = hostile_server()
    shell.update(connection_of(server))
    (tmp_path / "warehouse").mkdir()
    (tmp_path / "warehouse" / "logs").write_text("a file where the logs directory should be")
    line = refused(*run("sync", "--no-dbt", capsys=capsys), command="sync")
    assert "SERVICETITAN_DUCKDB_PATH" in line and "logs" in line
    assert server.requests == []


# --- the response limits are settings, and reach the client of check and of sync ------------


@pytest.mark.parametrize("argv", [["check"], ["sync", "--no-dbt"]])
def test_a_bad_response_limit_in_dotenv_is_refused_in_one_line_before_any_request(
    shell, hostile_server, capsys, argv
):
    server = hostile_server()
    dotenv({**connection_of(server), "SERVICETITAN_REQUEST_DEADLINE_SECONDS": "abc"})
    line = refused(*run(*argv, capsys=capsys), command=argv[0])
    assert "SERVICETITAN_REQUEST_DEADLINE_SECONDS / request_deadline_seconds" in line
    assert server.requests == []


def test_check_answers_within_the_response_size_setting(shell, hostile_server, capsys):
    server = hostile_server()
    # 0.0001 MiB is 104 bytes; the first export page is ~300.
    dotenv({**connection_of(server), "SERVICETITAN_MAX_RESPONSE_MB": "0.0001"})
    code, out, err = run("check", "--select", "customers", capsys=capsys)
    assert code != 0, out + err
    assert "more than 104 bytes" in out and "raise SERVICETITAN_MAX_RESPONSE_MB" in out
    assert "Traceback" not in out + err
