"""Compact in-memory storage of the simulated tenant, with export and list paging.

Every record is kept as its pre-serialised JSON bytes plus a few parallel machine arrays
(id, seq, modifiedOn, createdOn, active), so a 100k-customer tenant (over a million records)
fits in well under 2 GB and a 5000-record page is a ``b",".join`` of bytes, not 5000 dumps.

Export continuation tokens are built on a tenant-wide modification sequence number ("seq"):
every create or update stamps the record with the next seq and appends ``(seq, position)`` to the
entity's change log. An export page from token *S* is the next live log entries with seq > S,
and ``continueFrom`` encodes the last seq served. So a token stays exact under concurrent change:
after an ``advance()`` an old token yields precisely the records changed since, each once. A
token also names its tenant, so that one tenant's token is refused on another's export (their
seqs would otherwise mean positions in a different log).
"""

from __future__ import annotations

import base64
import binascii
import random
import re
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar

import orjson

from ..entities import Entity

# How records of an entity are rendered from their stored bytes (see EntityStore.render_*).
KIND_PLAIN = "plain"  # the stored bytes are the record, in list and export shape alike
KIND_JOB = "job"  # stored: list shape (no "active"); export shape appends "active"
KIND_INVOICE_ITEM = (
    "invoice_item"  # stored: shape nested in invoices; export adds active, invoiceId
)
KIND_INVOICE = "invoice"  # stored without "items"; the invoice's active items are spliced in

# st2:<tenant>:<entity>:<seq>; st1:<entity>:<seq> (no tenant) is what earlier versions issued,
# still accepted so that a warehouse synced against one keeps its cursors.
_TOKEN_RE = re.compile(r"^(?:st1|st2:(\d+)):([a-z_]+):(\d+)$")


def pack(record: dict[str, Any]) -> bytes:
    """Serialise a record for storage, in a bytes object of exactly its size.

    orjson hands back its growth buffer (8 or 16 KiB for a 1 KiB record); kept as is, a
    100k-customer tenant would take 10x the memory of its JSON. Copying through a memoryview
    trims it to the payload for ~100 ns.
    """
    return bytes(memoryview(orjson.dumps(record)))


def encode_token(entity: str, seq: int, tenant_id: int | None = None) -> str:
    """An opaque export continuation token for ``entity`` of ``tenant_id``, after ``seq``.

    Without a tenant, the earlier token shape (valid on any tenant).
    """
    text = f"st1:{entity}:{seq}" if tenant_id is None else f"st2:{tenant_id}:{entity}:{seq}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_token(entity: str, token: str, tenant_id: int | None = None) -> int | None:
    """The seq in a token of ``entity``; ``None`` when ``token`` is not one of our tokens.

    Raises:
        ValueError: the token is ours but belongs to another entity, or to a tenant other
            than ``tenant_id`` (when given).
    """
    padded = token + "=" * (-len(token) % 4)
    try:
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (binascii.Error, ValueError, UnicodeError):
        return None
    match = _TOKEN_RE.match(text)
    if match is None:
        return None
    owner, name, seq = match.groups()
    if name != entity:
        raise ValueError(f"continuation token belongs to {name}, not {entity}")
    if owner is not None and tenant_id is not None and int(owner) != tenant_id:
        raise ValueError("The continuation token is not valid for this tenant.")
    return int(seq)


@dataclass(frozen=True)
class ExportPage:
    """One export answer: the records' positions (in serving order) and the paging fields."""

    positions: list[int]
    continue_from: str
    has_more: bool


V = TypeVar("V")


class LRU(Generic[V]):
    """A small LRU bounded by entry count and, for bytes values, total size (callers lock)."""

    def __init__(self, size: int, max_bytes: int | None = None) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.data: OrderedDict[Hashable, V] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        value = self.data.get(key)
        if value is not None:
            self.data.move_to_end(key)
        return value

    def put(self, key: Hashable, value: V) -> None:
        if key in self.data:
            self.nbytes -= self._weight(self.data.pop(key))
        self.data[key] = value
        self.nbytes += self._weight(value)
        while len(self.data) > self.size or (
            self.max_bytes is not None and self.nbytes > self.max_bytes and len(self.data) > 1
        ):
            _, evicted = self.data.popitem(last=False)
            self.nbytes -= self._weight(evicted)

    def clear(self) -> None:
        self.data.clear()
        self.nbytes = 0

    @staticmethod
    def _weight(value: object) -> int:
        return len(value) if isinstance(value, bytes | bytearray) else 0


