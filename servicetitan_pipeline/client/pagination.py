"""Page objects of ServiceTitan's two paging styles.

Export endpoints page by continuation token (``from`` -> ``continueFrom`` while ``hasMore``);
list endpoints by page number (``page``, ``pageSize``, ``hasMore``). The client yields one page
at a time and never holds a whole result set; the records are left exactly as parsed (no
per-record work here: ingestion is benchmarked against a bare download-and-parse).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ExportPage:
    """One page of an export endpoint.

    Attributes:
        data: the records, as ServiceTitan sent them.
        continue_from: ``continueFrom`` of this answer: pass it as ``from`` to continue after
            this page (the cursor to store once the page is committed). ``None`` if absent.
        has_more: ``hasMore``: whether ServiceTitan has more pages right now.
        raw_bytes_len: size of the response body in bytes.
        from_token: the ``from`` this page was requested with (``None`` for the beginning).
    """

    data: list[Any]
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
class ListPage:
    """One page of a list endpoint.

    Attributes:
        data: the records, as ServiceTitan sent them.
        page: the page number (from 1).
        has_more: ``hasMore``.
        raw_bytes_len: size of the response body in bytes.
        page_size: the ``pageSize`` requested.
        total_count: ``totalCount`` if ServiceTitan sent it (only with ``includeTotal``).
    """

    data: list[Any]
    page: int
    has_more: bool
    raw_bytes_len: int
    page_size: int = 0
    total_count: int | None = None
