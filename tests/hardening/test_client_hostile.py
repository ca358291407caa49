"""The client against the hostile ServiceTitan: every misbehaviour ends bounded, clearly, unretried.

Cases of issue #10: 3 (a token in truncated token JSON), 6 (cycling export tokens), 7 (empty
export pages forever), 8 (a list page repeated forever), 9 (a body trickling in), 10 (a gzip
bomb), 11 (TLS, DNS and malformed URLs are settings errors).
"""

from __future__ import annotations

import socket
import time
import tracemalloc
from collections.abc import Callable

import httpx
import pytest
from hostile_server import (
    CLIENT_ID,
    GIB,
    CyclingTokens,
    EmptyPages,
    GzipBomb,
    HostileServer,
    SameListPage,
    Slowloris,
    TruncatedTokenJson,
)

from servicetitan_pipeline.client import (
    EndpointSettingsError,
    InvalidResponseError,
    PaginationError,
    PagingLimits,
    ResponseLimitError,
    ResponseLimits,
    ServiceTitanClient,
    SettingsError,
)
from servicetitan_pipeline.defs.jobs import is_transient

Start = Callable[..., HostileServer]
MIB = 1 << 20


def client_for(server: HostileServer, **options: object) -> ServiceTitanClient:
    settings_overrides = options.pop("settings", {})
    assert isinstance(settings_overrides, dict)
    return ServiceTitanClient(server.connection_settings(**settings_overrides), **options)  # type: ignore[arg-type]


def secrets_of(server: HostileServer) -> tuple[str, ...]:
    return (server.client_secret, server.app_key, server.access_token, CLIENT_ID)


def assert_no_secret(server: HostileServer, *texts: object) -> None:
    for text in texts:
        for secret in secrets_of(server):
            assert secret not in str(text), f"{secret!r} leaked into {text!r}"


# -- 3. a token in a token answer cut short ------------------------------------------------------


def test_3_a_token_in_truncated_token_json_is_never_quoted(hostile_server: Start) -> None:
    server = hostile_server(token=TruncatedTokenJson())
    with client_for(server) as client, pytest.raises(InvalidResponseError) as caught:
        client.get_token()
    error = caught.value
    assert error.path == server.auth_url
    assert "invalid JSON" in str(error)
    assert '"access_token": "***"' in error.body  # what the answer was, without the value
    assert_no_secret(server, error, error.body, error.title, repr(error), error.request)


def test_3_a_token_learnt_from_a_truncated_answer_is_scrubbed_everywhere() -> None:
    from servicetitan_pipeline.client.transport import SecretScrubber

    scrubber = SecretScrubber(["cs1.secret-value"])
    scrubber.learn_tokens(b'{"token_type": "Bearer", "access_token": "eyJ-partial-tok')
    # The learnt value is scrubbed outside any JSON field too (e.g. echoed by a proxy).
    assert scrubber.scrub("Bearer eyJ-partial-tok failed") == "Bearer *** failed"
    assert scrubber.scrub('{"refresh_token":"abc"}') == '{"refresh_token":"***"}'
    assert scrubber.scrub("cs1.secret-value") == "***"


# -- 6, 7. export walks that would never end -----------------------------------------------------


def test_6_cycling_export_tokens_end_at_the_first_repeat(hostile_server: Start) -> None:
    server = hostile_server({"customers": CyclingTokens()})
    path = server.export_path("customers")
    pages = []
    with client_for(server) as client, pytest.raises(PaginationError) as caught:
        for page in client.iter_export(path):
            pages.append(page)
    # first page (-> t1), t1 (-> t2), t2 (-> t1 again): stop there.
    assert [p.from_token for p in pages] == [None, "t1", "t2"]
    assert len(server.api_requests(path)) == 3
    message = str(caught.value)
    assert path in message and "from=t2" in message and "'t1'" in message
    assert "already followed" in message
    assert not is_transient(caught.value)


def test_7_empty_export_pages_that_say_has_more_end_at_the_bound(hostile_server: Start) -> None:
    server = hostile_server({"customers": EmptyPages()})
    path = server.export_path("customers")
    limits = PagingLimits(max_consecutive_empty_pages=5)
    with client_for(server, paging_limits=limits) as client, pytest.raises(PaginationError) as e:
        pages = []
        for page in client.iter_export(path):
            pages.append(page)
    assert [len(p.data) for p in pages] == [3, 0, 0, 0, 0, 0, 0]  # five allowed, not six
    assert len(server.api_requests(path)) == 7
    assert "6 empty pages in a row" in str(e.value) and path in str(e.value)


def test_7_the_default_bound_on_empty_pages_ends_too(hostile_server: Start) -> None:
    server = hostile_server({"customers": EmptyPages()})
    path = server.export_path("customers")
    with client_for(server) as client, pytest.raises(PaginationError):
        for _ in client.iter_export(path):
            pass
    assert len(server.api_requests(path)) == 2 + PagingLimits().max_consecutive_empty_pages


# -- 8. a list walk that repeats its page --------------------------------------------------------


def test_8_a_list_page_repeating_the_previous_one_ends_the_walk(hostile_server: Start) -> None:
    server = hostile_server({"job_types": SameListPage()})
    path = server.list_path("job_types")
    with client_for(server) as client, pytest.raises(PaginationError) as caught:
        pages = []
        for page in client.iter_list(path, {"active": "Any"}):
            pages.append(page)
    assert [p.page for p in pages] == [1, 2]
    assert len(server.api_requests(path)) == 2
    message = str(caught.value)
    assert path in message and "page=2" in message and "same 3 records as page 1" in message


