"""Export (continueFrom / hasMore) and list (page / pageSize / hasMore) paging, page by page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from client_fakes import ok

from servicetitan_pipeline.client import (
    DEFAULT_LIST_PAGE_SIZE,
    BodyNotJsonError,
    DecodedBody,
    ExportPage,
    InvalidResponseError,
    ListPage,
    NotAPageError,
    PaginationError,
    PagingLimits,
    RetryPolicy,
)

EXPORT = "/crm/v2/tenant/1234567/export/customers"
LIST = "/jpm/v2/tenant/1234567/job-types"


def export_api(pages: dict[str | None, dict[str, Any]]):
    """Answers an export request by its ``from`` parameter."""

    def api(request: httpx.Request) -> httpx.Response:
        assert request.url.path == EXPORT
        return ok(pages[request.url.params.get("from")])

    return api


def test_export_follows_continue_from_and_yields_every_page_including_empty_ones(fake):
    fake.api = export_api(
        {
            None: {"hasMore": True, "continueFrom": "t1", "data": [{"id": 1}, {"id": 2}]},
            "t1": {"hasMore": True, "continueFrom": "t2", "data": []},
            "t2": {"hasMore": True, "continueFrom": "t3", "data": [{"id": 3}]},
            "t3": {"hasMore": False, "continueFrom": "t4", "data": []},
        }
    )
    with fake.client() as client:
        pages = list(client.iter_export(EXPORT))
    assert [p.data for p in pages] == [[{"id": 1}, {"id": 2}], [], [{"id": 3}], []]
    assert [p.continue_from for p in pages] == ["t1", "t2", "t3", "t4"]
    assert [p.has_more for p in pages] == [True, True, True, False]
    assert [p.from_token for p in pages] == [None, "t1", "t2", "t3"]
    assert all(isinstance(p, ExportPage) and p.raw_bytes_len > 0 for p in pages)
    assert [r.url.params.get("from") for r in fake.requests] == [None, "t1", "t2", "t3"]
    # The next sync resumes from the final page's token.
    assert pages[-1].resume_from == "t4"


def test_export_starts_from_a_token_or_date_and_asks_for_recent_changes(fake):
    fake.api = export_api({"2024-01-01": {"hasMore": False, "continueFrom": "t9", "data": []}})
    with fake.client() as client:
        (page,) = client.iter_export(EXPORT, from_token="2024-01-01", include_recent_changes=True)
    assert page.data == [] and page.continue_from == "t9"
    params = fake.requests[0].url.params
    assert params["from"] == "2024-01-01"
    assert params["includeRecentChanges"] == "true"


def test_export_with_nothing_new_yields_one_empty_page(fake):
    fake.api = export_api({"t5": {"hasMore": False, "continueFrom": "t5", "data": []}})
    with fake.client() as client:
        pages = list(client.iter_export(EXPORT, from_token="t5"))
    assert len(pages) == 1 and pages[0].data == [] and pages[0].resume_from == "t5"


def test_export_final_page_without_continue_from_resumes_from_its_own_token(fake):
    fake.api = export_api({"t5": {"hasMore": False, "data": []}})
    with fake.client() as client:
        (page,) = client.iter_export(EXPORT, from_token="t5")
    assert page.continue_from is None
    assert page.resume_from == "t5"


def test_export_is_lazy_one_request_per_page_consumed(fake):
    fake.api = export_api(
        {
            None: {"hasMore": True, "continueFrom": "t1", "data": [{"id": 1}]},
            "t1": {"hasMore": False, "continueFrom": "t2", "data": [{"id": 2}]},
        }
    )
    with fake.client() as client:
        pages = client.iter_export(EXPORT)
        assert fake.requests == []
        next(pages)
        assert len(fake.requests) == 1
        next(pages)
        assert len(fake.requests) == 2
        with pytest.raises(StopIteration):
            next(pages)


@pytest.mark.parametrize("continue_from", [None, "", "t1"])
def test_export_refuses_to_loop_when_the_token_does_not_advance(fake, continue_from):
    fake.api = export_api(
        {"t1": {"hasMore": True, "continueFrom": continue_from, "data": [{"id": 1}]}}
    )
    with fake.client() as client:
        pages = client.iter_export(EXPORT, from_token="t1")
        assert next(pages).data == [{"id": 1}]  # the page itself is still delivered
        with pytest.raises(PaginationError, match="hasMore=true"):
            next(pages)


@pytest.mark.parametrize(
    "body", [{"hasMore": False}, {"data": {"id": 1}}, [{"id": 1}], "data", None]
)
def test_export_without_a_data_list_is_an_invalid_response(fake, body):
    fake.api = lambda request: ok(body)
    with fake.client() as client, pytest.raises(InvalidResponseError) as info:
        list(client.iter_export(EXPORT))
    assert info.value.path == EXPORT and info.value.body


# -- page decoders ---------------------------------------------------------------------------


def counting_decoder(body: bytes) -> DecodedBody:
    """A custom decoder: the page's data is whatever it makes of the raw bytes."""
    if not body.endswith(b"}"):
        raise BodyNotJsonError("truncated")
    if b'"data"' not in body:
        raise NotAPageError(body.decode()[:50])
    return DecodedBody.from_envelope(
        ("bytes", len(body)),
        body.count(b'"id"'),
        has_more=b'"hasMore": true' in body or b'"hasMore":true' in body,
        continue_from="t1" if b'"t1"' in body else None,
    )


