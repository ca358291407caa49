"""Pages -> Arrow staging columns: the :class:`PreparedPage` the raw layer writer upserts.

A page becomes a ``PreparedPage`` (defined with the raw layer's contract, in
``warehouse.schema``): an Arrow table ``(id, modified_on_raw, active, payload)`` of the records
that can be loaded, plus the rejected ones with a reason. It is built on the download thread,
so the writing thread spends its time in DuckDB (which releases the GIL) and a queued page is
compact Arrow buffers rather than Python objects.

Two ways in:

* :func:`decode_page` -- the hot path. A page decoder for the client
  (``client.iter_export(..., decode=decode_page)``): straight from the response body. msgspec
  validates the whole body as JSON and hands back each record's bytes *as the API sent them*
  (no Python object per field, no re-serialisation), plus just the three fields the raw layer
  types; Arrow checks the records' UTF-8. Several times faster than ``orjson.loads`` + building
  the columns from the parsed records (figures in bench/README.md). Any page with
  something unusual in it (a record that is not an object, has no id or a non-integer one, an
  ``active`` that is not a boolean, invalid UTF-8, ...) is decoded again the careful way below,
  so both ways load and reject exactly the same records.
* :func:`prepare_page` -- from records already parsed (dicts): each checked, bad ones rejected
  with a reason, payloads re-serialised with orjson.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec
import numpy as np
import orjson
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information

from servicetitan_pipeline.client.pagination import DecodedBody, decode_json_page
from servicetitan_pipeline.warehouse.schema import PAGE_SCHEMA, PAYLOAD_TYPE, PreparedPage

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _dump_for_rejects(value: Any) -> str:
    """Serialise anything the JSON parser produced, even what orjson refuses (>64-bit ints)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        import json

        return json.dumps(value, default=repr)


