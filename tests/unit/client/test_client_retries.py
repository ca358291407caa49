"""Retries: 429 waits (Retry-After seconds/date, problem title, backoff), 5xx, transport errors,
invalid JSON, the caps, and the errors raised when giving up or failing at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from client_fakes import FakeServiceTitan, make_settings, ok, problem, quick_policy

from servicetitan_pipeline.client import (
    ApiError,
    InvalidResponseError,
    PermissionDeniedError,
    RetriesExhaustedError,
    RetryPolicy,
)
from servicetitan_pipeline.client.transport import (
    retry_after_seconds,
    seconds_from_title,
)

PATH = "/jpm/v2/tenant/1234567/export/jobs"


def scripted(*answers: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    """An API handler that gives ``answers`` in order, then a valid page forever."""
    queue = list(answers)
    lock = threading.Lock()

    def api(request: httpx.Request) -> httpx.Response:
        with lock:
            answer = queue.pop(0) if queue else ok({"hasMore": False, "data": [{"id": 1}]})
        if isinstance(answer, Exception):
            raise answer
        return answer

    return api


def run(fake: FakeServiceTitan, clock, *answers, policy: RetryPolicy | None = None, params=None):
    fake.api = scripted(*answers)
    with fake.client(sleep=clock.sleep, retry_policy=policy or quick_policy()) as client:
        body = client.get_json(PATH, params)
        return body, client.stats


# -- the waits -------------------------------------------------------------------------------


def test_429_waits_as_retry_after_seconds_says(fake, clock):
    body, stats = run(fake, clock, httpx.Response(429, headers={"Retry-After": "3"}))
    assert body["data"] == [{"id": 1}]
    assert clock.sleeps == [3.0]
    assert stats.retries == 1 and stats.requests == 2
    assert stats.retry_wait_seconds == pytest.approx(3.0)
    assert stats.total_wait_seconds == pytest.approx(3.0)


def test_429_waits_until_the_retry_after_http_date(fake, clock):
    when = datetime.now(UTC) + timedelta(seconds=20)
    run(fake, clock, httpx.Response(429, headers={"Retry-After": format_datetime(when)}))
    (wait,) = clock.sleeps
    assert 17.0 <= wait <= 20.0  # HTTP dates have whole seconds; the test itself takes a moment


def test_retry_after_parsing():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7", now=now) == 7.0
    assert retry_after_seconds(" 2.5 ", now=now) == 2.5
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:09 GMT", now=now) == 9.0
    assert retry_after_seconds("Thu, 01 Jan 2026 11:59:00 GMT", now=now) == 0.0  # in the past
    assert retry_after_seconds("-4", now=now) == 0.0
    for junk in (None, "", "soon", "nan"):
        assert retry_after_seconds(junk, now=now) is None


def test_seconds_from_problem_title():
    assert seconds_from_title("Rate limit exceeded. Try again in 3 seconds.") == 3.0
    assert seconds_from_title("Too many requests, retry in 1 second") == 1.0
    assert seconds_from_title("Try again in 0.5 s") == 0.5
    assert seconds_from_title("Rate limit exceeded.") is None
    assert seconds_from_title(None) is None


def test_429_without_retry_after_uses_the_seconds_in_the_problem_title(fake, clock):
    run(fake, clock, problem(429, "Rate limit exceeded. Try again in 7 seconds."))
    assert clock.sleeps == [7.0]


def test_retry_after_header_wins_over_the_title(fake, clock):
    answer = problem(429, "Rate limit exceeded. Try again in 7 seconds.")
    answer.headers["Retry-After"] = "2"
    run(fake, clock, answer)
    assert clock.sleeps == [2.0]


def test_429_with_no_hint_backs_off_exponentially_with_jitter(fake, clock):
    policy = quick_policy(max_attempts=5, backoff_initial_seconds=1.0, backoff_max_seconds=3.0)
    answers = [httpx.Response(429, text="slow down")] * 4
    run(fake, clock, *answers, policy=policy)
    # rng() = 0.5 -> each wait is 3/4 of the capped ceiling 1, 2, 4->3, 8->3.
    assert clock.sleeps == pytest.approx([0.75, 1.5, 2.25, 2.25])


def test_backoff_jitter_stays_within_half_and_full_ceiling():
    policy = RetryPolicy(backoff_initial_seconds=2.0, backoff_max_seconds=10.0)
    assert policy.backoff(1, lambda: 0.0) == 1.0
    assert policy.backoff(1, lambda: 0.999999) == pytest.approx(2.0, abs=1e-5)
    assert policy.backoff(3, lambda: 0.0) == 4.0
    assert policy.backoff(10, lambda: 1.0) == 10.0


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_are_retried(fake, clock, status):
    body, stats = run(fake, clock, problem(status, "Internal error"), problem(status, "again"))
    assert body["data"]
    assert stats.retries == 2
    assert len(fake.requests) == 3


def test_503_retry_after_is_honoured(fake, clock):
    run(fake, clock, httpx.Response(503, headers={"Retry-After": "11"}))
    assert clock.sleeps == [11.0]


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("connection refused"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
        httpx.ReadError("connection reset by peer"),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectTimeout("timed out"),
        httpx.PoolTimeout("no free connection"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transport_errors_are_retried(fake, clock, error):
    body, stats = run(fake, clock, error)
    assert body["data"]
    assert stats.retries == 1 and stats.requests == 2


@pytest.mark.parametrize(
    "content", [b'{"hasMore": false, "data": [{"id": 1}, {"id"', b"", b"<html>502</html>"]
)
def test_invalid_json_bodies_are_retried(fake, clock, content):
    body, stats = run(fake, clock, httpx.Response(200, content=content))
    assert body == {"hasMore": False, "data": [{"id": 1}]}
    assert stats.retries == 1


# -- giving up -------------------------------------------------------------------------------


def test_retry_cap_gives_up_with_method_path_query_status_title_trace(fake, clock):
    answers = [problem(503, "Service Unavailable", trace_id=f"trace-{i}") for i in range(10)]
    with pytest.raises(RetriesExhaustedError) as info:
        run(fake, clock, *answers, policy=quick_policy(max_attempts=3), params={"from": "tok-9"})
    error = info.value
    assert len(fake.requests) == 3
    assert len(clock.sleeps) == 2
    assert error.attempts == 3
    assert error.waited_seconds == pytest.approx(sum(clock.sleeps))
    assert (error.method, error.path, error.query) == ("GET", PATH, "from=tok-9")
    assert error.status == 503
    assert error.title == "Service Unavailable"
    assert error.trace_id == "trace-2"  # the last answer's
    message = str(error)
    for part in (f"GET {PATH}?from=tok-9", "HTTP 503", "Service Unavailable", "trace-2", "3 "):
        assert part in message


def test_total_wait_cap_stops_before_a_wait_that_would_exceed_it(fake, clock):
    answer = httpx.Response(429, headers={"Retry-After": "120"})
    with pytest.raises(RetriesExhaustedError) as info:
        run(fake, clock, answer, policy=quick_policy(max_attempts=10, max_total_wait_seconds=60))
    assert clock.sleeps == []  # no point sleeping 60 s only to give up afterwards
    assert len(fake.requests) == 1
    assert "120" in str(info.value) and "60" in str(info.value)


def test_total_wait_cap_counts_every_wait(fake, clock):
    answers = [httpx.Response(429, headers={"Retry-After": "25"})] * 5
    with pytest.raises(RetriesExhaustedError):
        run(fake, clock, *answers, policy=quick_policy(max_attempts=10, max_total_wait_seconds=60))
    assert clock.sleeps == [25.0, 25.0]


def test_max_attempts_one_means_no_retry(fake, clock):
    with pytest.raises(RetriesExhaustedError):
        run(fake, clock, problem(500, "boom"), policy=quick_policy(max_attempts=1))
    assert len(fake.requests) == 1 and clock.sleeps == []


def test_caps_come_from_the_settings(fake, clock):
    fake.api = scripted(*[problem(500, "boom")] * 10)
    client = fake.client(make_settings(max_attempts=2), sleep=clock.sleep)
    with client, pytest.raises(RetriesExhaustedError):
        client.get_json(PATH)
    assert len(fake.requests) == 2


def test_connection_errors_give_up_without_a_status(fake, clock):
    with pytest.raises(RetriesExhaustedError) as info:
        run(fake, clock, *[httpx.ConnectError("refused")] * 4, policy=quick_policy(max_attempts=4))
    assert info.value.status is None
    assert "ConnectError" in str(info.value) and PATH in str(info.value)


def test_persistently_invalid_json_raises_invalid_response_with_the_body(fake, clock):
    truncated = b'{"hasMore": true, "continueFrom": "abc", "data": [{"id": 1, "name": "Smi'
    with pytest.raises(InvalidResponseError) as info:
        run(
            fake,
            clock,
            *[httpx.Response(200, content=truncated)] * 3,
            policy=quick_policy(max_attempts=3),
            params={"from": "abc"},
        )
    error = info.value
    assert error.body == truncated.decode()
    assert error.request == f"GET {PATH}?from=abc"
    assert error.status == 200
    assert "invalid JSON" in str(error)
    assert len(fake.requests) == 3


# -- failing at once -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 404, 409, 422, 501])
def test_other_errors_fail_at_once_with_detail(fake, clock, status):
    with pytest.raises(ApiError) as info:
        run(fake, clock, problem(status, "Something is wrong", trace_id="trace-x"))
    error = info.value
    assert not isinstance(error, RetriesExhaustedError)
    assert len(fake.requests) == 1 and clock.sleeps == []
    assert error.status == status and error.title == "Something is wrong"
    assert error.trace_id == "trace-x"
    assert f"GET {PATH}" in str(error) and "trace-x" in str(error) and str(status) in str(error)


def test_403_says_the_tenant_has_not_granted_the_scope(fake, clock):
    with pytest.raises(PermissionDeniedError) as info:
        run(fake, clock, problem(403, "Forbidden", trace_id="trace-403"))
    message = str(info.value)
    assert "has not granted this app the API scope" in message
    assert "1234567" in message  # the tenant
    assert "trace-403" in message and PATH in message
    assert len(fake.requests) == 1


def test_non_json_error_body_is_quoted_briefly(fake, clock):
    page = "<html><body>" + "Bad gateway " * 200 + "</body></html>"
    with pytest.raises(ApiError) as info:
        run(fake, clock, httpx.Response(400, text=page))
    assert info.value.title is not None and len(info.value.title) <= 300
    assert "Bad gateway" in str(info.value)


def test_redirects_are_not_followed(fake, clock):
    # Following would send the bearer token and app key to wherever Location points.
    answer = httpx.Response(302, headers={"Location": "https://elsewhere.example/x"})
    with pytest.raises(ApiError, match="Redirects are not followed"):
        run(fake, clock, answer)
    assert all(r.url.host == "api.test.invalid" for r in fake.requests)


# -- stats -----------------------------------------------------------------------------------


def test_stats_are_exact_under_threads(fake):
    fake.api = lambda request: ok({"data": [1, 2, 3]})
    client = fake.client()
    threads = [
        threading.Thread(target=lambda: [client.get_json(PATH) for _ in range(25)])
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    stats = client.stats
    client.close()
    assert stats.requests == 200
    assert stats.token_requests == 1
    assert stats.bytes_received == 200 * len(b'{"data":[1,2,3]}')


def test_stats_snapshots_subtract_into_deltas(fake, clock):
    fake.api = scripted(httpx.Response(429, headers={"Retry-After": "1"}))
    with fake.client(sleep=clock.sleep) as client:
        before = client.stats
        client.get_json(PATH)
        delta = client.stats - before
    assert (delta.requests, delta.retries) == (2, 1)
    assert delta.retry_wait_seconds == pytest.approx(1.0)