class StoreColumns(TypedDict):
    """An entity store's record columns (not its change log), as moved between processes."""

    ids: array[int]
    blobs: list[bytes]
    seq: array[int]
    modified_ms: array[int]
    created_ms: array[int]
    active: bytearray
    parent: array[int]
    child_start: array[int]
    child_count: array[int]


class EntityStore:
    """All records of one entity, in creation (= id) order, with their change log."""

    def __init__(self, entity: Entity, kind: str, tenant: TenantStore) -> None:
        self.entity = entity
        self.name = entity.name
        self.kind = kind
        self.tenant = tenant
        self.ids = array("q")
        self.blobs: list[bytes] = []
        self.seq = array("q")
        self.modified_ms = array("q")
        self.created_ms = array("q")
        self.active = bytearray()
        # Invoice items: the invoice id (export shape carries it). Invoices: where their items
        # are in the items store (items of an invoice are created together, so contiguous).
        self.parent = array("q")
        self.child_start = array("q")
        self.child_count = array("q")
        # Change log in seq order; an entry is stale once its record changed again.
        self.log_seq = array("q")
        self.log_pos = array("q")
        self.log_modified_ms = array("q")
        self.version = 0
        self._list_cache: LRU[array[int]] = LRU(32)

    def __len__(self) -> int:
        return len(self.ids)

    # ---- writing (callers hold the tenant lock) ----

    def add(
        self,
        record_id: int,
        blob: bytes,
        modified_ms: int,
        created_ms: int,
        active: bool = True,
        parent: int = 0,
        child_start: int = 0,
        child_count: int = 0,
    ) -> int:
        """Append a new record (ids must increase); stamps a seq unless the tenant is building."""
        if self.ids and record_id <= self.ids[-1]:
            raise ValueError(f"{self.name}: ids must increase ({record_id} after {self.ids[-1]})")
        pos = len(self.ids)
        self.ids.append(record_id)
        self.blobs.append(blob)
        self.seq.append(0)
        self.modified_ms.append(modified_ms)
        self.created_ms.append(created_ms)
        self.active.append(1 if active else 0)
        self.parent.append(parent)
        self.child_start.append(child_start)
        self.child_count.append(child_count)
        if not self.tenant.building:
            self._stamp(pos)
        return pos

    def update(self, pos: int, record: dict[str, Any], modified_ms: int) -> None:
        """Replace a record (already carrying its new ``modifiedOn``) and stamp a new seq
        (unless the tenant is building)."""
        self.blobs[pos] = pack(record)
        self.modified_ms[pos] = modified_ms
        if "active" in record:
            self.active[pos] = 1 if record["active"] else 0
        if not self.tenant.building:
            # While building, finish_build stamps every record once, in modification order.
            self._stamp(pos)

    def touch(self, pos: int, modified_ms: int) -> None:
        """Stamp a new seq on a record whose rendering changed without its own bytes changing
        (an invoice whose items changed)."""
        self.modified_ms[pos] = modified_ms
        self._stamp(pos)

    def _stamp(self, pos: int) -> None:
        seq = self.tenant.next_seq()
        self.seq[pos] = seq
        self.log_seq.append(seq)
        self.log_pos.append(pos)
        self.log_modified_ms.append(self.modified_ms[pos])
        self.version += 1

    def columns(self) -> StoreColumns:
        """The record columns (not the change log), to move records between processes."""
        return StoreColumns(
            ids=self.ids,
            blobs=self.blobs,
            seq=self.seq,
            modified_ms=self.modified_ms,
            created_ms=self.created_ms,
            active=self.active,
            parent=self.parent,
            child_start=self.child_start,
            child_count=self.child_count,
        )

    def extend(self, columns: StoreColumns, child_offset: int = 0) -> None:
        """Append records built elsewhere (a generation chunk), before ``finish_build``.

        ``child_offset`` shifts invoices' item positions (their items are appended to the
        items store in the same batch).
        """
        if not self.tenant.building:
            raise RuntimeError("records can only be bulk-appended while building")
        ids = columns["ids"]
        if len(ids) and len(self.ids) and ids[0] <= self.ids[-1]:
            raise ValueError(f"{self.name}: appended ids must follow the existing ones")
        self.ids.extend(ids)
        self.blobs.extend(columns["blobs"])
        self.seq.extend(columns["seq"])
        self.modified_ms.extend(columns["modified_ms"])
        self.created_ms.extend(columns["created_ms"])
        self.active.extend(columns["active"])
        self.parent.extend(columns["parent"])
        if child_offset and self.kind == KIND_INVOICE:
            self.child_start.extend(start + child_offset for start in columns["child_start"])
        else:
            self.child_start.extend(columns["child_start"])
        self.child_count.extend(columns["child_count"])

    def finish_build(self) -> None:
        """Stamp the generated records in modifiedOn order, so seq order is modification order."""
        order = sorted(range(len(self.ids)), key=self.modified_ms.__getitem__)
        for pos in order:
            self._stamp(pos)

    def compact_log(self) -> None:
        """Drop stale log entries once they outnumber the live ones (keeps export scans short)."""
        if len(self.log_seq) < 2 * len(self.ids):
            return
        keep = [i for i in range(len(self.log_seq)) if self.seq[self.log_pos[i]] == self.log_seq[i]]
        self.log_seq = array("q", (self.log_seq[i] for i in keep))
        self.log_pos = array("q", (self.log_pos[i] for i in keep))
        self.log_modified_ms = array("q", (self.log_modified_ms[i] for i in keep))

    # ---- reading ----

    def position(self, record_id: int) -> int:
        """Position of a record by id (ids are increasing, so a binary search)."""
        i = bisect_left(self.ids, record_id)
        if i == len(self.ids) or self.ids[i] != record_id:
            raise KeyError(f"{self.name}: no record with id {record_id}")
        return i

    def record(self, pos: int) -> dict[str, Any]:
        """The stored record as a dict (list shape for jobs, nested shape for items)."""
        record: dict[str, Any] = orjson.loads(self.blobs[pos])
        return record

    def render_export(self, pos: int) -> bytes:
        """The record's bytes in the export endpoint's shape."""
        parts: list[bytes | memoryview] = []
        self.export_parts(pos, parts)
        return b"".join(parts)

    def render_list(self, pos: int) -> bytes:
        """The record's bytes in the list endpoint's shape."""
        parts: list[bytes | memoryview] = []
        self.list_parts(pos, parts)
        return b"".join(parts)

    # Pages are assembled from parts, so that serving a page allocates one page-sized buffer
    # and no per-record copies: memoryview slices of the stored bytes cost no copy, and a
    # server thread churning through millions of short-lived multi-KB copies made the heap
    # grow by hundreds of MB at 100k customers.

    def export_parts(self, pos: int, out: list[bytes | memoryview]) -> None:
        """Append the pieces of the record's export-shape bytes to ``out``."""
        kind = self.kind
        blob = self.blobs[pos]
        if kind == KIND_PLAIN:
            out.append(blob)
        elif kind == KIND_JOB:
            out.append(memoryview(blob)[:-1])
            out.append(b',"active":true}' if self.active[pos] else b',"active":false}')
        elif kind == KIND_INVOICE_ITEM:
            out.append(memoryview(blob)[:-1])
            out.append(
                b',"active":true,"invoiceId":'
                if self.active[pos]
                else b',"active":false,"invoiceId":'
            )
            out.append(b"%d}" % self.parent[pos])
        else:
            self._invoice_parts(pos, out)

    def list_parts(self, pos: int, out: list[bytes | memoryview]) -> None:
        """Append the pieces of the record's list-shape bytes to ``out``."""
        if self.kind == KIND_INVOICE:
            self._invoice_parts(pos, out)
        else:
            out.append(self.blobs[pos])

    def _invoice_parts(self, pos: int, out: list[bytes | memoryview]) -> None:
        items = self.tenant.stores["invoice_items"]
        start = self.child_start[pos]
        blobs = items.blobs
        flags = items.active
        out.append(memoryview(self.blobs[pos])[:-1])
        out.append(b',"items":[')
        first = True
        for i in range(start, start + self.child_count[pos]):
            if flags[i]:
                if not first:
                    out.append(b",")
                out.append(blobs[i])
                first = False
        out.append(b"]}")

    def export_page(
        self,
        after_seq: int,
        page_size: int,
        include_recent: bool,
        shuffle_seed: int,
        active: str = "any",
        tenant_id: int | None = None,
    ) -> ExportPage:
        """The next export page after ``after_seq``.

        ServiceTitan promises no order within an export page, so the page is shuffled
        (deterministically, from the seed and the token) to keep clients honest. With
        ``include_recent`` the page also repeats up to a twentieth of a page of the records
        served just before the token: the documented "same results may appear multiple times".
        ``active`` (``"true"``, ``"false"``, ``"any"``) leaves out the records of the other
        state; the token still moves past them, so it stays exact. ``tenant_id``: the tenant
        the ``continueFrom`` token is for.
        """
        log_seq, log_pos, seq = self.log_seq, self.log_pos, self.seq
        flags = self.active
        want = -1 if active == "any" else (1 if active == "true" else 0)
        start = bisect_right(log_seq, after_seq)
        end = len(log_seq)
        out: list[int] = []
        i = start
        while i < end and len(out) < page_size:
            pos = log_pos[i]
            if seq[pos] == log_seq[i] and (want < 0 or flags[pos] == want):
                out.append(pos)
            i += 1
        last_seq = log_seq[i - 1] if i > start else max(after_seq, 0)
        # The last log entry is always live (it is the latest change of its record), so any
        # entry left unread means there is more. (A filtered scan reads on until its page is
        # full or the log ends, so it never answers an empty page that says hasMore.)
        has_more = i < end
        if include_recent and after_seq > 0:
            repeat: list[int] = []
            j = start - 1
            limit = max(1, page_size // 20)
            while j >= 0 and len(repeat) < limit:
                pos = log_pos[j]
                if seq[pos] == log_seq[j] and (want < 0 or flags[pos] == want):
                    repeat.append(pos)
                j -= 1
            out = repeat + out
        random.Random(f"{shuffle_seed}:{self.name}:{after_seq}:{last_seq}").shuffle(out)
        return ExportPage(out, encode_token(self.name, last_seq, tenant_id), has_more)

    def seq_before_ms(self, ms: int) -> int:
        """The token seq from which an export returns the records modified at or after ``ms``.

        modifiedOn never decreases along the log (changes happen at the advancing clock), so
        this is a binary search.
        """
        i = bisect_left(self.log_modified_ms, ms)
        return self.log_seq[i - 1] if i > 0 else 0

    def list_positions(
        self,
        active: str,
        modified_from: int | None,
        modified_before: int | None,
        created_from: int | None,
        created_before: int | None,
        ids: frozenset[int] | None,
    ) -> array[int]:
        """Positions (in id order) of the records a list query matches; cached per data version.

        ``active`` is ``"true"``, ``"false"`` or ``"any"``.
        """
        key = (self.version, active, modified_from, modified_before, created_from, created_before)
        if ids is None:
            cached = self._list_cache.get(key)
            if cached is not None:
                return cached
        flags, mod, created = self.active, self.modified_ms, self.created_ms
        want = None if active == "any" else (1 if active == "true" else 0)
        candidates: Iterable[int]
        if ids is not None:
            candidates = sorted(p for p in (self._maybe_position(i) for i in ids) if p >= 0)
        else:
            candidates = range(len(self.ids))
        out = array("q")
        for pos in candidates:
            if want is not None and flags[pos] != want:
                continue
            m = mod[pos]
            if modified_from is not None and m < modified_from:
                continue
            if modified_before is not None and m >= modified_before:
                continue
            if created_from is not None and created[pos] < created_from:
                continue
            if created_before is not None and created[pos] >= created_before:
                continue
            out.append(pos)
        if ids is None:
            self._list_cache.put(key, out)
        return out

    def _maybe_position(self, record_id: int) -> int:
        try:
            return self.position(record_id)
        except KeyError:
            return -1


class TenantStore:
    """All entity stores of the tenant, the seq counter and the lock that guards them."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.stores: dict[str, EntityStore] = {}
        self.building = True
        self._seq = 0

    def add_entity(self, entity: Entity, kind: str) -> EntityStore:
        store = EntityStore(entity, kind, self)
        self.stores[entity.name] = store
        return store

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    @property
    def last_seq(self) -> int:
        return self._seq

    def finish_build(self) -> None:
        """End the bulk load: give every generated record its seq, entity by entity."""
        for store in self.stores.values():
            store.finish_build()
        self.building = False
