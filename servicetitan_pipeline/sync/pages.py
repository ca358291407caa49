"""Pages -> Arrow staging columns: the :class:`PreparedPage` the raw layer writer upserts.

A page becomes a ``PreparedPage`` (defined with the raw layer's contract, in
``warehouse.schema``): an Arrow table ``(id[, id_2], modified_on_raw, active, payload)`` of the
records that can be loaded, plus the rejected ones with a reason. Which record fields fill the
typed columns is the entity's ``RecordFields`` (its key, e.g. ``id``, ``employeeId`` or
``(jobId, technicianId)``; its ordering field, ``modifiedOn``, ``createdOn`` or none; its active
flag or none); every decoder here is built for one set of them and cached
(:func:`page_decoder`), and a field the entity does not have leaves its column NULL. It is
built on the download thread, so the writing thread spends its time in DuckDB (which releases
the GIL) and a queued page is compact Arrow buffers rather than Python objects.

Two ways in:

* :func:`page_decoder` (``decode_page`` for the common fields) -- the hot path. A page decoder
  for the client (``client.iter_export(..., decode=page_decoder(fields))``): straight from the
  response body. msgspec
  validates the whole body as JSON and hands back each record's bytes *as the API sent them*
  (no Python object per field, no re-serialisation), plus just the fields the raw layer types
  (a struct per entity whose attributes are renamed to the entity's field names); Arrow checks
  the records' UTF-8. Several times faster than ``orjson.loads`` + building
  the columns from the parsed records (figures in bench/README.md). Any page with
  something unusual in it (a record that is not an object, lacks a key field or has a
  non-integer one or repeats one, an ``active`` that is not a boolean, invalid UTF-8, a lone
  surrogate escape, nesting past the parser's depth limit, ...) is decoded again the careful
  way: the body is split into its envelope and each record's bytes (by msgspec, or, when
  msgspec cannot read some record, by a scanner that only matches strings and brackets), and
  each record is judged on its own by the same rules. So one bad record is rejected with a
  reason and its neighbours load, exactly as they would on a clean page; only a body whose
  envelope is broken (truncated, cut mid-record) is "not JSON", which the client retries.
* :func:`prepare_page` -- from records already parsed (dicts): each checked, bad ones rejected
  with a reason, payloads re-serialised with orjson.

One rule for a repeated key: the key fields (``id``, ``employeeId``, ...) decide which row a
record is, and readers disagree on a repeated one (msgspec and most parsers keep the last,
DuckDB's JSON functions -- hence dbt -- the first), so a record that repeats a key field is
rejected. Every other field is read by DuckDB alone, the first occurrence, by every model.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import msgspec
import numpy as np
import orjson
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information

from servicetitan_pipeline.client.pagination import (
    BodyNotJsonError,
    DecodedBody,
    NotAPageError,
    PageDecoder,
    decode_json_page,
)
from servicetitan_pipeline.warehouse.schema import (
    PAYLOAD_TYPE,
    PreparedPage,
    RecordFields,
    page_schema,
)

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _dump_for_rejects(value: Any) -> str:
    """Serialise anything the JSON parser produced, even what orjson refuses (>64-bit ints)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        import json

        try:
            return json.dumps(value, default=repr)
        except (RecursionError, ValueError):
            # Nested past Python's recursion limit: no serialiser writes it back; say so.
            return f"<a {type(value).__name__} nested too deep to write back as JSON>"


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


