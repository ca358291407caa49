"""Opening the warehouse file: another process's lock is waited for, every other failure is
named at once (issue #10, case 16)."""

from __future__ import annotations

import contextlib
import gzip
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from servicetitan_pipeline.warehouse.locking import WarehouseBusyError
from servicetitan_pipeline.warehouse.opening import (
    WarehouseFileError,
    check_warehouse_file,
    open_warehouse,
)

# Far longer than any test may take: a file error that waited for it would show.
LOCK_WAIT = 60.0


@pytest.fixture(scope="module")
def real_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real DuckDB file of a few hundred KiB, to copy and cut."""
    path = tmp_path_factory.mktemp("real") / "real.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE t AS SELECT range AS a, 'x' || range AS b FROM range(100000)")
    return path


def _garbage(tmp_path: Path, _: Path) -> Path:
    path = tmp_path / "garbage.duckdb"
    path.write_bytes(bytes(range(256)) * 40)
    return path


def _empty(tmp_path: Path, _: Path) -> Path:
    path = tmp_path / "empty.duckdb"
    path.write_bytes(b"")
    return path


def _cut_copy(tmp_path: Path, real: Path, keep: float) -> Path:
    path = tmp_path / "truncated.duckdb"
    data = real.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _directory(tmp_path: Path, _: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    path.mkdir()
    return path


def _under_a_file(tmp_path: Path, _: Path) -> Path:
    # Stops root too: no permission bit lets anyone create a file under a regular file.
    (tmp_path / "plain").write_text("x")
    return tmp_path / "plain" / "warehouse.duckdb"


# case -> (make the path, the cause in the message, whether DuckDB itself refuses to open it)
CASES = {
    "garbage bytes": (_garbage, "is not a DuckDB database", True),
    "an empty file": (_empty, "is empty, not a DuckDB database", True),
    # DuckDB reads blocks lazily: a copy cut after its header opens, and fails mid-sync.
    "a copy cut in its header": (lambda p, r: _cut_copy(p, r, 0.01), "is truncated", True),
    "a copy cut in half": (lambda p, r: _cut_copy(p, r, 0.5), "is truncated", False),
    "a directory": (_directory, "is a directory", True),
    "/dev/null": (lambda *_: Path("/dev/null"), "is not a regular file", True),
    "a path under a regular file": (_under_a_file, "is a file, not a directory", True),
    "a path in /proc": (lambda *_: Path("/proc/warehouse.duckdb"), "does not accept new", True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_file_that_can_never_open_fails_at_once_naming_it_and_the_cause(
    case: str, tmp_path: Path, real_database: Path
) -> None:
    make, cause, refused_by_duckdb = CASES[case]
    path = make(tmp_path, real_database)
    started = time.monotonic()
    # The up-front check (the run's resource setup, the CLI's pre-flight) refuses every case.
    with pytest.raises(WarehouseFileError) as excinfo:
        check_warehouse_file(path)
    message = str(excinfo.value)
    assert message.startswith(f"SERVICETITAN_DUCKDB_PATH: {path} ")
    assert cause in message and excinfo.value.cause in message and "\n" not in message
    if refused_by_duckdb:
        # Each step's open says the same, at once: nothing is retried or waited for.
        waits: list[str] = []
        with pytest.raises(WarehouseFileError, match=cause):
            open_warehouse(
                path, lock_wait_seconds=LOCK_WAIT, poll_interval=0.01, on_wait=waits.append
            )
        assert waits == []
    assert time.monotonic() - started < 5


# A real warehouse-like file written by DuckDB 2.0.1 (the releases before the move to 1.5.5),
# gzipped: see tests/fixtures/README.md for how it was made.
DUCKDB_2_0_1_FILE = (
    Path(__file__).resolve().parents[2] / "fixtures" / "warehouse-written-by-duckdb-2.0.1.duckdb.gz"
)


@pytest.mark.parametrize("with_wal", [False, True], ids=["file", "file-and-wal"])
def test_a_warehouse_written_by_duckdb_2_0_1_says_to_move_it_aside_and_sync_again(
    tmp_path: Path, with_wal: bool
) -> None:
    path = tmp_path / "my warehouse" / "servicetitan.duckdb"
    path.parent.mkdir()
    path.write_bytes(gzip.decompress(DUCKDB_2_0_1_FILE.read_bytes()))
    written = path.read_bytes()
    wal = Path(f"{path}.wal")
    if with_wal:
        wal.write_bytes(b"2.0.1 WAL")
    quoted, aside = shlex.quote(str(path)), shlex.quote(f"{path}.2.0.1")
    move = f"mv {quoted} {aside}"
    if with_wal:
        move += f" && mv {shlex.quote(str(wal))} {shlex.quote(f'{path}.2.0.1.wal')}"
    expected = (
        f"SERVICETITAN_DUCKDB_PATH: {path} was written by DuckDB 2.0.1 (storage version "
        f"999), which this release's DuckDB {duckdb.__version__} cannot read; move it aside "
        f"({move}) and sync again: the next sync fills a new warehouse in full, and nothing "
        "is lost (every entity is read again from ServiceTitan)"
    )

    with pytest.raises(WarehouseFileError) as excinfo:
        check_warehouse_file(path)
    assert str(excinfo.value) == expected
    with pytest.raises(WarehouseFileError) as excinfo:
        open_warehouse(path, read_only=True, lock_wait_seconds=LOCK_WAIT)
    assert str(excinfo.value) == expected
    assert path.read_bytes() == written  # left as it was

    # The advice works as given: after the move, the path is a new warehouse.
    subprocess.run(move, shell=True, check=True)
    check_warehouse_file(path)
    with open_warehouse(path) as conn:
        assert conn.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
    assert Path(f"{path}.2.0.1").read_bytes() == written


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes files whatever their mode")
def test_a_file_without_permission_is_named(tmp_path: Path, real_database: Path) -> None:
    path = tmp_path / "private.duckdb"
    shutil.copy(real_database, path)
    path.chmod(0)
    with pytest.raises(WarehouseFileError, match="permission denied"):
        open_warehouse(path, lock_wait_seconds=LOCK_WAIT)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in a directory whatever its mode")
def test_a_good_file_in_a_read_only_directory_is_named(tmp_path: Path, real_database: Path) -> None:
    # DuckDB opens it, and would fail at the first write, when it creates the .wal.
    directory = tmp_path / "read-only"
    directory.mkdir()
    shutil.copy(real_database, directory / "w.duckdb")
    directory.chmod(0o555)
    try:
        with pytest.raises(WarehouseFileError, match=r"cannot be written: its directory"):
            check_warehouse_file(directory / "w.duckdb")
    finally:
        directory.chmod(0o755)


def test_duckdb_refusing_permission_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What DuckDB says for a file this user may not open (cannot be staged as root).
    path = tmp_path / "private.duckdb"
    path.write_bytes(b"x")

    def refuse(database: str, **_: object) -> None:
        raise duckdb.IOException(f'IO Error: Cannot open file "{database}": Permission denied')

    monkeypatch.setattr(duckdb, "connect", refuse)
    with pytest.raises(WarehouseFileError, match=r"cannot be opened: permission denied"):
        open_warehouse(path, lock_wait_seconds=LOCK_WAIT)


@contextlib.contextmanager
def _held_by_another_process(path: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process with ``path`` open read-write for ``seconds`` (a DuckDB shell, say)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, duckdb\n"
            f"conn = duckdb.connect({str(path)!r})\n"
            f"print('open', flush=True); time.sleep({seconds})",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_held_by_another_process_is_waited_for_then_the_file_opens(
    tmp_path: Path, real_database: Path
) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copy(real_database, path)
    waits: list[str] = []
    with _held_by_another_process(path, 1.0) as holder:
        conn = open_warehouse(
            path, lock_wait_seconds=LOCK_WAIT, poll_interval=0.05, on_wait=waits.append
        )
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (100000,)
        conn.close()
    assert len(waits) == 1
    assert str(path) in waits[0] and f"PID {holder.pid}" in waits[0]


def test_a_lock_held_too_long_gives_up_as_busy_naming_the_holder(
    tmp_path: Path, real_database: Path
) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copy(real_database, path)
    with _held_by_another_process(path, 30) as holder:
        started = time.monotonic()
        with pytest.raises(WarehouseBusyError, match=rf"PID {holder.pid}") as excinfo:
            open_warehouse(path, lock_wait_seconds=0.3, poll_interval=0.05, on_wait=lambda _: None)
        assert time.monotonic() - started < 5
        assert "SERVICETITAN_DUCKDB_PATH" in str(excinfo.value)
        # The up-front check leaves a locked file to the writers, which wait for it.
        check_warehouse_file(path)


def test_the_up_front_check_accepts_a_file_open_in_this_process(real_database: Path) -> None:
    # DuckDB refuses a second configuration for a file open in the process: not a file error.
    with duckdb.connect(str(real_database), config={"custom_user_agent": "other"}):
        check_warehouse_file(real_database)


def test_a_file_whose_trailing_free_blocks_duckdb_cut_off_is_whole(tmp_path: Path) -> None:
    """DuckDB truncates free blocks at the end of the file yet still counts them in
    ``total_blocks`` after a reopen: such a file is whole, not cut short (a sync, then dbt
    replacing its tables, leaves exactly this)."""
    database = tmp_path / "shrunk.duckdb"
    with duckdb.connect(str(database)) as conn:
        conn.execute(
            "create table kept as select range as a, md5(range::varchar) as b from range(300000)"
        )
        conn.execute("checkpoint")
        conn.execute("create table dropped as select * from kept")
        conn.execute("checkpoint")
        conn.execute("drop table dropped")
        conn.execute("checkpoint")
    with duckdb.connect(str(database), read_only=True) as conn:
        block_size, total_blocks, used_blocks = conn.execute(
            "select block_size, total_blocks, used_blocks from pragma_database_size()"
        ).fetchone()
    assert database.stat().st_size < block_size * total_blocks  # the case itself
    assert database.stat().st_size >= block_size * used_blocks
    check_warehouse_file(database)
    with open_warehouse(database) as conn:
        assert conn.execute("select count(*) from kept").fetchone() == (300000,)


def test_the_up_front_check_leaves_a_missing_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    check_warehouse_file(path)
    assert not path.exists()
    check_warehouse_file(":memory:")


def test_a_good_or_new_file_opens_read_write(tmp_path: Path, real_database: Path) -> None:
    check_warehouse_file(real_database)
    conn = open_warehouse(tmp_path / "new.duckdb")
    conn.execute("CREATE TABLE t (a INTEGER)")
    conn.close()
    open_warehouse(":memory:").close()


def test_a_file_error_is_not_transient_and_a_busy_warehouse_is() -> None:
    from servicetitan_pipeline.defs.jobs import is_transient

    assert not is_transient(WarehouseFileError("/x.duckdb", "is not a DuckDB database", "move"))
    assert is_transient(WarehouseBusyError("held"))


def test_a_new_warehouse_compresses_payloads_and_stays_open_to_this_process(tmp_path):
    """Created in the v1.2.0 format (zstd on string columns applies), without leaving that
    setting on the connection: DuckDB refuses a second connection of one process to a file
    open with another configuration."""
    path = tmp_path / "new.duckdb"
    first = open_warehouse(path)
    try:
        second = duckdb.connect(str(path))  # what dbt's adapter or a check would do
        first.execute("create table t (payload JSON NOT NULL USING COMPRESSION zstd)")
        first.execute("insert into t select '{\"id\": ' || range || '}' from range(50000)")
        first.execute("checkpoint")
        compressions = {
            row[0]
            for row in second.execute(
                "select compression from pragma_storage_info('t') where column_name = 'payload'"
            ).fetchall()
        }
        second.close()
    finally:
        first.close()
    assert "ZSTD" in compressions
