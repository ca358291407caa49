"""The progress model (``sync.progress``): counts per page, rate and elapsed on its own clock,
totals only where ServiceTitan gave one, consistent snapshots while threads feed it, and
plain lines at most once per entity every N seconds plus the final one."""

from __future__ import annotations

import threading

import pytest

from servicetitan_pipeline.sync import progress as sync_progress
from servicetitan_pipeline.sync.progress import ProgressLines, SyncProgress


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_pages_add_up_to_records_pages_rate_and_elapsed(clock):
    model = SyncProgress(clock)
    customers = model.start("north", "customers")
    clock.advance(2.0)
    customers.page(500)
    customers.page(300)
    (snap,) = model.snapshot()
    assert (snap.connection_name, snap.entity, snap.records, snap.pages) == (
        "north",
        "customers",
        800,
        2,
    )
    assert snap.elapsed_seconds == 2.0
    assert snap.rate == 400.0
    assert snap.total is None and snap.percent is None  # an export: no total, no guess
    assert not snap.finished
    assert snap.line() == "north: customers: 800 records, 2 pages, 400 records/s, 2.0s"


def test_a_total_gives_a_percentage_capped_at_100(clock):
    model = SyncProgress(clock)
    job_types = model.start("north", "job_types")
    clock.advance(1.0)
    job_types.page(250, total=1000)
    (snap,) = model.snapshot()
    assert (snap.total, snap.percent) == (1000, 25)
    assert snap.line(with_connection=False) == (
        "job_types: 250 of 1,000 records (25%), 1 page, 250 records/s, 1.0s"
    )
    # Records modified while the pass reads can push the count past the total taken first.
    job_types.page(900, total=1000)
    assert model.snapshot()[0].percent == 100
    # A later page without a count keeps the one given.
    job_types.page(1)
    assert model.snapshot()[0].total == 1000


def test_elapsed_stops_when_an_entity_finishes(clock):
    model = SyncProgress(clock)
    jobs = model.start("north", "jobs")
    clock.advance(4.0)
    jobs.page(40)
    jobs.finish()
    clock.advance(100.0)
    jobs.finish(failed=True)  # a second call changes nothing
    (snap,) = model.snapshot()
    assert (snap.finished, snap.failed, snap.elapsed_seconds, snap.rate) == (True, False, 4.0, 10)
    assert snap.line() == "north: jobs: done: 40 records, 1 page, 10 records/s, 4.0s"

    failing = model.start("south", "jobs")
    clock.advance(1.0)
    failing.finish(failed=True)
    assert model.snapshot()[1].line().startswith("south: jobs: failed after 0 records")


def test_concurrent_feeders_are_counted_exactly():
    model = SyncProgress()
    entities = [model.start(f"tenant{n}", "invoices") for n in range(4)]

    def feed(entity: sync_progress.EntityProgress) -> None:
        for _ in range(2000):
            entity.page(3)

    threads = [threading.Thread(target=feed, args=(e,)) for e in entities]
    for thread in threads:
        thread.start()
    seen = [model.snapshot() for _ in range(200)]  # snapshots while they write
    for thread in threads:
        thread.join()
    for snaps in seen:
        for snap in snaps:
            assert snap.records == 3 * snap.pages  # never a page half counted
    assert [(s.records, s.pages) for s in model.snapshot()] == [(6000, 2000)] * 4


def test_plain_lines_at_most_one_per_entity_every_n_seconds_plus_the_final(clock):
    model = SyncProgress(clock)
    lines = ProgressLines(model, every_seconds=10.0)
    customers = model.start("north", "customers")
    small = model.start("north", "business_units")
    small.page(9)
    small.finish()  # done in no time: only its final line, never a progress line
    assert lines.due() == ["north: business_units: done: 9 records, 1 page, 0 records/s, 0.0s"]
    clock.advance(9.9)
    customers.page(99)
    assert lines.due() == []  # not 10 s yet
    clock.advance(0.1)
    assert lines.due() == ["north: customers: 99 records, 1 page, 10 records/s, 10.0s"]
    clock.advance(5.0)
    customers.page(51)
    assert lines.due() == []  # 5 s since the last line
    clock.advance(5.0)
    assert lines.due() == ["north: customers: 150 records, 2 pages, 8 records/s, 20.0s"]
    assert lines.due() == []  # said once per interval, however often asked
    clock.advance(1.0)
    customers.finish()
    assert lines.due() == ["north: customers: done: 150 records, 2 pages, 7 records/s, 21.0s"]
    clock.advance(60.0)
    assert lines.due() == []  # a finished entity says nothing more


def test_plain_lines_without_finals_or_connection_and_every_change_at_zero(clock):
    model = SyncProgress(clock)
    lines = ProgressLines(model, every_seconds=0, finals=False, with_connection=False)
    jobs = model.start("north", "jobs")
    assert lines.due() == []  # no time has passed: nothing to say
    clock.advance(1.0)
    jobs.page(10)
    assert lines.due() == ["jobs: 10 records, 1 page, 10 records/s, 1.0s"]
    assert lines.due() == []  # the same instant again: not repeated
    jobs.finish()
    assert lines.due() == []  # finals off: the caller has its own summary line
    with pytest.raises(ValueError, match="every_seconds"):
        ProgressLines(model, every_seconds=-1)


def test_the_same_entity_synced_again_is_a_new_line_of_its_own(clock):
    model = SyncProgress(clock)
    lines = ProgressLines(model, every_seconds=10.0)
    first = model.start("north", "jobs")
    first.finish()
    assert len(lines.due()) == 1
    model.start("north", "jobs").finish()  # a later run of the same process
    assert len(lines.due()) == 1


def test_the_watched_model_is_the_one_runs_feed():
    assert sync_progress.watch(None) is None
    fresh = sync_progress.run_progress()
    assert sync_progress.run_progress() is not fresh  # nobody watches: a new one each time
    watched = SyncProgress()
    assert sync_progress.watch(watched) is None
    try:
        assert sync_progress.run_progress() is watched
    finally:
        assert sync_progress.watch(None) is watched
