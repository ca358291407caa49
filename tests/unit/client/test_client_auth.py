"""OAuth client credentials: the token request, caching, expiry, single flight, 401, errors."""

from __future__ import annotations

import threading

import httpx
import pytest
from client_fakes import (
    APP_KEY,
    AUTH,
    CLIENT_ID,
    CLIENT_SECRET,
    TOKEN_PREFIX,
    form,
    make_settings,
    ok,
    problem,
)

from servicetitan_pipeline.client import AuthenticationError, ServiceTitanClient

PATH = "/crm/v2/tenant/1234567/customers"


def test_token_request_is_a_form_encoded_client_credentials_post(fake):
    with fake.client() as client:
        client.get_json(PATH)
    (request,) = fake.token_requests
    assert request.method == "POST"
    assert str(request.url) == AUTH
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(request) == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    # The app key and bearer token belong to API calls only.
    assert "st-app-key" not in request.headers
    assert "authorization" not in request.headers


def test_every_api_request_sends_bearer_token_and_app_key(fake):
    with fake.client() as client:
        client.get_json(PATH)
        client.get_json(PATH, {"page": 2})
    assert len(fake.requests) == 2
    for request in fake.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN_PREFIX}1"
        assert request.headers["st-app-key"] == APP_KEY
        assert request.url.host == "api.test.invalid"
        assert request.url.path == PATH


def test_token_is_cached_until_shortly_before_it_expires(fake, clock):
    fake.expires_in = 900
    with fake.client(clock=clock, sleep=clock.sleep) as client:
        client.get_json(PATH)
        clock.advance(800)  # 100 s left: still beyond the 60 s refresh margin
        client.get_json(PATH)
        assert len(fake.token_requests) == 1
        clock.advance(50)  # 50 s left: inside the margin, so renewed before it can expire
        client.get_json(PATH)
        assert len(fake.token_requests) == 2
        assert fake.requests[-1].headers["authorization"] == f"Bearer {TOKEN_PREFIX}2"
        client.get_json(PATH)
        assert len(fake.token_requests) == 2
        assert client.stats.token_requests == 2


def test_short_lived_tokens_keep_half_their_lifetime(fake, clock):
    # With a 30 s token a fixed 60 s margin would refresh on every request.
    fake.expires_in = 30
    with fake.client(clock=clock, sleep=clock.sleep) as client:
        client.get_json(PATH)
        clock.advance(10)
        client.get_json(PATH)
        assert len(fake.token_requests) == 1
        clock.advance(6)
        client.get_json(PATH)
        assert len(fake.token_requests) == 2


def test_many_threads_needing_a_token_cause_exactly_one_token_request(fake):
    release = threading.Event()
    fake.token_delay = release  # the token answer is held until every thread is waiting
    client = fake.client()
    threads_count = 16
    started = threading.Barrier(threads_count + 1)
    errors: list[BaseException] = []

    def worker() -> None:
        started.wait()
        try:
            client.get_json(PATH)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(threads_count)]
    for t in threads:
        t.start()
    started.wait()
    # Give every thread time to reach the token lock before the token answer is released.
    deadline = threading.Event()
    deadline.wait(0.3)
    release.set()
    for t in threads:
        t.join(10)
    client.close()
    assert not errors
    assert len(fake.token_requests) == 1
    assert len(fake.requests) == threads_count
    assert {r.headers["authorization"] for r in fake.requests} == {f"Bearer {TOKEN_PREFIX}1"}


def test_401_refreshes_the_token_once_and_retries(fake):
    def api(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == f"Bearer {TOKEN_PREFIX}1":
            return problem(401, "Unauthorized")
        return ok({"data": [1]})

    fake.api = api
    with fake.client() as client:
        assert client.get_json(PATH) == {"data": [1]}
        # The 401 refresh is not a retry of a failure and does not use up an attempt.
        assert client.stats.retries == 0
    assert len(fake.token_requests) == 2
    assert len(fake.requests) == 2


def test_401_after_the_refresh_fails_clearly(fake):
    fake.api = lambda request: problem(401, "Unauthorized", trace_id="trace-401")
    with fake.client() as client, pytest.raises(AuthenticationError) as info:
        client.get_json(PATH, {"page": 1})
    assert len(fake.token_requests) == 2  # one refresh, not a loop
    assert len(fake.requests) == 2
    error = info.value
    assert error.status == 401
    assert error.method == "GET" and error.path == PATH and error.query == "page=1"
    assert error.trace_id == "trace-401"
    message = str(error)
    assert f"GET {PATH}?page=1" in message
    assert "trace-401" in message
    assert "SERVICETITAN_APP_KEY" in message


def test_concurrent_401s_on_the_same_token_refresh_it_once(fake):
    # Token 1 is revoked server-side while eight threads are using it.
    barrier = threading.Barrier(8)

    def api(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == f"Bearer {TOKEN_PREFIX}1":
            barrier.wait(5)  # all eight hold a 401 for token 1 at the same time
            return problem(401, "Unauthorized")
        return ok({"data": []})

    fake.api = api
    client = fake.client()
    client.get_token()  # token 1, cached before the threads start
    threads = [threading.Thread(target=client.get_json, args=(PATH,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    client.close()
    assert len(fake.token_requests) == 2
    assert len(fake.requests) == 16


@pytest.mark.parametrize("status", [400, 401])
def test_invalid_client_names_environment_and_auth_url(fake, status):
    fake.token = lambda request: httpx.Response(
        status, json={"error": "invalid_client", "error_description": "bad"}
    )
    client = ServiceTitanClient(make_settings(environment="Production"), fake.transport)
    with client, pytest.raises(AuthenticationError) as info:
        client.get_json(PATH)
    message = str(info.value)
    assert "rejected the client ID/secret" in message
    assert "production" in message
    assert AUTH in message
    assert CLIENT_SECRET not in message and CLIENT_ID not in message
    assert len(fake.token_requests) == 1  # a wrong secret is not retried
    assert fake.requests == []


def test_other_token_refusals_quote_servicetitan(fake):
    fake.token = lambda request: httpx.Response(
        400, json={"error": "unauthorized_client", "error_description": "App not connected"}
    )
    with fake.client() as client, pytest.raises(AuthenticationError, match="App not connected"):
        client.get_token()


def test_token_endpoint_throttling_is_retried(fake, clock):
    answers = iter([httpx.Response(429, headers={"Retry-After": "2"}), None])

    def token(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        return answer or ok({"access_token": f"{TOKEN_PREFIX}x", "expires_in": 900})

    fake.token = token
    with fake.client(sleep=clock.sleep) as client:
        assert client.get_token() == f"{TOKEN_PREFIX}x"
    assert clock.sleeps == [2.0]


def test_token_answer_without_access_token_is_an_error(fake):
    fake.token = lambda request: ok({"token_type": "Bearer"})
    with fake.client() as client, pytest.raises(Exception, match="without an access_token"):
        client.get_token()
