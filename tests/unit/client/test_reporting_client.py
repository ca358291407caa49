"""The Reporting API on the client: POSTed parameters, paging, the per-report limit, 429s.

Every test runs on a fake clock (``FakeClock``: time moves only when the client sleeps), so the
5-a-minute limit is exercised in full without a real second of waiting.
"""

from __future__ import annotations

import logging

import httpx
import orjson
import pytest
from client_fakes import TENANT, FakeClock, FakeServiceTitan, ok, problem, quick_policy

from servicetitan_pipeline.client import InvalidResponseError, PaginationError
from servicetitan_pipeline.client.reporting import ReportRateLimiter

FIELDS = [{"name": "Date", "label": "Date"}, {"name": "TotalRevenue", "label": "Total"}]
PARAMETERS = [{"name": "From", "value": "2026-01-01"}, {"name": "To", "value": "2026-01-31"}]
DATA_PATH = f"/reporting/v2/tenant/{TENANT}/report-category/accounting/reports/1001/data"


def page_of(rows: list[list[object]], page: int, has_more: bool) -> httpx.Response:
    return ok(
        {
            "page": page,
            "pageSize": len(rows),
            "hasMore": has_more,
            "totalCount": None,
            "data": rows,
            "fields": FIELDS,
        }
    )


def paged_report(rows: list[list[object]], page_size: int):
    """An API handler serving ``rows`` in pages of ``page_size`` (the body's page param)."""

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        chunk = rows[(page - 1) * page_size : page * page_size]
        return page_of(chunk, page, page * page_size < len(rows))

    return handler


def test_posts_the_parameters_and_pages_until_has_more_is_false(fake: FakeServiceTitan, clock):
    rows = [[f"2026-01-{d:02d}", f"{d}.50"] for d in range(1, 8)]
    fake.api = paged_report(rows, page_size=3)
    client = fake.client(clock=clock, sleep=clock.sleep)

    pages = list(client.iter_report_data("accounting", 1001, PARAMETERS, page_size=3))

    # 7 rows in pages of 3: pages 1, 2, 3 (the last with one row and hasMore false).
    assert [p.page for p in pages] == [1, 2, 3]
    assert [row for p in pages for row in p.rows] == rows
    assert [f.name for f in pages[0].fields] == ["Date", "TotalRevenue"]
    for number, request in enumerate(fake.requests, start=1):
        assert request.method == "POST"
        assert request.url.path == DATA_PATH
        assert request.url.params["page"] == str(number)
        assert request.url.params["pageSize"] == "3"
        assert request.headers["Content-Type"] == "application/json"
        assert orjson.loads(request.content) == {"parameters": PARAMETERS}
    # Each page's own bytes are kept (the warehouse stores them).
    assert orjson.loads(pages[2].body)["data"] == rows[6:]


def test_the_sixth_request_of_a_report_within_a_minute_waits_for_the_window(
    fake: FakeServiceTitan, clock: FakeClock
):
    rows = [[f"2026-01-{d:02d}", "1.00"] for d in range(1, 8)]
    fake.api = paged_report(rows, page_size=1)
    client = fake.client(clock=clock, sleep=clock.sleep)

    starts: list[float] = []
    original = fake.api

    def timed(request: httpx.Request) -> httpx.Response:
        starts.append(clock.now)
        return original(request)

    fake.api = timed
    assert len(list(client.iter_report_data("accounting", 1001, PARAMETERS, page_size=1))) == 7

    # Five go at once; the sixth waits until the first is a minute (plus the 1 s margin) old,
    # the seventh starts with it (the 2nd request, also at t=0, leaves the window then too).
    assert starts[:5] == [1000.0] * 5
    assert starts[5] == pytest.approx(1061.0)
    assert starts[6] == pytest.approx(1061.0)
    assert client.stats.rate_limit_wait_seconds == pytest.approx(61.0)


def test_reports_are_limited_each_on_its_own(fake: FakeServiceTitan, clock: FakeClock):
    fake.api = lambda request: page_of([["2026-01-01", "1.00"]], 1, False)
    client = fake.client(clock=clock, sleep=clock.sleep)
    for _ in range(5):
        list(client.iter_report_data("accounting", 1001, PARAMETERS))
    # Report 1001 has used its five; another report goes at once.
    list(client.iter_report_data("technician", 2001, PARAMETERS))
    assert clock.sleeps == []
    list(client.iter_report_data("accounting", 1001, PARAMETERS))
    assert clock.sleeps == pytest.approx([61.0])


