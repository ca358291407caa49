"""The server's clock: the ``Date`` of its answers, for requests about "today"."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from servicetitan_pipeline.client.transport import (
    ServerClock,
    parse_http_date,
    retryable_status_failure,
)


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


def _answers(*dates: str | None) -> httpx.MockTransport:
    remaining = list(dates)

    def handler(request: httpx.Request) -> httpx.Response:
        date = remaining.pop(0)
        return httpx.Response(200, headers={"Date": date} if date is not None else {})

    return httpx.MockTransport(handler)


def test_the_latest_parseable_date_is_kept():
    clock = ServerClock(
        _answers("Tue, 14 Nov 2028 10:00:00 GMT", None, "garbage", "Wed, 15 Nov 2028 00:00:01 GMT")
    )
    with httpx.Client(transport=clock) as http:
        http.get("http://st.invalid/a")
        assert clock.server_date == datetime(2028, 11, 14, 10, tzinfo=UTC)
        http.get("http://st.invalid/b")  # no Date: the last one stays
        http.get("http://st.invalid/c")  # unparseable: likewise
        assert clock.now() == datetime(2028, 11, 14, 10, tzinfo=UTC)
        http.get("http://st.invalid/d")
    assert clock.server_date == datetime(2028, 11, 15, 0, 0, 1, tzinfo=UTC)


def test_without_any_date_now_is_the_fallback():
    clock = ServerClock(_answers(None))
    with httpx.Client(transport=clock) as http:
        http.get("http://st.invalid/a")
    assert clock.server_date is None
    local = datetime(2030, 1, 2, tzinfo=UTC)
    assert clock.now(lambda: local) == local
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 60


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
