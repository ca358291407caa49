"""The CLI's progress renderers (``cli.progress``) on a fake clock and fake streams: the live
display on a terminal redraws in place, at most every quarter second, one line per entity
syncing now, cut to the terminal's width, and other output goes above it; plain output writes
at most one line per entity every N seconds and the final lines; ``showing_progress`` picks
one by ``isatty()`` and makes the model the one runs feed."""

from __future__ import annotations

import io
import re
import sys

from servicetitan_pipeline.cli import progress as cli_progress
from servicetitan_pipeline.cli.progress import (
    LiveDisplay,
    PlainDisplay,
    live_frame,
    showing_progress,
)
from servicetitan_pipeline.sync import progress as sync_progress
from servicetitan_pipeline.sync.progress import SyncProgress


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal, and replays what it was sent as a screen would:
    ``ESC[1A ESC[2K`` moves one line up and clears it."""

    def isatty(self) -> bool:
        return True

    def screen(self) -> list[str]:
        lines: list[str] = [""]
        for token in re.split(r"(\x1b\[1A\x1b\[2K|\n)", self.getvalue()):
            if token == "\n":
                lines.append("")
            elif token == "\x1b[1A\x1b[2K":
                lines.pop()  # the (empty) line the cursor was on
                lines[-1] = ""  # the line above, cleared; the cursor is now there
            else:
                lines[-1] += token
        return lines[:-1] if lines[-1] == "" else lines


def _live(model: SyncProgress, clock: FakeClock, width: int = 120):
    terminal = FakeTerminal()
    return LiveDisplay(model, terminal, clock=clock, width=lambda: width), terminal


def test_the_live_display_shows_each_running_entity_under_a_header():
    clock = FakeClock()
    model = SyncProgress(clock)
    display, terminal = _live(model, clock)
    display.refresh()
    assert terminal.getvalue() == ""  # nothing syncs yet: nothing shown
    customers = model.start("north", "customers")
    job_types = model.start("south", "job_types")
    done = model.start("north", "business_units")
    done.page(9)
    done.finish()
    clock.advance(4.0)
    customers.page(12_000)
    job_types.page(300, total=1200)
    display.refresh()
    header, *rows = terminal.screen()
    assert header == "syncing: 2 running, 1 done, 12,309 records"
    assert len(rows) == 2
    assert re.fullmatch(r"\s+north\s+customers\s+12,000\s+1 pg\s+3,000/s\s+4\.0s", rows[0])
    assert re.fullmatch(
        r"\s+south\s+job_types\s+300 / 1,200 \(25%\)\s+1 pg\s+75/s\s+4\.0s", rows[1]
    )


def test_the_live_display_redraws_in_place_at_most_every_quarter_second():
    clock = FakeClock()
    model = SyncProgress(clock)
    display, terminal = _live(model, clock)
    jobs = model.start("north", "jobs")
    display.refresh()
    first = terminal.getvalue()
    for _ in range(10):
        jobs.page(100)
        clock.advance(0.02)
        display.refresh()  # 0.2 s of refreshes: none drawn
    assert terminal.getvalue() == first
    clock.advance(0.05)
    display.refresh()
    # Redrawn in place: the screen holds one frame, the latest, not two.
    header, row = terminal.screen()
    assert header.startswith("syncing: 1 running")
    assert "1,000" in row and "10 pg" in row
    jobs.finish()
    display.refresh(force=True)
    assert terminal.screen() == []  # nothing running: the display is gone


def test_log_lines_go_above_the_live_display_and_close_erases_it():
    clock = FakeClock()
    model = SyncProgress(clock)
    display, terminal = _live(model, clock)
    model.start("north", "invoices").page(5)
    display.refresh()
    stream = cli_progress.LiveStream(display, terminal)
    print("12:00:01 WARNING servicetitan_ingestion  retrying in 2 s", file=stream)
    display.refresh()  # back at once below the line
    lines = terminal.screen()
    assert lines[0] == "12:00:01 WARNING servicetitan_ingestion  retrying in 2 s"
    assert lines[1].startswith("syncing: 1 running") and "invoices" in lines[2]
    display.close()
    assert terminal.screen() == ["12:00:01 WARNING servicetitan_ingestion  retrying in 2 s"]


def test_live_lines_fit_the_terminal_and_many_entities_are_counted_on_one_line():
    model = SyncProgress(FakeClock())
    for n in range(cli_progress.MAX_LIVE_LINES + 3):
        model.start("a-very-long-connection-name", f"entity_with_a_long_name_{n}").page(1)
    frame = live_frame(model.snapshot(), width=40)
    assert all(len(line) <= 39 for line in frame)
    assert len(frame) == 1 + cli_progress.MAX_LIVE_LINES + 1
    assert frame[-1] == "  ... and 3 more"


def test_plain_output_is_one_line_per_entity_every_n_seconds_and_the_final_line():
    clock = FakeClock()
    model = SyncProgress(clock)
    out = io.StringIO()
    display = PlainDisplay(model, out, every_seconds=10)
    customers = model.start("north", "customers")
    for _ in range(25):  # 25 s, refreshed 4 times a second, a page a second
        customers.page(1000)
        for _ in range(4):
            clock.advance(0.25)
            display.refresh()
    customers.finish()
    display.close()
    assert out.getvalue().splitlines() == [
        "north: customers: 10,000 records, 10 pages, 1,000 records/s, 10.0s",
        "north: customers: 20,000 records, 20 pages, 1,000 records/s, 20.0s",
        "north: customers: done: 25,000 records, 25 pages, 1,000 records/s, 25.0s",
    ]
    assert "\x1b" not in out.getvalue()  # no terminal codes in a log


def test_showing_progress_picks_the_renderer_by_isatty_and_is_watched_meanwhile(monkeypatch):
    log = io.StringIO()
    with showing_progress(log, every_seconds=0) as model:
        assert sync_progress.run_progress() is model
        assert sys.stdout is not log  # a log is not redirected
        model.start("north", "jobs").finish()
    assert sync_progress.run_progress() is not model  # no longer watched
    assert log.getvalue() == "north: jobs: done: 0 records, 0 pages, 0 records/s, 0.0s\n"

    quiet = io.StringIO()
    with showing_progress(quiet, plain=False) as model:
        model.start("north", "jobs").finish()
    assert quiet.getvalue() == ""  # the run's console log says it already

    terminal = FakeTerminal()
    monkeypatch.setattr(cli_progress, "_terminal_width", lambda: 100)
    with showing_progress(terminal) as model:
        # The run's console log, pinned to sys.stdout as the run starts, writes above it.
        assert isinstance(sys.stdout, cli_progress.LiveStream)
        print("a log line")
        model.start("north", "jobs").finish()
    assert terminal.screen() == ["a log line"]