def test_export_pages_carry_what_the_decoder_made_of_the_raw_body(fake):
    fake.api = export_api(
        {
            None: {"hasMore": True, "continueFrom": "t1", "data": [{"id": 1}, {"id": 2}]},
            "t1": {"hasMore": False, "data": []},
        }
    )
    with fake.client() as client:
        first, last = client.iter_export(EXPORT, decode=counting_decoder)
    assert first.data[0] == "bytes" and first.data[1] == first.raw_bytes_len
    assert first.continue_from == "t1" and first.has_more
    assert last.from_token == "t1" and not last.has_more


def test_a_decoder_that_finds_no_json_gets_the_request_retried_then_reported(fake):
    answers = iter([b'{"data": [{"id": 1}]', b'{"data": [{"id": 1}]}'])
    fake.api = lambda request: httpx.Response(200, content=next(answers))
    policy = RetryPolicy(max_attempts=3, backoff_initial_seconds=0)
    with fake.client(retry_policy=policy, sleep=lambda s: None) as client:
        (page,) = client.iter_export(EXPORT, decode=counting_decoder)
        assert client.stats.retries == 1
    assert page.data == ("bytes", len(b'{"data": [{"id": 1}]}'))

    fake.api = lambda request: httpx.Response(200, content=b'{"data": [')
    client = fake.client(retry_policy=policy, sleep=lambda s: None)
    with client, pytest.raises(InvalidResponseError, match="invalid JSON") as info:
        list(client.iter_export(EXPORT, decode=counting_decoder))
    assert info.value.body == '{"data": ['


def test_a_decoder_that_finds_no_page_fails_at_once_quoting_the_body(fake):
    fake.api = lambda request: ok({"items": [1, 2]})
    client = fake.client()
    with client, pytest.raises(InvalidResponseError, match="without a 'data' list") as info:
        list(client.iter_list(LIST, decode=counting_decoder))
    assert len(fake.requests) == 1 and "items" in info.value.body


