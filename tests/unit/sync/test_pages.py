"""Page -> staging columns (sync.pages): the raw-bytes decoder against the careful path."""

from __future__ import annotations

import json
import time

import orjson
import pytest

from servicetitan_pipeline.client import BodyNotJsonError, NotAPageError
from servicetitan_pipeline.sync import pages
from servicetitan_pipeline.warehouse.schema import PreparedPage, RecordFields

# The decoding of the common fields (id, modifiedOn, active), for the private fast path.
COMMON_SHAPE = pages._shape(RecordFields())


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
    assert pages._decode_raw(body, COMMON_SHAPE) is not None  # the fast path really is taken
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
    assert pages._decode_raw(body, COMMON_SHAPE) is None
    page = pages.decode_page(body).data
    expected = careful(body)
    assert rows(page) == rows(expected)
    # Rejected records are kept as the API wrote them (the careful path re-serialises them,
    # an integer beyond 64 bits as a float).
    assert [r for r, _ in page.rejects] == [r for r, _ in expected.rejects]
    assert all(json.loads(text) in odd for _, text in page.rejects)
    assert page.records == len(odd)
    assert rows(page)[0][0] == 1  # the good records still load


def test_invalid_utf8_inside_a_record_rejects_that_record_alone():
    # msgspec checks the grammar of the bytes it skips but not their encoding; Arrow does.
    body = b'{"hasMore":false,"data":[{"id":1,"name":"\xff\xfe"},{"id":2}]}'
    page = pages.decode_page(body).data
    assert page.table.column("id").to_pylist() == [2]
    ((reason, text),) = page.rejects
    assert reason.startswith("record 1 is not valid UTF-8: invalid start byte at byte 16")
    assert text == '{"id":1,"name":"\\xff\\xfe"}'  # the bytes kept, visibly


@pytest.mark.parametrize(
    "body",
    [
        b'{"hasMore":true,"continueFrom":"t1","data":[{"id":1,"name":"Smi',
        b'{"hasMore":true,"continueFrom":"t1","data":[{"id":1,"name":"Smith"},{"id":2,',
        b'{"hasMore":true,"continueFrom":"t1","data":[{"id":1,"name":"Smith"}',
        b'{"hasMore":tru,"data":[{"id":1,"name":"\\ud800"}]}',
        b'{"data":[{"id":1,"name":"\\ud800"},,{"id":2}]}',
        b'{"data":[{"id":1,"name":"\\ud800"}]} trailing',
        b'{"data":[{"id":1,"name":"\\ud800"]}]}',
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


NESTED_1000 = b'{"a":' * 1_000 + b"1" + b"}" * 1_000


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        pytest.param(
            b'{"id":5,"x":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
            "record 5 is nested deeper than a JSON parser reads (about 1,000 levels)",
            id="depth-10000",
        ),
        pytest.param(
            b'{"id":5,"x":' + NESTED_1000 + b"}",
            "record 5 is nested deeper than a JSON parser reads (about 1,000 levels)",
            id="depth-1000",
        ),
        pytest.param(
            b'{"id":5,"note":"\\ud800"}',
            "record 5 is not valid JSON: no low surrogate in string: line 1 column 17 (char 16)",
            id="lone-surrogate",
        ),
        pytest.param(
            b'{"id":5,"x":NaN}', "record 5 is not valid JSON: unexpected character", id="NaN"
        ),
        pytest.param(b'{"id":5,}', "record 5 is not valid JSON: ", id="trailing-comma"),
        pytest.param(b'{"x":tru}', "record (id unreadable) is not valid JSON: ", id="no-id"),
    ],
)
def test_a_record_that_is_not_json_is_rejected_alone_and_its_neighbours_load(bad, reason):
    good = [orjson.dumps(rec(i)) for i in (4, 6)]
    body = b'{"hasMore":true,"continueFrom":"t2","data":[' + b", ".join([good[0], bad, good[1]])
    body += b'],"totalCount":3}'
    assert pages._decode_raw(body, COMMON_SHAPE) is None
    decoded = pages.decode_page(body)
    page = decoded.data
    assert page.table.column("id").to_pylist() == [4, 6]
    assert payload_texts(page) == [g.decode() for g in good]  # as sent
    assert page.records == 3 and len(page.rejects) == 1
    assert page.rejects[0][0].startswith(reason)
    assert page.rejects[0][1] == bad.decode()
    assert (decoded.has_more, decoded.continue_from, decoded.total_count) == (True, "t2", 3)


