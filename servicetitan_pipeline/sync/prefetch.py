"""The background download thread: iterate pages one step ahead of the writer.

While a page is being written, the next one is already being downloaded (and decoded) on this
thread -- the client is thread-safe -- so the network and DuckDB overlap, with at most one page
waiting.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


class _Done:
    """Marks the end of the source in the queue."""


_DONE = _Done()


class Prefetcher(Iterator[T]):
    """Iterate ``source`` on a background thread, at most ``ahead`` items ahead of the consumer.

    The thread asks ``source`` for the next item only while fewer than ``ahead`` items wait
    for the consumer, so with ``ahead=1`` at most two pages are alive at any moment: the one
    being written and the one being downloaded. (A plain bounded queue would allow a third:
    one queued, one blocked on the full queue.) Pages of invoices are ~20 MB of JSON and
    several times that as Python objects, so this is what keeps peak memory flat.

    Exceptions raised by ``source`` are re-raised in the consumer at the point where the item
    would have arrived, so error handling reads as if there were no thread. ``close()`` makes
    the thread stop at its next hand-over (it cannot interrupt a request in flight; the thread
    is a daemon, so it never keeps the process alive).

    ``on_idle(seconds, callback)``: when the consumer has waited ``seconds`` for an item,
    ``callback`` runs once on the consumer's thread before it waits on (the sync commits the
    pages it holds, rather than leave them uncommitted while a slow answer trickles in).

    Attributes:
        wait_seconds: time the consumer spent blocked waiting for an item (i.e. for the API),
            not counting the idle callbacks.
    """

    def __init__(self, source: Iterator[T], ahead: int = 1, name: str = "prefetch") -> None:
        # Items, then _DONE or the exception that ended the source.
        self._queue: queue.Queue[T | _Done | BaseException] = queue.Queue()
        self._slots = threading.Semaphore(ahead)
        self._stop = threading.Event()
        self._source = source
        self.wait_seconds = 0.0
        self._idle: tuple[float, Callable[[], object]] | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _acquire_slot(self) -> bool:
        while not self._stop.is_set():
            if self._slots.acquire(timeout=0.1):
                return True
        return False

    def _run(self) -> None:
        try:
            while self._acquire_slot():
                try:
                    item = next(self._source)
                except StopIteration:
                    self._queue.put(_DONE)
                    return
                self._queue.put(item)
        except BaseException as exc:  # handed to the consumer, re-raised there
            self._queue.put(exc)

    def on_idle(self, seconds: float, callback: Callable[[], object]) -> None:
        """Run ``callback`` (on the consumer's thread) whenever it has waited ``seconds``."""
        self._idle = (seconds, callback)

    def _get(self) -> T | _Done | BaseException:
        if self._idle is None:
            return self._queue.get()
        seconds, callback = self._idle
        try:
            return self._queue.get(timeout=seconds)
        except queue.Empty:
            started = time.monotonic()
            callback()
            self.wait_seconds -= time.monotonic() - started
            return self._queue.get()

    def __next__(self) -> T:
        started = time.monotonic()
        item = self._get()
        self.wait_seconds += time.monotonic() - started
        if isinstance(item, _Done):
            self._stop.set()
            raise StopIteration
        if isinstance(item, BaseException):
            self._stop.set()
            raise item
        # The item is handed over: the thread may start downloading the next one.
        self._slots.release()
        return item

    def close(self) -> None:
        """Stop the background thread (at its next hand-over) and drop queued items."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=1.0)

    def __enter__(self) -> Prefetcher[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
