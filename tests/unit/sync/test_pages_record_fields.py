"""Page decoding by an entity's own record fields (``sync.pages.page_decoder``): keys other
than ``id`` and of two fields, ``createdOn`` or no ordering field, no active flag -- on the
fast path and the careful one alike, with rejects that name the field."""

from __future__ import annotations

import json

import orjson
import pytest

from servicetitan_pipeline.entities import get_entity
from servicetitan_pipeline.sync import pages
from servicetitan_pipeline.warehouse.schema import PreparedPage, RecordFields

RATINGS = RecordFields.of(get_entity("technician_ratings"))  # (jobId, technicianId)
PAYROLL = RecordFields.of(get_entity("payroll_settings"))  # employeeId
HISTORY = RecordFields.of(get_entity("job_history"))  # jobId; no modifiedOn, no active
STATUS_CHANGES = RecordFields.of(get_entity("membership_status_changes"))  # createdOn


def body_of(records) -> bytes:
    return json.dumps({"hasMore": False, "continueFrom": "tok", "data": records}).encode()


def columns(page: PreparedPage) -> dict[str, list]:
    """The staged columns, payloads parsed (two ways of writing JSON compare equal)."""
    out = {name: page.table.column(name).to_pylist() for name in page.table.schema.names}
    out["payload"] = [
        json.loads(text)
        for chunk in page.table.column("payload").chunks
        for text in chunk.storage.to_pylist()
    ]
    return out


def decode(fields: RecordFields, records) -> tuple[PreparedPage, bool]:
    """(the decoded page, whether the fast path took it), checked against the careful way
    from parsed records (``prepare_page``)."""
    body = body_of(records)
    fast = pages._decode_raw(body, pages._shape(fields)) is not None
    page = pages.page_decoder(fields)(body).data
    from_parsed = pages.prepare_page(orjson.loads(body)["data"], fields)
    assert columns(page) == columns(from_parsed)
    # Rejects keep the record's own bytes on one path, a re-serialisation on the other.
    assert [(r, json.loads(p)) for r, p in page.rejects] == [
        (r, json.loads(p)) for r, p in from_parsed.rejects
    ]
    assert page.table.schema == from_parsed.table.schema
    return page, fast


def test_decoders_are_made_once_per_entity_fields():
    assert pages.page_decoder(RATINGS) is pages.page_decoder(
        RecordFields.of(get_entity("technician_ratings"))
    )
    assert pages.page_decoder(RATINGS) is not pages.page_decoder(PAYROLL)


def test_a_two_field_key_is_staged_as_id_and_id_2_on_the_fast_path():
    records = [
        {"jobId": 1, "technicianId": 10, "modifiedOn": "2024-05-01T10:00:00Z", "active": True},
        {"jobId": 1, "technicianId": 11, "modifiedOn": None, "id": 99, "nested": {"jobId": 5}},
    ]
    page, fast = decode(RATINGS, records)
    assert fast
    cols = columns(page)
    assert (cols["id"], cols["id_2"]) == ([1, 1], [10, 11])
    assert cols["modified_on_raw"] == ["2024-05-01T10:00:00Z", None]
    assert cols["active"] == [True, None]


@pytest.mark.parametrize(
    ("odd", "reason"),
    [
        pytest.param({"jobId": 2}, "record has no technicianId", id="missing-second-field"),
        pytest.param({"technicianId": 2, "id": 4}, "record has no jobId", id="missing-first-field"),
        pytest.param(
            {"jobId": 2, "technicianId": "3"}, "technicianId is not a 64-bit integer", id="string"
        ),
        pytest.param(
            {"jobId": 2**63, "technicianId": 3}, "jobId is not a 64-bit integer", id="beyond-int64"
        ),
    ],
)
def test_a_record_without_a_usable_key_is_rejected_naming_the_field(odd, reason):
    good = {"jobId": 1, "technicianId": 10}
    page, fast = decode(RATINGS, [good, odd])
    assert not fast
    assert columns(page)["id_2"] == [10]
    assert [r for r, _ in page.rejects] == [reason]


def test_a_record_repeating_a_key_field_is_rejected_naming_it():
    twice = b'{"jobId":4,"technicianId":1,"jobId":5}'
    good = b'{"jobId":6,"technicianId":1}'
    body = b'{"hasMore":false,"data":[' + twice + b"," + good + b"]}"
    assert pages._decode_raw(body, pages._shape(RATINGS)) is None  # more key fields than records
    page = pages.page_decoder(RATINGS)(body).data
    assert page.table.column("id").to_pylist() == [6]
    assert page.rejects == (
        (
            "record 4 repeats the key 'jobId' (4, then 5): which record it is depends on the "
            "reader (DuckDB reads the first, most JSON parsers the last)",
            twice.decode(),
        ),
    )


def test_an_unreadable_record_is_named_by_its_key_fields():
    bad = b'{"technicianId":7,"x":{"jobId":1},"jobId":3,"y":tru}'
    body = b'{"hasMore":false,"data":[' + bad + b',{"jobId":1,"technicianId":2}]}'
    page = pages.page_decoder(RATINGS)(body).data
    ((reason, _),) = page.rejects
    # The nested jobId is not the record's: only top-level fields name it.
    assert reason.startswith("record jobId 3, technicianId 7 is not valid JSON: ")
    unreadable = pages.page_decoder(PAYROLL)(b'{"data":[{"x":tru}]}').data
    assert unreadable.rejects[0][0].startswith("record (employeeId unreadable) is not valid JSON")


def test_a_key_other_than_id_fills_id():
    page, fast = decode(PAYROLL, [{"employeeId": 7, "id": 1, "active": False}, {"employeeId": 8}])
    assert fast
    assert columns(page)["id"] == [7, 8] and "id_2" not in page.table.schema.names
    assert columns(page)["active"] == [False, None]
    page, fast = decode(PAYROLL, [{"id": 9, "modifiedOn": "2024-05-01T10:00:00Z"}])
    assert not fast and [r for r, _ in page.rejects] == ["record has no employeeId"]


def test_fields_an_entity_does_not_have_stay_null_whatever_the_record_holds():
    records = [
        {"jobId": 1, "history": [], "modifiedOn": "2024-05-01T10:00:00Z", "active": False},
        # Values that would send a page of the common fields down the careful path.
        {"jobId": 2, "history": [], "modifiedOn": 5, "active": "yes"},
    ]
    page, fast = decode(HISTORY, records)
    assert fast
    cols = columns(page)
    assert cols["modified_on_raw"] == [None, None] and cols["active"] == [None, None]
    assert cols["payload"] == records


def test_created_on_is_the_ordering_field_of_immutable_events():
    records = [
        {"id": 1, "createdOn": "2024-05-01T10:00:00Z", "modifiedOn": "2030-01-01T00:00:00Z"},
        {"id": 2, "createdOn": 20240501},
    ]
    page, fast = decode(STATUS_CHANGES, records)
    assert not fast
    assert columns(page)["modified_on_raw"] == ["2024-05-01T10:00:00Z"]
    assert [r for r, _ in page.rejects] == ["createdOn is not a timestamp string"]
