"""Injected faults: per API request, a seeded draw decides whether and how to misbehave.

Error faults (the rate-limit cap, 429, 5xx) become :class:`~.api.ApiProblem` answers, a slow
fault sleeps, and body faults (drop, truncate, invalid) are returned for the HTTP layer to apply
to the real answer: faults only change the answer on the wire, never the data or the tokens.
"""

from __future__ import annotations

import collections
import email.utils
import random
import threading
import time
from http import HTTPStatus
from typing import Literal

from .api import ApiProblem
from .config import FaultConfig

Fault = Literal["cap", "429", "5xx", "slow", "drop", "truncate", "invalid"]
BodyFault = Literal["drop", "truncate", "invalid"]


class FaultInjector:
    """Decides, per API request, whether and how to misbehave (seeded; thread-safe)."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self._recent: collections.deque[float] = collections.deque()
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._recent.clear()

    def decide(self) -> tuple[Fault | None, str | None]:
        """Return ``(fault, detail)``; detail is the Retry-After style of a 429 or the 5xx code."""
        with self._lock:
            c = self.config
            if c.rate_limit_rps is not None:
                now = time.monotonic()
                while self._recent and now - self._recent[0] >= 1.0:
                    self._recent.popleft()
                if len(self._recent) >= c.rate_limit_rps:
                    return "cap", None
                self._recent.append(now)
            r = self._rng.random()
            threshold = 0.0
            kinds: tuple[tuple[Fault, float], ...] = (
                ("429", c.error_429_rate),
                ("5xx", c.error_5xx_rate),
                ("slow", c.slow_rate),
                ("drop", c.drop_connection_rate),
                ("truncate", c.truncated_json_rate),
                ("invalid", c.invalid_json_rate),
            )
            for fault, rate in kinds:
                threshold += rate
                if r < threshold:
                    if fault == "429":
                        mode: str = c.retry_after
                        if mode == "mixed":
                            mode = self._rng.choice(("seconds", "http-date", "none"))
                        return fault, mode
                    if fault == "5xx":
                        return fault, str(self._rng.choice((500, 502, 503, 504)))
                    return fault, None
            return None, None

    def draw(
        self, stats: collections.Counter[str], server_now: float | None = None
    ) -> BodyFault | None:
        """Draw this request's fault and count it in ``stats``.

        ``server_now``: the server's clock (epoch seconds) that the answer's ``Date`` carries;
        a ``Retry-After`` date is on that clock (the simulated one), as a client reads it
        against ``Date``. Default: the real clock.

        Raises:
            ApiProblem: the fault is an error answer (rate-limit cap, 429, 5xx).

        Returns:
            The body fault to apply to the answer, or None (a slow fault has already slept).
        """
        fault, detail = self.decide()
        if fault is None:
            return None
        config = self.config
        if fault == "cap":
            stats["fault_rate_cap"] += 1
            raise ApiProblem(
                429,
                "Rate limit is exceeded. Try again in 1 seconds.",
                headers={"Retry-After": "1"},
            )
        if fault == "429":
            stats["fault_429"] += 1
            seconds = config.retry_after_seconds
            headers = {}
            if detail == "seconds":
                headers["Retry-After"] = str(seconds)
            elif detail == "http-date":
                now = time.time() if server_now is None else server_now
                headers["Retry-After"] = email.utils.formatdate(now + seconds, usegmt=True)
            raise ApiProblem(
                429, f"Rate limit is exceeded. Try again in {seconds} seconds.", headers=headers
            )
        if fault == "5xx":
            stats["fault_5xx"] += 1
            status = int(detail or 500)
            raise ApiProblem(status, HTTPStatus(status).phrase)
        if fault == "slow":
            stats["fault_slow"] += 1
            time.sleep(config.slow_seconds)
            return None
        return fault
