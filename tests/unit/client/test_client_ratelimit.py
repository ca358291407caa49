"""The client-side rate limiter holds its rate, across threads, for every request of a client."""

from __future__ import annotations

import threading
import time

import pytest
from client_fakes import FakeClock, make_settings, ok

from servicetitan_pipeline.client import RateLimiter


def test_spaces_requests_at_the_configured_rate(clock):
    limiter = RateLimiter(5, clock=clock, sleep=clock.sleep)
    for _ in range(11):
        limiter.acquire()
    # The first goes at once, the next ten each 1/5 s after the previous one.
    assert clock.now - 1000.0 == pytest.approx(2.0)
    assert clock.sleeps == pytest.approx([0.2] * 10)


def test_no_wait_when_requests_are_slower_than_the_rate(clock):
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        assert limiter.acquire() == 0.0
        clock.advance(0.5)
    assert clock.sleeps == []


def test_idle_time_is_not_banked_beyond_the_burst(clock):
    limiter = RateLimiter(10, burst=3, clock=clock, sleep=clock.sleep)
    clock.advance(3600)  # an hour idle must not allow an hour's worth of requests at once
    waits = [limiter.acquire() for _ in range(6)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:] == pytest.approx([0.1, 0.1, 0.1])


def test_invalid_rates_are_refused():
    with pytest.raises(ValueError):
        RateLimiter(0)
    with pytest.raises(ValueError):
        RateLimiter(5, burst=0)


def test_holds_its_rate_across_threads_in_real_time():
    # Real clock: only a lower bound on elapsed time is asserted (a slow machine may take longer).
    limiter = RateLimiter(50)
    starts: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            limiter.acquire()
            with lock:
                starts.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(starts) == 20
    # 20 requests at 50/s: the 20th may start no earlier than 19 intervals after the first.
    assert max(starts) - began >= 19 / 50 - 0.005


def test_client_requests_share_one_limiter(fake):
    fake.api = lambda request: ok({"data": []})
    client = fake.client(make_settings(rate_limit_per_second=20))
    client.get_token()  # token requests are not rate limited; leave them out of the timing
    began = time.monotonic()
    threads = [
        threading.Thread(target=lambda: [client.get_json("/x/v2/tenant/1/y") for _ in range(4)])
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    elapsed = time.monotonic() - began
    stats = client.stats
    client.close()
    assert stats.requests == 12
    assert elapsed >= 11 / 20 - 0.005  # 12 requests at 20/s
    assert stats.rate_limit_wait_seconds > 0


def test_client_uses_injected_clock_for_the_limiter(fake):
    clock = FakeClock()
    fake.api = lambda request: ok({"data": []})
    with fake.client(make_settings(rate_limit_per_second=4), clock=clock, sleep=clock.sleep) as c:
        for _ in range(9):
            c.get_json("/x/v2/tenant/1/y")
        assert c.stats.rate_limit_wait_seconds == pytest.approx(2.0)
        assert c.stats.retry_wait_seconds == 0.0
    assert clock.now - 1000.0 == pytest.approx(2.0)
