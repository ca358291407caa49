"""`servicetitan-pipeline check`: which request per entity, the report, exit codes, no secret."""

from __future__ import annotations

import io
import json
import os
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest

from servicetitan_pipeline import cli
from servicetitan_pipeline.cli.check import (
    EXIT_BAD_SETTINGS,
    EXIT_FAILED,
    EXIT_OK,
    probe_request,
    resource_from_environment,
    run_check,
)
from servicetitan_pipeline.client import ConnectionSettings, SettingsError
from servicetitan_pipeline.entities import ENTITIES, ENTITIES_BY_NAME, SyncMode

SECRET = "cs1.check-test-SECRET-31c8aa"
APP_KEY = "ak1.check-test-APPKEY-77e0b2"
TOKEN = "eyJ-check-test-TOKEN-0c9d"
TENANT = 555
AUTH_PATH = "/connect/token"
TODAY = "2026-03-05"


def settings(**overrides) -> ConnectionSettings:
    values = {
        "name": "acme-hvac",
        "environment": "integration",
        "tenant_id": TENANT,
        "client_id": "cid.check",
        "client_secret": SECRET,
        "app_key": APP_KEY,
        "api_base_url": "https://api.check.invalid",
        "auth_url": "https://auth.check.invalid/connect/token",
        "rate_limit_per_second": None,
        "max_attempts": 2,
    }
    values.update(overrides)
    return ConnectionSettings(**values)


