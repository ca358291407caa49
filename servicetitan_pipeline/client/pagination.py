"""Page objects of ServiceTitan's two paging styles.

Export endpoints page by continuation token (``from`` -> ``continueFrom`` while ``hasMore``);
list endpoints by page number (``page``, ``pageSize``, ``hasMore``). The client yields one page
at a time and never holds a whole result set.

What a page's ``data`` holds is up to its *page decoder* (``bytes -> DecodedBody[T]``): by
default :func:`decode_json_page`, the records parsed with orjson (``T`` = ``list[Any]``). A
caller that needs something else of each body -- the sync engine turns the raw bytes straight
into Arrow staging columns, without building Python objects for every field -- passes its own
decoder, and the pages it gets carry that decoder's ``T``; the client keeps the paging, the
retries (a decoder that says the body is not JSON gets the request retried, exactly as an
invalid body always does) and the error reporting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

import orjson

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

# What the default decoder makes of a page: the records as orjson parsed them (JSON values).
JsonRecords: TypeAlias = list[Any]

_EXCERPT_CHARS = 2000


class BodyNotJsonError(ValueError):
    """Raised by a page decoder: the body is not valid JSON (truncated, corrupted, not UTF-8).

    The client treats it as a failed attempt and retries the request."""


class NotAPageError(ValueError):
    """Raised by a page decoder: the body is valid JSON but not a page (no ``data`` list).

    Not retried: the client reports it with ``excerpt`` (the start of the body)."""

    def __init__(self, excerpt: str) -> None:
        super().__init__("the answer is JSON without a 'data' list")
        self.excerpt = excerpt


@dataclass(frozen=True, slots=True)
class DecodedBody(Generic[T_co]):
    """A page's body as a page decoder made it.

    Attributes:
        data: the records, in the decoder's representation (a list of dicts by default).
        record_count: how many records the page held.
        has_more: ``hasMore`` is JSON ``true``.
        continue_from: ``continueFrom`` as text (export pages), ``None`` if absent.
        total_count: ``totalCount`` when it is an integer (list pages with ``includeTotal``).
    """

    data: T_co
    record_count: int
    has_more: bool
    continue_from: str | None = None
    total_count: int | None = None

    @staticmethod
    def from_envelope(
        data: T,
        record_count: int,
        *,
        has_more: object,
        continue_from: object = None,
        total_count: object = None,
    ) -> DecodedBody[T]:
        """Build from the envelope's fields as sent; one place interprets their types."""
        token = None if continue_from is None else str(continue_from)
        total = (
            None
            if isinstance(total_count, bool) or not isinstance(total_count, int)
            else total_count
        )
        return DecodedBody(data, record_count, has_more is True, token or None, total)


# A page decoder: a response body -> what a page's ``data`` holds, and the envelope's fields.
PageDecoder: TypeAlias = Callable[[bytes], DecodedBody[T]]
# The ids of a page's records, from its decoded ``data`` (how a list walk recognises a repeat).
PageIds: TypeAlias = Callable[[T], Sequence[object]]

# A run of empty pages that still say hasMore is ServiceTitan catching up on recent changes; a
# hundred in a row (minutes of requests for nothing) is a walk that would never end.
DEFAULT_MAX_CONSECUTIVE_EMPTY_PAGES = 100
# Pages of one list walk: list entities are small dimensions (job types, campaigns), and 10,000
# pages are 50 million records at the default page size.
DEFAULT_MAX_LIST_PAGES = 10_000


@dataclass(frozen=True)
class PagingLimits:
    """What ends a walk that ServiceTitan's paging would never end (raising ``PaginationError``).

    Beyond these bounds, an export walk also stops at a ``continueFrom`` it already followed
    (tokens that cycle), and a list walk at a page that repeats an earlier page's records.

    Attributes:
        max_consecutive_empty_pages: export pages in a row without a record, each with a new
            token and ``hasMore`` still true.
        max_list_pages: pages of one list walk.
    """

    max_consecutive_empty_pages: int = DEFAULT_MAX_CONSECUTIVE_EMPTY_PAGES
    max_list_pages: int = DEFAULT_MAX_LIST_PAGES


def decode_json_page(body: bytes) -> DecodedBody[JsonRecords]:
    """The default page decoder: the records parsed with orjson, as ServiceTitan sent them."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyNotJsonError(str(exc)) from None
    data = parsed.get("data") if isinstance(parsed, dict) else None
    if not isinstance(data, list):
        raise NotAPageError(repr(parsed)[:_EXCERPT_CHARS])
    return DecodedBody.from_envelope(
        data,
        len(data),
        has_more=parsed.get("hasMore"),
        continue_from=parsed.get("continueFrom"),
        total_count=parsed.get("totalCount"),
    )


def json_record_ids(records: JsonRecords) -> list[object]:
    """The ids of records parsed by :func:`decode_json_page` (records without one skipped)."""
    return [r.get("id") for r in records if isinstance(r, dict) and "id" in r]


@dataclass(frozen=True, slots=True)
class ExportPage(Generic[T_co]):
    """One page of an export endpoint.

    Attributes:
        data: the records, as the page decoder returned them (parsed dicts by default).
        continue_from: ``continueFrom`` of this answer: pass it as ``from`` to continue after
            this page (the cursor to store once the page is committed). ``None`` if absent.
        has_more: ``hasMore``: whether ServiceTitan has more pages right now.
        raw_bytes_len: size of the response body in bytes.
        from_token: the ``from`` this page was requested with (``None`` for the beginning).
    """

    data: T_co
    continue_from: str | None
    has_more: bool
    raw_bytes_len: int
    from_token: str | None = None

    @property
    def resume_from(self) -> str | None:
        """The token to resume after this page: ``continue_from``, else the one it was asked
        with (re-reading a page is harmless for an upsert, losing a cursor is not)."""
        return self.continue_from or self.from_token


@dataclass(frozen=True, slots=True)
class ListPage(Generic[T_co]):
    """One page of a list endpoint.

    Attributes:
        data: the records, as the page decoder returned them (parsed dicts by default).
        page: the page number (from 1).
        has_more: ``hasMore``.
        raw_bytes_len: size of the response body in bytes.
        page_size: the ``pageSize`` requested.
        total_count: ``totalCount`` if ServiceTitan sent it (only with ``includeTotal``).
    """

    data: T_co
    page: int
    has_more: bool
    raw_bytes_len: int
    page_size: int = 0
    total_count: int | None = None