# -- 9, 10. answers that break a bound -----------------------------------------------------------


def test_9_a_body_trickling_in_ends_at_the_deadline_unretried(hostile_server: Start) -> None:
    server = hostile_server({"customers": Slowloris(byte_interval=0.05)})
    path = server.export_path("customers")
    limits = ResponseLimits(deadline_seconds=1.0)
    started = time.monotonic()
    with (
        client_for(server, response_limits=limits) as client,
        pytest.raises(ResponseLimitError) as caught,
    ):
        for _ in client.iter_export(path):
            pass
    assert time.monotonic() - started < 3.0  # one deadline plus a read, not max_attempts of them
    assert caught.value.limit == "deadline"
    assert len(server.api_requests(path)) == 2  # the first page, then the slow one once
    assert "from=t1" in str(caught.value) and "deadline" in str(caught.value)
    assert not is_transient(caught.value)


def test_9_a_trickling_token_answer_ends_at_the_deadline(hostile_server: Start) -> None:
    server = hostile_server(token=Slowloris(byte_interval=0.05))
    started = time.monotonic()
    client = client_for(server, response_limits=ResponseLimits(deadline_seconds=1.0))
    with client, pytest.raises(ResponseLimitError):
        client.get_token()
    assert time.monotonic() - started < 3.0
    assert len(server.token_requests()) == 1


@pytest.mark.parametrize("fill", ["records", "spaces"])
def test_10_a_gzip_bomb_is_cut_at_the_size_cap_unretried(hostile_server: Start, fill: str) -> None:
    server = hostile_server({"customers": GzipBomb(size=GIB, fill=fill)})  # type: ignore[arg-type]
    path = server.export_path("customers")
    limits = ResponseLimits(max_body_bytes=16 * MIB)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with (
            client_for(server, response_limits=limits) as client,
            pytest.raises(ResponseLimitError) as caught,
        ):
            for _ in client.iter_export(path):
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 5.0
    assert peak < 16 * MIB + 8 * MIB  # the cap, plus one decoding step and change
    assert caught.value.limit == "size"
    assert "Content-Encoding: gzip" in str(caught.value) and str(16 * MIB) in str(caught.value)
    assert len(server.api_requests(path)) == 2  # not retried
    assert not is_transient(caught.value)


def test_10_a_declared_length_past_the_cap_is_refused_before_reading(
    hostile_server: Start,
) -> None:
    server = hostile_server()
    path = server.export_path("customers")
    limits = ResponseLimits(max_body_bytes=100)  # the first page is ~300 bytes
    with (
        client_for(server, response_limits=limits) as client,
        pytest.raises(ResponseLimitError, match="more than 100 bytes"),
    ):
        next(client.iter_export(path))


# -- 11. URL settings that cannot work -----------------------------------------------------------


def test_11_https_to_a_plain_http_auth_port_names_the_auth_url(hostile_server: Start) -> None:
    server = hostile_server()
    settings = {"auth_url": server.https_auth_url, "api_base_url": server.https_base_url}
    started = time.monotonic()
    with (
        client_for(server, settings=settings) as client,
        pytest.raises(EndpointSettingsError) as caught,
    ):
        client.get_token()
    assert time.monotonic() - started < 2.0
    assert [r.kind for r in server.requests] == ["tls"]  # once, not retried
    error = caught.value
    assert isinstance(error, SettingsError) and not is_transient(error)
    assert error.setting == "auth_url" and error.url == server.https_auth_url
    assert "SERVICETITAN_AUTH_URL" in str(error) and "does not speak TLS" in str(error)


def test_11_https_to_a_plain_http_api_port_names_the_api_base_url(hostile_server: Start) -> None:
    server = hostile_server()
    client = client_for(server, settings={"api_base_url": server.https_base_url})
    with client, pytest.raises(EndpointSettingsError) as caught:
        next(client.iter_export(server.export_path("customers")))
    assert [r.kind for r in server.requests] == ["token", "tls"]
    assert caught.value.setting == "api_base_url"
    assert "SERVICETITAN_API_BASE_URL" in str(caught.value)
    assert server.https_base_url in str(caught.value)


def _connect_error_from(cause: BaseException) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise cause
        except BaseException as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc

    return httpx.MockTransport(handler)


def test_11_a_host_name_that_does_not_exist_is_a_settings_error(hostile_server: Start) -> None:
    server = hostile_server()
    not_found = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    client = client_for(server, transport=_connect_error_from(not_found))
    with client, pytest.raises(EndpointSettingsError, match="host name could not be resolved"):
        client.get_token()


def test_11_a_resolver_that_is_temporarily_down_is_retried(hostile_server: Start) -> None:
    server = hostile_server()
    again = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    client = client_for(server, transport=_connect_error_from(again), sleep=lambda s: None)
    with client, pytest.raises(Exception) as caught:
        client.get_token()
    assert not isinstance(caught.value, SettingsError)
    assert is_transient(caught.value)


def test_11_a_malformed_url_is_a_settings_error(hostile_server: Start) -> None:
    # Refused when the settings are read (a SettingsError naming the setting), before any
    # client exists; the client's own EndpointSettingsError is the same rule one layer down.
    server = hostile_server()
    with pytest.raises(SettingsError, match="SERVICETITAN_API_BASE_URL"):
        client_for(server, settings={"api_base_url": "http://exa\x01mple.com"})
    with pytest.raises(SettingsError, match="SERVICETITAN_AUTH_URL"):
        client_for(server, settings={"auth_url": "http://exa\x01mple.com/token"})
    assert server.requests == []
