"""`servicetitan-pipeline check`: which request per entity, the report, exit codes, no secret."""

from __future__ import annotations

import io
import json
import os
import re
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
from servicetitan_pipeline.config import select_entities
from servicetitan_pipeline.entities import ENTITIES, ENTITIES_BY_NAME, SyncMode

SECRET = "cs1.check-test-SECRET-31c8aa"
APP_KEY = "ak1.check-test-APPKEY-77e0b2"
TOKEN = "eyJ-check-test-TOKEN-0c9d"
TENANT = 555
AUTH_PATH = "/connect/token"
TODAY = "2026-03-05"
EVERYTHING = select_entities("all")


def entity_line(text: str, name: str) -> str:
    """The report's one line for entity ``name`` (its status and short reason)."""
    pattern = re.compile(rf"^ {{4}}{re.escape(name)} +(OK|FAILED|skipped) ")
    (line,) = [ln for ln in text.splitlines() if pattern.match(ln)]
    return line


def module_line(text: str, module: str) -> str:
    """The summary's line for ``module``."""
    after = text.split("\nBy module:\n", 1)[1]
    (line,) = [ln for ln in after.splitlines() if ln.startswith(f"  {module} ")]
    return line


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
            expected = {"from": TODAY, **entity.export_params}
            assert (kind, path, params) == ("export", entity.export_path(TENANT), expected)
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
    # the sync asks appointment assignments' export for inactive ones too; so does the probe
    _, _, params = probe_request(ENTITIES_BY_NAME["appointment_assignments"], TENANT, TODAY)
    assert params == {"from": TODAY, "active": "Any"}


def test_all_ok_reports_the_connection_and_every_entity():
    out = io.StringIO()
    requests: list[httpx.Request] = []
    code = run_check(
        settings(),
        EVERYTHING,
        out,
        transport=factory(fake_servicetitan(requests=requests)),
        today=TODAY,
    )
    text = out.getvalue()
    assert code == EXIT_OK
    for expected in ("acme-hvac", "integration", str(TENANT), "https://api.check.invalid"):
        assert expected in text
    assert f"entities     all {len(ENTITIES)} (SERVICETITAN_ENTITIES=all)" in text
    for entity in ENTITIES:
        assert " OK " in entity_line(text, entity.name)
    for module in {e.module for e in ENTITIES}:
        count = sum(e.module == module for e in ENTITIES)
        assert module_line(text, module).split()[1:] == [str(count), "OK"]
    assert f"All {len(ENTITIES)} entities OK." in text
    assert len(requests) == len(ENTITIES)  # one request per entity, nothing more
    for secret in (SECRET, APP_KEY, TOKEN):
        assert secret not in text


def test_a_missing_scope_fails_that_entity_and_the_exit_code():
    out = io.StringIO()
    handler = fake_servicetitan(denied={"invoice_items", "campaigns"})
    code = run_check(settings(), EVERYTHING, out, transport=factory(handler), today=TODAY)
    text = out.getvalue()
    assert code == EXIT_FAILED
    for name in ("invoice_items", "campaigns"):
        scope = ENTITIES_BY_NAME[name].scope
        line = entity_line(text, name)
        assert "FAILED" in line and f"HTTP 403: missing API scope '{scope}'" in line
    assert "To grant a scope, add it to the app in ServiceTitan's developer portal" in text
    for name in ("invoice_items", "campaigns"):
        assert f"  {ENTITIES_BY_NAME[name].scope}  ({name})" in text  # the list of scopes
    assert "trace-403" in text
    assert " OK " in entity_line(text, "customers")
    accounting = sum(e.module == "accounting" for e in ENTITIES)
    assert module_line(text, "accounting").endswith(
        f"{accounting - 1} OK, 1 FAILED (missing API scope)"
    )
    assert module_line(text, "crm").split()[1:] == [
        str(sum(e.module == "crm" for e in ENTITIES)),
        "OK",
    ]
    # failures in the report's order: module by module (accounting before marketing)
    assert f"2 of {len(ENTITIES)} entities FAILED: invoice_items, campaigns." in text
    # the way out: the same selection without the two entities
    assert (
        "sync without those entities: SERVICETITAN_ENTITIES=all,-invoice_items,-campaigns" in text
    )
    for secret in (SECRET, APP_KEY, TOKEN):
        assert secret not in text