def test_sliding_window_limiter_on_a_fake_clock(clock: FakeClock):
    limiter = ReportRateLimiter(2, 10.0, margin_seconds=0.0, clock=clock, sleep=clock.sleep)
    assert limiter.acquire("a") == 0.0
    clock.advance(4)
    assert limiter.acquire("a") == 0.0  # t=4: two in the window [0, 10)
    assert limiter.acquire("a") == pytest.approx(6.0)  # waits until t=10 (the first + 10 s)
    assert limiter.acquire("a") == pytest.approx(4.0)  # t=14 (the second + 10 s)
    assert limiter.acquire("b") == 0.0  # another key has its own window
    with pytest.raises(ValueError):
        ReportRateLimiter(0)


def test_a_429_is_waited_out_as_retry_after_says(fake: FakeServiceTitan, clock: FakeClock):
    answers = iter(
        [
            httpx.Response(
                429,
                headers={"Retry-After": "17"},
                content=orjson.dumps({"title": "Rate limit is exceeded.", "status": 429}),
            ),
            page_of([["2026-01-01", "5.00"]], 1, False),
        ]
    )
    fake.api = lambda request: next(answers)
    client = fake.client(clock=clock, sleep=clock.sleep, retry_policy=quick_policy())

    pages = list(client.iter_report_data("accounting", 1001, PARAMETERS))

    assert pages[0].rows == [["2026-01-01", "5.00"]]
    assert clock.sleeps == [17.0]
    assert client.stats.retries == 1


def test_an_answer_that_is_not_a_report_page_is_reported_not_retried(
    fake: FakeServiceTitan, clock: FakeClock
):
    fake.api = lambda request: ok({"data": [{"not": "rows"}], "hasMore": False, "fields": FIELDS})
    client = fake.client(clock=clock, sleep=clock.sleep)
    with pytest.raises(InvalidResponseError) as caught:
        list(client.iter_report_data("accounting", 1001, PARAMETERS))
    assert caught.value.method == "POST"
    assert len(fake.requests) == 1


def test_fields_that_change_between_pages_stop_the_walk(fake: FakeServiceTitan, clock: FakeClock):
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        body = {"page": page, "pageSize": 1, "hasMore": page == 1, "data": [["x", "1"]]}
        body["fields"] = FIELDS if page == 1 else [*FIELDS[:1], {"name": "Other", "label": "O"}]
        return ok(body)

    fake.api = handler
    client = fake.client(clock=clock, sleep=clock.sleep)
    with pytest.raises(PaginationError, match="other fields than page 1"):
        list(client.iter_report_data("accounting", 1001, PARAMETERS, page_size=1))


def test_an_empty_page_that_says_has_more_stops_the_walk(fake: FakeServiceTitan, clock):
    fake.api = lambda request: page_of([], int(request.url.params["page"]), True)
    client = fake.client(clock=clock, sleep=clock.sleep)
    with pytest.raises(PaginationError, match="empty page"):
        list(client.iter_report_data("accounting", 1001, PARAMETERS))
    assert len(fake.requests) == 1


def test_the_description_counts_against_the_same_limit(fake: FakeServiceTitan, clock: FakeClock):
    description = {
        "id": 1001,
        "name": "Revenue",
        "fields": [{**f, "dataType": "Number"} for f in FIELDS],
    }
    fake.api = lambda request: (
        ok(description) if request.method == "GET" else page_of([["d", "1"]], 1, False)
    )
    client = fake.client(clock=clock, sleep=clock.sleep)
    assert client.get_report_description("accounting", 1001)["fields"][0]["name"] == "Date"
    assert fake.requests[0].url.path == DATA_PATH.removesuffix("/data")
    for _ in range(4):
        list(client.iter_report_data("accounting", 1001, PARAMETERS))
    assert clock.sleeps == []
    list(client.iter_report_data("accounting", 1001, PARAMETERS))  # the sixth request
    assert clock.sleeps == pytest.approx([61.0])


def test_errors_and_logs_never_show_a_secret(fake: FakeServiceTitan, clock: FakeClock, caplog):
    fake.api = lambda request: problem(400, f"bad parameters for {request.headers['ST-App-Key']}")
    client = fake.client(clock=clock, sleep=clock.sleep)
    with caplog.at_level(logging.DEBUG), pytest.raises(Exception) as caught:
        list(client.iter_report_data("accounting", 1001, PARAMETERS))
    shown = str(caught.value) + caplog.text
    assert "POST" in str(caught.value) and "HTTP 400" in str(caught.value)
    for secret in fake.all_secrets():
        assert secret not in shown