def fake_servicetitan(*, denied=(), token_error=None, requests=None):
    """MockTransport answering the token endpoint and every entity's endpoints."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == AUTH_PATH:
            if token_error:
                return httpx.Response(400, json={"error": token_error})
            return httpx.Response(200, json={"access_token": TOKEN, "expires_in": 900})
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["st-app-key"] == APP_KEY
        if requests is not None:
            requests.append(request)
        for entity in ENTITIES:
            if request.url.path in (
                entity.export_path(TENANT) if entity.has_export else None,
                entity.list_path(TENANT) if entity.has_list else None,
            ):
                if entity.name in denied:
                    body = {"title": "Forbidden", "status": 403, "traceId": "trace-403"}
                    return httpx.Response(403, content=orjson.dumps(body))
                return httpx.Response(200, json={"hasMore": False, "data": [{"id": 1}]})
        return httpx.Response(404, json={"title": "Not Found", "status": 404})

    return handler


def factory(handler):
    return httpx.MockTransport(handler)


def test_probe_uses_the_endpoint_each_entity_is_synced_from():
    for entity in ENTITIES:
        kind, path, params = probe_request(entity, TENANT, TODAY)
        if entity.sync_mode is SyncMode.EXPORT:
            assert (kind, path, params) == ("export", entity.export_path(TENANT), {"from": TODAY})
        else:
            assert (kind, path, params) == (
                "list",
                entity.list_path(TENANT),
                {"page": 1, "pageSize": 1},
            )
    kind, path, _ = probe_request(ENTITIES_BY_NAME["invoice_items"], TENANT, TODAY)
    assert (kind, path) == ("export", "/accounting/v2/tenant/555/export/invoice-items")
    kind, _, _ = probe_request(ENTITIES_BY_NAME["job_types"], TENANT, TODAY)
    assert kind == "list"


def test_all_ok_reports_the_connection_and_every_entity():
    out = io.StringIO()
    requests: list[httpx.Request] = []
    code = run_check(
        settings(),
        ENTITIES,
        out,
        transport=factory(fake_servicetitan(requests=requests)),
        today=TODAY,
    )
    text = out.getvalue()
    assert code == EXIT_OK
    for expected in ("acme-hvac", "integration", str(TENANT), "https://api.check.invalid"):
        assert expected in text
    for entity in ENTITIES:
        (line,) = [ln for ln in text.splitlines() if ln.strip().startswith(entity.name + " ")]
        assert " OK " in line
    assert f"All {len(ENTITIES)} entities OK." in text
    assert len(requests) == len(ENTITIES)  # one request per entity, nothing more
    for secret in (SECRET, APP_KEY, TOKEN):
        assert secret not in text


def test_a_missing_scope_fails_that_entity_and_the_exit_code():
    out = io.StringIO()
    handler = fake_servicetitan(denied={"invoice_items", "campaigns"})
    code = run_check(settings(), ENTITIES, out, transport=factory(handler), today=TODAY)
    text = out.getvalue()
    assert code == EXIT_FAILED
    lines = text.splitlines()
    for name in ("invoice_items", "campaigns"):
        (line,) = [ln for ln in lines if ln.strip().startswith(name + " ")]
        assert "FAILED" in line and "HTTP 403: missing API scope" in line
    assert "has not granted this app the API scope" in text
    assert "trace-403" in text
    (ok_line,) = [ln for ln in lines if ln.strip().startswith("customers ")]
    assert " OK " in ok_line
    assert "2 of 11 entities FAILED: campaigns, invoice_items." in text
    for secret in (SECRET, APP_KEY, TOKEN):
        assert secret not in text


def test_rejected_credentials_stop_before_the_entities():
    out = io.StringIO()
    requests: list[httpx.Request] = []
    handler = fake_servicetitan(token_error="invalid_client", requests=requests)
    code = run_check(settings(), ENTITIES, out, transport=factory(handler), today=TODAY)
    text = out.getvalue()
    assert code == EXIT_FAILED
    assert "rejected the client ID/secret" in text and "integration" in text
    assert "No entity was checked" in text
    assert requests == []
    assert SECRET not in text


def test_settings_come_from_the_environment_with_command_line_overrides():
    environ = {
        "SERVICETITAN_CONNECTION_NAME": "from-env",
        "SERVICETITAN_ENVIRONMENT": "production",
        "SERVICETITAN_TENANT_ID": "1",
        "SERVICETITAN_CLIENT_ID": "cid",
        "SERVICETITAN_CLIENT_SECRET": SECRET,
        "SERVICETITAN_APP_KEY": APP_KEY,
        "SERVICETITAN_API_BASE_URL": "",
    }
    resource = resource_from_environment(environ, {"tenant_id": "77", "name": None})
    s = resource.get_settings()
    assert (s.name, s.tenant_id, s.api_base_url) == ("from-env", 77, "https://api.servicetitan.io")


def test_all_missing_settings_are_named_at_once():
    with pytest.raises(SettingsError) as info:
        resource_from_environment({"SERVICETITAN_TENANT_ID": "1"}, {})
    message = str(info.value)
    for name in (
        "SERVICETITAN_CONNECTION_NAME",
        "SERVICETITAN_ENVIRONMENT",
        "SERVICETITAN_CLIENT_ID",
        "SERVICETITAN_CLIENT_SECRET",
        "SERVICETITAN_APP_KEY",
    ):
        assert name in message
    assert "SERVICETITAN_TENANT_ID" not in message


def _token_answer_dated(date: str | None):
    """A fake ServiceTitan whose answers carry ``Date: date`` (none when ``None``)."""
    inner = fake_servicetitan()

    def handler(request: httpx.Request) -> httpx.Response:
        response = inner(request)
        if date is not None:
            response.headers["Date"] = date
        return response

    return handler


def _export_froms(handler) -> tuple[str, set[str]]:
    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    out = io.StringIO()
    assert run_check(settings(), ENTITIES, out, transport=httpx.MockTransport(recording)) == EXIT_OK
    froms = {r.url.params["from"] for r in seen if "from" in r.url.params}
    return out.getvalue(), froms


def test_export_probes_ask_for_the_servers_today():
    # The server lives on another day than this machine (a simulated tenant, a wrong clock).
    text, froms = _export_froms(_token_answer_dated("Tue, 14 Nov 2028 23:59:58 GMT"))
    assert froms == {"2028-11-14"}
    assert "2028-11-14 (the server's date)" in text


@pytest.mark.parametrize("date", [None, "", "the day after tomorrow"])
def test_export_probes_fall_back_to_this_machines_date(date):
    before = datetime.now(UTC).strftime("%Y-%m-%d")
    text, froms = _export_froms(_token_answer_dated(date))
    after = datetime.now(UTC).strftime("%Y-%m-%d")
    assert froms <= {before, after} and len(froms) == 1
    assert "this machine's date (UTC)" in text


def test_an_explicit_today_wins_over_the_servers_date():
    handler = _token_answer_dated("Tue, 14 Nov 2028 10:00:00 GMT")
    requests: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return handler(request)

    run_check(settings(), ENTITIES, io.StringIO(), transport=factory(recording), today=TODAY)
    assert {r.url.params["from"] for r in requests if "from" in r.url.params} == {TODAY}


# -- through the real command line -------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No SERVICETITAN_* variables from the machine, and no .env file in the working directory."""
    for name in list(os.environ):
        if name.startswith("SERVICETITAN_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_cli_exits_2_naming_missing_settings(clean_env, capsys):
    assert cli.main(["check"]) == EXIT_BAD_SETTINGS
    err = capsys.readouterr().err
    assert "SERVICETITAN_CLIENT_SECRET" in err and "SERVICETITAN_TENANT_ID" in err


def test_cli_exits_2_naming_a_bad_tenant(clean_env, capsys):
    for name, value in {
        "SERVICETITAN_CONNECTION_NAME": "x",
        "SERVICETITAN_ENVIRONMENT": "production",
        "SERVICETITAN_TENANT_ID": "acme",
        "SERVICETITAN_CLIENT_ID": "cid",
        "SERVICETITAN_CLIENT_SECRET": SECRET,
        "SERVICETITAN_APP_KEY": APP_KEY,
    }.items():
        clean_env.setenv(name, value)
    assert cli.main(["check"]) == EXIT_BAD_SETTINGS
    captured = capsys.readouterr()
    assert "SERVICETITAN_TENANT_ID / tenant_id must be a positive integer, got 'acme'" in (
        captured.err
    )
    assert SECRET not in captured.out + captured.err


class _LoopbackServiceTitan(BaseHTTPRequestHandler):
    """A minimal ServiceTitan over real HTTP on 127.0.0.1: token, and every entity endpoint."""

    denied: frozenset[str] = frozenset()
    seen: list[str]

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        fields = parse_qs(self.rfile.read(length).decode())
        if self.path == AUTH_PATH and fields.get("client_secret") == [SECRET]:
            self._send(200, {"access_token": TOKEN, "expires_in": 900})
        else:
            self._send(400, {"error": "invalid_client"})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self.seen.append(self.path)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._send(401, {"title": "Unauthorized", "status": 401})
        if self.headers.get("ST-App-Key") != APP_KEY:
            return self._send(401, {"title": "Invalid app key", "status": 401})
        for entity in ENTITIES:
            paths = {entity.export_path(TENANT) if entity.has_export else None}
            paths.add(entity.list_path(TENANT) if entity.has_list else None)
            if url.path in paths:
                if entity.name in self.denied:
                    return self._send(403, {"title": "Forbidden", "traceId": "t-1"})
                return self._send(200, {"hasMore": False, "continueFrom": "x", "data": []})
        return self._send(404, {"title": "Not Found"})


@pytest.fixture
def loopback(clean_env):
    handler = type("Handler", (_LoopbackServiceTitan,), {"seen": [], "denied": frozenset()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    for name, value in {
        "SERVICETITAN_CONNECTION_NAME": "loopback",
        "SERVICETITAN_ENVIRONMENT": "integration",
        "SERVICETITAN_TENANT_ID": str(TENANT),
        "SERVICETITAN_CLIENT_ID": "cid.loopback",
        "SERVICETITAN_CLIENT_SECRET": SECRET,
        "SERVICETITAN_APP_KEY": APP_KEY,
        "SERVICETITAN_API_BASE_URL": base,
        "SERVICETITAN_AUTH_URL": base + AUTH_PATH,
    }.items():
        clean_env.setenv(name, value)
    yield handler, base
    server.shutdown()
    server.server_close()


def test_cli_over_real_http_all_ok(loopback, capsys):
    handler, base = loopback
    assert cli.main(["check"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "loopback" in out and base in out
    assert len(handler.seen) == len(ENTITIES)
    assert any("invoice-items?from=" in p for p in handler.seen)
    assert any(p.endswith("/job-types?page=1&pageSize=1") for p in handler.seen)
    assert SECRET not in out and TOKEN not in out and APP_KEY not in out


def test_cli_over_real_http_with_a_missing_scope_and_a_tenant_override(loopback, capsys):
    handler, _ = loopback
    handler.denied = frozenset({"payments"})
    assert cli.main(["check", "--select", "payments,jobs", "--connection-name", "cli"]) == (
        EXIT_FAILED
    )
    out = capsys.readouterr().out
    assert "cli" in out
    (line,) = [ln for ln in out.splitlines() if ln.strip().startswith("payments ")]
    assert "HTTP 403: missing API scope" in line
    assert len(handler.seen) == 2


def test_cli_over_real_http_with_a_wrong_secret(loopback, clean_env, capsys):
    clean_env.setenv("SERVICETITAN_CLIENT_SECRET", "cs1.wrong-secret-value")
    assert cli.main(["check"]) == EXIT_FAILED
    captured = capsys.readouterr()
    assert "rejected the client ID/secret" in captured.out
    assert "cs1.wrong-secret-value" not in captured.out + captured.err