def test_unselected_entities_are_skipped_without_a_request():
    selection = select_entities("all,-payroll,-reviews")
    requests: list[httpx.Request] = []
    handler = fake_servicetitan(denied={"job_splits"}, requests=requests)
    out = io.StringIO()
    code = run_check(settings(), selection, out, transport=factory(handler), today=TODAY)
    text = out.getvalue()
    assert code == EXIT_OK  # the denied entity was not selected
    payroll = [e for e in ENTITIES if e.module == "payroll"]
    left_out = len(payroll) + 1
    assert len(requests) == len(ENTITIES) - left_out
    assert not any("/payroll/" in r.url.path or "/reviews" in r.url.path for r in requests)
    for entity in [*payroll, ENTITIES_BY_NAME["reviews"]]:
        assert entity_line(text, entity.name).endswith(
            "skipped  not selected by SERVICETITAN_ENTITIES"
        )
    assert module_line(text, "payroll").endswith(
        f"{len(payroll)} skipped (not selected by SERVICETITAN_ENTITIES)"
    )
    total = len(ENTITIES) - left_out
    assert f"entities     {total} of {len(ENTITIES)}, as SERVICETITAN_ENTITIES selects " in text
    assert (
        f"All {total} entities OK; {left_out} skipped (not selected by SERVICETITAN_ENTITIES)."
        in text
    )


def test_a_module_whose_every_entity_lacks_its_scope_is_left_out_by_name():
    payroll = {e.name for e in ENTITIES if e.module == "payroll"}
    handler = fake_servicetitan(denied=payroll | {"leads"})
    out = io.StringIO()
    selection = select_entities("crm,payroll,jobs")
    code = run_check(settings(), selection, out, transport=factory(handler), today=TODAY)
    text = out.getvalue()
    assert code == EXIT_FAILED
    assert module_line(text, "payroll").endswith(f"0 OK, {len(payroll)} FAILED (missing API scope)")
    assert (
        "sync without those entities: SERVICETITAN_ENTITIES=crm,payroll,jobs,-leads,-payroll"
        in (text)
    )
    # and that value does select what passed
    kept = select_entities("crm,payroll,jobs,-leads,-payroll").names
    assert set(kept) == {e.name for e in selection.entities} - payroll - {"leads"}


def test_the_way_out_follows_where_the_selection_came_from_and_needs_something_left():
    handler = fake_servicetitan(denied={"job_splits", "job_timesheets"})
    out = io.StringIO()
    selection = select_entities("job_splits,job_timesheets,jobs", source="--select")
    run_check(settings(), selection, out, transport=factory(handler), today=TODAY)
    # both selected payroll entities lack their scope: the module goes
    assert out.getvalue().endswith(
        "sync without those entities: --select=job_splits,job_timesheets,jobs,-payroll\n"
    )
    # nothing would be left: only the way to grant the scopes is said
    out = io.StringIO()
    selection = select_entities("job_splits,job_timesheets")
    assert run_check(settings(), selection, out, transport=factory(handler), today=TODAY) == 1
    text = out.getvalue()
    assert "To grant a scope, add it to the app" in text and "sync without" not in text


def test_probes_run_concurrently():
    # Each answer waits until four requests are in flight: one at a time, it would time out.
    barrier = threading.Barrier(4, timeout=10)
    inner = fake_servicetitan()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path != AUTH_PATH:
            barrier.wait()
        return inner(request)

    out = io.StringIO()
    selection = select_entities("customers,locations,jobs,invoices")
    code = run_check(
        settings(), selection, out, transport=factory(handler), today=TODAY, concurrency=4
    )
    assert code == EXIT_OK, out.getvalue()
    assert not barrier.broken