def _columns_fast(records: Sequence[Any], fields: RecordFields) -> pa.Table | None:
    """Build the staging columns for a page in which every record is well formed.

    This is the only per-record Python work on the hot path: a list comprehension per typed
    column and one ``orjson.dumps`` per record, then Arrow takes over in C. Returns ``None``
    when any record is malformed, in which case :func:`_columns_checked` sorts good from bad
    one by one.
    """
    try:
        keys = [[r[name] for r in records] for name in fields.key]
        # bool is a subclass of int; True is not an id. A set of types is one C-level pass.
        if any({type(i) for i in values} - {int} for values in keys):
            return None
        n = len(records)
        modified, active = fields.modified, fields.active
        mods = [r.get(modified) for r in records] if modified else [None] * n
        actives = [r.get(active) for r in records] if active else [None] * n
        return _staging_table(
            [pa.array(values, pa.int64()) for values in keys],
            mods,
            actives,
            _json_text_array(records).storage,
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


def _check_key(record: dict[str, Any], fields: RecordFields) -> list[int] | str:
    """A parsed record's key values, or why it has no usable key (naming the field)."""
    values: list[int] = []
    for name in fields.key:
        value = record.get(name)
        if value is None:
            return f"record has no {name}"
        if type(value) is not int or not _INT64_MIN <= value <= _INT64_MAX:
            return f"{name} is not a 64-bit integer"
        values.append(value)
    return values


def _columns_checked(
    records: Sequence[Any], fields: RecordFields
) -> tuple[pa.Table, list[tuple[str, str]]]:
    """Slow path: validate each record, returning the good ones' columns and the rejects."""
    keys: list[list[int]] = [[] for _ in fields.key]
    mods: list[str | None] = []
    actives: list[bool | None] = []
    payloads: list[str] = []
    rejects: list[tuple[str, str]] = []
    for r in records:
        if not isinstance(r, dict):
            rejects.append(("record is not a JSON object", _dump_for_rejects(r)))
            continue
        key = _check_key(r, fields)
        if isinstance(key, str):
            rejects.append((key, _dump_for_rejects(r)))
            continue
        mod = r.get(fields.modified) if fields.modified else None
        if mod is not None and not isinstance(mod, str):
            reason = f"{fields.modified} is not a timestamp string"
            rejects.append((reason, _dump_for_rejects(r)))
            continue
        try:
            payload = orjson.dumps(r).decode()
        except orjson.JSONEncodeError as exc:
            rejects.append((f"record cannot be stored as JSON: {exc}", _dump_for_rejects(r)))
            continue
        active = r.get(fields.active) if fields.active else None
        # A non-boolean `active` is kept in the payload; the typed column says "unknown".
        actives.append(active if isinstance(active, bool) else None)
        for column, value in zip(keys, key, strict=True):
            column.append(value)
        mods.append(mod)
        payloads.append(payload)
    table = _staging_table(
        [pa.array(column, pa.int64()) for column in keys],
        mods,
        actives,
        pa.array(payloads, pa.large_string()),
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


_COMMON_FIELDS = RecordFields()


def prepare_page(records: Sequence[Any], fields: RecordFields = _COMMON_FIELDS) -> PreparedPage:
    """Turn a page of parsed records into staging columns (the key, the ordering field, the
    active flag -- as ``fields`` names them -- and the payload as JSON text) and the rejected
    ones. Pure Python + Arrow, no DuckDB: the sync runs it on the download thread, so that
    the writing thread spends its time in DuckDB (which releases the GIL) and a queued page is
    compact Arrow buffers rather than Python objects."""
    with gc_paused():
        table = _columns_fast(records, fields)
        rejects: list[tuple[str, str]] = []
        if table is None:
            table, rejects = _columns_checked(records, fields)
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


class _Id(int):
    """A record's key field (``id``, ``employeeId``, ...) as the head decoder reads it: an
    integer, counted as it is read.

    msgspec keeps the *last* of a repeated key; DuckDB's JSON functions (hence every dbt model
    reading ``payload``) the *first*. Each key field msgspec meets goes through the decoder's
    hook (one C -> Python call per record and key field: ~0.9 ms for a page of 5000,
    measured), so a page in which some record repeats a key field reads more of them than its
    records have, and goes down the careful path, which rejects that record. (An ``abc.ABC``
    with ``int`` registered, to hand msgspec's own ``int`` back, costs more: msgspec's
    isinstance check then runs ABCMeta's.)"""


class _Shape:
    """Everything decoding needs for one entity's :class:`RecordFields`, built once
    (:func:`_shape` caches it per fields).

    ``head``: a struct of the typed fields only -- attributes ``id`` (``id_2``), ``modified``,
    ``active``, renamed to the entity's own field names (``employeeId``, ``createdOn``, ...) --
    so msgspec reads just those and skips the rest without building it. Strict types on
    purpose: anything else sends the page down the careful path, which rejects (or, for the
    active flag, keeps as unknown) exactly as :func:`prepare_page`. A field the entity does not
    have is not in the struct (its column is NULL). ``heads``: a page of heads. ``key_only``:
    per key field, a struct of that field alone whatever its value (its occurrences are
    counted, to find a record repeating it).
    """

    def __init__(self, fields: RecordFields) -> None:
        self.fields = fields
        self.width = len(fields.key)
        self.key_attributes = fields.key_columns  # "id", "id_2": the head's attribute names
        rename = dict(zip(self.key_attributes, fields.key, strict=True))
        head_fields: list[tuple[str, Any] | tuple[str, Any, Any]] = [
            (name, _Id) for name in self.key_attributes
        ]
        if fields.modified is not None:
            head_fields.append(("modified", str | None, None))
            rename["modified"] = fields.modified
        if fields.active is not None:
            head_fields.append(("active", bool | None, None))
            rename["active"] = fields.active
        self.head: type[msgspec.Struct] = msgspec.defstruct(
            "_Head", head_fields, rename=rename, gc=False
        )
        page_of_heads: Any = list[self.head]  # type: ignore[name-defined]
        self.heads: type[msgspec.Struct] = msgspec.defstruct(
            "_Heads", [("data", page_of_heads)], gc=False
        )
        self.key_only: tuple[tuple[str, type[msgspec.Struct]], ...] = tuple(
            (
                name,
                msgspec.defstruct(
                    "_KeyOnly", [("key", _Id | None, None)], rename={"key": name}, gc=False
                ),
            )
            for name in fields.key
        )
        # A key field's name as it appears in a record's bytes (``"employeeId"``).
        self.key_tokens = {b'"' + name.encode() + b'"': name for name in fields.key}


@functools.cache
def _shape(fields: RecordFields) -> _Shape:
    return _Shape(fields)


_NO_ID = _Id(0)


def _counting_decoder(
    type_: type[Any], values: list[Any] | None = None
) -> tuple[msgspec.json.Decoder[Any], Callable[[], int]]:
    """A decoder of ``type_`` whose hook counts the key fields it reads, and ``tick``: each
    call returns how many were read before it (and counts itself). With ``values``, every
    value is kept there instead of checked.

    One per page (about a microsecond to make), so that pages decoded on several threads
    never share a count.
    """
    tick = itertools.count().__next__
    if values is None:

        def hook(type_: type, value: Any) -> Any:
            tick()
            # bool is a subclass of int; True is not an id. (An id beyond 64 bits fails in
            # Arrow, or in _judge_record.)
            if type(value) is not int:
                raise TypeError("key field is not an integer")
            return _Id(value)

    else:
        keep = values.append

        def hook(type_: type, value: Any) -> Any:
            tick()
            keep(value)
            return _NO_ID  # only the count and the values matter

    return msgspec.json.Decoder(type_, dec_hook=hook), tick


_ENVELOPE = msgspec.json.Decoder(_Envelope)


@functools.cache
def page_decoder(fields: RecordFields) -> PageDecoder[PreparedPage]:
    """The page decoder for the client of an entity whose records have ``fields`` (one per
    fields, cached): a response body -> ``DecodedBody`` whose ``data`` is the page's
    :class:`PreparedPage` (see the module docstring).

    One bad record never costs its page: a record that is not valid JSON (a lone surrogate
    escape, nesting past the parsers' depth limit, invalid UTF-8, ...) is rejected on its own
    and its neighbours load, as long as the page around it is sound.

    The decoder raises the client's ``BodyNotJsonError`` for a body whose envelope is not
    valid JSON (truncated, cut mid-record: the client retries the request) and
    ``NotAPageError`` for JSON without a ``data`` list.
    """
    shape = _shape(fields)

    def decode(body: bytes) -> DecodedBody[PreparedPage]:
        with gc_paused():
            fast = _decode_raw(body, shape)
            if fast is not None:
                return fast
            return _decode_careful(body, shape)

    decode.__doc__ = f"Page decoder for records keyed by {fields.describe_key()}."
    return decode


_COMMON_DECODER = page_decoder(_COMMON_FIELDS)


def decode_page(body: bytes) -> DecodedBody[PreparedPage]:
    """:func:`page_decoder` for the common fields (``id``, ``modifiedOn``, ``active``)."""
    return _COMMON_DECODER(body)


def _decode_raw(body: bytes, shape: _Shape) -> DecodedBody[PreparedPage] | None:
    """The fast way, or ``None`` when the page needs the careful one."""
    heads_decoder, tick = _counting_decoder(shape.heads)
    try:
        envelope = _ENVELOPE.decode(body)
        # A second pass over the same bytes (in C, skipping every other field) is cheaper than
        # one Python call per record to decode each record's head from its raw bytes.
        heads = heads_decoder.decode(body).data
    except (msgspec.DecodeError, RecursionError):  # ValidationError is a DecodeError
        return None
    raws = envelope.data
    if tick() != len(heads) * shape.width:  # some record repeats a key field
        return None
    table = _columns_raw(raws, heads, shape)
    if table is None:
        return None
    return DecodedBody.from_envelope(
        PreparedPage(table, (), len(raws)),
        len(raws),
        has_more=envelope.hasMore,
        continue_from=envelope.continueFrom,
        total_count=envelope.totalCount,
    )


def _payload_storage(raws: Sequence[bytes | msgspec.Raw]) -> pa.Array:
    """The records' bytes, as they are, as one Arrow large-string array (not yet validated)."""
    lengths = np.fromiter(map(len, raws), dtype=np.int64, count=len(raws))
    offsets = np.zeros(len(raws) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(
        pa.large_string(),
        len(raws),
        [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(raws))],
    )


def _staging_table(
    keys: Sequence[pa.Array],
    mods: Sequence[str | None],
    actives: Sequence[bool | None],
    storage: pa.Array,
) -> pa.Table:
    """The staged page: the key columns (``id``, ``id_2``), then the typed fields and the
    payload's ``storage`` (large strings of valid JSON)."""
    return pa.Table.from_arrays(
        [
            *keys,
            pa.array(mods, pa.string()),
            pa.array(actives, pa.bool_()),
            pa.ExtensionArray.from_storage(PAYLOAD_TYPE, storage),
        ],
        schema=page_schema(len(keys)),
    )


def _columns_raw(
    raws: Sequence[msgspec.Raw], heads: Sequence[Any], shape: _Shape
) -> pa.Table | None:
    """Staging columns from the records' raw bytes and decoded heads; ``None`` if a key value
    does not fit in 64 bits or a record's bytes are not valid UTF-8 (msgspec checks the JSON
    grammar of what it skips, not the encoding of its strings)."""
    if len(raws) != len(heads):  # cannot happen for one body; never trust it silently
        return None
    storage = _payload_storage(raws)
    try:
        storage.validate(full=True)  # UTF-8 of every record (SIMD; ~4 ms for 17.8 MB)
        if shape.width == 1:  # the common case: no getattr per record
            keys = [pa.array([h.id for h in heads], pa.int64())]
        else:
            keys = [
                pa.array([getattr(h, name) for h in heads], pa.int64())
                for name in shape.key_attributes
            ]
    except (pa.ArrowInvalid, OverflowError):
        return None
    n = len(heads)
    fields = shape.fields
    mods = [h.modified for h in heads] if fields.modified is not None else [None] * n
    actives = [h.active for h in heads] if fields.active is not None else [None] * n
    return _staging_table(keys, mods, actives, storage)


# --------------------------------------------------------------------------------------------
# The careful path: record by record, from each record's own bytes
# --------------------------------------------------------------------------------------------


def _decode_careful(body: bytes, shape: _Shape) -> DecodedBody[PreparedPage]:
    """Split the body into its envelope and each record's bytes, then judge every record on
    its own: the good ones load exactly as the fast path loads them (their bytes as sent),
    the bad ones are rejected with a reason."""
    envelope, raws = _split_page(body)
    keys: list[list[int]] = [[] for _ in range(shape.width)]
    mods: list[str | None] = []
    actives: list[bool | None] = []
    payloads: list[bytes] = []
    rejects: list[tuple[str, str]] = []
    heads = _counting_decoder(shape.head)[0]
    for raw in raws:
        verdict = _judge_record(raw, heads, shape)
        if isinstance(verdict, str):
            rejects.append((verdict, raw.decode("utf-8", "backslashreplace")))
            continue
        for column, value in zip(keys, verdict.key, strict=True):
            column.append(value)
        mods.append(verdict.modified)
        actives.append(verdict.active)
        payloads.append(raw)
    table = _staging_table(
        [pa.array(column, pa.int64()) for column in keys],
        mods,
        actives,
        _payload_storage(payloads),
    )
    return DecodedBody.from_envelope(
        PreparedPage(table, tuple(rejects), len(raws)),
        len(raws),
        has_more=envelope.get("hasMore"),
        continue_from=envelope.get("continueFrom"),
        total_count=envelope.get("totalCount"),
    )


def _split_page(body: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """(envelope without ``data``, each record's bytes) of a body the fast path refused.

    msgspec splits a page whose every record is valid JSON (the common case: an odd id or
    ``active``). A record msgspec cannot read -- a lone surrogate escape, nesting past its
    depth limit -- fails the whole body there, so :func:`_scan_records` finds the records'
    boundaries without parsing them, and the envelope is parsed with ``data`` left out.
    Anything still unreadable is a body that is not JSON (the client retries it).
    """
    try:
        envelope = _ENVELOPE.decode(body)
        fields = {"hasMore": envelope.hasMore, "continueFrom": envelope.continueFrom}
        fields["totalCount"] = envelope.totalCount
        return fields, [bytes(r) for r in envelope.data]
    except msgspec.ValidationError:
        # Valid JSON of another shape (no `data` list): the default decoder says which error.
        page = decode_json_page(body)  # raises NotAPageError (or BodyNotJsonError)
        raise NotAPageError(repr(page.data)[:2000]) from None  # pragma: no cover - unreachable
    except (msgspec.DecodeError, RecursionError):
        pass
    scanned = _scan_records(body)
    if scanned is None:
        decode_json_page(body)  # raises the default decoder's error (BodyNotJsonError)
        raise BodyNotJsonError("the body is not a page of records")  # pragma: no cover
    (data_start, data_end), spans = scanned
    try:
        rest = orjson.loads(body[:data_start] + b"[]" + body[data_end:])
    except orjson.JSONDecodeError as exc:
        raise BodyNotJsonError(f"the page's envelope is not valid JSON: {exc}") from None
    if not isinstance(rest, dict):  # pragma: no cover - the scanner found an object
        raise BodyNotJsonError("the body is not a JSON object")
    return rest, [body[a:b] for a, b in spans]


# Strings (escapes skipped, never decoded), runs of opening or of closing brackets (one token
# each, so that deep nesting costs C time, not a Python step per level) and commas; a lone `"`
# is an unterminated string. The unrolled form of the string pattern never backtracks.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[{\[]+|[}\]]+|[,"]', re.DOTALL)
_OPENERS_OF = bytes.maketrans(b"]}", b"[{")
_DATA_VALUE = re.compile(rb"\s*:\s*\[")
_WHITESPACE = b" \t\r\n"


def _scan_records(body: bytes) -> tuple[tuple[int, int], list[tuple[int, int]]] | None:
    """Where the top-level ``data`` array is and where each of its elements starts and ends,
    found without building anything (one pass, no recursion: a counter of depth, so any
    nesting costs the same); ``None`` unless the body is one balanced JSON object with a
    ``data`` array.

    Strings and brackets are matched exactly; what lies between them (numbers, literals) is
    left for the parser of each record to judge.
    """
    stack = bytearray()
    data_at: int | None = None  # offset of the `[` that opens `data`
    data_span: tuple[int, int] | None = None
    spans: list[tuple[int, int]] = []
    element_start = 0
    commas = 0
    for match in _TOKENS.finditer(body):
        start, end = match.span()
        char = body[start]
        depth = len(stack)
        if char == 0x22:  # a string
            if end - start < 2:
                return None  # unterminated
            if depth == 1 and data_span is None and body[start:end] == b'"data"':
                value = _DATA_VALUE.match(body, end)
                if value is not None:
                    data_at = value.end() - 1
            continue
        if char in b"{[":
            if depth == 0 and (char != 0x7B or body[:start].strip(_WHITESPACE)):
                return None  # not one object
            stack += body[start:end]
            if start == data_at:
                element_start = start + 1
            continue
        if char in b"}]":
            closers = body[start:end]
            n = len(closers)
            # The i-th closer closes depth (depth - i): they must match the stack's top n.
            if n > depth or stack[depth - n :] != closers.translate(_OPENERS_OF)[::-1]:
                return None
            if data_at is not None and data_span is None and depth - n < 2 <= depth:
                data_end = start + depth - 2  # the closer that takes depth 2 to 1: `data`'s
                last = _element(body, element_start, data_end)
                if last is not None:
                    spans.append(last)
                elif commas:
                    return None  # `[1,]`
                data_span = (data_at, data_end + 1)
            del stack[depth - n :]
            if not stack and body[end:].strip(_WHITESPACE):
                return None  # something after the object
            continue
        # a comma
        if depth == 2 and data_at is not None and data_span is None:
            element = _element(body, element_start, start)
            if element is None:
                return None  # `[,` or `,,`
            spans.append(element)
            element_start = start + 1
            commas += 1
    if stack or data_span is None:
        return None
    return data_span, spans


def _element(body: bytes, start: int, end: int) -> tuple[int, int] | None:
    """The span of ``body[start:end]`` without surrounding whitespace; ``None`` if empty."""
    while start < end and body[start] in _WHITESPACE:
        start += 1
    while end > start and body[end - 1] in _WHITESPACE:
        end -= 1
    return (start, end) if start < end else None


class _Loadable:
    """A record that can be loaded: its typed fields."""

    __slots__ = ("active", "key", "modified")

    def __init__(self, key: Sequence[int], modified: str | None, active: bool | None) -> None:
        self.key = key
        self.modified = modified
        self.active = active


_INTEGER_VALUE = re.compile(rb"\s*:\s*(-?[0-9]{1,19})\s*[,}]")


def _judge_record(raw: bytes, heads: msgspec.json.Decoder[Any], shape: _Shape) -> _Loadable | str:
    """A record's verdict: a :class:`_Loadable`, or the reason it is rejected (a ``str``).

    The rules are the fast path's, applied to one record: valid JSON (by the same parser), an
    object whose every key field is a 64-bit integer and appears once, an ordering field that
    is a string or null, valid UTF-8; an active flag that is not a boolean loads as unknown.
    """
    fields = shape.fields
    try:
        try:
            head = heads.decode(raw)
            key = [cast(int, getattr(head, name)) for name in shape.key_attributes]
            for name, value in zip(fields.key, key, strict=True):
                if not _INT64_MIN <= value <= _INT64_MAX:
                    return f"{name} is not a 64-bit integer"
            record = _Loadable(
                key,
                head.modified if fields.modified is not None else None,
                head.active if fields.active is not None else None,
            )
        except msgspec.ValidationError:
            # Valid JSON so far, of another shape; parse it all (which checks the rest).
            verdict = _judge_parsed(msgspec.json.decode(raw), fields)
            if isinstance(verdict, str):
                return verdict
            record = verdict
    except RecursionError:
        which = _which(raw, shape)
        return f"{which} is nested deeper than a JSON parser reads (about 1,000 levels)"
    except msgspec.DecodeError as exc:
        return f"{_which(raw, shape)} is not valid JSON: {_json_error(raw, exc)}"
    for name, key_only in shape.key_only:
        values: list[Any] = []
        _counting_decoder(key_only, values)[0].decode(raw)
        if len(values) > 1:
            shown = ", then ".join(_dump_for_rejects(v) for v in values)
            return (
                f"record {values[0]} repeats the key {name!r} ({shown}): which record it is "
                "depends on the reader (DuckDB reads the first, most JSON parsers the last)"
            )
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        label = _label(fields, dict(zip(fields.key, record.key, strict=True)))
        return f"{label} is not valid UTF-8: {exc.reason} at byte {exc.start}"
    return record


def _judge_parsed(value: Any, fields: RecordFields) -> _Loadable | str:
    """The verdict on a record that is valid JSON but not of the strict head's shape."""
    if not isinstance(value, dict):
        return "record is not a JSON object"
    key = _check_key(value, fields)
    if isinstance(key, str):
        return key
    mod = value.get(fields.modified) if fields.modified is not None else None
    if mod is not None and not isinstance(mod, str):
        return f"{fields.modified} is not a timestamp string"
    active = value.get(fields.active) if fields.active is not None else None
    # A non-boolean active flag is kept in the payload; the typed column says "unknown".
    return _Loadable(key, mod, active if isinstance(active, bool) else None)


def _label(fields: RecordFields, found: dict[str, int]) -> str:
    """How a reject names its record: ``record 5`` (by ``id``), ``record employeeId 5``,
    ``record jobId 3, technicianId 9``; ``record (id unreadable)`` when no key field was
    found."""
    if not found:
        return f"record ({fields.describe_key()} unreadable)"
    if fields.key == ("id",):
        return f"record {found['id']}"
    return "record " + ", ".join(f"{name} {value}" for name, value in found.items())


def _which(raw: bytes, shape: _Shape) -> str:
    """How to name a record that cannot be parsed (for the reason it is rejected): by its
    top-level key fields found without parsing (:func:`_label`)."""
    found: dict[str, int] = {}
    depth = 0
    for match in _TOKENS.finditer(raw):
        char = raw[match.start()]
        if char in b"{[":
            depth += len(match.group())
        elif char in b"}]":
            depth -= len(match.group())
        elif depth == 1 and (name := shape.key_tokens.get(match.group())) is not None:
            value = _INTEGER_VALUE.match(raw, match.end())
            if value is not None and name not in found:
                found[name] = int(value.group(1))
    return _label(shape.fields, {name: found[name] for name in shape.fields.key if name in found})


def _json_error(raw: bytes, exc: Exception) -> str:
    """Why a record is not JSON, in the clearer words of orjson when it agrees."""
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as orjson_error:
        return str(orjson_error)
    return str(exc)
