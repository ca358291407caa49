"""The client over real sockets on 127.0.0.1: dropped connections, truncated bodies, timeouts.

MockTransport tests raise httpx's exceptions by hand; these make httpx raise them itself, so a
change in which exception a real failure produces (e.g. a truncated body) cannot go unnoticed.
"""

from __future__ import annotations

import json
import socketserver
import threading
import time

import pytest
from client_fakes import APP_KEY, make_settings

from servicetitan_pipeline.client import (
    InvalidResponseError,
    RetriesExhaustedError,
    RetryPolicy,
    ServiceTitanClient,
)

PAGE = json.dumps({"hasMore": False, "continueFrom": "t1", "data": [{"id": 1}]}).encode()


def http_response(body: bytes, *, status: str = "200 OK", length: int | None = None) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class ScriptedServer(socketserver.ThreadingTCPServer):
    """Answers the token endpoint properly and API requests from a script of behaviours."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, script: list[str]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.script = list(script)
        self.api_requests = 0
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(socketserver.StreamRequestHandler):
    server: ScriptedServer

    def handle(self) -> None:
        request_line = self.rfile.readline().decode()
        headers = {}
        while (line := self.rfile.readline().decode().strip()) != "":
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.rfile.read(int(headers.get("content-length", 0)))
        if request_line.startswith("POST /connect/token"):
            token = json.dumps({"access_token": "eyJ-loopback-token-1", "expires_in": 900})
            self.wfile.write(http_response(token.encode()))
            return
        assert headers["st-app-key"] == APP_KEY
        with self.server.lock:
            self.server.api_requests += 1
            action = self.server.script.pop(0) if self.server.script else "ok"
        if action == "ok":
            self.wfile.write(http_response(PAGE))
        elif action == "close":  # drop the connection without answering
            return
        elif action == "truncate":  # promise the whole body, send half, hang up
            self.wfile.write(http_response(PAGE[: len(PAGE) // 2], length=len(PAGE)))
        elif action == "bad_json":  # a complete HTTP answer whose JSON is cut short
            self.wfile.write(http_response(PAGE[: len(PAGE) // 2]))
        elif action == "slow":
            time.sleep(1.0)
            self.wfile.write(http_response(PAGE))


@pytest.fixture
def server_factory():
    servers = []

    def start(*script: str) -> ScriptedServer:
        server = ScriptedServer(list(script))
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def client_for(server: ScriptedServer, **settings) -> ServiceTitanClient:
    s = make_settings(api_base_url=server.base, auth_url=server.base + "/connect/token", **settings)
    return ServiceTitanClient(
        s,
        sleep=lambda seconds: None,
        retry_policy=RetryPolicy(max_attempts=3, max_total_wait_seconds=60),
    )


@pytest.mark.parametrize("failure", ["close", "truncate", "bad_json"])
def test_dropped_and_truncated_answers_are_retried(server_factory, failure):
    server = server_factory(failure)
    with client_for(server) as client:
        (page,) = client.iter_export("/crm/v2/tenant/1234567/export/customers")
        assert page.data == [{"id": 1}]
        assert client.stats.retries == 1
    assert server.api_requests == 2


def test_read_timeout_is_retried(server_factory):
    server = server_factory("slow")
    with client_for(server, read_timeout_seconds=0.2) as client:
        assert client.get_json("/x")["data"] == [{"id": 1}]
        assert client.stats.retries == 1


def test_persistent_truncation_gives_up_with_the_request(server_factory):
    server = server_factory("truncate", "truncate", "truncate")
    with client_for(server) as client, pytest.raises(RetriesExhaustedError) as info:
        client.get_json("/x", {"from": "t0"})
    assert info.value.request == "GET /x?from=t0"
    assert "RemoteProtocolError" in str(info.value)


def test_persistent_bad_json_gives_the_body_to_the_caller(server_factory):
    server = server_factory("bad_json", "bad_json", "bad_json")
    with client_for(server) as client, pytest.raises(InvalidResponseError) as info:
        client.get_json("/x")
    assert info.value.body == PAGE[: len(PAGE) // 2].decode()


def test_connection_refused_is_retried_then_reported(server_factory):
    server = server_factory()
    base = server.base
    server.shutdown()
    server.server_close()
    s = make_settings(api_base_url=base, auth_url=base + "/connect/token")
    client = ServiceTitanClient(
        s, sleep=lambda seconds: None, retry_policy=RetryPolicy(max_attempts=2)
    )
    with client, pytest.raises(RetriesExhaustedError) as info:
        client.get_json("/x")
    assert info.value.status is None and "ConnectError" in str(info.value)
    assert client.stats.token_requests == 2
