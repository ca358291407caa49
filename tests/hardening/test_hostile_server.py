"""The hostile server really does, on the wire, what each behaviour says.

Raw httpx and sockets only: these tests check the fixture, not the pipeline, so that a
hardening test failing later means the pipeline, not a fixture that never misbehaved.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hostile_server import (
    ACCESS_TOKEN,
    FUTURE_MODIFIED_ON,
    GIB,
    HTML_503,
    LATER_EDIT,
    NUL_TOKEN,
    CyclingTokens,
    DuplicateKey,
    EmptyPages,
    FutureModifiedOn,
    GzipBomb,
    HostileServer,
    HtmlErrors,
    NulToken,
    PathologicalRecords,
    SameListPage,
    Slowloris,
    TruncatedTokenJson,
)

from servicetitan_pipeline.entities import ENTITIES

Start = Callable[..., HostileServer]


class Api:
    """A raw httpx client that authenticates against the server like ServiceTitan's clients."""

    def __init__(self, server: HostileServer, **client_options: Any) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.base_url, timeout=10, **client_options)
        answer = self.http.post(
            "/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": server.client_id,
                "client_secret": server.client_secret,
            },
        )
        answer.raise_for_status()
        self.headers = {
            "Authorization": f"Bearer {answer.json()['access_token']}",
            "ST-App-Key": server.app_key,
        }

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params, headers=self.headers)

    def page(self, path: str, **params: Any) -> dict[str, Any]:
        answer = self.get(path, **params)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def api_for() -> Iterator[Callable[..., Api]]:
    clients: list[Api] = []

    def make(server: HostileServer, **options: Any) -> Api:
        clients.append(Api(server, **options))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def ids(page: dict[str, Any]) -> list[int]:
    return [r["id"] for r in page["data"]]


CUSTOMERS = "/crm/v2/tenant/1234567/export/customers"
JOB_TYPES = "/jpm/v2/tenant/1234567/job-types"


# -- the server itself --------------------------------------------------------------------------


def test_listens_on_loopback_only_and_stops_by_itself() -> None:
    with HostileServer() as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert server._http.server_address[0] == "127.0.0.1"
        assert httpx.post(server.auth_url, data={}).status_code == 400
        base = server.base_url
    assert server.alive_threads == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(base + CUSTOMERS, timeout=2)


def test_token_endpoint_is_correct_and_the_log_keeps_no_secret(
    hostile_server: Start, api_for: Callable[..., Api]
) -> None:
    server = hostile_server()
    api = api_for(server)
    good = {"grant_type": "client_credentials", "client_id": server.client_id}
    wrong = api.http.post("/connect/token", data={**good, "client_secret": "nope"})
    assert wrong.status_code == 400 and wrong.json() == {"error": "invalid_client"}
    grant = api.http.post("/connect/token", data={**good, "grant_type": "password"})
    assert grant.json() == {"error": "unsupported_grant_type"}
    right = api.http.post("/connect/token", data={**good, "client_secret": server.client_secret})
    assert right.json() == {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 900}

    api.page(CUSTOMERS)
    log = server.requests
    assert [r.kind for r in log] == ["token", "token", "token", "token", "export"]
    assert log[0].form == {
        "grant_type": "client_credentials",
        "client_id": server.client_id,
        "client_secret": "<redacted>",
    }
    assert log[-1].headers["authorization"] == log[-1].headers["st-app-key"] == "<redacted>"
    assert log[-1].authorized and log[-1].status == 200 and log[-1].completed
    for secret in (server.client_secret, server.app_key, ACCESS_TOKEN):
        assert secret not in repr(log)