def _json_text_array(records: Sequence[Any]) -> pa.Array:
    """The records as JSON text, one Arrow string per record, with a single buffer.

    Each ``orjson.dumps`` result is appended to one ``bytearray`` and dropped at once. Keeping
    5000 separate ``bytes`` objects instead cost 3-4x the CPU (each is its own allocation of a
    generously sized buffer) and ~40 MB of memory per page; ``pa.array(...)`` on them then
    copied and re-validated everything. ``orjson`` only emits valid UTF-8, so the Arrow array is
    assembled from the buffer and 64-bit offsets (no page size can overflow them) as is.
    """
    data = bytearray()
    lengths: list[int] = []
    dumps, append_length = orjson.dumps, lengths.append
    for record in records:
        text = dumps(record)
        data += text
        append_length(len(text))
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(np.asarray(lengths, dtype=np.int64), out=offsets[1:])
    storage = pa.Array.from_buffers(
        pa.large_string(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    return pa.ExtensionArray.from_storage(PAYLOAD_TYPE, storage)


def _columns_fast(records: Sequence[Any]) -> pa.Table | None:
    """Build the staging columns for a page in which every record is well formed.

    This is the only per-record Python work on the hot path: three list comprehensions and one
    ``orjson.dumps`` per record, then Arrow takes over in C. Returns ``None`` when any record
    is malformed, in which case :func:`_columns_checked` sorts good from bad one by one.
    """
    try:
        ids = [r["id"] for r in records]
        # bool is a subclass of int; True is not an id. A set of types is one C-level pass.
        if {type(i) for i in ids} - {int}:
            return None
        mods = [r.get("modifiedOn") for r in records]
        actives = [r.get("active") for r in records]
        return pa.Table.from_arrays(
            [
                pa.array(ids, pa.int64()),
                pa.array(mods, pa.string()),
                pa.array(actives, pa.bool_()),
                _json_text_array(records),
            ],
            schema=PAGE_SCHEMA,
        )
    # OverflowError: an id beyond int64 (pyarrow raises it, not an ArrowException); the
    # record-by-record path then rejects just that record.
    except (
        KeyError,
        TypeError,
        AttributeError,
        OverflowError,
        pa.ArrowException,
        orjson.JSONEncodeError,
    ):
        return None


def _columns_checked(records: Sequence[Any]) -> tuple[pa.Table, list[tuple[str, str]]]:
    """Slow path: validate each record, returning the good ones' columns and the rejects."""
    ids: list[int] = []
    mods: list[str | None] = []
    actives: list[bool | None] = []
    payloads: list[str] = []
    rejects: list[tuple[str, str]] = []
    for r in records:
        if not isinstance(r, dict):
            rejects.append(("record is not a JSON object", _dump_for_rejects(r)))
            continue
        if "id" not in r or r["id"] is None:
            rejects.append(("record has no id", _dump_for_rejects(r)))
            continue
        rid = r["id"]
        if type(rid) is not int or not _INT64_MIN <= rid <= _INT64_MAX:
            rejects.append(("id is not a 64-bit integer", _dump_for_rejects(r)))
            continue
        mod = r.get("modifiedOn")
        if mod is not None and not isinstance(mod, str):
            rejects.append(("modifiedOn is not a timestamp string", _dump_for_rejects(r)))
            continue
        try:
            payload = orjson.dumps(r).decode()
        except orjson.JSONEncodeError as exc:
            rejects.append((f"record cannot be stored as JSON: {exc}", _dump_for_rejects(r)))
            continue
        active = r.get("active")
        # A non-boolean `active` is kept in the payload; the typed column says "unknown".
        actives.append(active if isinstance(active, bool) else None)
        ids.append(rid)
        mods.append(mod)
        payloads.append(payload)
    table = pa.Table.from_arrays(
        [
            pa.array(ids, pa.int64()),
            pa.array(mods, pa.string()),
            pa.array(actives, pa.bool_()),
            pa.ExtensionArray.from_storage(PAYLOAD_TYPE, pa.array(payloads, pa.large_string())),
        ],
        schema=PAGE_SCHEMA,
    )
    return table, rejects


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the duration of the block (re-entrant).

    A page is hundreds of thousands of freshly parsed, acyclic objects (dicts, lists, strings);
    every allocation burst makes the collector walk them again, which costs more than the
    work itself (several times the cost of building the columns). Reference
    counting frees pages as soon as they are dropped; the collector is only needed for cycles,
    which parsed JSON never has, and it runs again as soon as the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def prepare_page(records: Sequence[Any]) -> PreparedPage:
    """Turn a page of parsed records into staging columns (id, modifiedOn, active, payload
    as JSON text) and the rejected ones. Pure Python + Arrow, no DuckDB: the sync runs it on
    the download thread, so that the writing thread spends its time in DuckDB (which releases
    the GIL) and a queued page is compact Arrow buffers rather than Python objects."""
    with gc_paused():
        table = _columns_fast(records)
        rejects: list[tuple[str, str]] = []
        if table is None:
            table, rejects = _columns_checked(records)
    return PreparedPage(table, tuple(rejects), len(records))


# --------------------------------------------------------------------------------------------
# The hot path: from the response body
# --------------------------------------------------------------------------------------------


class _Envelope(msgspec.Struct, gc=False):
    """A page's envelope with each record kept as its raw JSON bytes (validated, not built)."""

    data: list[msgspec.Raw]
    hasMore: Any = None
    continueFrom: Any = None
    totalCount: Any = None


class _Head(msgspec.Struct, gc=False):
    """The fields of a record that the raw layer types; msgspec skips the rest without
    building it. Strict types on purpose: anything else sends the page down the careful path,
    which rejects (or, for ``active``, keeps as unknown) exactly as :func:`prepare_page`."""

    id: int
    modifiedOn: str | None = None
    active: bool | None = None


class _Heads(msgspec.Struct, gc=False):
    data: list[_Head]


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_HEADS = msgspec.json.Decoder(_Heads)


def decode_page(body: bytes) -> DecodedBody[PreparedPage]:
    """Page decoder for the client: a response body -> ``DecodedBody`` whose ``data`` is the
    page's :class:`PreparedPage` (see the module docstring).

    Raises the client's ``BodyNotJsonError`` for a body that is not valid JSON (the client
    retries the request) and ``NotAPageError`` for JSON without a ``data`` list.
    """
    with gc_paused():
        fast = _decode_raw(body)
        if fast is not None:
            return fast
        # The careful way: parse everything, check record by record.
        page = decode_json_page(body)
        return DecodedBody(
            prepare_page(page.data),
            page.record_count,
            page.has_more,
            page.continue_from,
            page.total_count,
        )


def _decode_raw(body: bytes) -> DecodedBody[PreparedPage] | None:
    """The fast way, or ``None`` when the page needs the careful one."""
    try:
        envelope = _ENVELOPE.decode(body)
        # A second pass over the same bytes (in C, skipping every other field) is cheaper than
        # one Python call per record to decode each record's head from its raw bytes.
        heads = _HEADS.decode(body).data
    except (msgspec.DecodeError, RecursionError):  # ValidationError is a DecodeError
        return None
    raws = envelope.data
    table = _columns_raw(raws, heads)
    if table is None:
        return None
    return DecodedBody.from_envelope(
        PreparedPage(table, (), len(raws)),
        len(raws),
        has_more=envelope.hasMore,
        continue_from=envelope.continueFrom,
        total_count=envelope.totalCount,
    )


def _columns_raw(raws: Sequence[msgspec.Raw], heads: Sequence[_Head]) -> pa.Table | None:
    """Staging columns from the records' raw bytes and decoded heads; ``None`` if an id does
    not fit in 64 bits or a record's bytes are not valid UTF-8 (msgspec checks the JSON
    grammar of what it skips, not the encoding of its strings)."""
    if len(raws) != len(heads):  # cannot happen for one body; never trust it silently
        return None
    lengths = np.fromiter(map(len, raws), dtype=np.int64, count=len(raws))
    offsets = np.zeros(len(raws) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    storage = pa.Array.from_buffers(
        pa.large_string(),
        len(raws),
        [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(raws))],
    )
    try:
        storage.validate(full=True)  # UTF-8 of every record (SIMD; ~4 ms for 17.8 MB)
        ids = pa.array([h.id for h in heads], pa.int64())
    except (pa.ArrowInvalid, OverflowError):
        return None
    return pa.Table.from_arrays(
        [
            ids,
            pa.array([h.modifiedOn for h in heads], pa.string()),
            pa.array([h.active for h in heads], pa.bool_()),
            pa.ExtensionArray.from_storage(PAYLOAD_TYPE, storage),
        ],
        schema=PAGE_SCHEMA,
    )
