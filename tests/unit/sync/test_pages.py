"""Page -> staging columns (sync.pages): the raw-bytes decoder against the careful path."""

from __future__ import annotations

import json

import orjson
import pytest

from servicetitan_pipeline.client import BodyNotJsonError, NotAPageError
from servicetitan_pipeline.sync import pages
from servicetitan_pipeline.warehouse.schema import PreparedPage


def rec(i, mod="2024-05-01T10:00:00Z", active=True, **extra):
    r = {"id": i, "modifiedOn": mod, "active": active, "name": f"c{i}"}
    r.update(extra)
    return r


def body_of(records, **envelope) -> bytes:
    # json, not orjson: a test page may hold an integer orjson refuses to write.
    envelope = {"hasMore": False, "continueFrom": "tok", **envelope, "data": records}
    return json.dumps(envelope, ensure_ascii=False).encode()


def careful(body: bytes) -> PreparedPage:
    """What the page becomes the careful way: parse everything (orjson, as the default
    decoder does), check record by record."""
    return pages.prepare_page(orjson.loads(body)["data"])


def payload_texts(page: PreparedPage) -> list[str]:
    return [
        text for chunk in page.table.column("payload").chunks for text in chunk.storage.to_pylist()
    ]


def rows(page: PreparedPage) -> list[tuple]:
    """The staged rows with payloads parsed, so that two ways of writing JSON compare equal."""
    t = page.table
    return list(
        zip(
            t.column("id").to_pylist(),
            t.column("modified_on_raw").to_pylist(),
            t.column("active").to_pylist(),
            [json.loads(p) for p in payload_texts(page)],
            strict=True,
        )
    )


NORMAL_PAGE = [
    rec(1),
    rec(2, active=False, note='é ✓ "quoted" \\ back', nested={"a": [1, 2.5, None, True]}),
    rec(3, mod=None, customFields=[{"name": "Zone", "value": "North"}]),
    rec(2**63 - 1, total="1234.50", tags=[]),
    rec(5, mod="not a timestamp"),  # rejected later, in DuckDB, the same way on both paths
    rec(1, mod="2024-05-02T10:00:00Z"),  # in-page duplicate: collapsed later, in SQL
    {"id": -7},  # no modifiedOn, no active
]


def test_a_normal_page_takes_the_fast_path_and_stages_what_the_careful_path_stages():
    body = body_of(NORMAL_PAGE)
    assert pages._decode_raw(body) is not None  # the fast path really is taken
    decoded = pages.decode_page(body)
    page = decoded.data
    assert isinstance(page, PreparedPage)
    assert rows(page) == rows(careful(body))
    assert page.rejects == () and page.records == len(NORMAL_PAGE)
    assert (decoded.record_count, decoded.has_more, decoded.continue_from) == (7, False, "tok")
    assert page.table.schema == careful(body).table.schema


def test_the_payload_is_each_record_exactly_as_the_api_wrote_it():
    # Number formats, escapes and spacing that a parse + re-serialise would change.
    records = [
        b'{"id":1,"total":1.50,"name":"caf\\u00e9","big":12345678901234567890123}',
        b'{ "id" : 2 , "modifiedOn" : "2024-05-01T10:00:00.1234567Z", "x" : [ 1 , 2 ] }',
    ]
    body = b'{"hasMore":true,"continueFrom":"t9","data":[' + b",".join(records) + b"]}"
    decoded = pages.decode_page(body)
    assert [p.encode() for p in payload_texts(decoded.data)] == records
    assert decoded.has_more and decoded.continue_from == "t9"


@pytest.mark.parametrize(
    "odd",
    [
        pytest.param([rec(1), 42, None, [rec(2)]], id="records-that-are-not-objects"),
        pytest.param([rec(1), {"name": "no id"}], id="missing-id"),
        pytest.param([rec(1), {"id": None}], id="null-id"),
        pytest.param([rec(1), {"id": True}], id="boolean-id"),
        pytest.param([rec(1), {"id": "17"}], id="string-id"),
        pytest.param([rec(1), {"id": 1.5}], id="float-id"),
        pytest.param([rec(1), {"id": 2**63}], id="id-beyond-int64"),
        pytest.param([rec(1), {"id": 2**64 + 1}], id="id-beyond-uint64"),
        pytest.param([rec(1), rec(2, active="yes")], id="non-boolean-active"),
        pytest.param([rec(1), rec(2, mod=20240501)], id="non-string-modifiedOn"),
    ],
)
def test_an_odd_record_sends_the_page_down_the_careful_path_with_the_same_outcome(odd):
    body = body_of(odd)
    assert pages._decode_raw(body) is None
    page = pages.decode_page(body).data
    expected = careful(body)
    assert rows(page) == rows(expected)
    assert page.rejects == expected.rejects and page.records == len(odd)
    assert rows(page)[0][0] == 1  # the good records still load


def test_invalid_utf8_inside_a_record_is_not_json():
    # msgspec checks the grammar of the bytes it skips but not their encoding; Arrow does.
    body = b'{"hasMore":false,"data":[{"id":1,"name":"\xff\xfe"}]}'
    with pytest.raises(BodyNotJsonError):
        pages.decode_page(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"hasMore":true,"continueFrom":"t1","data":[{"id":1,"name":"Smi',
        b'{"data":[{"id":1,"x":NaN}]}',
        b'{"data":[{"id":1,}]}',
        b"",
    ],
)
def test_a_body_that_is_not_json_says_so_so_that_the_client_retries(body):
    with pytest.raises(BodyNotJsonError):
        pages.decode_page(body)


@pytest.mark.parametrize("body", [b'{"items":[]}', b"[]", b'{"data":{"id":1}}', b"null"])
def test_json_without_a_data_list_is_not_a_page(body):
    with pytest.raises(NotAPageError):
        pages.decode_page(body)


def test_envelope_fields_mean_the_same_as_with_the_default_decoder():
    from servicetitan_pipeline.client import decode_json_page

    for envelope in (
        {"hasMore": "true", "continueFrom": 12345},
        {"hasMore": True, "continueFrom": "", "totalCount": 7},
        {"totalCount": True},
        {},
    ):
        body = orjson.dumps({**envelope, "data": [rec(1)]})
        fast, default = pages.decode_page(body), decode_json_page(body)
        assert (fast.has_more, fast.continue_from, fast.total_count, fast.record_count) == (
            default.has_more,
            default.continue_from,
            default.total_count,
            default.record_count,
        )


def test_an_empty_page_is_an_empty_table():
    decoded = pages.decode_page(b'{"hasMore":false,"continueFrom":"t","data":[]}')
    assert decoded.data.table.num_rows == 0 and decoded.record_count == 0


def test_deeply_nested_records_are_handled_like_the_default_decoder():
    deep = b"[" * 5000 + b"]" * 5000
    body = b'{"data":[{"id":1,"x":' + deep + b"}]}"
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        with pytest.raises(BodyNotJsonError):
            pages.decode_page(body)
    else:  # pragma: no cover - depends on orjson's depth limit
        assert pages.decode_page(body).data.records == 1