def test_api_paths_need_the_token_and_app_key(hostile_server: Start) -> None:
    server = hostile_server()
    assert httpx.get(server.base_url + CUSTOMERS).status_code == 401
    headers = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
    assert httpx.get(server.base_url + CUSTOMERS, headers=headers).status_code == 401
    assert [r.authorized for r in server.api_requests()] == [False, False]


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_every_entity_has_servicetitan_shaped_paths(
    entity: Any, hostile_server: Start, api_for: Callable[..., Api]
) -> None:
    server = hostile_server()
    api = api_for(server)
    if entity.has_export:
        first = api.page(server.export_path(entity.name))
        assert first["hasMore"] is True and first["continueFrom"] == "t1"
        assert ids(first) == [1, 2, 3]
        assert all(r["active"] is True and r["modifiedOn"].endswith("Z") for r in first["data"])
        last = api.page(server.export_path(entity.name), **{"from": "t1"})
        assert (ids(last), last["hasMore"]) == ([4, 5, 6], False)
    if entity.has_list:
        page = api.page(server.list_path(entity.name), page=1, pageSize=50)
        assert (ids(page), page["hasMore"], page["page"]) == ([1, 2, 3], False, 1)


def test_unknown_routes_and_tenants_are_404(
    hostile_server: Start, api_for: Callable[..., Api]
) -> None:
    server = hostile_server()
    api = api_for(server)
    assert api.get("/crm/v2/tenant/999/export/customers").status_code == 404
    assert api.get("/crm/v2/tenant/1234567/export/job-types").status_code == 404  # list-only
    assert api.get("/nothing").status_code == 404
    with pytest.raises(KeyError, match="unknown ServiceTitan entity"):
        HostileServer({"customer": CyclingTokens()})


def test_a_first_sync_from_a_date_gets_the_first_page(
    hostile_server: Start, api_for: Callable[..., Api]
) -> None:
    api = api_for(hostile_server({"customers": EmptyPages()}))
    assert ids(api.page(CUSTOMERS, **{"from": "2024-01-01"})) == [1, 2, 3]


def test_behaviours_compose_per_path(hostile_server: Start, api_for: Callable[..., Api]) -> None:
    server = hostile_server(
        {
            "customers": CyclingTokens(),
            "job_types": SameListPage(),
            "/jpm/v2/tenant/1234567/export/jobs": EmptyPages(),
        }
    )
    api = api_for(server)
    assert api.page(CUSTOMERS, **{"from": "t1"})["continueFrom"] == "t2"
    assert api.page(JOB_TYPES, page=7)["hasMore"] is True
    assert api.page("/jpm/v2/tenant/1234567/export/jobs", **{"from": "t1"})["data"] == []
    normal = api.page("/crm/v2/tenant/1234567/export/locations", **{"from": "t1"})
    assert normal["hasMore"] is False


def test_request_cap_ends_a_runaway_loop(
    hostile_server: Start, api_for: Callable[..., Api]
) -> None:
    server = hostile_server({"customers": CyclingTokens()}, max_requests=4)
    api = api_for(server)  # request 1: the token
    assert [api.get(CUSTOMERS).status_code for _ in range(4)] == [200, 200, 200, 410]


# -- 1-3: paging that never ends ------------------------------------------------------------------


def test_1_cycling_tokens(hostile_server: Start, api_for: Callable[..., Api]) -> None:
    api = api_for(hostile_server({"customers": CyclingTokens()}))
    token, seen = None, []
    for _ in range(5):
        page = api.page(CUSTOMERS, **({"from": token} if token else {}))
        assert page["hasMore"] is True
        token = page["continueFrom"]
        seen.append(token)
    assert seen == ["t1", "t2", "t1", "t2", "t1"]


def test_2_empty_pages_with_a_new_token_every_time(
    hostile_server: Start, api_for: Callable[..., Api]
) -> None:
    api = api_for(hostile_server({"customers": EmptyPages()}))
    token = api.page(CUSTOMERS)["continueFrom"]
    tokens = []
    for _ in range(5):
        page = api.page(CUSTOMERS, **{"from": token})
        assert page["data"] == [] and page["hasMore"] is True
        token = page["continueFrom"]
        tokens.append(token)
    assert tokens == ["t2", "t3", "t4", "t5", "t6"]


def test_3_list_endpoint_repeats_its_page_forever(
    hostile_server: Start, api_for: Callable[..., Api]
) -> None:
    api = api_for(hostile_server({"job_types": SameListPage()}))
    pages = [api.page(JOB_TYPES, page=n, pageSize=5000) for n in (1, 2, 3, 500)]
    assert all(ids(p) == [1, 2, 3] and p["hasMore"] is True for p in pages)
    assert [p["page"] for p in pages] == [1, 2, 3, 500]


