"""The warehouse write lock: one writer at a time, across threads and processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from servicetitan_pipeline.warehouse.locking import WarehouseBusyError, warehouse_write_lock


def test_second_writer_waits_until_the_first_releases(tmp_path):
    db = tmp_path / "w.duckdb"
    order: list[str] = []
    waits: list[str] = []
    first_holds = threading.Event()

    def first():
        with warehouse_write_lock(db, holder="first"):
            first_holds.set()
            time.sleep(0.5)
            order.append("first done")

    t = threading.Thread(target=first)
    t.start()
    first_holds.wait(5)
    with warehouse_write_lock(db, holder="second", poll_interval=0.05, on_wait=waits.append):
        order.append("second in")
    t.join()

    assert order == ["first done", "second in"]
    assert len(waits) == 1 and "first" in waits[0] and str(db) in waits[0]


def test_gives_up_with_a_clear_error_naming_the_holder(tmp_path):
    db = tmp_path / "w.duckdb"
    # Hold the lock from another process, as a concurrent `servicetitan-pipeline sync` would.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from servicetitan_pipeline.warehouse.locking import warehouse_write_lock\n"
            f"with warehouse_write_lock({str(db)!r}, holder='run abc123'):\n"
            "    print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with (
            pytest.raises(WarehouseBusyError, match=r"run abc123") as excinfo,
            warehouse_write_lock(db, timeout=0.3, poll_interval=0.05),
        ):
            pass
        assert "SERVICETITAN_DUCKDB_PATH" in str(excinfo.value)
    finally:
        holder.kill()
        holder.wait()
    # Once the holder is gone (even killed), the lock is free again.
    with warehouse_write_lock(db, timeout=1):
        pass


def test_memory_database_needs_no_lock():
    with warehouse_write_lock(":memory:"), warehouse_write_lock(":memory:", timeout=0):
        pass
