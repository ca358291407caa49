"""No secret (client secret, app key, access token) in any repr, error or log line.

Every failure path is driven with logs captured at DEBUG; then the captured text, each error's
str/repr/attributes and the client's repr are searched for every secret value.
"""

from __future__ import annotations

import logging

import httpx
import pytest
from client_fakes import APP_KEY, CLIENT_SECRET, TOKEN_PREFIX, FakeServiceTitan, ok, problem

from servicetitan_pipeline.client import RetryPolicy, ServiceTitanError

PATH = "/accounting/v2/tenant/1234567/export/invoices"


def echo_headers(status: int):
    """A misbehaving proxy that quotes our request headers back in its error body."""

    def api(request: httpx.Request) -> httpx.Response:
        quoted = f"bad request, headers were {dict(request.headers)}"
        return problem(status, quoted, trace_id="trace-echo")

    return api


def invalid_json_with_token(request: httpx.Request) -> httpx.Response:
    # Truncated JSON that happens to contain the bearer token (e.g. a debugging proxy).
    return httpx.Response(200, content=b'{"data": [' + request.headers["authorization"].encode())


SCENARIOS = {
    "invalid_client": dict(
        token=lambda r: httpx.Response(
            401, json={"error": "invalid_client", "error_description": f"no {CLIENT_SECRET}"}
        )
    ),
    "token_endpoint_down": dict(token=lambda r: problem(503, "down")),
    "401_twice": dict(api=echo_headers(401)),
    "403": dict(api=echo_headers(403)),
    "400": dict(api=echo_headers(400)),
    "429_exhausted": dict(api=echo_headers(429)),
    "500_exhausted": dict(api=echo_headers(500)),
    "connection_errors": dict(api=lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused"))),
    "invalid_json": dict(api=invalid_json_with_token),
    "no_data_list": dict(api=lambda r: ok({"detail": r.headers["st-app-key"]})),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_no_secret_in_errors_or_logs(scenario, caplog, clock):
    fake = FakeServiceTitan(**SCENARIOS[scenario])
    caplog.set_level(logging.DEBUG)
    client = fake.client(
        sleep=clock.sleep, retry_policy=RetryPolicy(max_attempts=3, max_total_wait_seconds=60)
    )
    with client, pytest.raises(ServiceTitanError) as info:
        list(client.iter_export(PATH, from_token="tok-1"))
    error = info.value
    texts = [
        str(error),
        repr(error),
        repr(error.args),
        repr(vars(error)),
        repr(client),
        repr(client.settings),
        caplog.text,
        *(str(record.args) for record in caplog.records),
    ]
    secrets = [CLIENT_SECRET, APP_KEY, *fake.issued]
    assert fake.issued or scenario in ("invalid_client", "token_endpoint_down")
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"{scenario}: secret leaked into {text[:200]!r}"
        assert TOKEN_PREFIX not in text
    # The errors still say what failed.
    assert "ServiceTitan" in str(error)


def test_successful_requests_log_at_debug_only_and_without_secrets(fake, caplog):
    fake.api = lambda request: ok({"hasMore": False, "continueFrom": "t2", "data": [{"id": 1}]})
    caplog.set_level(logging.DEBUG)
    with fake.client() as client:
        list(client.iter_export(PATH))
    ours = [r for r in caplog.records if r.name.startswith("servicetitan_pipeline")]
    assert ours, "expected a DEBUG line per request"
    assert all(r.levelno == logging.DEBUG for r in ours)
    assert any(PATH in r.getMessage() for r in ours)
    for secret in fake.all_secrets():
        assert secret not in caplog.text


def test_retries_are_logged_as_warnings_naming_the_request(fake, caplog, clock):
    answers = iter([problem(503, "busy")])
    fake.api = lambda request: next(answers, None) or ok({"data": []})
    caplog.set_level(logging.INFO)
    with fake.client(sleep=clock.sleep) as client:
        client.get_json(PATH, {"from": "tok-1"})
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert f"GET {PATH}?from=tok-1" in warning.getMessage()
    assert "HTTP 503" in warning.getMessage()