# -- 4-6: the transport ------------------------------------------------------------------------


def test_4_slowloris_sends_one_byte_per_second(
    hostile_server: Start, api_for: Callable[..., Api]
) -> None:
    server = hostile_server({"customers": Slowloris()})
    api = api_for(server)
    started = time.monotonic()
    with api.http.stream("GET", CUSTOMERS, params={"from": "t1"}, headers=api.headers) as answer:
        assert answer.status_code == 200 and time.monotonic() - started < 1.0  # headers at once
        assert int(answer.headers["content-length"]) > 100  # promised: minutes of trickle
        arrivals = []
        for chunk in answer.iter_raw():
            arrivals.append((time.monotonic(), len(chunk)))
            if len(arrivals) == 3:
                break
    assert all(size == 1 for _, size in arrivals)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(arrivals)]
    assert all(0.8 < gap < 1.5 for gap in gaps), gaps


def test_4_slowloris_is_cut_after_the_stream_limit(
    hostile_server: Start, api_for: Callable[..., Api]
) -> None:
    server = hostile_server({"customers": Slowloris(byte_interval=0.1)}, stream_limit_seconds=1.0)
    api = api_for(server)
    started = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):
        api.get(CUSTOMERS, **{"from": "t1"})
    assert 0.9 < time.monotonic() - started < 3.0
    entry = server.api_requests()[-1]
    assert not entry.completed and 5 <= entry.body_bytes_sent <= 12


def test_stop_cuts_a_stream_at_once(hostile_server: Start, api_for: Callable[..., Api]) -> None:
    server = hostile_server({"customers": Slowloris()})
    api = api_for(server)
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            api.get(CUSTOMERS, **{"from": "t1"})
            outcome.append(None)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(1.5)
    started = time.monotonic()
    server.stop()
    reader.join(5)
    assert time.monotonic() - started < 2.0 and server.alive_threads == 0
    assert isinstance(outcome[0], httpx.RemoteProtocolError | httpx.ReadError)


@pytest.mark.parametrize(
    "bomb",
    [GzipBomb(size=8 << 20, fill="records"), GzipBomb(size=8 << 20, fill="spaces")],
    ids=["records", "spaces"],
)
def test_5_gzip_bomb_is_a_valid_page_sent_compressed(
    bomb: GzipBomb, hostile_server: Start, api_for: Callable[..., Api]
) -> None:
    server = hostile_server({"customers": bomb})
    api = api_for(server)
    answer = api.get(CUSTOMERS, **{"from": "t1"})
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["transfer-encoding"] == "chunked"
    assert len(answer.content) == bomb.expanded_size() > 7 << 20
    page = json.loads(answer.content)
    assert page["hasMore"] is False and page["data"][-1]["id"] == 4
    sent = server.api_requests()[-1].body_bytes_sent
    assert sent < len(answer.content) / 200  # a few KB per MiB on the wire


def test_5_gzip_bomb_default_is_gigabytes_made_lazily(
    hostile_server: Start, api_for: Callable[..., Api]
) -> None:
    bomb = GzipBomb()
    assert bomb.expanded_size() > 3 * GIB
    server = hostile_server({"customers": bomb})
    api = api_for(server)
    expanded = 0
    started = time.monotonic()
    with api.http.stream("GET", CUSTOMERS, params={"from": "t1"}, headers=api.headers) as answer:
        assert answer.headers["content-encoding"] == "gzip"
        for chunk in answer.iter_bytes():
            expanded += len(chunk)
            if expanded > 200 << 20:
                break
    # The first 200 MB came at once (nothing was built up front) and the server noticed the
    # hang-up: its thread left the loop without finishing the multi-GB answer.
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 5
    while server.alive_threads and time.monotonic() < deadline:
        api.close()
        time.sleep(0.05)
    entry = server.api_requests()[-1]
    assert not entry.completed and entry.body_bytes_sent < 4 << 20


def test_5_gzip_stream_decodes_with_the_standard_library() -> None:
    bomb = GzipBomb(size=3 << 20)
    from hostile_server import _gzip_stream

    body = gzip.decompress(b"".join(_gzip_stream(*bomb.parts())))  # checks CRC and size
    assert len(body) == bomb.expanded_size()