def list_api(total: int, *, expect: dict[str, str] | None = None):
    """A list endpoint over ``total`` records honouring page and pageSize."""

    def api(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        for key, value in (expect or {}).items():
            assert params[key] == value
        page, size = int(params["page"]), int(params["pageSize"])
        ids = list(range((page - 1) * size + 1, min(page * size, total) + 1))
        return ok(
            {
                "page": page,
                "pageSize": size,
                "hasMore": page * size < total,
                "totalCount": None,
                "data": [{"id": i} for i in ids],
            }
        )

    return api


def test_list_pages_until_has_more_is_false(fake):
    fake.api = list_api(7, expect={"active": "Any", "modifiedOnOrAfter": "2024-05-01T00:00:00Z"})
    params = {"active": "Any", "modifiedOnOrAfter": "2024-05-01T00:00:00Z"}
    with fake.client() as client:
        pages = list(client.iter_list(LIST, params, page_size=3))
    assert [p.page for p in pages] == [1, 2, 3]
    assert [[r["id"] for r in p.data] for p in pages] == [[1, 2, 3], [4, 5, 6], [7]]
    assert [p.has_more for p in pages] == [True, True, False]
    assert all(isinstance(p, ListPage) and p.page_size == 3 for p in pages)
    assert [r.url.params["pageSize"] for r in fake.requests] == ["3", "3", "3"]
    assert params == {"active": "Any", "modifiedOnOrAfter": "2024-05-01T00:00:00Z"}  # untouched


def test_list_copes_with_an_empty_final_page(fake):
    # Two full pages, the second still saying hasMore: the third page is empty and final.
    answers = {
        1: {"page": 1, "hasMore": True, "data": [{"id": 1}, {"id": 2}, {"id": 3}]},
        2: {"page": 2, "hasMore": True, "data": [{"id": 4}, {"id": 5}, {"id": 6}]},
        3: {"page": 3, "hasMore": False, "data": []},
    }
    fake.api = lambda request: ok(answers[int(request.url.params["page"])])
    with fake.client() as client:
        pages = list(client.iter_list(LIST, page_size=3))
    assert [len(p.data) for p in pages] == [3, 3, 0]
    assert pages[-1].has_more is False and pages[-1].page == 3


def test_list_with_no_records_yields_one_empty_page(fake):
    fake.api = list_api(0)
    with fake.client() as client:
        pages = list(client.iter_list(LIST))
    assert len(pages) == 1 and pages[0].data == [] and not pages[0].has_more


def test_list_default_page_size_is_5000_and_start_page_is_configurable(fake):
    fake.api = list_api(12_000)
    with fake.client() as client:
        pages = list(client.iter_list(LIST, start_page=2))
    assert DEFAULT_LIST_PAGE_SIZE == 5000
    assert [r.url.params["pageSize"] for r in fake.requests] == ["5000", "5000"]
    assert [p.page for p in pages] == [2, 3]
    assert [len(p.data) for p in pages] == [5000, 2000]


def test_list_total_count_is_passed_through_when_sent(fake):
    fake.api = lambda request: ok({"page": 1, "hasMore": False, "totalCount": 42, "data": []})
    with fake.client() as client:
        (page,) = client.iter_list(LIST, {"includeTotal": "true"})
    assert page.total_count == 42


def test_list_refuses_an_empty_page_that_claims_more(fake):
    fake.api = lambda request: ok({"page": 1, "hasMore": True, "data": []})
    with fake.client() as client, pytest.raises(PaginationError):
        list(client.iter_list(LIST))
    assert len(fake.requests) == 1


def test_list_rejects_a_nonsense_page_size(fake):
    with fake.client() as client, pytest.raises(ValueError):
        list(client.iter_list(LIST, page_size=0))


def test_get_json_passes_params_and_returns_the_body(fake):
    fake.api = lambda request: ok({"echo": dict(request.url.params)})
    with fake.client() as client:
        assert client.get_json(LIST, {"ids": "1,2", "active": True}) == {
            "echo": {"ids": "1,2", "active": "true"}
        }


# -- walks that would never end ------------------------------------------------------------------


def test_export_refuses_a_token_this_walk_already_followed(fake):
    fake.api = export_api(
        {
            None: {"hasMore": True, "continueFrom": "a", "data": [{"id": 1}]},
            "a": {"hasMore": True, "continueFrom": "b", "data": [{"id": 2}]},
            "b": {"hasMore": True, "continueFrom": "c", "data": [{"id": 3}]},
            "c": {"hasMore": True, "continueFrom": "a", "data": [{"id": 4}]},
        }
    )
    with fake.client() as client, pytest.raises(PaginationError, match="already followed"):
        list(client.iter_export(EXPORT))
    assert [r.url.params.get("from") for r in fake.requests] == [None, "a", "b", "c"]


def test_export_empty_pages_count_only_in_a_row(fake):
    def api(request: httpx.Request) -> httpx.Response:
        n = len(fake.requests)
        return ok({"hasMore": n < 10, "continueFrom": f"t{n}", "data": [{"id": n}] * (n % 3 == 0)})

    fake.api = api
    limits = PagingLimits(max_consecutive_empty_pages=2)
    with fake.client(paging_limits=limits) as client:
        pages = list(client.iter_export(EXPORT))  # never three empty pages in a row
    assert len(pages) == 10


def test_list_refuses_a_page_repeating_any_earlier_page(fake):
    def api(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        ids = [1, 2] if page % 2 else [3, 4]  # A, B, A, ...
        return ok({"page": page, "hasMore": True, "data": [{"id": i} for i in ids]})

    fake.api = api
    with fake.client() as client, pytest.raises(PaginationError, match="as page 1"):
        list(client.iter_list(LIST))
    assert len(fake.requests) == 3


def test_list_repeats_are_recognised_by_the_ids_a_custom_decoder_is_given(fake):
    fake.api = lambda request: ok({"hasMore": True, "data": [{"id": 7}]})

    def decode(body: bytes) -> DecodedBody[tuple[int, ...]]:
        return DecodedBody((7,), 1, has_more=True)

    with fake.client() as client, pytest.raises(PaginationError, match="page=2"):
        list(client.iter_list(LIST, decode=decode, page_ids=lambda data: data))
    assert len(fake.requests) == 2


def test_list_pages_without_ids_are_not_taken_for_repeats(fake):
    def api(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return ok({"hasMore": page < 3, "data": [{"name": "no id"}]})

    fake.api = api
    with fake.client() as client:
        assert len(list(client.iter_list(LIST))) == 3


def test_list_walk_ends_at_the_page_limit(fake):
    def api(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return ok({"hasMore": True, "data": [{"id": page}]})

    fake.api = api
    client = fake.client(paging_limits=PagingLimits(max_list_pages=5))
    with client, pytest.raises(PaginationError, match="after 5 pages"):
        list(client.iter_list(LIST, start_page=3))
    assert len(fake.requests) == 5
