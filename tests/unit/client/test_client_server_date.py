"""The server's clock: the ``Date`` of its answers, for requests about "today"."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from client_fakes import FakeServiceTitan, ok

from servicetitan_pipeline.client import ServiceTitanClient
from servicetitan_pipeline.client.transport import parse_http_date, retryable_status_failure


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Sun, 06 Nov 1994 08:49:37 GMT", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        ("Sun, 06 Nov 1994 10:49:37 +0200", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        (None, None),
        ("", None),
        ("   ", None),
        ("yesterday", None),
        ("Sun, 99 Nov 1994 08:49:37 GMT", None),
    ],
)
def test_parse_http_date(value, expected):
    assert parse_http_date(value) == expected


def _dated(answer: httpx.Response, date: str | None) -> httpx.Response:
    if date is not None:
        answer.headers["Date"] = date
    return answer


def _client(*api_dates: str | None, token_date: str | None = None) -> ServiceTitanClient:
    """A client whose token answer carries ``token_date`` and API answers ``api_dates``."""
    remaining = list(api_dates)
    fake = FakeServiceTitan(
        api=lambda request: _dated(ok({"data": []}), remaining.pop(0)),
        token=lambda request: _dated(
            ok({"access_token": "eyJ-T", "expires_in": 900, "token_type": "Bearer"}), token_date
        ),
    )
    return fake.client()


def test_the_latest_parseable_date_is_kept_token_answers_included():
    with _client(
        None, "garbage", "Wed, 15 Nov 2028 00:00:01 GMT", token_date="Tue, 14 Nov 2028 10:00:00 GMT"
    ) as client:
        assert client.server_date is None
        client.get_token()
        assert client.server_date == datetime(2028, 11, 14, 10, tzinfo=UTC)
        client.get_json("/crm/v2/tenant/1/a")  # no Date: the last one stays
        client.get_json("/crm/v2/tenant/1/b")  # unparseable: likewise
        assert client.server_date == datetime(2028, 11, 14, 10, tzinfo=UTC)
        client.get_json("/crm/v2/tenant/1/c")
        assert client.server_date == datetime(2028, 11, 15, 0, 0, 1, tzinfo=UTC)


def test_without_any_date_there_is_no_server_date():
    with _client(None) as client:
        client.get_json("/crm/v2/tenant/1/a")
        assert client.server_date is None


def test_a_retry_after_date_is_measured_on_the_servers_clock():
    # The server's clock is years away from this machine's: only the difference counts.
    response = httpx.Response(
        503,
        headers={
            "Date": "Tue, 14 Nov 2028 10:00:00 GMT",
            "Retry-After": "Tue, 14 Nov 2028 10:00:05 GMT",
        },
    )
    assert retryable_status_failure(response).wait_hint == 5.0