def test_6_https_to_the_plain_port_fails_the_handshake_at_once(hostile_server: Start) -> None:
    server = hostile_server()
    assert server.https_base_url == f"https://127.0.0.1:{server.port}"
    started = time.monotonic()
    with pytest.raises(httpx.ConnectError, match=r"WRONG_VERSION_NUMBER|wrong version"):
        httpx.post(server.https_auth_url, data={}, verify=False, timeout=5)
    assert time.monotonic() - started < 2.0
    assert [r.kind for r in server.requests] == ["tls"]


# -- 7-12: what the answers hold ---------------------------------------------------------------


def test_7_truncated_token_json_holds_the_token(hostile_server: Start) -> None:
    server = hostile_server(token=TruncatedTokenJson())
    answer = httpx.post(
        server.auth_url,
        data={
            "grant_type": "client_credentials",
            "client_id": server.client_id,
            "client_secret": server.client_secret,
        },
    )
    assert answer.status_code == 200
    assert int(answer.headers["content-length"]) == len(answer.content)  # HTTP is complete
    assert answer.text == '{"access_token": "' + ACCESS_TOKEN + '"'
    with pytest.raises(json.JSONDecodeError):
        answer.json()


def max_depth(raw: bytes) -> int:
    """Nesting depth of JSON text, counted without parsing (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in raw.decode():
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def test_8_pathological_records_beside_valid_ones(
    hostile_server: Start, api_for: Callable[..., Api]
) -> None:
    api = api_for(hostile_server({"customers": PathologicalRecords()}))
    raw = api.get(CUSTOMERS, **{"from": "t1"}).content
    starts = [m.start() for m in re.finditer(rb'\{"id": \d+', raw)]
    ends = [*starts[1:], len(raw) - 2]  # each record runs to the next one; the last to "]}"
    records = [raw[a:b].removesuffix(b", ") for a, b in zip(starts, ends, strict=True)]
    assert [json.loads(r[: r.index(b",")] + b"}")["id"] for r in records] == [4, 5, 6, 7, 8]
    assert [max_depth(r) for r in records] == [1, 1001, 10001, 1, 1]
    assert b'"note": "\\ud800"' in records[3]
    with pytest.raises(RecursionError):
        json.loads(raw)  # the 10,000-deep record is past Python's recursion limit
    # The same page with shallow nesting parses: every record is otherwise valid JSON.
    shallow = PathologicalRecords(depths=(3, 5)).answer(_call("t1")).body
    assert isinstance(shallow, bytes)
    data = json.loads(shallow)["data"]
    assert [r["id"] for r in data] == [4, 5, 6, 7, 8] and data[3]["note"] == "\ud800"


def _call(token: str) -> Any:
    from hostile_server import Call

    return Call("export", CUSTOMERS, {"from": token}, {}, None, seen=0)


def test_9_nul_in_continue_from(hostile_server: Start, api_for: Callable[..., Api]) -> None:
    server = hostile_server({"customers": NulToken()})
    api = api_for(server)
    answer = api.get(CUSTOMERS, **{"from": "t1"})
    assert b'"continueFrom": "t2\\u0000tail"' in answer.content
    assert answer.json()["continueFrom"] == NUL_TOKEN == "t2\x00tail"
    last = api.page(CUSTOMERS, **{"from": NUL_TOKEN})
    assert (ids(last), last["hasMore"]) == ([7, 8, 9], False)
    assert server.api_requests()[-1].query == {"from": [NUL_TOKEN]}  # arrived as %00


def test_10_future_modified_on_then_a_real_later_edit(
    hostile_server: Start, api_for: Callable[..., Api]
) -> None:
    api = api_for(hostile_server({"customers": FutureModifiedOn()}))
    future = api.page(CUSTOMERS, **{"from": "t1"})
    assert [r["modifiedOn"] for r in future["data"]] == list(FUTURE_MODIFIED_ON)
    assert future["hasMore"] is True and future["continueFrom"] == "t2"
    edit = api.page(CUSTOMERS, **{"from": "t2"})
    assert ids(edit) == ids(future) == [4, 5, 6, 7]
    assert {r["modifiedOn"] for r in edit["data"]} == {LATER_EDIT}
    assert edit["data"][0]["name"] == "Edited 4" and edit["hasMore"] is False


def test_11_a_record_repeats_its_key(hostile_server: Start, api_for: Callable[..., Api]) -> None:
    api = api_for(hostile_server({"customers": DuplicateKey()}))
    raw = api.get(CUSTOMERS, **{"from": "t1"}).content
    pairs: list[list[tuple[str, Any]]] = []

    def keep_pairs(object_pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        pairs.append(object_pairs)
        return dict(object_pairs)

    json.loads(raw, object_pairs_hook=keep_pairs)
    first_record = pairs[0]
    assert [v for k, v in first_record if k == "id"] == [4, 5]
    assert [r["id"] for r in json.loads(raw)["data"]] == [5, 6]  # last one wins in Python


def test_12_html_503s_then_a_normal_page(
    hostile_server: Start, api_for: Callable[..., Api]
) -> None:
    server = hostile_server({"customers": HtmlErrors(count=2, retry_after="1")})
    api = api_for(server)
    assert ids(api.page(CUSTOMERS)) == [1, 2, 3]  # the first page is normal
    answers = [api.get(CUSTOMERS, **{"from": "t1"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].headers["content-type"].startswith("text/html")
    assert answers[0].content == HTML_503 and answers[0].headers["retry-after"] == "1"
    assert ids(answers[2].json()) == [4, 5, 6]


def test_12_errors_can_start_on_the_first_page_and_lead_to_another_behaviour(
    hostile_server: Start, api_for: Callable[..., Api]
) -> None:
    behaviour = HtmlErrors(count=1, from_first_page=True, then=CyclingTokens())
    api = api_for(hostile_server({"customers": behaviour}))
    assert api.get(CUSTOMERS).status_code == 503
    assert api.page(CUSTOMERS)["continueFrom"] == "t1"
    assert api.page(CUSTOMERS, **{"from": "t1"})["continueFrom"] == "t2"


def test_raw_socket_sees_one_byte_per_interval(hostile_server: Start) -> None:
    """The trickle is on the socket itself, not an artefact of httpx's buffering."""
    server = hostile_server({"customers": Slowloris(byte_interval=0.3)}, require_auth=False)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        conn.sendall(f"GET {CUSTOMERS}?from=t1 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(1)
        started = time.monotonic()
        body = b"".join(conn.recv(100) for _ in range(4))
        assert len(body) == 4 and 0.8 < time.monotonic() - started < 1.5


def test_a_well_behaved_route_is_one_the_pipeline_client_reads() -> None:
    """Not a behaviour test: the foundation check that the server speaks the client's dialect
    (token, headers, paging), so that a hardening test's failure is about the misbehaviour."""
    from servicetitan_pipeline.client import ServiceTitanClient

    with HostileServer() as server, ServiceTitanClient(server.connection_settings()) as client:
        pages = list(client.iter_export(server.export_path("customers")))
        assert [[r["id"] for r in p.data] for p in pages] == [[1, 2, 3], [4, 5, 6]]
        listed = list(client.iter_list(server.list_path("job_types"), {"active": "Any"}))
        assert [r["id"] for r in listed[0].data] == [1, 2, 3]
    assert [r.kind for r in server.requests] == ["token", "export", "export", "list"]
    assert all(r.authorized for r in server.api_requests())


def test_the_token_route_takes_behaviours_too(hostile_server: Start) -> None:
    server = hostile_server(token=HtmlErrors(count=1))
    form = {
        "grant_type": "client_credentials",
        "client_id": server.client_id,
        "client_secret": server.client_secret,
    }
    assert httpx.post(server.auth_url, data=form).status_code == 503
    assert httpx.post(server.auth_url, data=form).json()["access_token"] == ACCESS_TOKEN
    slow = hostile_server(token=Slowloris(byte_interval=0.01))
    started = time.monotonic()
    assert httpx.post(slow.auth_url, data=form).json()["access_token"] == ACCESS_TOKEN
    assert time.monotonic() - started > 0.5  # ~90 bytes, 10 ms apart