def test_a_page_of_nothing_but_unreadable_records_loads_nothing_and_rejects_each():
    body = b'{"hasMore":false,"data":[ {"id":1,"a":"\\ud800"} ,\n"\\udc00", []]}'
    decoded = pages.decode_page(body)
    assert decoded.data.table.num_rows == 0 and decoded.record_count == 3
    assert [r for r, _ in decoded.data.rejects] == [
        "record 1 is not valid JSON: no low surrogate in string: line 1 column 14 (char 13)",
        "record (id unreadable) is not valid JSON: invalid high surrogate in string: line 1 "
        "column 2 (char 1)",
        "record is not a JSON object",
    ]


def test_a_record_that_repeats_its_id_is_rejected_on_either_path():
    twice = b'{"id":4,"modifiedOn":"2024-05-01T10:00:00Z","name":"x","id":5}'
    good = orjson.dumps(rec(6))
    for odd in (b"", orjson.dumps(rec(7, active="yes")) + b","):  # fast page, careful page
        body = b'{"hasMore":false,"data":[' + odd + twice + b"," + good + b"]}"
        # More ids than records: not the fast path.
        assert pages._decode_raw(body, COMMON_SHAPE) is None
        page = pages.decode_page(body).data
        assert 4 not in page.table.column("id").to_pylist()
        assert 5 not in page.table.column("id").to_pylist()
        assert 6 in page.table.column("id").to_pylist()
        assert page.rejects == (
            (
                "record 4 repeats the key 'id' (4, then 5): which record it is depends on the "
                "reader (DuckDB reads the first, most JSON parsers the last)",
                twice.decode(),
            ),
        )


def test_other_repeated_keys_load_as_sent_and_read_as_duckdb_reads_them():
    # Only the id decides which row a record is; other keys are read by DuckDB alone (dbt
    # staging reads `payload ->> '$.name'`), which takes the first: one reader, one answer.
    body = b'{"data":[{"id":1,"name":"first","nested":{"k":1,"k":2},"name":"last"}]}'
    page = pages.decode_page(body).data
    assert page.rejects == ()
    assert payload_texts(page) == [body[9:-2].decode()]


def test_the_reason_names_a_record_by_its_top_level_id_wherever_it_stands():
    # Payments start with "active"; a nested "id" is not the record's.
    bad = b'{"active":true,"appliedTo":[{"id":99}],"id":80000001,"memo":"\\ud800"}'
    body = b'{"data":[' + bad + b"]}"
    ((reason, _),) = pages.decode_page(body).data.rejects
    assert reason.startswith("record 80000001 is not valid JSON: no low surrogate")


def test_any_depth_of_nesting_costs_about_the_same_to_split():
    # 8 MB of brackets: a step per level would take seconds; runs of brackets are one step.
    deep = b'{"id":5,"x":' + b"[" * 4_000_000 + b"]" * 4_000_000 + b"}"
    body = b'{"hasMore":false,"data":[{"id":4},' + deep + b',{"id":6}]}'
    started = time.monotonic()
    page = pages.decode_page(body).data
    assert time.monotonic() - started < 1.0
    assert page.table.column("id").to_pylist() == [4, 6]
    assert [r for r, _ in page.rejects] == [
        "record 5 is nested deeper than a JSON parser reads (about 1,000 levels)"
    ]


@pytest.mark.parametrize(
    "body",
    [
        b'{"data":[[[1]]}',  # a bracket closed by the wrong kind
        b'{"data":[{"id":1}]}}',
        b'{"data":[{"id":1}]]',
        b'{"data":[{"id":1,"x":"\\ud800"}]',  # the object never closes
    ],
)
def test_a_body_whose_brackets_do_not_balance_is_not_json(body):
    with pytest.raises(BodyNotJsonError):
        pages.decode_page(body)
