"""Client-side rate limiter shared by every request of one connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Thread-safe limiter that spaces request starts at ``1 / rate_per_second``.

    It is the "generic cell rate algorithm" form of a token bucket: each caller reserves the next
    free slot under a lock and then sleeps outside the lock until its slot, so concurrent threads
    queue fairly and the lock is never held while waiting. ``burst`` lets that many requests go
    back to back after an idle spell; the default of 1 keeps strict spacing, because ServiceTitan
    counts requests per app per tenant over windows we cannot see, and a burst on top of a steady
    rate could briefly exceed 60 in a second.

    Args:
        rate_per_second: sustained request rate (> 0).
        burst: requests allowed back to back after idling (>= 1).
        clock: monotonic clock in seconds (injectable for tests).
        sleep: sleep function (injectable for tests).
    """

    def __init__(
        self,
        rate_per_second: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate_per_second > 0:
            raise ValueError(f"rate_per_second must be > 0, got {rate_per_second!r}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        self.rate_per_second = float(rate_per_second)
        self._interval = 1.0 / self.rate_per_second
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_at = float("-inf")  # theoretical arrival time of the next request

    def acquire(self) -> float:
        """Block until the caller may send one request; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = max(self._next_at, now)
            wait = slot - self._tolerance - now
            self._next_at = slot + self._interval
        if wait > 1e-9:  # below that it is floating-point noise, not a wait
            self._sleep(wait)
            return wait
        return 0.0