def test_other_failures_are_not_called_missing_scopes():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == AUTH_PATH:
            return httpx.Response(200, json={"access_token": TOKEN, "expires_in": 900})
        if request.url.path == ENTITIES_BY_NAME["customers"].export_path(TENANT):
            return httpx.Response(404, json={"title": "Not Found", "status": 404})
        return httpx.Response(200, json={"hasMore": False, "data": []})

    out = io.StringIO()
    selection = select_entities("crm")
    code = run_check(settings(), selection, out, transport=factory(handler), today=TODAY)
    text = out.getvalue()
    assert code == EXIT_FAILED
    assert "HTTP 404: Not Found" in entity_line(text, "customers")
    crm = sum(e.module == "crm" for e in ENTITIES)
    assert module_line(text, "crm").endswith(f"{crm - 1} OK, 1 FAILED")
    assert "Missing API scopes" not in text


def test_rejected_credentials_stop_before_the_entities():
    out = io.StringIO()
    requests: list[httpx.Request] = []
    handler = fake_servicetitan(token_error="invalid_client", requests=requests)
    code = run_check(settings(), EVERYTHING, out, transport=factory(handler), today=TODAY)
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
    transport = httpx.MockTransport(recording)
    assert run_check(settings(), EVERYTHING, out, transport=transport) == EXIT_OK
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

    run_check(settings(), EVERYTHING, io.StringIO(), transport=factory(recording), today=TODAY)
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
    assert "HTTP 403: missing API scope" in entity_line(out, "payments")
    assert " OK " in entity_line(out, "jobs")
    assert "skipped  not selected by --select" in entity_line(out, "customers")
    assert len(handler.seen) == 2


def test_cli_reads_the_selection_from_the_settings_file(loopback, capsys):
    handler, _ = loopback
    handler.denied = frozenset({"job_splits"})
    with open(".env", "w", encoding="utf-8") as env_file:
        env_file.write("SERVICETITAN_ENTITIES=settings, jpm ,-jobs\n")
    os.chmod(".env", 0o600)
    assert cli.main(["check"]) == EXIT_OK
    out = capsys.readouterr().out
    expected = [e for e in ENTITIES if e.module in ("settings", "jpm") and e.name != "jobs"]
    assert len(handler.seen) == len(expected)
    assert "skipped  not selected by SERVICETITAN_ENTITIES" in entity_line(out, "jobs")
    assert " OK " in entity_line(out, "technicians")
    # --select wins over the setting for one run
    handler.seen.clear()
    assert cli.main(["check", "--select", "payroll"]) == EXIT_FAILED
    out = capsys.readouterr().out
    assert "Payroll: Job Splits (View)" in entity_line(out, "job_splits")
    assert "skipped  not selected by --select" in entity_line(out, "technicians")
    assert len(handler.seen) == sum(e.module == "payroll" for e in ENTITIES)


def test_cli_exits_2_naming_a_bad_selection(loopback, clean_env, capsys):
    handler, _ = loopback
    clean_env.setenv("SERVICETITAN_ENTITIES", "crm,payrol")
    assert cli.main(["check"]) == EXIT_BAD_SETTINGS
    err = capsys.readouterr().err
    assert "SERVICETITAN_ENTITIES: unknown module or entity 'payrol'" in err
    # a bad setting fails even when --select overrides it: the schedule's job reads it too
    assert cli.main(["check", "--select", "crm"]) == EXIT_BAD_SETTINGS
    assert "SERVICETITAN_ENTITIES: unknown" in capsys.readouterr().err
    clean_env.delenv("SERVICETITAN_ENTITIES")
    assert cli.main(["check", "--select", "crm,widgets"]) == EXIT_BAD_SETTINGS
    assert "--select: unknown module or entity 'widgets'" in capsys.readouterr().err
    assert handler.seen == []


def test_cli_over_real_http_with_a_wrong_secret(loopback, clean_env, capsys):
    clean_env.setenv("SERVICETITAN_CLIENT_SECRET", "cs1.wrong-secret-value")
    assert cli.main(["check"]) == EXIT_FAILED
    captured = capsys.readouterr()
    assert "rejected the client ID/secret" in captured.out
    assert "cs1.wrong-secret-value" not in captured.out + captured.err
